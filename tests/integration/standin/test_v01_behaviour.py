"""Stand-in 0.1.0: what a TVIEW is and how it behaves (reference §2, §1.8, §6.1),
on the FraiseQL fixture (tests/fixtures/pg_tviews/schema/fraiseql.sql).

Every test runs in one transaction on a shared database and rolls back."""

import psycopg2
import pytest

from .helpers import FIXTURE_TVIEWS, columns, make_fixture_db, members, rows_equal_view, triggers, tx
from .test_v01_catalog import EXPECTED_MEMBERS_01

ALICE_NAME = "SELECT data -> 'author' ->> 'name' FROM tv_post WHERE fk_user = 1 ORDER BY pk_post"


@pytest.fixture(scope="module")
def fixture_db(pg_cluster):
    return make_fixture_db(pg_cluster)


@pytest.fixture
def db(pg_cluster, fixture_db):
    d = tx(pg_cluster, fixture_db)
    yield d
    d.conn.rollback()
    d.close()


# --------------------------------------------------------------------------- shape


def test_fixture_tviews_materialized(db):
    meta = dict(db.q("SELECT entity, table_oid::regclass::text FROM pg_tview_meta"))
    assert set(meta) == set(FIXTURE_TVIEWS)
    for entity, (schema, count) in FIXTURE_TVIEWS.items():
        assert db.one('SELECT count(*) FROM "%s"."%s"' % (schema, "tv_" + entity.replace('"', '""'))) == count
        assert rows_equal_view(db, schema, entity), entity


