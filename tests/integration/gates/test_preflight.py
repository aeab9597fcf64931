"""tviews_preflight against real servers: stand-in 0.1.0 running, 0.2.0 installed side by side.

A healthy 0.1 database passes; each of a prepared transaction, a tv_ out of sync with its v_,
a standby, a missing target version, too little space for the backup and a long transaction
fails with the right reason, and no gate changes anything."""

import os
import shutil
import time

import pytest

from tests.harness.modules import conn_args, run_module
from tests.harness.pg import make_base_dir
from tests.integration.conftest import load_app
from tests.integration.gates.helpers import by_name, fingerprint, make_standby, status_of

TVIEWS = {"user", "post", "comment", "Bücher"}


@pytest.fixture(scope="module")
def cluster(both_install, make_cluster):
    c = make_cluster(both_install, name="gates-pre")
    yield c
    c.destroy()


@pytest.fixture
def app(cluster, request):
    name = "pre_" + request.node.name[5:40]
    load_app(cluster, name)
    yield name
    cluster.dropdb(name)


@pytest.fixture
def backup_root(tmp_path):
    return str(tmp_path / "backups" / "not-yet")


def preflight(cluster, db, backup_root, **kw):
    args = conn_args(cluster, "postgres", version="0.2.0", databases=[db], backup_root=backup_root)
    args.update(kw)
    res = run_module("tviews_preflight", args)
    assert not res.get("failed"), res.get("msg")
    return res


def assert_only_failure(res, name, db=None):
    """``name`` fails and nothing else does."""
    failing = sorted(set(c["name"] for c in res["checks"] if c["status"] == "fail"))
    assert failing == [name], res["summary"]["failures"]
    assert res["summary"]["status"] == "fail"
    assert status_of(res, name, db) == "fail"


def test_healthy_01_database_passes_and_changes_nothing(cluster, app, backup_root):
    before = fingerprint(cluster, app)
    res = preflight(cluster, app, backup_root)
    assert res["summary"]["status"] == "pass", res["summary"]
    assert res["summary"]["failures"] == [] and res["summary"]["warnings"] == []
    for name in ("reachable", "server_version", "privileges", "primary", "target_available", "prepared_transactions",
                 "backup_space", "pg_dump"):
        assert status_of(res, name) == "pass", by_name(res, name)
    for name in ("extension_version", "health", "consistency", "drift", "definitions", "long_transactions", "sessions"):
        assert status_of(res, name, app) == "pass", by_name(res, name, app)
    assert "probed in postgres and rolled back; library 0.2.0" in by_name(res, "target_available")[0]["reason"]
    assert "at 0.1.0 (library 0.1.0-beta.8)" == by_name(res, "extension_version", app)[0]["reason"]
    assert "4 TVIEW(s) equal to their view" in by_name(res, "drift", app)[0]["reason"]
    # 0.1 cannot refresh rows: no baseline unless asked for a full one; no scan, no window configured.
    assert status_of(res, "baseline", app) == "skip" and res["baseline"] == []
    assert status_of(res, "code_scan") == "skip" and status_of(res, "maintenance_window") == "skip"
    assert res["databases"] == [{"name": app, "extversion": "0.1.0", "library_version": "0.1.0-beta.8",
                                 "api_generation": "0.1", "tviews": 4, "done": False}]
    assert res["server"]["is_primary"] is True and res["server"]["server_major"] >= 13
    assert not os.path.exists(backup_root)
    assert fingerprint(cluster, app) == before


def test_full_baseline_is_measured_and_rolled_back(cluster, app, backup_root):
    before = fingerprint(cluster, app)
    res = preflight(cluster, app, backup_root, baseline_full=True, baseline_runs=2)
    assert res["summary"]["status"] == "pass", res["summary"]
    assert {b["tview"] for b in res["baseline"]} == TVIEWS
    for b in res["baseline"]:
        assert b["kind"] == "full" and b["error"] is None and b["database"] == app
        assert len(b["runs_ms"]) == 2 and b["duration_ms"] == min(b["runs_ms"]) > 0
    # The full refresh rewrote every tv_ row (and its timestamps) - and was rolled back.
    assert fingerprint(cluster, app) == before


