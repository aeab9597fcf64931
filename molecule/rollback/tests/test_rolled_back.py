"""rollback: after migrate, a drifted TVIEW, and pgtviews.ops.rollback, the server runs pg_tviews
0.1.0 again, its TVIEWs are live and rebuilt (the drift is gone), and its data is what it was
before the migration."""

import pgcheck
from conftest_common import baseline, report_records, state_file

ENTITIES = ["Bücher", "comment", "post", "user"]


def test_back_on_the_old_version(db):
    assert pgcheck.extversion(db) == "0.1.0"
    assert pgcheck.scalar(db, "SELECT pg_tviews_version()") == "0.1.0-beta.8"
    probin = pgcheck.scalar(db, "SELECT probin FROM pg_proc WHERE proname = 'pg_tviews_version'")
    assert probin == "$libdir/pg_tviews"


def test_every_tview_registered_with_the_old_api(db):
    assert pgcheck.scalar(db, "SELECT to_regclass('tviews.tview_meta')") is None
    assert pgcheck.tview_entities(db) == ENTITIES


def test_tviews_equal_their_views(db):
    assert pgcheck.tviews_out_of_step(db) == []


def test_the_drift_is_gone(db):
    assert pgcheck.scalar(db, "SELECT count(*) FROM tv_post WHERE data->>'title' = 'drifted'") == 0


def test_a_write_propagates(db):
    seen = pgcheck.write_propagates(db)
    assert seen["insert"], seen
    assert seen["cascade"], seen


def test_data_equal_to_before_the_migration(host, db):
    before = baseline(host.backend.hostname)
    assert pgcheck.snapshot(db) == before["tables"]


def test_state_file_records_the_migration_and_the_rollback(host, hostvars):
    phases = state_file(host, hostvars)["databases"]["app"]
    assert phases["swap"]["to_version"] == "0.2.0"
    assert phases["rollback"]["mode"] == "immediate"
    assert phases["rollback"]["from_version"] == "0.2.0"
    assert phases["rollback"]["to_version"] == "0.1.0"


def test_report_says_rolled_back(host):
    record = report_records()[host.backend.hostname]
    assert record["rolled_back"] is True, record.get("status")
