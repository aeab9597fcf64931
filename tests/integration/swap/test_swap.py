"""tviews_swap against real servers: stand-in 0.1.0 with 0.2.0 installed side by side."""

import os
import threading
import time

import psycopg2
import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import SwapError, build_plan, execute
from tests.harness.modules import conn_args, run_module
from tests.integration.conftest import load_app


def swap(cluster, db, check_mode=False, **kw):
    return run_module("tviews_swap", conn_args(cluster, db, **kw), check_mode=check_mode)


def state(cluster, db):
    """(extversion, library version, records by entity) through a fresh connection."""
    conn = cluster.connect(db)
    try:
        facts = detect(conn)
        records, order = adapter_for(conn, facts).records()
        return facts, dict((r["entity"], r) for r in records), conn
    except Exception:
        conn.close()
        raise


def assert_live_and_equal(cluster, db):
    """Every tv_ equals its v_, and a write to a base table propagates (through fk lineage too)."""
    facts, recs, conn = state(cluster, db)
    try:
        for r in recs.values():
            assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tb_post VALUES (9001, md5('post9001')::uuid, 3, 'fresh post')")
            cur.execute("SELECT data->>'title' FROM tv_post WHERE pk_post = 9001")
            assert cur.fetchone() == ("fresh post",)
            cur.execute("UPDATE tb_user SET name = 'renamed' WHERE pk_user = 3")
            cur.execute("SELECT count(*) FROM tv_post WHERE fk_user = 3 AND data->'author'->>'name' = 'renamed'")
            renamed = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM tb_post WHERE fk_user = 3")
            assert renamed == cur.fetchone()[0] > 1
            cur.execute('INSERT INTO "Sales Dept"."tb_Bücher" VALUES (99, md5(\'b99\')::uuid, \'neu\')')
            cur.execute('SELECT data->>\'titel\' FROM "Sales Dept"."tv_Bücher" WHERE "pk_Bücher" = 99')
            assert cur.fetchone() == ("neu",)
        for r in recs.values():
            assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
    finally:
        conn.close()
    return facts, recs


def verify_manifest(cluster, db, path, **kw):
    return run_module("tviews_manifest", conn_args(cluster, db, state="verified", path=path, **kw))


@pytest.mark.parametrize("mode", ["adopt", "rebuild"])
def test_swap_to_02_keeps_everything(cluster, app, mode):
    db, manifest = app
    res = swap(cluster, db, version="0.2.0", tview_mode=mode, manifest=manifest)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] and res["strategy"] == "swap" and res["mode"] == mode
    assert res["from_version"] == "0.1.0" and res["to_version"] == "0.2.0"
    assert res["manifest"]["captured"] is True
    assert res["window_ms"] >= 0 and res["lock_attempts"] == 1
    assert {t["tview"] for t in res["tviews"]} == {"user", "post", "comment", "Bücher"}
    # Nothing but the extension changed: data, ids, indexes, grants, comments, dependents.
    ver = verify_manifest(cluster, db, manifest)
    assert not ver.get("failed"), ver.get("msg")
    assert ver["differences"] == []
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.2.0" and facts["library_version"] == "0.2.0"
    assert facts["api_generation"] == "0.2"
    assert cluster.execute("SELECT count(*) FROM pg_proc WHERE proname = 'tview_trigger_handler' "
                           "AND pronamespace = 'public'::regnamespace", db) == [(0,)]
    # Second run: nothing to do.
    again = swap(cluster, db, version="0.2.0", tview_mode=mode, manifest=manifest)
    assert again["changed"] is False and again["plan"] == []


