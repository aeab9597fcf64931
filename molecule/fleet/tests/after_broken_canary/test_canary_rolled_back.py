"""fleet, after the first run: the canary's broken package stopped the rollout. The canary is back
on 0.1.0 with its data and live TVIEWs; the other three servers were not touched at all."""

import pytest

import pgcheck
from conftest_common import baseline, report_records, state_file

CANARY = "mol-fleet-1"


def test_every_server_runs_the_old_version(db):
    assert pgcheck.extversion(db) == "0.1.0"
    assert pgcheck.scalar(db, "SELECT pg_tviews_version()") == "0.1.0-beta.8"


def test_data_equal_to_before(host, db):
    assert pgcheck.snapshot(db) == baseline(host.backend.hostname)["tables"]


def test_tviews_live(db):
    for schema, entity in (("public", "user"), ("public", "post"), ("public", "comment"), ("Sales Dept", "Bücher")):
        assert pgcheck.tview_equals_view(db, schema, entity), "%s.tv_%s differs from its view" % (schema, entity)
    seen = pgcheck.write_propagates(db)
    assert seen["insert"] and seen["cascade"], seen


def test_the_canary_failed_validation_and_was_rolled_back(host, hostvars):
    if host.backend.hostname != CANARY:
        pytest.skip("the canary only")
    phases = state_file(host, hostvars)["databases"]["app"]
    assert phases["swap"]["to_version"] == "0.2.0"
    assert phases["validate"]["status"] == "fail"
    failed = [c["name"] for c in phases["validate"]["checks"] if c["status"] == "fail"]
    assert "write_path" in failed, failed
    assert phases["rollback"]["from_version"] == "0.2.0"
    assert phases["rollback"]["to_version"] == "0.1.0"
    record = report_records()[CANARY]
    assert record["status"] == "failed"
    assert record["rolled_back"] is True


def test_the_other_servers_were_not_touched(host, hostvars, db):
    if host.backend.hostname == CANARY:
        pytest.skip("not the canary")
    # nothing installed, nothing recorded, no backup taken
    versions = [r[0] for r in pgcheck.query(
        db, "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_tviews'")]
    assert versions == ["0.1.0"]
    assert state_file(host, hostvars) is None
    assert not host.file("/var/backups/pgtviews").exists
    assert pgcheck.scalar(db, "SELECT to_regnamespace('pgtviews_ops')") is None
