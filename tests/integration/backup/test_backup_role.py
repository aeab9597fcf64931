"""The backup role driven by real ansible-playbook runs (local connection) against a server with
stand-in pg_tviews 0.1.0: discover, back up as an async job with progress lines, record in the
state file, fetch to the controller; a second run changes nothing; check mode writes nothing."""

import filecmp
import glob
import json
import os
import shutil

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from tests.harness.pg import make_base_dir
from tests.integration.backup.helpers import HERE, Ansible, failing_bin_dir, mode, slow_bin_dir
from tests.integration.conftest import load_app

DB = "bk role app"
PLAYBOOK = os.path.join(HERE, "backup_role.yml")


@pytest.fixture(scope="module")
def work(pg_cluster):
    load_app(pg_cluster, DB)
    d = make_base_dir("pgtviews-bk-role-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def extra_vars(cluster, work, **kw):
    ev = {
        "tviews_connection": {"login_host": cluster.host, "login_port": cluster.port, "login_user": cluster.user,
                              "login_password": cluster.password},
        "tviews_backup_root": os.path.join(work, "backups"),
        "tviews_state_file": os.path.join(work, "state", "state.json"),
        "tviews_backup_fetch_dir": os.path.join(work, "fetched"),
        "tviews_backup_poll_interval": 1,
        "tviews_backup_test_restore": True,
    }
    ev.update(kw)
    return ev


def backup_dirs(work):
    return sorted(glob.glob(os.path.join(work, "backups", "localhost", "*", "2*")))


def test_role_backs_up_records_fetches_and_is_idempotent(pg_cluster, work):
    ansible = Ansible(work)
    state_path = os.path.join(work, "state", "state.json")

    # First run: one backup, followed while it runs.
    slow = slow_bin_dir(work, pg_cluster.install.bindir, 4)
    run = ansible.run(PLAYBOOK, extra_vars(pg_cluster, work, tviews_backup_pg_bin_dir=slow))
    assert run.rc == 0 and run.failures() == [], run.failures() or run.stderr
    assert run.stats["changed"] >= 3
    (d,) = backup_dirs(work)

    progress = run.task("Follow the backup of %s" % DB)[0]["results"]
    labels = [r["_ansible_item_label"] for r in progress]
    assert len(progress) >= 2 and not progress[0]["finished"] and progress[-1]["finished"], labels
    # While it ran: a phase, the elapsed time and the bytes already dumped (the dump sleeps 4 s once written).
    assert any(not r["finished"] and r["phase"] in ("dump", "verify", "test restore") and r["bytes"] > 0
               for r in progress), labels
    assert progress[-1]["phase"] == "finished" and progress[-1]["bytes"] > 0
    assert all(label.startswith(DB + ": ") and " s, " in label and label.endswith(" dumped") for label in labels)

    state = json.load(open(state_path))
    entry = state["databases"][DB]["backup"]
    assert entry["path"] == d and entry["extversion"] == "0.1.0" and entry["target_version"] == "0.2.0"
    assert entry["manifest"] == os.path.join(d, "manifest.json") and entry["record"] == os.path.join(d, "backup.json")
    assert entry["csv"] == os.path.join(d, "tview_metadata_before.csv") and entry["created"] and entry["test_restored"]
    assert mode(state_path) == 0o600
    record = backup_record.load(entry["record"])
    assert record["digest"] == entry["record_digest"] and record["verification"]["test_restore"]["mismatches"] == []
    assert mode(entry["manifest"]) == mode(entry["record"]) == 0o600
    assert "password" not in open(state_path).read() and pg_cluster.password not in open(state_path).read()

    fetched = os.path.join(work, "fetched", "localhost", os.path.basename(os.path.dirname(d)), os.path.basename(d))
    assert mode(fetched) == 0o700
    for name in ("manifest.json", "backup.json"):
        assert filecmp.cmp(os.path.join(fetched, name), os.path.join(d, name), shallow=False)

    # Second run: the recorded backup still stands; nothing changes.
    before = open(state_path, "rb").read()
    again = ansible.run(PLAYBOOK, extra_vars(pg_cluster, work))
    assert again.rc == 0 and again.failures() == [], again.failures() or again.stderr
    assert again.stats["changed"] == 0, [t for t in again.result["plays"][0]["tasks"]
                                         if t["hosts"].get("localhost", {}).get("changed")]
    assert backup_dirs(work) == [d] and open(state_path, "rb").read() == before
    report = again.task("Report the backup of %s" % DB)[0]["msg"]
    assert report.startswith("%s: reused the backup %s" % (DB, d))

    # Check mode, even forced: says where it would dump and what it needs; writes nothing.
    check = ansible.run(PLAYBOOK, extra_vars(pg_cluster, work, tviews_backup_force=True), check=True)
    assert check.rc == 0 and check.failures() == [], check.failures() or check.stderr
    msg = check.task("Show what check mode would do for %s" % DB)[0]["msg"]
    assert msg.startswith("%s: would dump " % DB) and "needs " in msg and "test restore yes" in msg
    assert os.path.dirname(d) in msg
    assert backup_dirs(work) == [d] and open(state_path, "rb").read() == before
    assert os.listdir(os.path.join(work, "fetched", "localhost", os.path.basename(os.path.dirname(d)))) == [os.path.basename(d)]

    # A named database and a failing pg_dump: the play fails with the module's one-line message,
    # the partial backup is gone and the state file still points at the good backup.
    failing = failing_bin_dir(work, pg_cluster.install.bindir, os.path.join(work, "pg_dump.log"))
    bad = ansible.run(PLAYBOOK, extra_vars(pg_cluster, work, tviews_databases=[DB], tviews_backup_force=True,
                                           tviews_backup_pg_bin_dir=failing))
    assert bad.rc != 0 and bad.stats["failures"] == 1
    ((task, msg),) = bad.failures()
    assert task.endswith("Collect the result of the backup of %s" % DB)
    assert msg.startswith("backup of database %s failed: pg_dump failed (exit 1): pg_dump: error: query failed" % DB)
    assert "no record was written and" in msg
    assert backup_dirs(work) == [d] and open(state_path, "rb").read() == before