def test_check_mode_and_rehearsal_change_nothing(cluster, app):
    db, manifest = app
    res = swap(cluster, db, check_mode=True, version="0.2.0")
    assert res["changed"] is True
    steps = [p["step"] for p in res["plan"]]
    assert steps.index("drop old trigger") < steps.index("drop extension") < steps.index("create extension") < steps.index("adopt TVIEW")
    assert any("CREATE EXTENSION \"pg_tviews\" WITH SCHEMA \"public\" VERSION '0.2.0'" in p["sql"] for p in res["plan"])
    adopted = [p["tview"] for p in res["plan"] if p["step"] == "adopt TVIEW"]
    assert sorted(adopted) == sorted(["user", "post", "comment", "Bücher"])
    assert adopted.index("user") < adopted.index("post") < adopted.index("comment")
    facts, recs, conn = state(cluster, db)
    conn.close()
    assert facts["extversion"] == "0.1.0"

    reh = swap(cluster, db, version="0.2.0", rehearse=True)
    assert not reh.get("failed"), reh.get("msg")
    assert reh["rehearsed"] is True and reh["changed"] is False and reh["window_ms"] >= 0
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.1.0" and facts["library_version"] == "0.1.0-beta.8"


def test_round_trip_back_to_01_rebuilds_with_same_ids(cluster, app):
    db, manifest = app
    assert not swap(cluster, db, version="0.2.0", manifest=manifest).get("failed")
    back = swap(cluster, db, version="0.1.0", tview_mode="rebuild")
    assert not back.get("failed"), back.get("msg")
    assert back["mode"] == "rebuild"
    ver = verify_manifest(cluster, db, manifest)
    assert not ver.get("failed"), ver.get("msg")
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.1.0" and facts["library_version"] == "0.1.0-beta.8"


def test_adopt_into_01_is_refused(cluster, app):
    db, manifest = app
    assert not swap(cluster, db, version="0.2.0").get("failed")
    res = swap(cluster, db, version="0.1.0", tview_mode="adopt")
    assert res["failed"] and "cannot adopt" in res["msg"]


def test_version_not_installed(cluster, app):
    db, manifest = app
    # A version of a generation the collection knows, not installed here.
    res = swap(cluster, db, version="0.2.7")
    assert res["failed"] and "0.2.7 is not installed on this server" in res["msg"], res["msg"]
    # A version of no generation the collection knows is refused before anything else.
    res = swap(cluster, db, version="0.3.0")
    assert res["failed"] and "0.3.0, a pg_tviews version this collection does not know" in res["msg"], res["msg"]


# --- failure injection: the database is exactly as before, and 0.1 still propagates -----------


def _assert_untouched(cluster, db, manifest):
    ver = verify_manifest(cluster, db, manifest)
    assert not ver.get("failed"), ver.get("msg")
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.1.0"


def test_failing_definition_rolls_back(cluster, app):
    db, manifest = app
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    cluster.execute("UPDATE pg_tview_meta SET definition = 'SELECT no_such_column FROM tb_comment' WHERE entity = 'comment'", db)
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild")
    assert res["failed"] and res["step"] == "rebuild TVIEW" and res["tview"] == "comment"
    assert "rolled back, nothing changed" in res["msg"]
    _assert_untouched(cluster, db, manifest)


def test_dependent_that_cannot_be_recreated_rolls_back(cluster, app):
    db, manifest = app
    cluster.execute("CREATE VIEW tview_entities AS SELECT entity FROM pg_tview_meta", db)
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    res = swap(cluster, db, version="0.2.0")
    assert res["failed"] and res["step"] == "restore dependent" and res["tview"] == "public.tview_entities"
    _assert_untouched(cluster, db, manifest)
    assert cluster.execute("SELECT count(*) FROM tview_entities", db) == [(4,)]