def test_prepared_transaction_fails(cluster, app, backup_root):
    conn = cluster.connect(app, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE tb_user SET name = 'pending' WHERE pk_user = 2")
            cur.execute("PREPARE TRANSACTION 'gates_pending_1'")
        before = fingerprint(cluster, app)
        res = preflight(cluster, app, backup_root)
        assert_only_failure(res, "prepared_transactions")
        reason = by_name(res, "prepared_transactions")[0]["reason"]
        assert "gates_pending_1 in %s" % app in reason and "COMMIT PREPARED" in reason
        assert fingerprint(cluster, app) == before
    finally:
        conn.close()
        cluster.execute("ROLLBACK PREPARED 'gates_pending_1'", app)


def test_tv_out_of_sync_fails(cluster, app, backup_root):
    cluster.execute("UPDATE tv_post SET data = data || '{\"title\": \"edited behind pg_tviews\"}' WHERE pk_post = 3", app)
    before = fingerprint(cluster, app)
    res = preflight(cluster, app, backup_root)
    assert_only_failure(res, "drift", app)
    reason = by_name(res, "drift", app)[0]["reason"]
    assert "public.tv_post differs from public.v_post (1 row(s) only in tv_, 1 only in v_)" in reason
    assert "user" not in reason
    # Full comparison finds it too; the sample is the smallest keys.
    assert status_of(preflight(cluster, app, backup_root, drift_sample=0), "drift", app) == "fail"
    assert status_of(preflight(cluster, app, backup_root, drift_sample=2), "drift", app) == "pass"
    assert fingerprint(cluster, app) == before


def test_standby_fails(cluster, app, backup_root):
    primary_lsn = cluster.execute("SELECT pg_current_wal_lsn()")[0][0]
    base = make_base_dir("pgtviews-standby-")
    standby = make_standby(cluster, base)
    try:
        deadline = time.time() + 30
        while standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", params=(primary_lsn,))[0][0] is not True:
            assert time.time() < deadline, "standby did not catch up"
            time.sleep(0.2)
        res = preflight(standby, app, backup_root)
        assert_only_failure(res, "primary")
        assert by_name(res, "primary")[0]["reason"].startswith("standby (in recovery)")
        assert "creation not probed: standby" in by_name(res, "target_available")[0]["reason"]
        assert status_of(res, "drift", app) == "pass" and res["baseline"] == []
    finally:
        standby.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_missing_target_version_fails(pg_cluster, backup_root):
    db = load_app(pg_cluster, "pre_missing_target")  # this installation has only 0.1.0
    before = fingerprint(pg_cluster, db)
    res = preflight(pg_cluster, db, backup_root)
    assert_only_failure(res, "target_available")
    assert by_name(res, "target_available")[0]["reason"] == (
        "pg_tviews 0.2.0 is not installed on this server (available: 0.1.0); run the install role first")
    assert fingerprint(pg_cluster, db) == before
    # A preflight that runs before the install role may say so explicitly.
    early = preflight(pg_cluster, db, backup_root, target_installed=False)
    assert early["summary"]["status"] == "warn" and status_of(early, "target_available") == "warn"
    assert "the install phase adds it" in by_name(early, "target_available")[0]["reason"]


def test_not_enough_space_fails(cluster, app, backup_root):
    before = fingerprint(cluster, app)
    res = preflight(cluster, app, backup_root, backup_space_factor=1e9)
    assert_only_failure(res, "backup_space")
    c = by_name(res, "backup_space")[0]
    assert c["reason"].startswith("not enough space for the backup at %s (on " % backup_root)
    assert c["details"]["needed_bytes"] > c["details"]["free_bytes"]
    assert fingerprint(cluster, app) == before and not os.path.exists(backup_root)


def test_long_transaction_fails(cluster, app, backup_root):
    conn = cluster.connect(app, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM tv_user")
            pid = conn.get_backend_pid()
        # Wait until the server itself sees the transaction as older than the limit (no fixed sleep).
        deadline = time.time() + 30
        while time.time() < deadline and not cluster.execute(
                "SELECT now() - xact_start > interval '1.6 s' FROM pg_stat_activity WHERE pid = %s", app, (pid,))[0][0]:
            time.sleep(0.05)
        before = fingerprint(cluster, app)
        res = preflight(cluster, app, backup_root, max_transaction_age=1)
        assert_only_failure(res, "long_transactions", app)
        reason = by_name(res, "long_transactions", app)[0]["reason"]
        assert "open longer than 1s" in reason and "pid %d" % pid in reason and "idle in transaction" in reason
        # It holds a lock on tv_user: the sessions check says the swap would wait for it.
        sessions = by_name(res, "sessions", app)[0]
        assert sessions["status"] == "warn" and "pid %d (AccessShareLock)" % pid in sessions["reason"]
        assert fingerprint(cluster, app) == before
    finally:
        conn.rollback()
        conn.close()


def test_definition_that_no_longer_plans_fails(cluster, app, backup_root):
    cluster.execute("UPDATE pg_tview_meta SET definition = 'SELECT no_such_column FROM tb_comment' WHERE entity = 'comment'", app)
    res = preflight(cluster, app, backup_root)
    assert_only_failure(res, "definitions", app)
    assert 'comment: ERROR: column "no_such_column" does not exist' in by_name(res, "definitions", app)[0]["reason"]


def test_not_superuser_fails(cluster, app, backup_root):
    cluster.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gates_operator') THEN "
                    "CREATE ROLE gates_operator LOGIN PASSWORD 'gates-operator-pw'; END IF; END $$")
    cluster.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO gates_operator", app)
    res = preflight(cluster, app, backup_root, login_user="gates_operator", login_password="gates-operator-pw")
    assert status_of(res, "privileges") == "fail"
    assert "gates_operator is not a superuser" in by_name(res, "privileges")[0]["reason"]
    assert "creation not probed: not superuser" in by_name(res, "target_available")[0]["reason"]


def test_overrides_code_scan_and_window(cluster, app, backup_root):
    cluster.execute("UPDATE tv_user SET data = '{}' WHERE pk_user = 1", app)
    scan = {"summary": {"counts": {"severities": {"error": 2, "warning": 1, "info": 0}}}}
    res = preflight(cluster, app, backup_root, code_scan=scan, code_scan_source="scan/alpha.json",
                    code_scan_fail_on="error",
                    maintenance_windows=[{"start": "00:00", "end": "23:59", "timezone": "+14:00"}],
                    overrides={"drift:%s" % app: {"status": "warn", "reason": "CHG-42 tv_user repaired after the swap"}})
    drift = by_name(res, "drift", app)[0]
    assert drift["status"] == "warn" and drift["overridden"]["from"] == "fail"
    assert drift["reason"].startswith("overridden (CHG-42 tv_user repaired after the swap): ")
    assert status_of(res, "code_scan") == "fail"
    assert "code scan (scan/alpha.json): 3 finding(s): error 2, warning 1, info 0" in by_name(res, "code_scan")[0]["reason"]
    assert status_of(res, "maintenance_window") in ("pass", "fail")  # 23:59-00:00 is outside; both are real answers
    bad = run_module("tviews_preflight", conn_args(cluster, "postgres", version="0.2.0", databases=[app],
                                                   overrides={"drift": {"status": "skip"}}))
    assert bad["failed"] and "override 'drift' needs a reason" in bad["msg"]
    typo = run_module("tviews_preflight", conn_args(cluster, "postgres", version="0.2.0",
                                                    overrides={"drfit": {"status": "skip", "reason": "x"}}))
    assert typo["failed"] and "override 'drfit' names no check" in typo["msg"]


def test_unreachable_server_fails_without_secrets(cluster, backup_root):
    res = run_module("tviews_preflight", conn_args(cluster, "postgres", version="0.2.0", login_password="wrong-pw-1234",
                                                   backup_root=backup_root))
    assert not res.get("failed")
    assert [c["name"] for c in res["checks"] if c["status"] == "fail"] == ["reachable"]
    assert "password authentication failed" in res["summary"]["failures"][0]
    assert "wrong-pw-1234" not in str(res)


def test_dependents_the_swap_cannot_set_aside_fail(cluster, app, backup_root):
    # A view over a member function, a view over 0.1's metadata table (0.2 keeps it elsewhere) and a
    # function taking its row type: DROP EXTENSION would fail on each inside the swap's window.
    cluster.execute("CREATE VIEW tviews_library AS SELECT pg_tviews_version() AS version", app)
    cluster.execute("CREATE VIEW tview_entities AS SELECT entity FROM pg_tview_meta", app)
    cluster.execute("CREATE FUNCTION meta_entity(m pg_tview_meta) RETURNS text LANGUAGE sql AS 'SELECT m.entity'", app)
    before = fingerprint(cluster, app)
    res = preflight(cluster, app, backup_root)
    assert_only_failure(res, "dependents", app)
    check = by_name(res, "dependents", app)[0]
    assert len(check["details"]["objects"]) == 3, check
    for name in ("tviews_library", "tview_entities", "meta_entity"):
        assert name in check["reason"], check["reason"]
    assert "which pg_tviews 0.2.0 does not have" in check["reason"]
    assert "recreate them against pg_tviews 0.2.0 after it" in check["reason"]
    assert fingerprint(cluster, app) == before


def test_dependents_the_swap_sets_aside_pass(cluster, app, backup_root):
    # The swap puts back a view over TVIEW objects and a trigger calling a member function itself.
    cluster.execute("CREATE TABLE audit_mark (x int)", app)
    cluster.execute("CREATE TRIGGER audit_mark_health AFTER INSERT ON audit_mark "
                    "FOR EACH STATEMENT EXECUTE FUNCTION pg_tview_trigger_handler()", app)
    res = preflight(cluster, app, backup_root)
    assert status_of(res, "dependents", app) == "pass", by_name(res, "dependents", app)
    assert "audit_mark_health" in by_name(res, "dependents", app)[0]["reason"]
