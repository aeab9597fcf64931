"""replica: the 0.2.0 files reached the standby before the primary was touched, the swap ran on
the primary only, and the standby replayed it: it runs 0.2.0 (its own copy of the new library)
and answers reads of the tv_ tables, including rows written after the migration."""

import json

import pgcheck
from conftest_common import baseline

PRIMARY_PORT, STANDBY_PORT = 25441, 25442
NEW_LIBRARY = "/usr/lib/postgresql/15/lib/pg_tviews-0.2.0.so"
STATE_FILE = "/var/lib/pgtviews/state.json"


def _ctime(host, path):
    return float(host.check_output("stat -c %%.9Z %s", path))


def test_standby_is_a_streaming_standby(primary, standby):
    assert pgcheck.in_recovery(standby) is True
    assert pgcheck.in_recovery(primary) is False
    assert pgcheck.scalar(primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1


def test_binaries_landed_on_the_standby_first(primary_host, standby_host):
    assert standby_host.file(NEW_LIBRARY).exists
    assert primary_host.file(NEW_LIBRARY).exists
    assert _ctime(standby_host, NEW_LIBRARY) < _ctime(primary_host, NEW_LIBRARY)
    # ... and before anything changed on the primary: its backup (taken before the swap) is later
    state = json.loads(primary_host.file(STATE_FILE).content_string)
    backup_dir = state["databases"]["app"]["backup"]["path"]
    assert _ctime(standby_host, NEW_LIBRARY) < _ctime(primary_host, backup_dir)


def test_the_swap_ran_on_the_primary_only(primary_host, standby_host):
    primary_phases = json.loads(primary_host.file(STATE_FILE).content_string)["databases"]["app"]
    assert primary_phases["swap"]["to_version"] == "0.2.0"
    assert primary_phases["validate"]["status"] == "pass"
    f = standby_host.file(STATE_FILE)
    if f.exists:  # the standby may record its install, never a database phase
        for phases in json.loads(f.content_string).get("databases", {}).values():
            assert "swap" not in phases and "backup" not in phases, phases
    assert not standby_host.file("/var/backups/pgtviews").exists


def test_the_standby_replayed_the_swap(primary, standby):
    pgcheck.wait_replay(PRIMARY_PORT, STANDBY_PORT)
    assert pgcheck.extversion(primary) == "0.2.0"
    assert pgcheck.extversion(standby) == "0.2.0"
    # the C function runs on the standby from the standby's own copy of the 0.2.0 library
    assert pgcheck.scalar(standby, "SELECT pg_tviews_version()") == "0.2.0"
    assert pgcheck.tview_entities(standby) == ["Bücher", "comment", "post", "user"]


def test_the_standby_answers_reads_of_tv_tables(primary, standby):
    pgcheck.wait_replay(PRIMARY_PORT, STANDBY_PORT)
    before = baseline("mol-replica-primary")["tables"]
    assert pgcheck.snapshot(primary) == before
    assert pgcheck.snapshot(standby) == before
    assert pgcheck.tviews_out_of_step(standby) == []


def test_a_write_on_the_primary_reaches_the_standbys_tv_tables(primary, standby):
    pgcheck.query(primary, "INSERT INTO tb_user VALUES (900002, md5('replica probe')::uuid, 'replica probe', "
                           "'replica@example.com')")
    pgcheck.query(primary, "UPDATE tb_post SET title = 'replayed title' WHERE pk_post = 3")
    try:
        pgcheck.wait_replay(PRIMARY_PORT, STANDBY_PORT)
        assert pgcheck.scalar(standby, "SELECT data->>'name' FROM tv_user WHERE pk_user = 900002") == "replica probe"
        assert pgcheck.scalar(standby, "SELECT data->>'title' FROM tv_post WHERE pk_post = 3") == "replayed title"
        assert pgcheck.scalar(standby, "SELECT count(*) FROM tv_comment WHERE fk_post = 3 AND data->>'post' = "
                                       "'replayed title'") == pgcheck.scalar(
            standby, "SELECT count(*) FROM tb_comment WHERE fk_post = 3")
    finally:
        pgcheck.query(primary, "UPDATE tb_post SET title = 'post number 3' WHERE pk_post = 3")
        pgcheck.query(primary, "DELETE FROM tb_user WHERE pk_user = 900002")