def test_lock_timeout_under_held_lock(cluster, app):
    db, manifest = app
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    holder = cluster.connect(db, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE tb_user IN ACCESS SHARE MODE")
        res = swap(cluster, db, version="0.2.0", lock_timeout=100, lock_retries=1)
        assert res["failed"] and res["step"] == "lock" and "2 attempts" in res["msg"]
    finally:
        holder.rollback()
        holder.close()
    _assert_untouched(cluster, db, manifest)


def test_backend_killed_mid_transaction(cluster, app, tmp_path, monkeypatch):
    db, manifest = app
    cluster.execute("CREATE TABLE tb_big (pk_big bigint PRIMARY KEY, id uuid NOT NULL, n int)", db)
    cluster.execute("INSERT INTO tb_big SELECT g, md5('big' || g)::uuid, g FROM generate_series(1, 2000) g", db)
    cluster.execute("SELECT pg_tviews_create('big', 'SELECT pk_big, id, jsonb_build_object(''n'', n) AS data FROM tb_big')", db)
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    # The swap holds at its named fault point, just before it rebuilds 'big' (the extension already
    # dropped, the transaction open); the test kills its backend there, then lets it go on.
    hold = tmp_path / "hold"
    hold.write_text("")
    monkeypatch.setenv("PGTVIEWS_OPS_FAULT_POINT", "swap:rebuild TVIEW:big")
    monkeypatch.setenv("PGTVIEWS_OPS_FAULT_FILE", str(hold))
    killed = []

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not os.path.exists(str(hold) + ".reached"):
            time.sleep(0.01)
        rows = cluster.execute("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                               "'pgtviews.ops' AND datname = %s AND state = 'idle in transaction'", "postgres", (db,))
        killed.extend(row[0] for row in rows)
        hold.unlink()

    t = threading.Thread(target=killer)
    t.start()
    # The rebuild under the locks (a prebuilt table would be moved in, never reaching that step).
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild", prebuild=False)
    t.join()
    assert len(killed) == 1, "the swap's backend was not the one session in its transaction: %s" % killed
    assert res["failed"] and res["step"] == "rebuild TVIEW"
    _assert_untouched(cluster, db, manifest)


def test_concurrent_writer_loses_nothing(cluster, app):
    db, manifest = app
    errors, done, writes = [], threading.Event(), [0]

    def writer():
        conn = cluster.connect(db)
        i = 0
        try:
            while not done.is_set():
                i += 1
                try:
                    with conn.cursor() as cur:
                        cur.execute("INSERT INTO tb_post VALUES (%s, md5('w' || %s)::uuid, %s, 'w')", (100000 + i, i, 1 + i % 20))
                        cur.execute("UPDATE tb_user SET name = 'w' || %s WHERE pk_user = %s", (i, 1 + i % 20))
                    writes[0] += 1
                except psycopg2.Error as e:
                    errors.append(str(e))
        finally:
            conn.close()

    def wait_for_writes(n, timeout=60):
        deadline = time.time() + timeout
        while writes[0] < n and time.time() < deadline and t.is_alive():
            time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    wait_for_writes(5)
    before = writes[0]
    res = swap(cluster, db, version="0.2.0")
    wait_for_writes(writes[0] + 5)   # the writer keeps going on the new version
    done.set()
    t.join()
    assert not res.get("failed"), res.get("msg")
    assert errors == []
    assert before >= 5 and writes[0] >= before + 5
    assert cluster.execute("SELECT count(*) FROM tb_post", db)[0][0] == 60 + writes[0]
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.2.0"


def test_update_path_uses_alter_extension(make_pg_install, standin_build, make_cluster):
    inst = make_pg_install(("0.1.0",))
    c = make_cluster(inst, name="update")
    try:
        load_app(c, "upd")
        inst.install_tarball(standin_build["0.1.1"]["source"])
        res = swap(c, "upd", version="0.1.1")
        assert not res.get("failed"), res.get("msg")
        assert res["strategy"] == "update"
        assert [p["sql"] for p in res["plan"]] == ["ALTER EXTENSION \"pg_tviews\" UPDATE TO '0.1.1'"]
        facts, recs = assert_live_and_equal(c, "upd")
        assert facts["extversion"] == "0.1.1"
    finally:
        c.destroy()


# --- issue 21: adopting proves 'nothing moved' from the catalog, and checks content after COMMIT ---


def _plan(cluster, db, target="0.2.0", mode="adopt", **kw):
    conn = cluster.connect(db)
    try:
        return build_plan(conn, target, "auto", mode, **kw)
    finally:
        conn.close()


def _execute(cluster, db, plan, ctx, target="0.2.0"):
    conn = cluster.connect(db)
    try:
        return execute(conn, plan, ctx, target, lock_retries=2)
    finally:
        conn.close()


def _tv_scans(cluster, db):
    """seq_scan + idx_scan of every tv_ table, as the server counted them (flushed stats)."""
    rows = cluster.execute("SELECT sum(seq_scan + coalesce(idx_scan, 0)) FROM pg_stat_user_tables "
                           "WHERE relname LIKE 'tv!_%' ESCAPE '!'", db)
    return int(rows[0][0])


def test_adopt_window_scans_no_tv_table(cluster, app):
    """Nothing an adopt runs between its first LOCK and COMMIT reads a tv_ row: the executed
    statements hold no count(*), checksum or EXCEPT over a tv_ table, and the server's own scan
    counters of the tv_ tables do not move over a rehearsal (the whole window, rolled back)."""
    db, manifest = app
    plan, ctx = _plan(cluster, db)
    conn = cluster.connect(db)
    try:
        executed = [s["sql"] for s in plan.render(conn)]
    finally:
        conn.close()
    assert not [s for s in executed if "count(" in s or "string_agg" in s or "EXCEPT" in s]
    time.sleep(1.2)   # statistics of the sessions above are flushed at most once a second
    before = _tv_scans(cluster, db)
    conn = cluster.connect(db)
    try:
        res = execute(conn, plan, ctx, "0.2.0", rehearse=True)
    finally:
        conn.close()
    assert res["rehearsed"] and all(r["row_count"] is None and r["id_checksum"] is None for r in ctx["records"])
    time.sleep(1.2)
    assert _tv_scans(cluster, db) == before
    cluster.execute("SELECT count(*) FROM tv_post", db)    # the counters do see a scan
    time.sleep(1.2)
    assert _tv_scans(cluster, db) > before
    # The real thing: committed, and the content checked after COMMIT in one snapshot.
    plan, ctx = _plan(cluster, db)
    res = _execute(cluster, db, plan, ctx)
    assert res["content_check"] == {"ok": True, "differences": [], "stale_rows": {}} and res["content_check_ms"] > 0
    assert {t["tview"]: t["rows_after"] for t in res["tviews"]}["post"] == 60
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.2.0"


def test_adopt_catches_a_tv_table_truncated_after_the_plan(cluster, app):
    db, manifest = app
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    plan, ctx = _plan(cluster, db)
    cluster.execute("CREATE TABLE keep_comment AS SELECT * FROM tv_comment", db)
    cluster.execute("TRUNCATE tv_comment", db)     # a new relfilenode: not the table the plan read
    with pytest.raises(SwapError) as e:
        _execute(cluster, db, plan, ctx)
    assert e.value.step == "verify" and e.value.tview == "comment" and "truncated or rewritten" in str(e.value)
    assert not e.value.committed
    cluster.execute("INSERT INTO tv_comment SELECT * FROM keep_comment", db)
    _assert_untouched(cluster, db, manifest)


def test_adopt_catches_a_tv_table_altered_after_the_plan(cluster, app):
    db, manifest = app
    plan, ctx = _plan(cluster, db)
    cluster.execute("ALTER TABLE tv_user ADD COLUMN extra int", db)
    with pytest.raises(SwapError) as e:
        _execute(cluster, db, plan, ctx)
    assert e.value.step == "verify" and e.value.tview == "user" and "other columns" in str(e.value)
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db) == [("0.1.0",)]


def test_adopt_catches_rows_written_inside_the_window(cluster, app):
    """A statement of the swap itself that writes tv_ rows (under our locks nobody else can) is
    caught by this transaction's own row counters, without a scan."""
    db, manifest = app
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    plan, ctx = _plan(cluster, db)
    plan.add("adopt TVIEW", "UPDATE tv_post SET data = data WHERE pk_post = 1", tview="post")
    with pytest.raises(SwapError) as e:
        _execute(cluster, db, plan, ctx)
    assert e.value.step == "verify" and e.value.tview == "post" and "1 rows of public.tv_post were written" in str(e.value)
    _assert_untouched(cluster, db, manifest)


def test_content_differences_fail_the_adopt_after_commit(cluster, app):
    """A tv_ that already differs from its v_ is found by the check after COMMIT: the task fails and
    says the swap committed and what differs."""
    db, manifest = app
    cluster.execute("SET session_replication_role = replica; DELETE FROM tv_comment WHERE pk_comment IN (1, 2)", db)
    res = swap(cluster, db, version="0.2.0")
    assert res["failed"] and res["step"] == "content check" and "committed" in res["msg"]
    assert res["window_ms"] > 0 and res["changed"] is True
    diffs = res["content_check"]["differences"]
    assert [(d["tview"], d["only_in_tv"], d["only_in_view"]) for d in diffs] == [("comment", 0, 2)]
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db) == [("0.2.0",)]


