"""Failures say why (issue 15, item 5): the real migrate playbook on a one-server fleet whose 0.2
package is broken so that adopting a TVIEW fails. The final message, hosts/<host>.json,
summary.json and summary.md carry the swap module's own error text (not the loop's "One or more
items failed"), every row of the failed host says failed, and a failure in the rehearsal is
worded as a rehearsal failure."""

import json
import os

import pytest

from tests.harness.fleet import Fleet, broken_artifact, recap
from tests.harness.pg import make_base_dir

BROKEN = "pg_tviews 0.2.0 broken on purpose: cannot adopt"
LOOP_MSG = "One or more items failed"


@pytest.fixture
def fleet(standin_build):
    root = make_base_dir("fleet-fail-")
    f = Fleet(root, os.path.dirname(standin_build["0.2.0"]["artifact"]), names=("db1",)).up()
    broken = os.path.join(f.root, "pg_tviews-v0.2.0-pg15-broken-adopt.tar.gz")
    # adopt TVIEW (pg_tviews_convert_existing_table) always raises
    broken_artifact(os.path.join(f.standin_dir, "pg_tviews-v0.2.0-pg15.tar.gz"), broken,
                    "pg_tviews_convert_existing_table", "RAISE EXCEPTION '%s';" % BROKEN)
    f.write_inventory(host_overrides={"db1": {"tviews_install_src": broken}})
    yield f
    f.down()


def extversion(fleet):
    return fleet.cluster("db1").execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0]


def migrate(fleet, run_id, *args):
    run = fleet.playbook("migrate", "-e", "tviews_report_run_id=" + run_id, *args)
    assert run.returncode != 0, run.stdout[-4000:]
    assert recap(run.stdout)["db1"]["failed"] >= 1, run.stdout[-4000:]
    report = os.path.join(fleet.root, "reports", run_id)
    with open(os.path.join(report, "hosts", "db1.json")) as fh:
        record = json.load(fh)
    with open(os.path.join(report, "summary.json")) as fh:
        summary = json.load(fh)
    with open(os.path.join(report, "summary.md")) as fh:
        md = fh.read()
    return run, record, summary, md


def stop_message(run):
    """The "Stop the rollout" message as ansible-playbook printed it."""
    lines = [ln for ln in run.stdout.splitlines() if "db1 failed in " in ln]
    assert lines, run.stdout[-4000:]
    return lines[-1]


def assert_failed_everywhere(record, summary, md, text):
    """The host is failed in its heading, its record, every row, and the failure text is in all."""
    assert record["status"] == "failed"
    assert any(text in f for f in record["failures"]), record["failures"]
    assert not any(LOOP_MSG in f for f in record["failures"]), record["failures"]
    assert record["databases"] and set(d["status"] for d in record["databases"].values()) == {"failed"}, record["databases"]
    assert any(text in f for f in record["databases"]["app"]["failures"]), record["databases"]["app"]["failures"]
    host = [h for h in summary["hosts"] if h["host"] == "db1"][0]
    assert host["status"] == "failed" and any(text in f for f in host["failures"])
    rows = [r for r in summary["rows"] if r["host"] == "db1"]
    assert rows and set(r["status"] for r in rows) == {"failed"}, rows
    assert LOOP_MSG not in json.dumps(summary)
    assert "| db1 | app | **failed**" in md and "### db1 (failed)" in md
    failures = md.split("## Failures", 1)[1].split("\n## ", 1)[0]
    assert text in failures, failures
    assert LOOP_MSG not in md


def test_a_failed_swap_is_reported_with_the_modules_own_error(fleet):
    run, record, summary, md = migrate(fleet, "swap-fails", "-e", "tviews_rehearse=false")
    assert extversion(fleet) == "0.1.0"           # the swap rolled back; nothing changed
    swap_error = "app: swap of database app to pg_tviews 0.2.0: step 'adopt TVIEW' for TVIEW "
    stop = stop_message(run)
    assert "db1 failed in Swap each database in one transaction: " + swap_error in stop, stop
    assert BROKEN in stop and LOOP_MSG not in stop, stop
    assert_failed_everywhere(record, summary, md, swap_error)
    assert any(BROKEN in f for f in record["failures"]), record["failures"]
    assert record["failures"][-1].startswith("Swap each database in one transaction: " + swap_error), record["failures"]


def test_a_failed_rehearsal_is_worded_as_a_rehearsal(fleet):
    run, record, summary, md = migrate(fleet, "rehearsal-fails")
    assert extversion(fleet) == "0.1.0"
    stop = stop_message(run)
    said = "app: rehearsal of app on a restored copy failed: swap of database app_rehearsal to pg_tviews 0.2.0: step 'adopt TVIEW'"
    assert said in stop and BROKEN in stop, stop
    assert "complete rollback" not in stop and "Nothing was changed in its databases." in stop, stop
    assert_failed_everywhere(record, summary, md, "rehearsal of app on a restored copy failed: ")
    assert any(said in f and BROKEN in f for f in record["failures"]), record["failures"]
    # The scratch copy was dropped; the database itself never changed.
    assert fleet.cluster("db1").execute("SELECT count(*) FROM pg_database WHERE datname = 'app_rehearsal'")[0][0] == 0
