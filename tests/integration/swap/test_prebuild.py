"""A rebuild's tables built before the write locks (swap.prebuild, tviews_swap prebuild), on real
servers: moved in when nothing they were built from changed, rebuilt under the locks otherwise."""

import json

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import prebuild
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import build_plan, execute
from tests.harness.modules import conn_args, run_module
from tests.integration.swap.test_swap import assert_live_and_equal, state, swap

ENTITIES = ["Bücher", "comment", "post", "user"]


def _tables(cluster, db):
    """{tv_ table: (oid, [index names])}."""
    rows = cluster.execute("""
        SELECT format('%%I.%%I', n.nspname, c.relname), c.oid::bigint,
               ARRAY(SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                      WHERE i.indrelid = c.oid ORDER BY 1)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND c.relname LIKE 'tv!_%%' ESCAPE '!' AND n.nspname <> %s""", db, (prebuild.SCHEMA,))
    return dict((name, (oid, list(idx))) for name, oid, idx in rows)


def _ids(cluster, db):
    return cluster.execute("SELECT pk_post, id FROM tv_post ORDER BY 1", db) + \
        cluster.execute("SELECT pk_comment, id FROM tv_comment ORDER BY 1", db)


def _schema_exists(cluster, db):
    return cluster.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", db, (prebuild.SCHEMA,))[0][0] == 1


def test_rebuild_moves_in_tables_built_before_the_locks(cluster, app):
    """0.1 -> 0.2 and back by rebuild, every table built before the locks: new tables (new OIDs)
    with the old index names and ids, equal to their views, live (writes propagate), registered
    with each version; the private schema gone after each swap."""
    db, manifest = app
    run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=manifest))
    before, ids = _tables(cluster, db), _ids(cluster, db)
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild")
    assert not res.get("failed"), res.get("msg")
    pre = res["prebuilt"]
    assert pre["moved_in"] == ENTITIES and pre["rebuilt_under_locks"] == {} and pre["not_built"] == {}, pre
    assert pre["rows"]["comment"] == 120 and pre["build_ms"] > 0 and pre["check_ms"] > 0
    steps = [(p["step"], p["tview"]) for p in res["plan"]]
    assert sorted(t for s, t in steps if s == "move in the prebuilt table") == ENTITIES
    assert not [t for s, t in steps if s == "rebuild TVIEW"], steps
    assert all(t["prebuilt"] and t["rows_before"] == t["rows_after"] for t in res["tviews"]), res["tviews"]
    after = _tables(cluster, db)
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name][0] != before[name][0], "%s is the old table" % name
        assert after[name][1] == before[name][1], name   # the same indexes, by name (tv_post_title_idx too)
    assert _ids(cluster, db) == ids
    assert cluster.execute("SELECT obj_description('tv_post'::regclass, 'pg_class')", db)[0][0] == "posts for the feed"
    assert cluster.execute("SELECT has_table_privilege('app_reader', 'tv_post', 'SELECT')", db)[0][0]
    assert not _schema_exists(cluster, db)
    facts, recs = assert_live_and_equal(cluster, db)
    assert facts["extversion"] == "0.2.0"

    back = swap(cluster, db, version="0.1.0", tview_mode="rebuild")
    assert not back.get("failed"), back.get("msg")
    assert back["prebuilt"]["moved_in"] == ENTITIES, back["prebuilt"]
    assert any(p["step"] == "register TVIEW" for p in back["plan"])
    assert not _schema_exists(cluster, db)
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db) == [("0.1.0",)]
    facts, recs, conn = state(cluster, db)
    try:
        for r in recs.values():
            assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
    finally:
        conn.close()
    # 0.1's triggers on the registered tables: a new user reaches tv_user.
    cluster.execute("INSERT INTO tb_user VALUES (9002, md5('user9002')::uuid, 'after rollback', 'u@example.com')", db)
    assert cluster.execute("SELECT data->>'name' FROM tv_user WHERE pk_user = 9002", db) == [("after rollback",)]


def _swap_with_a_write_between(cluster, db, statement):
    """Build the tables (all of them must be built), run ``statement`` as the application, then swap."""
    conn = cluster.connect(db)
    try:
        plan, ctx = build_plan(conn, "0.2.0", "auto", "rebuild")
        entities, why = prebuild.eligible(ctx, ctx["can_take_over"])
        assert sorted(entities) == ENTITIES and why == {}
        ctx["prebuilt"] = prebuild.build(conn, ctx, entities)
        assert sorted(ctx["prebuilt"]["built"]) == ENTITIES
    finally:
        conn.close()
    cluster.execute(statement, db)
    conn = cluster.connect(db)
    try:
        res = execute(conn, plan, ctx, "0.2.0", lock_retries=2)
        prebuild.drop(conn)
    finally:
        conn.close()
    return res["prebuilt"]