# --- issue 21: the rollback to 0.1 registers the kept tables from the manifest, no rebuild ------


def _relfilenodes(cluster, db):
    return dict(cluster.execute("SELECT format('%I.%I', n.nspname, c.relname), c.relfilenode FROM pg_class c "
                                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE 'tv!_%' ESCAPE '!' "
                                "AND c.relkind = 'r'", db))


def test_rollback_to_01_by_registration(cluster, app):
    db, manifest = app
    meta_01 = cluster.execute("SELECT entity, view_oid, table_oid, definition, dependencies, fk_columns, uuid_fk_columns, "
                              "dependency_types, dependency_paths, array_match_keys FROM pg_tview_meta ORDER BY entity", db)
    triggers_01 = cluster.execute("SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                                  "WHERE tgname LIKE 'trg!_tview!_%' ESCAPE '!' ORDER BY 1, 2", db)
    helper_01 = cluster.execute("SELECT pg_get_functiondef('public.tview_trigger_handler()'::regprocedure)", db)
    cascade_01 = cluster.execute("SELECT * FROM pg_tviews_show_cascade_path('user')", db)
    assert not swap(cluster, db, version="0.2.0", manifest=manifest).get("failed")
    kept = _relfilenodes(cluster, db)
    back = swap(cluster, db, version="0.1.0", tview_mode="auto")
    assert not back.get("failed"), back.get("msg")
    assert back["mode"] == "register" and "registered from the manifest" in back["mode_reason"], back["mode_reason"]
    assert back["content_check"]["ok"] and back["window_ms"] > 0
    steps = [p["step"] for p in back["plan"]]
    assert "rebuild TVIEW" not in steps and "drop TVIEW table" not in steps and "register TVIEW" in steps
    # Not rebuilt: every tv_ table is the very same storage.
    assert _relfilenodes(cluster, db) == kept
    # 0.1's catalog as pg_tviews_create wrote it: meta rows (same OIDs: nothing was recreated), triggers, helper.
    assert cluster.execute("SELECT entity, view_oid, table_oid, definition, dependencies, fk_columns, uuid_fk_columns, "
                           "dependency_types, dependency_paths, array_match_keys FROM pg_tview_meta ORDER BY entity", db) == meta_01
    assert cluster.execute("SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                           "WHERE tgname LIKE 'trg!_tview!_%' ESCAPE '!' ORDER BY 1, 2", db) == triggers_01
    assert cluster.execute("SELECT pg_get_functiondef('public.tview_trigger_handler()'::regprocedure)", db) == helper_01
    assert cluster.execute("SELECT operation, entity FROM pg_tview_audit_log ORDER BY entity", db) == [
        ("CREATE", e) for e in sorted(r[0] for r in meta_01)]
    assert cluster.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%pgtviews!_ops!_probe%' ESCAPE '!'", db) == [(0,)]
    # 0.1 works: its own functions see the TVIEWs, writes propagate (INSERT/UPDATE here, DELETE below), tv_ = v_.
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.1.0" and facts["library_version"] == "0.1.0-beta.8"
    assert sorted(r[0] for r in cluster.execute("SELECT entity FROM pg_tviews_performance_stats()", db)) == sorted(recs)
    assert ("OK", "tviews", "4 TVIEWs registered", "info") in cluster.execute("SELECT * FROM pg_tviews_health_check()", db)
    assert cluster.execute("SELECT * FROM pg_tviews_show_cascade_path('user')", db) == cascade_01
    cluster.execute("SELECT pg_tviews_refresh('post')", db)
    cluster.execute("DELETE FROM tb_comment WHERE pk_comment = 1", db)
    facts, recs, conn = state(cluster, db)
    try:
        for r in recs.values():
            # as 0.1 does: the deleted comment's tv_ row stays (a stale row), nothing else differs
            stale = 1 if r["entity"] == "comment" else 0
            assert objects.drift(conn, r, classify=True) == {"only_in_tv": stale, "only_in_view": 0, "stale": stale}, r["entity"]
    finally:
        conn.close()
    ver = verify_manifest(cluster, db, manifest, allow=["row_count", "checksum", "ids", "base_table"])
    assert not ver.get("failed") and ver["unexpected"] == [], ver.get("unexpected")


def test_rollback_registration_falls_back_to_rebuild(cluster, app):
    """A TVIEW the manifest does not know (created on 0.2) cannot be registered from it: auto rebuilds and says why."""
    db, manifest = app
    assert not swap(cluster, db, version="0.2.0", manifest=manifest).get("failed")
    cluster.execute("CREATE TABLE tb_tag (pk_tag bigint PRIMARY KEY, id uuid NOT NULL, name text); "
                    "INSERT INTO tb_tag SELECT g, md5('tag' || g)::uuid, 'tag ' || g FROM generate_series(1, 5) g", db)
    cluster.execute("SELECT pg_tviews_create('tag', 'SELECT pk_tag, id, jsonb_build_object(''n'', name) AS data "
                    "FROM tb_tag')", db)
    back = swap(cluster, db, version="0.1.0", tview_mode="auto")
    assert not back.get("failed"), back.get("msg")
    assert back["mode"] == "rebuild" and "only live: tag" in back["mode_reason"]
    refused = swap(cluster, db, version="0.1.0", tview_mode="register")
    assert refused.get("changed") is False, refused   # done already
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.1.0" and "tag" in recs


def _stale(cluster, db):
    return [r[0] for r in cluster.execute(
        "SELECT t.pk_comment FROM tv_comment t WHERE NOT EXISTS (SELECT 1 FROM v_comment v WHERE v.pk_comment = t.pk_comment)"
        " ORDER BY 1", db)]


def test_stale_rows_0_1_left_are_kept_or_repaired(cluster, app):
    """0.1 leaves a deleted comment's tv_ row (issue 20, point 3). Adopting keeps it, and the
    content check after COMMIT counts it without calling it a difference; asked to, the swap
    deletes such rows first (counted only in check mode and rehearsals), and a rebuild, which
    drops them, verifies the rows it reproduces."""
    db, manifest = app
    cluster.execute("DELETE FROM tb_comment WHERE pk_comment IN (1, 2)", db)
    assert _stale(cluster, db) == [1, 2]
    plan = swap(cluster, db, check_mode=True, version="0.2.0", repair_stale_rows=True)
    assert plan["stale_rows_repaired"] == [{"tview": "comment", "table": "public.tv_comment", "rows": 2, "statement": (
        'DELETE FROM "public"."tv_comment" AS t WHERE NOT EXISTS (SELECT 1 FROM "public"."v_comment" AS v '
        'WHERE v."pk_comment" = t."pk_comment")')}]
    rehearsed = swap(cluster, db, version="0.2.0", repair_stale_rows=True, rehearse=True)
    assert rehearsed["stale_rows_repaired"][0]["rows"] == 2 and not rehearsed["changed"]
    assert _stale(cluster, db) == [1, 2]                                   # counted, not deleted
    kept = swap(cluster, db, version="0.2.0", manifest=manifest)
    assert not kept.get("failed"), kept.get("msg")
    assert kept["content_check"] == {"ok": True, "differences": [], "stale_rows": {"comment": 2}}
    assert _stale(cluster, db) == [1, 2]
    # back to 0.1 by rebuild: the stale rows go, every other row keeps its id
    back = swap(cluster, db, version="0.1.0", tview_mode="rebuild")
    assert not back.get("failed"), back.get("msg")
    assert _stale(cluster, db) == []
    assert [t["rows_before"] == t["rows_after"] for t in back["tviews"]] == [True] * 4
    cluster.execute("DELETE FROM tb_comment WHERE pk_comment = 3", db)
    again = swap(cluster, db, version="0.2.0", repair_stale_rows=True)
    assert not again.get("failed"), again.get("msg")
    assert [(r["tview"], r["rows"]) for r in again["stale_rows_repaired"]] == [("comment", 1)]
    assert again["content_check"]["stale_rows"] == {} and _stale(cluster, db) == []
    assert swap(cluster, db, version="0.2.0", repair_stale_rows=True)["changed"] is False   # idempotent
