"""default: after pgtviews.ops.migrate (and a second, idempotent run) every server runs pg_tviews
0.2.0, its TVIEWs are live, its data is what it was before, and the backup and report exist."""

import json

import pgcheck
from conftest_common import baseline, manifest_verified, pg_bin, report_records, report_summary, state_file

ENTITIES = ["Bücher", "comment", "post", "user"]


def test_extension_is_target_version(db):
    assert pgcheck.extversion(db) == "0.2.0"
    assert pgcheck.scalar(db, "SELECT pg_tviews_version()") == "0.2.0"
    # bound to the side-by-side library, not to the 0.1 file the install kept for rollback
    probin = pgcheck.scalar(db, "SELECT probin FROM pg_proc WHERE proname = 'pg_tviews_version'")
    assert probin == "$libdir/pg_tviews-0.2.0"


def test_old_version_still_available_for_rollback(db):
    versions = [r[0] for r in pgcheck.query(
        db, "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_tviews' ORDER BY 1")]
    assert "0.1.0" in versions and "0.2.0" in versions


def test_every_tview_registered_with_the_new_api(db):
    assert pgcheck.tview_entities(db) == ENTITIES
    assert pgcheck.scalar(db, "SELECT count(*) FROM pg_tviews_metadata") == len(ENTITIES)
    health = dict(pgcheck.query(db, "SELECT component, status FROM pg_tviews_health_check()"))
    # jsonb_delta (an optional companion extension) is not installed here: a WARNING, nothing else
    assert health.pop("jsonb_delta") in ("OK", "WARNING")
    assert set(health.values()) == {"OK"}, health


def test_tviews_equal_their_views(db):
    assert pgcheck.tviews_out_of_step(db) == []


def test_a_write_propagates(db):
    seen = pgcheck.write_propagates(db)
    assert seen["insert"], seen
    assert seen["cascade"], seen


def test_data_equal_to_before(host, db):
    before = baseline(host.backend.hostname)
    assert before["extversion"] == "0.1.0"
    assert pgcheck.snapshot(db) == before["tables"]


def test_data_equal_to_the_manifest(host, hostvars, db):
    state = state_file(host, hostvars)
    manifest_path = state["databases"]["app"]["backup"]["manifest"]
    manifest = json.loads(host.file(manifest_path).content_string)
    assert manifest["extension"]["extversion"] == "0.1.0"
    live = pgcheck.snapshot(db)
    for tv in manifest["tviews"]:
        key = "%s.%s" % (tv["schema"], tv["table"])
        assert live[key]["rows"] == tv["row_count"], key
    # and the collection's own, stricter comparison (checksums, indexes, grants, dependents)
    result = manifest_verified(host, hostvars, manifest_path)
    assert not result.get("failed"), result.get("msg")


def test_backup_present_and_verified(host, hostvars):
    backup = state_file(host, hostvars)["databases"]["app"]["backup"]
    assert backup["extversion"] == "0.1.0"
    record = json.loads(host.file(backup["record"]).content_string)
    assert record["verification"]["list"]["checked"] > 0
    assert host.file(backup["dump"] + "/toc.dat").exists
    listing = host.check_output("%s --list %s", pg_bin(hostvars, "pg_restore"), backup["dump"])
    for table in ("tb_user", "tb_post", "tb_comment", "tv_post"):
        assert "TABLE DATA public %s " % table in listing
    assert host.file(backup["csv"]).exists


def test_state_file_records_every_phase(host, hostvars):
    phases = state_file(host, hostvars)["databases"]["app"]
    assert phases["swap"]["to_version"] == "0.2.0"
    assert phases["validate"]["status"] == "pass"
    assert phases["rehearsal"]["passed"] is True


def test_report_written(host):
    record = report_records()[host.backend.hostname]
    assert record["status"] == "passed"
    assert record["rolled_back"] is False
    summary = report_summary()
    row = [h for h in summary["hosts"] if h["host"] == host.backend.hostname][0]
    assert [d["after"] for d in row["databases"]] == ["0.2.0"]
    assert summary["totals"]["failed"] == 0