def test_tv_table_shape(db):
    assert columns(db, "tv_post") == [
        ("pk_post", "bigint", True, None),
        ("id", "uuid", True, None),
        ("data", "jsonb", False, None),
        ("fk_user", "bigint", False, None),
        ("user_id", "uuid", False, None),
        ("created_at", "timestamp with time zone", True, "now()"),
        ("updated_at", "timestamp with time zone", True, "now()"),
    ]
    assert [c[0] for c in columns(db, "tv_user")] == ["pk_user", "id", "identifier", "data", "created_at", "updated_at"]
    assert [c[0] for c in columns(db, "tv_comment")] == [
        "pk_comment", "id", "data", "fk_post", "fk_user", "post_id", "user_id", "created_at", "updated_at"]
    # created_at / updated_at are absent from v_
    assert "created_at" not in [c[0] for c in columns(db, "v_post")]
    assert db.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'tv_post'::regclass"
                  " AND contype = 'p'") == "PRIMARY KEY (pk_post)"
    idx = dict(db.q("SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                    " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'tv_post'::regclass"))
    assert set(idx) == {"tv_post_pkey", "idx_tv_post_id", "idx_tv_post_user_id", "idx_tv_post_data_gin"}
    assert "USING gin (data)" in idx["idx_tv_post_data_gin"]
    assert db.one("SELECT relkind::text FROM pg_class WHERE oid = 'v_post'::regclass") == "v"


def test_meta_rows(db):
    rows = {r["entity"]: r for r in db.dicts(
        "SELECT entity, view_oid::regclass::text AS v, table_oid::regclass::text AS t, definition,"
        " dependencies::regclass[]::text[] AS deps, fk_columns, uuid_fk_columns, dependency_types,"
        " dependency_paths, array_match_keys FROM pg_tview_meta")}
    post = rows["post"]
    assert (post["v"], post["t"]) == ("v_post", "tv_post")
    # as upstream (graph.rs re-reads the root view): tb_user, read only through v_user, is not found
    assert sorted(post["deps"]) == ["tb_comment", "tb_post"]
    assert post["fk_columns"] == ["fk_user"] and post["uuid_fk_columns"] == ["user_id"]
    assert (post["dependency_types"], post["dependency_paths"], post["array_match_keys"]) == (
        ["nested_object"], ["author"], [""])
    assert post["definition"].startswith("SELECT p.pk_post,") and "v_user" in post["definition"]
    comment = rows["comment"]
    assert comment["fk_columns"] == ["fk_post", "fk_user"]
    assert comment["dependency_types"] == ["nested_object", "nested_object"]
    assert comment["dependency_paths"] == ["post", "author"]
    assert rows["user_card"]["deps"] == ["tv_user"]  # a TVIEW reading another TVIEW's table
    assert rows["user_card"]["dependency_types"] == ["scalar"]
    assert rows["user"]["fk_columns"] == [] and rows["user"]["dependency_types"] == []
    buecher = rows["Bücher"]
    assert buecher["t"] == '"Sales Dept"."tv_Bücher"'
    assert buecher["fk_columns"] == ["fk_Kunde"] and buecher["uuid_fk_columns"] == ["Kunde_id"]
    assert (buecher["dependency_types"], buecher["dependency_paths"]) == (["nested_object"], ["kunde"])


def test_array_dependency_metadata(db):
    db.q("CREATE TABLE tb_shelf (pk_shelf bigint PRIMARY KEY, id uuid NOT NULL)")
    db.q("SELECT pg_tviews_create('tv_shelf', $$SELECT s.pk_shelf, s.id, jsonb_build_object('posts',"
         " coalesce(jsonb_agg(v_post.data), '[]'::jsonb)) AS data FROM tb_shelf s LEFT JOIN v_post ON true"
         " GROUP BY s.pk_shelf, s.id$$)")
    assert db.one("SELECT ARRAY[dependency_types, dependency_paths, array_match_keys] FROM pg_tview_meta"
                  " WHERE entity = 'shelf'") == [["array"], ["posts"], ["id"]]


def test_triggers_on_base_tables(db):
    # only relations v_ reads directly (upstream graph.rs): post and comment reach tb_user
    # through v_user only, so they get no trigger there; user changes reach them by fk_user lineage
    assert set(triggers(db, "tb_user")) == {"trg_tview_user_on_tb_user"}
    assert set(triggers(db, "tv_user")) == {"trg_tview_user_card_on_tv_user"}
    assert triggers(db, "tb_post")["trg_tview_post_on_tb_post"] == (
        "CREATE TRIGGER trg_tview_post_on_tb_post AFTER INSERT OR DELETE OR UPDATE ON public.tb_post"
        " FOR EACH ROW EXECUTE FUNCTION tview_trigger_handler('post')")
    assert set(triggers(db, '"Sales Dept"."tb_Kunde"')) == {"trg_tview_Kunde_on_tb_Kunde"}
    # every trigger calls the non-member handler
    assert db.col("SELECT DISTINCT tgfoid::regprocedure::text FROM pg_trigger WHERE tgname LIKE 'trg\\_tview\\_%'") == [
        "tview_trigger_handler()"]


def test_audit_rows(db):
    rows = db.q("SELECT operation, entity, details ->> 'version', details ? 'definition', performed_by = current_user"
                " FROM pg_tview_audit_log ORDER BY log_id")
    assert [r[1] for r in rows] == ["user", "post", "comment", "user_card", "Kunde", "Bücher", "Bestellung O'Brien"]
    assert {(r[0], r[2], r[3], r[4]) for r in rows} == {("CREATE", "0.1.0-beta.8", True, True)}


# --------------------------------------------------------------------------- propagation


def test_update_propagates_through_fk_lineage(db):
    before = dict(db.q("SELECT pk_post, updated_at FROM tv_post"))
    db.q("UPDATE tb_user SET name = 'Alicia' WHERE pk_user = 1")
    assert db.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 1") == "Alicia"
    assert db.col(ALICE_NAME) == ["Alicia"] * 3
    after = dict(db.q("SELECT pk_post, updated_at FROM tv_post"))
    assert all(after[k] > before[k] for k in (1, 2, 3)) and after[4] == before[4]  # Bob's post untouched
    # user -> post -> comment: comment embeds the post, which embeds its author
    assert db.col("SELECT data -> 'post' -> 'author' ->> 'name' FROM tv_comment WHERE fk_post IN (1, 2)"
                  " ORDER BY pk_comment") == ["Alicia"] * 3
    assert db.one("SELECT data -> 'author' ->> 'name' FROM tv_comment WHERE pk_comment = 4") == "Alicia"
    # the TVIEW over tv_user follows too
    assert db.one("SELECT data ->> 'display' FROM tv_user_card WHERE pk_user_card = 1") == "Alicia <alice@example.com>"
    for entity in ("user", "post", "comment", "user_card"):
        assert rows_equal_view(db, "public", entity), entity


def test_insert_and_delete_propagate(db):
    db.q("INSERT INTO tb_post VALUES (5, '00000000-0000-4000-8000-000000000105', 3, 'Carol', '')")
    assert db.one("SELECT data -> 'author' ->> 'name' FROM tv_post WHERE pk_post = 5") == "Carol"
    db.q("INSERT INTO tb_comment VALUES (6, '00000000-0000-4000-8000-000000000206', 5, 4, 'first!')")
    assert db.one("SELECT data ->> 'comment_count' FROM tv_post WHERE pk_post = 5") == "1"
    assert db.one("SELECT data -> 'post' ->> 'comment_count' FROM tv_comment WHERE pk_comment = 6") == "1"
    # DELETE leaves the deleted key's own tv_ row (upstream 0.1 never deletes one: see
    # test_v01_upstream_gaps.py, point 3); TVIEWs that aggregate the deleted row follow.
    db.q("DELETE FROM tb_comment WHERE pk_comment = 6")
    assert db.one("SELECT count(*) FROM tv_comment WHERE pk_comment = 6") == 1
    assert db.one("SELECT data ->> 'comment_count' FROM tv_post WHERE pk_post = 5") == "0"
    db.q("DELETE FROM tb_post WHERE pk_post = 1")  # ON DELETE CASCADE removes comments 1 and 2
    assert db.col("SELECT pk_post FROM tv_post ORDER BY 1") == [1, 2, 3, 4, 5]
    assert db.col("SELECT pk_comment FROM tv_comment ORDER BY 1") == [1, 2, 3, 4, 5, 6]
    for entity in ("user", "user_card"):
        assert rows_equal_view(db, "public", entity), entity
    # what differs is exactly the stale rows: keys gone from v_, nothing else
    for entity, stale in (("post", [1]), ("comment", [1, 2, 6])):
        assert db.col("SELECT pk_%s FROM tv_%s t WHERE NOT EXISTS (SELECT 1 FROM v_%s v WHERE v.pk_%s = t.pk_%s)"
                      " ORDER BY 1" % ((entity,) * 5)) == stale, entity
        db.q("DELETE FROM tv_%s WHERE pk_%s = ANY(%%s)" % (entity, entity), (stale,))
        assert rows_equal_view(db, "public", entity), entity


def test_fk_move(db):
    db.q("UPDATE tb_post SET fk_user = 2 WHERE pk_post = 3")
    assert db.one("SELECT ARRAY[fk_user::text, user_id::text, data -> 'author' ->> 'name'] FROM tv_post"
                  " WHERE pk_post = 3") == ["2", "00000000-0000-4000-8000-000000000002", "Bob"]


def test_propagation_is_synchronous_and_transactional(pg_cluster, fixture_db):
    """Writers see their own propagated rows inside the statement's transaction;
    others only after COMMIT (the work happens in the trigger, not later)."""
    a = tx(pg_cluster, fixture_db)
    b = tx(pg_cluster, fixture_db)
    try:
        a.q("UPDATE tb_user SET name = 'Zed' WHERE pk_user = 4")
        assert a.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 4") == "Zed"
        assert b.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 4") == "Dave"
    finally:
        a.conn.rollback()
        b.conn.rollback()
        a.close()
        b.close()


def test_trigger_notices(db):
    del db.conn.notices[:]
    db.q("UPDATE tb_user SET email = 'x@example.com' WHERE pk_user = 3")
    assert any("TVIEW trigger: UPDATE on public.tb_user (pk=3)" in n for n in db.conn.notices)


def test_awkward_names_propagate(db):
    db.q('UPDATE "Sales Dept"."tb_Kunde" SET "Name" = %s WHERE "pk_Kunde" = 2', ("Ó Briain",))
    assert db.one("SELECT data -> 'buch' -> 'kunde' ->> 'name' FROM \"Sales Dept\".\"tv_Bestellung O'Brien\""
                  " WHERE \"pk_Bestellung O'Brien\" = 1") == "Ó Briain"
    db.q("DELETE FROM \"Sales Dept\".\"tb_Bestellung O'Brien\" WHERE \"pk_Bestellung O'Brien\" = 2")
    # 0.1 leaves the deleted order's row (point 3); only that row differs
    assert db.one('SELECT count(*) FROM "Sales Dept"."tv_Bestellung O\'Brien" WHERE "pk_Bestellung O\'Brien" = 2') == 1
    db.q('DELETE FROM "Sales Dept"."tv_Bestellung O\'Brien" WHERE "pk_Bestellung O\'Brien" = 2')
    db.q('INSERT INTO "Sales Dept"."tb_Bücher" VALUES (4, %s, 2, %s)', ("00000000-0000-4000-8000-000000000404", "Dubliners"))
    for entity in ("Kunde", "Bücher", "Bestellung O'Brien"):
        assert rows_equal_view(db, "Sales Dept", entity), entity
    assert db.one('SELECT count(*) FROM "Sales Dept"."tv_Bücher"') == 4


# --------------------------------------------------------------------------- refresh, create, drop


def test_full_refresh_takes_the_bare_entity(db):
    db.q("UPDATE tv_post SET data = '{}'::jsonb")
    db.q("SELECT pg_tviews_refresh('post')")
    assert rows_equal_view(db, "public", "post")
    db.q("""UPDATE "Sales Dept"."tv_Bücher" SET data = '{}'""")
    db.q("SELECT pg_tviews_refresh('Bücher')")
    assert rows_equal_view(db, "Sales Dept", "Bücher")
    for name in ("tv_post", "public.tv_post", "nope"):
        err = db.error("SELECT pg_tviews_refresh(%s)", (name,))
        assert err.pgcode == "22000"
        assert err.diag.message_primary == "Metadata not found for entity: %s" % name
    # the 0.2 named-argument form does not exist in 0.1
    err = db.error("SELECT pg_tviews_refresh(tview_name => 'tv_post')")
    assert isinstance(err, psycopg2.errors.UndefinedFunction)


def test_full_refresh_resets_timestamps(db):
    old = db.one("SELECT max(created_at) FROM tv_post")
    db.q("SELECT pg_tviews_refresh('post')")  # TRUNCATE + INSERT: fresh defaults
    assert db.one("SELECT min(created_at) FROM tv_post") > old


def test_create_errors_are_22000(db):
    err = db.error("SELECT pg_tviews_create('tv_x', 'SELECT pk_user AS pk_x, data FROM tv_user')")
    assert err.pgcode == "22000"
    assert err.diag.message_primary == "Failed to create TVIEW: Required column missing: id"
    err = db.error("SELECT pg_tviews_create('tv_user', 'SELECT pk_user, id, data FROM tv_user')")
    assert err.diag.message_primary == "Failed to create TVIEW: TVIEW 'user' already exists"
    err = db.error("SELECT pg_tviews_create('tv_x', 'SELECT nonsense')")
    assert err.pgcode == "22000" and err.diag.message_primary.startswith("Failed to create TVIEW: ")


def test_entity_comes_from_pk_column(db):
    db.q("CREATE TABLE tb_article (pk_article bigint PRIMARY KEY, id uuid NOT NULL, title text)")
    res = db.one("SELECT pg_tviews_create('whatever', 'SELECT pk_article, id, jsonb_build_object(''t'', title) AS data"
                 " FROM tb_article')")
    assert res == "TVIEW 'whatever' created successfully"
    assert db.one("SELECT to_regclass('tv_article')::text") == "tv_article"
    assert db.one("SELECT to_regclass('tv_whatever')") is None


def test_create_in_non_public_schema_via_search_path(db):
    db.q("CREATE SCHEMA shop")
    db.q("CREATE TABLE shop.tb_item (pk_item bigint PRIMARY KEY, id uuid NOT NULL, n int)")
    db.q("INSERT INTO shop.tb_item VALUES (1, '00000000-0000-4000-8000-000000000901', 7)")
    db.q("SET LOCAL search_path = shop, public")
    db.q("SELECT pg_tviews_create('tv_item', 'SELECT pk_item, id, jsonb_build_object(''n'', n) AS data FROM shop.tb_item')")
    db.q("RESET search_path")
    assert db.one("SELECT table_oid::regclass::text FROM pg_tview_meta WHERE entity = 'item'") == "shop.tv_item"
    db.q("UPDATE shop.tb_item SET n = 8")
    assert db.one("SELECT data ->> 'n' FROM shop.tv_item") == "8"


def test_raw_select_gets_random_ids(db):
    db.q("SELECT pg_tviews_create('tv_raw', 'SELECT pk_user AS n, name FROM tb_user')")
    assert [c[0] for c in columns(db, "tv_raw")] == ["pk_raw", "id", "data", "created_at", "updated_at"]
    ids = dict(db.q("SELECT pk_raw, id FROM tv_raw"))
    assert db.one("SELECT data FROM tv_raw WHERE pk_raw = 1") == {"n": 1, "name": "Alice"}
    assert "gen_random_uuid()" in db.one("SELECT definition FROM pg_tview_meta WHERE entity = 'raw'")
    db.q("SELECT pg_tviews_refresh('raw')")  # pitfall 12: public ids change on every rebuild
    assert not set(ids.values()) & set(db.col("SELECT id FROM tv_raw"))


def test_ctas_is_converted_by_the_event_trigger(db):
    # only in a session that has loaded the library (its ProcessUtility hook, reference 3.1);
    # test_v01_upstream_gaps covers a session without it
    db.q("SELECT pg_tviews_version()")
    db.q("CREATE TABLE tb_tag (pk_tag bigint PRIMARY KEY, id uuid NOT NULL, fk_user bigint, label text)")
    db.q("INSERT INTO tb_tag VALUES (1, '00000000-0000-4000-8000-000000000601', 2, 'x')")
    db.q("CREATE TABLE tv_tag AS SELECT t.pk_tag, t.id, t.fk_user, jsonb_build_object('label', t.label,"
         " 'user', v_user.data) AS data FROM tb_tag t JOIN v_user ON v_user.pk_user = t.fk_user")
    assert db.one("SELECT definition FROM pg_tview_meta WHERE entity = 'tag'") == (
        "SELECT t.pk_tag, t.id, t.fk_user, jsonb_build_object('label', t.label, 'user', v_user.data) AS data"
        " FROM tb_tag t JOIN v_user ON v_user.pk_user = t.fk_user")
    assert [c[0] for c in columns(db, "tv_tag")] == ["pk_tag", "id", "data", "fk_user", "created_at", "updated_at"]
    assert "trg_tview_tag_on_tb_tag" in triggers(db, "tb_tag")
    db.q("UPDATE tb_user SET identifier = 'bobby' WHERE pk_user = 2")
    assert db.one("SELECT data -> 'user' ->> 'identifier' FROM tv_tag WHERE pk_tag = 1") == "bobby"
    db.q("UPDATE tb_tag SET label = 'y'")
    assert db.one("SELECT data ->> 'label' FROM tv_tag WHERE pk_tag = 1") == "y"
    # quoted, schema-qualified, after a comment, second statement of the query string
    db.q("""/* hello; */ SELECT 1; CREATE TABLE "Sales Dept"."tv_Ort" AS SELECT 1::bigint AS "pk_Ort",""" +
         """ '00000000-0000-4000-8000-000000000999'::uuid AS id, '{"a": ";"}'::jsonb AS data""")
    assert db.one("""SELECT table_oid::regclass::text FROM pg_tview_meta WHERE entity = 'Ort'""") == '"Sales Dept"."tv_Ort"'
    # not tv_, or SELECT INTO: stays a plain table
    db.q("CREATE TABLE plain_copy AS SELECT * FROM tb_user")
    db.q("SELECT pk_user AS pk_si, id, '{}'::jsonb AS data INTO tv_si FROM tb_user")
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity IN ('si', 'plain_copy')") == 0


def test_drop(db):
    assert db.one("SELECT pg_tviews_drop('tv_user_card')") == "TVIEW 'tv_user_card' dropped successfully"
    assert db.one("SELECT to_regclass('tv_user_card')") is None
    assert db.one("SELECT to_regclass('v_user_card')") is None
    assert triggers(db, "tv_user") == {}
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'user_card'") == 0
    assert db.one("SELECT operation FROM pg_tview_audit_log ORDER BY log_id DESC LIMIT 1") == "DROP"
    assert db.one("SELECT pg_tviews_drop('tv_user_card', true)") == "TVIEW 'tv_user_card' does not exist, skipping"
    err = db.error("SELECT pg_tviews_drop('tv_user_card')")
    assert (err.pgcode, err.diag.message_primary) == ("22000", "TVIEW 'tv_user_card' does not exist")
    # others depend on v_user: refused (drop dependents first)
    err = db.error("SELECT pg_tviews_drop('user')")
    assert err.pgcode == "22000" and "depend" in err.diag.message_primary
    assert db.one("""SELECT pg_tviews_drop('"Sales Dept"."tv_Bestellung O''Brien"')""").endswith("dropped successfully")
    assert db.one("""SELECT to_regclass('"Sales Dept"."tv_Bestellung O''Brien"')""") is None


def test_plain_drop_table_leaves_orphans(db):
    """Without the ProcessUtility hook (a fresh session that has not loaded the library)
    DROP TABLE tv_x is not rerouted: meta row, v_ and triggers stay, and the health check
    reports the orphan."""
    db.q("DROP TABLE tv_user_card")
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'user_card'") == 1
    assert db.q("SELECT status, message, severity FROM pg_tviews_health_check() WHERE component = 'metadata'") == [
        ("ERROR", "1 orphaned metadata entries found", "error")]


def test_health_check_blind_spots(db):
    rows = db.q("SELECT * FROM pg_tviews_health_check()")
    assert [r[1] for r in rows] == ["extension", "jsonb_delta", "metadata", "triggers", "tviews"]
    assert rows[4] == ("OK", "tviews", "7 TVIEWs registered", "info")
    # a trg_tview_* trigger pointing at nothing is NOT detected ...
    db.q("CREATE TABLE stray (pk_stray bigint PRIMARY KEY)")
    db.q("CREATE TRIGGER trg_tview_ghost_on_stray AFTER INSERT ON stray FOR EACH ROW EXECUTE FUNCTION tview_trigger_handler('ghost')")
    assert db.one("SELECT status FROM pg_tviews_health_check() WHERE component = 'triggers'") == "OK"
    # ... only names LIKE 'tview_%' are
    db.q("CREATE TRIGGER tview_ghost AFTER INSERT ON stray FOR EACH ROW EXECUTE FUNCTION tview_trigger_handler('ghost')")
    assert db.q("SELECT status, message FROM pg_tviews_health_check() WHERE component = 'triggers'") == [
        ("WARNING", "1 orphaned triggers found")]
    # the metadata check compares relnames only: a same-named table elsewhere hides a missing tv_
    db.q("CREATE SCHEMA other")
    db.q("CREATE TABLE other.tv_user_card (x int)")
    db.q("DROP TABLE public.tv_user_card")
    assert db.one("SELECT status FROM pg_tviews_health_check() WHERE component = 'metadata'") == "OK"


def test_analyze_select_and_infer_types(db):
    # upstream's text parser (src/schema/parser.rs, inference.rs): names from the select list,
    # absent parts JSON null, other columns typed by guess; the SQL is never executed
    res = db.one("SELECT pg_tviews_analyze_select('SELECT pk_post, id, identifier, data, fk_user, user_id, title,"
                 " created_at FROM no_such_table')")
    assert res == {"pk_column": "pk_post", "id_column": "id", "identifier_column": "identifier", "data_column": "data",
                   "fk_columns": ["fk_user"], "uuid_fk_columns": ["user_id"],
                   "additional_columns": ["title", "created_at"],
                   "additional_columns_with_types": [["title", "TEXT"], ["created_at", "TEXT"]],
                   "entity_name": "post"}
    res = db.one("SELECT pg_tviews_analyze_select('SELECT p.id, jsonb_build_object(''a'', 1) AS data,"
                 " ARRAY(SELECT c.id FROM tb_comment c) AS comment_ids, (SELECT jsonb_agg(x) FROM t) AS tags FROM tb_post p')")
    assert res["pk_column"] is None and res["entity_name"] is None and "pk_column" in res
    assert res["identifier_column"] is None and res["data_column"] == "data"
    assert res["additional_columns_with_types"] == [["comment_ids", "UUID[]"], ["tags", "JSONB"]]
    assert db.one("SELECT pg_tviews_analyze_select('SELECT 1 AS x') ->> 'error'").startswith(
        "Invalid SELECT statement: No FROM keyword found")
    assert db.one("SELECT pg_tviews_analyze_select('SELECT x AS id, y AS data FROM t') -> 'pk_column'") is None
    assert db.one("SELECT pg_tviews_analyze_select('SELECT x AS id, y AS data FROM t') ? 'pk_column'")
    assert "error" in db.one("SELECT pg_tviews_analyze_select('SELECT FROM tb_user')")
    assert db.one("SELECT pg_tviews_analyze_select('SELECT pk_a, name FROM t') ->> 'error'").startswith(
        "Required column 'id' missing")
    # never executed: a statement with side effects is only parsed
    assert db.one("SELECT pg_tviews_analyze_select('SELECT pk_a, id, data FROM pg_sleep(100)') ->> 'entity_name'") == "a"
    assert db.one("SELECT pg_tviews_infer_types('tb_post', ARRAY['pk_post', 'title', 'nope'])") == {
        "pk_post": "bigint", "title": "text"}


def test_cascade_path_and_performance_stats(db):
    assert db.q("SELECT * FROM pg_tviews_show_cascade_path('user')") == [(1, "user_card", "user")]
    stats = {r[0]: r for r in db.q("SELECT * FROM pg_tviews_performance_stats()")}
    assert stats["post"][3:] == (4, 4)  # rows, indexes


# --------------------------------------------------------------------------- convert (the runbook's trap)


def test_convert_existing_table_freezes_a_snapshot(db):
    db.q("CREATE TABLE tv_legacy (pk_legacy bigint PRIMARY KEY, id uuid NOT NULL, data jsonb)")
    db.q("INSERT INTO tv_legacy VALUES (1, '00000000-0000-4000-8000-000000000801', '{\"a\": 1}')")
    assert db.one("SELECT pg_tviews_convert_existing_table('tv_legacy')") == \
        "Table 'tv_legacy' converted to TVIEW successfully"
    assert db.one("SELECT relkind::text FROM pg_class WHERE oid = 'tv_legacy'::regclass") == "v"
    assert db.q("SELECT * FROM tv_legacy") == [("00000000-0000-4000-8000-000000000801", {"a": 1})]
    assert "VALUES" in db.one("SELECT pg_get_viewdef('v_legacy'::regclass)")
    assert db.one("SELECT ARRAY[definition, dependencies::text, fk_columns::text] FROM pg_tview_meta"
                  " WHERE entity = 'legacy'") == ["SELECT * FROM v_legacy", "{}", "{}"]


def test_convert_on_a_live_tview_silently_downgrades_it(db):
    """Runbook step 6 on a live TVIEW: it becomes a frozen VALUES snapshot."""
    db.q("SELECT pg_tviews_convert_existing_table('tv_user_card')")
    db.q("UPDATE tb_user SET name = 'Changed' WHERE pk_user = 1")
    assert db.one("SELECT data ->> 'display' FROM tv_user_card WHERE id = '00000000-0000-4000-8000-000000000001'") == \
        "Alice <alice@example.com>"
    assert "pk_user_card" not in [c[0] for c in columns(db, "tv_user_card")]  # only (id, data) survive
    assert db.one("SELECT dependencies FROM pg_tview_meta WHERE entity = 'user_card'") == []


def test_convert_validation(db):
    db.q("CREATE TABLE not_tv (pk_x bigint, id uuid, data jsonb)")
    db.q("CREATE TABLE tv_bad (pk_bad bigint, id text, data jsonb)")
    for name in ("not_tv", "tv_bad", "tv_missing"):
        assert db.error("SELECT pg_tviews_convert_existing_table(%s)", (name,)).pgcode == "22000"


# --------------------------------------------------------------------------- DROP EXTENSION


WRITE_PATH = [("pg_tviews_cascade", "c", "pg_tviews_cascade_wrapper", "$libdir/pg_tviews"),
              ("pg_tviews_delete", "c", "pg_tviews_delete_wrapper", "$libdir/pg_tviews"),
              ("pg_tviews_insert", "c", "pg_tviews_insert_wrapper", "$libdir/pg_tviews")]


def test_writes_run_the_librarys_c_entry_points(pg_cluster, fixture_db, db):
    """Upstream's write path (src/dependency/triggers.rs, src/lib.rs; reference §1.6, §2.4):
    the base-table trigger's tview_trigger_handler() calls pg_tviews_insert / _cascade /
    _delete, which are C functions of the library. So a base-table write needs the 0.1
    library's symbols (test_versions.py shows the write failing on the 0.2 library)."""
    assert sorted(db.q(
        "SELECT p.proname::text, l.lanname::text, p.prosrc, p.probin FROM pg_proc p"
        " JOIN pg_language l ON l.oid = p.prolang WHERE p.oid IN ('pg_tviews_cascade(oid,bigint)'::regprocedure,"
        " 'pg_tviews_insert(oid,bigint)'::regprocedure, 'pg_tviews_delete(oid,bigint)'::regprocedure)")) == WRITE_PATH
    # A write really runs them: an ERROR met while propagating (here a lock timeout on tv_user,
    # which is re-raised, reference §2.5) reports the library function in its context.
    locker = tx(pg_cluster, fixture_db)
    try:
        locker.q("LOCK TABLE tv_user IN ACCESS EXCLUSIVE MODE")
        db.q("SET LOCAL lock_timeout = '200ms'")
        for sql, fn in (("UPDATE tb_user SET name = 'x' WHERE pk_user = 2", "pg_tviews_cascade"),
                        ("INSERT INTO tb_user VALUES (9, '00000000-0000-4000-8000-000000000009', 'z', 'z', 'z')",
                         "pg_tviews_insert"),
                        ("DELETE FROM tb_user WHERE pk_user = 4", "pg_tviews_delete")):
            err = db.error(sql)
            assert err.pgcode == "55P03", (sql, err)
            assert "pg_tviews library function %s(" % fn in err.diag.context, err.diag.context
            assert "tview_trigger_handler()" in err.diag.context
    finally:
        locker.conn.rollback()
        locker.close()


def test_drop_extension_breaks_writes(db):
    """§1.8: members go, TVIEW objects and the non-member handler stay, and every
    write to a base table fails."""
    db.q("DROP EXTENSION pg_tviews")  # no CASCADE needed
    assert db.one("SELECT to_regclass('pg_tview_meta')") is None
    for rel in ("tv_post", "v_post", "tv_user_card", '"Sales Dept"."tv_Bücher"'):
        assert db.one("SELECT to_regclass(%s)", (rel,)) is not None
    assert len(triggers(db, "tb_user")) == 1  # user's own; post/comment read tb_user only through v_user
    assert db.one("SELECT to_regprocedure('tview_trigger_handler()') IS NOT NULL")
    assert db.one("SELECT count(*) FROM tv_post") == 4
    for sql, fn in (("UPDATE tb_user SET name = 'x' WHERE pk_user = 2", "pg_tviews_cascade"),
                    ("INSERT INTO tb_user VALUES (9, '00000000-0000-4000-8000-000000000009', 'z', 'z', 'z')",
                     "pg_tviews_insert"),
                    ("DELETE FROM tb_comment WHERE pk_comment = 3", "pg_tviews_delete"),
                    ('UPDATE "Sales Dept"."tb_Kunde" SET "Name" = \'x\'', "pg_tviews_cascade")):
        err = db.error(sql)
        assert err.pgcode == "42883"
        assert err.diag.message_primary == "function %s(oid, bigint) does not exist" % fn
    # recreating the extension restores writes but not the metadata: nothing propagates any more
    db.q("CREATE EXTENSION pg_tviews")
    db.q("UPDATE tb_user SET name = 'Bobby' WHERE pk_user = 2")
    assert db.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 2") == "Bob"
    assert db.one("SELECT count(*) FROM pg_tview_meta") == 0


def test_members_unchanged_by_tviews(db):
    assert members(db) == EXPECTED_MEMBERS_01


def test_double_quotes_spaces_and_case_in_names(db):
    db.q('CREATE SCHEMA "we""ird Schema"')
    db.q('CREATE TABLE "we""ird Schema"."tb_A""b" ("pk_A""b" bigint PRIMARY KEY, id uuid NOT NULL, "V a" text)')
    db.q('INSERT INTO "we""ird Schema"."tb_A""b" VALUES (1, \'00000000-0000-4000-8000-000000000001\', \'x\')')
    db.q('SET LOCAL search_path = "we""ird Schema", public')
    db.q("""SELECT pg_tviews_create('tv_A"b', 'SELECT "pk_A""b", id, jsonb_build_object(''v'', "V a") AS data"""
         """ FROM "we""ird Schema"."tb_A""b"')""")
    db.q('CREATE TABLE "tv_C""d" AS SELECT "pk_A""b" AS "pk_C""d", id, "pk_A""b" AS "fk_A""b",'
         ' jsonb_build_object(\'v\', "V a") AS data FROM "we""ird Schema"."tb_A""b"')
    db.q("RESET search_path")
    assert set(triggers(db, '"we""ird Schema"."tb_A""b"')) == {'trg_tview_A"b_on_tb_A"b', 'trg_tview_C"d_on_tb_A"b'}
    db.q('UPDATE "we""ird Schema"."tb_A""b" SET "V a" = \'y\'')
    assert db.one('SELECT data ->> \'v\' FROM "we""ird Schema"."tv_A""b"') == "y"
    assert db.one('SELECT data ->> \'v\' FROM "we""ird Schema"."tv_C""d"') == "y"
    db.q("SELECT pg_tviews_refresh('A\"b')")
    assert db.one("""SELECT pg_tviews_drop('"we""ird Schema"."tv_C""d"')""").endswith("dropped successfully")