def test_a_tview_written_after_its_build_is_rebuilt_under_the_locks(cluster, app):
    """A base row written between the build and the locks: every TVIEW whose view reads that table
    is rebuilt under the locks (and has the row); the others are moved in."""
    db, manifest = app
    pre = _swap_with_a_write_between(
        cluster, db, "INSERT INTO tb_comment VALUES (9001, md5('comment9001')::uuid, 5, 3, 'written after the build')")
    assert pre["moved_in"] == ["Bücher", "post", "user"], pre
    assert list(pre["rebuilt_under_locks"]) == ["comment"]
    assert "public.tb_comment" in pre["rebuilt_under_locks"]["comment"]
    assert cluster.execute("SELECT data->>'body' FROM tv_comment WHERE pk_comment = 9001", db) == [("written after the build",)]
    assert_live_and_equal(cluster, db)


def test_a_tview_reading_a_changed_view_is_rebuilt_with_it(cluster, app):
    """A user renamed after the build: user is rebuilt, and so are post and comment, whose views
    read v_user (their views are dropped and created again with it)."""
    db, manifest = app
    pre = _swap_with_a_write_between(cluster, db, "UPDATE tb_user SET name = 'renamed after the build' WHERE pk_user = 3")
    assert pre["moved_in"] == ["Bücher"], pre
    assert sorted(pre["rebuilt_under_locks"]) == ["comment", "post", "user"]
    assert cluster.execute("SELECT count(*) FROM tv_post WHERE data->'author'->>'name' = 'renamed after the build'", db)[0][0] > 0
    assert_live_and_equal(cluster, db)


def test_check_mode_shows_the_build_and_changes_nothing(cluster, app):
    db, manifest = app
    res = swap(cluster, db, check_mode=True, version="0.2.0", tview_mode="rebuild")
    assert not res.get("failed"), res.get("msg")
    text = "\n".join(res["script"])
    assert res["script"][0].startswith("-- before the locks, writes flowing: the new tables of")
    assert 'CREATE TABLE "_pgtviews_ops_prebuilt"."tv_post" (LIKE "public"."tv_post"' in text
    assert 'INSERT INTO "_pgtviews_ops_prebuilt"."tv_post"' in text and 'FROM "public"."v_post";' in text
    assert 'CREATE INDEX tv_post_title_idx ON "_pgtviews_ops_prebuilt"."tv_post" USING btree' in text
    assert 'ALTER TABLE "_pgtviews_ops_prebuilt"."tv_post" SET SCHEMA "public";' in text
    assert res["script"][-1].startswith('DROP SCHEMA "_pgtviews_ops_prebuilt" CASCADE;')
    assert not _schema_exists(cluster, db)
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db) == [("0.1.0",)]


def test_left_over_schema_is_dropped_and_a_foreign_one_left_alone(cluster, app):
    """A killed run's schema (our mark) is dropped by the next run; a schema of that name we did not
    make is never touched: the run says so and rebuilds under the locks."""
    db, manifest = app
    cluster.execute('CREATE SCHEMA "%s"; CREATE TABLE "%s".tv_post (x int); COMMENT ON SCHEMA "%s" IS \'%s\''
                    % (prebuild.SCHEMA, prebuild.SCHEMA, prebuild.SCHEMA, prebuild.MARK), db)
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild", rehearse=True)
    assert not res.get("failed"), res.get("msg")
    assert res["prebuilt"]["moved_in"] == ENTITIES and not _schema_exists(cluster, db)

    cluster.execute('CREATE SCHEMA "%s"; CREATE TABLE "%s".keep (x int)' % (prebuild.SCHEMA, prebuild.SCHEMA), db)
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild")
    assert not res.get("failed"), res.get("msg")
    assert "prebuilt" not in res and any(p["step"] == "rebuild TVIEW" for p in res["plan"])
    assert "exists and was not made by pgtviews.ops" in json.dumps(res.get("warnings")), res.get("warnings")
    assert cluster.execute('SELECT count(*) FROM "%s".keep' % prebuild.SCHEMA, db) == [(0,)]
    assert_live_and_equal(cluster, db)


def test_prebuild_off_rebuilds_under_the_locks(cluster, app):
    db, manifest = app
    res = swap(cluster, db, version="0.2.0", tview_mode="rebuild", prebuild=False)
    assert not res.get("failed"), res.get("msg")
    assert "prebuilt" not in res
    assert sorted(p["tview"] for p in res["plan"] if p["step"] == "rebuild TVIEW") == ENTITIES
    assert all(t["rows_before"] == t["rows_after"] for t in res["tviews"])
    conn = cluster.connect(db)
    try:
        assert objects.row_count(conn, "public", "tv_comment") == 120
    finally:
        conn.close()
