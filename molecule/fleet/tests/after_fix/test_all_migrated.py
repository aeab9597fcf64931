"""fleet, after the package was fixed and the same migration ran again: all four servers run
pg_tviews 0.2.0 with their data and live TVIEWs, and the report says so."""

import pgcheck
from conftest_common import baseline, report_records, report_summary

HOSTS = ["mol-fleet-1", "mol-fleet-2", "mol-fleet-3", "mol-fleet-4"]


def test_every_server_runs_the_new_version(db):
    assert pgcheck.extversion(db) == "0.2.0"
    assert pgcheck.scalar(db, "SELECT pg_tviews_version()") == "0.2.0"
    assert pgcheck.tview_entities(db) == ["Bücher", "comment", "post", "user"]


def test_data_equal_to_before(host, db):
    assert pgcheck.snapshot(db) == baseline(host.backend.hostname)["tables"]


def test_tviews_live(db):
    assert pgcheck.tviews_out_of_step(db) == []
    seen = pgcheck.write_propagates(db)
    assert seen["insert"] and seen["cascade"], seen


def test_report_has_the_whole_fleet_passed(host):
    record = report_records()[host.backend.hostname]
    assert record["status"] == "passed"
    summary = report_summary()
    assert sorted(h["host"] for h in summary["hosts"]) == HOSTS
    assert summary["totals"]["passed"] == 4, summary["totals"]
