"""Stand-in 0.1.0 where upstream's code differs from its intent (issue 20, points 2, 3, 4, 6).

Each test pins the stand-in to upstream's Rust source (fraiseql/pg_tviews at the reference's
HEAD), since that is what a migration meets on real 0.1 databases."""

import pytest

from .helpers import install_jsonb_delta, make_fixture_db, triggers, tx


@pytest.fixture(scope="module")
def fixture_db(pg_cluster):
    return make_fixture_db(pg_cluster)


@pytest.fixture
def db(pg_cluster, fixture_db):
    d = tx(pg_cluster, fixture_db)
    yield d
    d.conn.rollback()
    d.close()


# --------------------------------------------------------------- point 3: delete and refresh

def stale_keys(db, entity):
    return db.col("SELECT pk_%s FROM tv_%s t WHERE NOT EXISTS (SELECT 1 FROM v_%s v WHERE v.pk_%s = t.pk_%s)"
                  " ORDER BY 1" % ((entity,) * 5))


def test_delete_leaves_the_stale_tv_row_silently(db):
    """src/refresh/main.rs (0.1): refresh_pk looks the deleted key up in v_, finds nothing and
    returns; no code deletes a tv_ row. No error, no warning; readers still see the row."""
    del db.conn.notices[:]
    db.q("DELETE FROM tb_comment WHERE pk_comment = 3")
    assert db.one("SELECT count(*) FROM tb_comment WHERE pk_comment = 3") == 0
    assert db.one("SELECT count(*) FROM tv_comment WHERE pk_comment = 3") == 1
    assert stale_keys(db, "comment") == [3]
    assert not [n for n in db.conn.notices if "WARNING" in n]
    # deleting a post (its comments first) leaves its row the same way
    db.q("DELETE FROM tb_comment WHERE fk_post = 2")
    db.q("DELETE FROM tb_post WHERE pk_post = 2")
    assert 2 in stale_keys(db, "post")
    # a full refresh (TRUNCATE + INSERT from v_) is what removes them under 0.1
    db.q("SELECT pg_tviews_refresh('comment')")
    assert stale_keys(db, "comment") == []


def test_every_refresh_stamps_updated_at(db):
    """src/refresh/main.rs: the upsert runs whether or not the row changed and sets
    updated_at = now(): a write that changes nothing in v_ still rewrites the tv_ row."""
    db.q("UPDATE tv_user SET updated_at = '2000-01-01' WHERE pk_user = 2")
    before = db.one("SELECT data FROM tv_user WHERE pk_user = 2")
    db.q("UPDATE tb_user SET name = name WHERE pk_user = 2")                 # no change in v_user
    assert db.one("SELECT data FROM tv_user WHERE pk_user = 2") == before
    assert db.one("SELECT updated_at > '2000-01-01' FROM tv_user WHERE pk_user = 2") is True


# --------------------------------------------------------------- point 2: dependencies

def test_tview_reading_only_views_has_no_dependencies_and_no_triggers(db):
    """src/dependency/graph.rs re-reads the root view's rule at every depth: a TVIEW whose
    SELECT reads only views (a helper view, another TVIEW's v_) gets no base tables, no
    triggers, and is frozen from the start."""
    db.q("CREATE VIEW post_prepared AS SELECT p.pk_post, p.id, p.title FROM tb_post p")
    db.q("SELECT pg_tviews_create('post_brief', $$SELECT pp.pk_post AS pk_post_brief, pp.id,"
         " jsonb_build_object('title', pp.title, 'author', vu.data ->> 'name') AS data"
         " FROM post_prepared pp JOIN tb_post p2 USING (pk_post) JOIN v_user vu ON vu.pk_user = p2.fk_user$$)")
    # reads tb_post directly (p2): that one is found; tb_user (through v_user) is not
    assert db.one("SELECT dependencies::regclass[]::text[] FROM pg_tview_meta WHERE entity = 'post_brief'") == ["tb_post"]
    db.q("SELECT pg_tviews_create('title_only', $$SELECT pp.pk_post AS pk_title_only, pp.id,"
         " jsonb_build_object('title', pp.title) AS data FROM post_prepared pp$$)")
    assert db.one("SELECT dependencies FROM pg_tview_meta WHERE entity = 'title_only'") == []
    assert not [t for t in triggers(db, "tb_post") if "title_only" in t]
    before = db.one("SELECT data ->> 'title' FROM tv_title_only WHERE pk_title_only = 1")
    db.q("UPDATE tb_post SET title = 'changed' WHERE pk_post = 1")
    assert db.one("SELECT data ->> 'title' FROM tv_title_only WHERE pk_title_only = 1") == before  # frozen
    assert db.one("SELECT data ->> 'title' FROM v_title_only WHERE pk_title_only = 1") == "changed"
    db.q("SELECT pg_tviews_refresh('title_only')")  # only a full rebuild catches up
    assert db.one("SELECT data ->> 'title' FROM tv_title_only WHERE pk_title_only = 1") == "changed"


def test_tview_reading_another_tviews_view_only(db):
    db.q("SELECT pg_tviews_create('user_name', $$SELECT vu.pk_user AS pk_user_name, vu.id,"
         " jsonb_build_object('name', vu.data ->> 'name') AS data FROM v_user vu$$)")
    assert db.one("SELECT dependencies FROM pg_tview_meta WHERE entity = 'user_name'") == []
    assert not [t for t in triggers(db, "tb_user") if "user_name" in t]


# --------------------------------------------------------------- point 4: the DDL hook

CTAS_TAG = ("CREATE TABLE {name} AS SELECT u.pk_user AS pk_{entity}, u.id,"
            " jsonb_build_object('n', u.name) AS data FROM tb_user u")


def test_ctas_without_the_library_loaded_stays_a_plain_table(db):
    """src/hooks.rs caches the SELECT only where _PG_init installed the hook: the first
    CREATE TABLE tv_x AS of a fresh session is a plain table, silently; the event trigger
    (a C function) loads the library, so the next one is converted."""
    db.q(CTAS_TAG.format(name="tv_first", entity="first"))
    assert db.one("SELECT relkind::text FROM pg_class WHERE oid = 'tv_first'::regclass") == "r"
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'first'") == 0
    assert db.one("SELECT to_regclass('v_first')") is None
    db.q(CTAS_TAG.format(name="tv_second", entity="second"))
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'second'") == 1
    assert "trg_tview_second_on_tb_user" in triggers(db, "tb_user")


def test_pg_tviews_create_installs_the_hook(db):
    db.q("SELECT pg_tviews_create('tv_made', $$SELECT pk_user AS pk_made, id, data FROM tv_user$$)")
    db.q(CTAS_TAG.format(name="tv_after", entity="after"))
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'after'") == 1


def test_convert_table_called_directly_raises(db):
    err = db.error("SELECT pg_tviews_convert_table('tv_user')")
    assert err.pgcode == "22000" and err.diag.message_primary.startswith("No SELECT statement found for table 'tv_user'")


def test_drop_table_in_a_hooked_session_is_routed_to_pg_tviews_drop(db):
    db.q("SELECT pg_tviews_version()")
    db.q("DROP TABLE tv_user_card")
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'user_card'") == 0
    assert db.one("SELECT to_regclass('v_user_card')") is None
    assert triggers(db, "tv_user") == {}
    assert db.one("SELECT operation || ' ' || entity FROM pg_tview_audit_log ORDER BY log_id DESC LIMIT 1") == (
        "DROP user_card")


def test_drop_table_routing_follows_upstreams_text_match(db):
    """handle_drop_table takes the first word that starts with tv_: a quoted or
    schema-qualified name passes through (orphans); IF EXISTS on a plain tv_ table is
    skipped with a NOTICE and the table stays; a plain tv_ table without IF EXISTS fails."""
    db.q("SELECT pg_tviews_version()")
    db.q('DROP TABLE "tv_user_card"')
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'user_card'") == 1
    assert db.one("SELECT to_regclass('v_user_card')") is not None
    db.q("CREATE TABLE tv_plain (x int)")
    db.q("DROP TABLE IF EXISTS tv_plain")
    assert db.one("SELECT to_regclass('tv_plain')") is not None
    assert any("does not exist, skipping" in n for n in db.conn.notices)
    err = db.error("DROP TABLE tv_plain")
    assert err.pgcode == "22000" and "TVIEW 'tv_plain' does not exist" in err.diag.message_primary
    db.q("DROP TABLE public.tv_plain")  # qualified: not routed
    assert db.one("SELECT to_regclass('tv_plain')") is None


def test_drop_table_without_the_library_leaves_orphans(db):
    db.q("DROP TABLE tv_user_card")
    assert db.one("SELECT count(*) FROM pg_tview_meta WHERE entity = 'user_card'") == 1
    assert db.one("SELECT to_regclass('v_user_card')") is not None
    assert "trg_tview_user_card_on_tv_user" in triggers(db, "tv_user")


# --------------------------------------------------------------- point 6: smaller ones

@pytest.fixture
def jsonb_delta_db(pg_cluster, fixture_db):
    install_jsonb_delta(pg_cluster.install.extdir)
    d = tx(pg_cluster, fixture_db)
    d.q("CREATE EXTENSION jsonb_delta")
    yield d
    d.conn.rollback()
    d.close()


def test_jsonb_delta_switches_writes_to_smart_patches(jsonb_delta_db):
    """src/refresh/main.rs (apply_patch): with jsonb_delta installed, a TVIEW with recorded
    dependencies is patched with UPDATE ... SET data = jsonb_smart_patch_*(data, <new data>,
    ...): only data, only existing rows, merged at the dependency paths."""
    db = jsonb_delta_db
    assert db.one("SELECT pg_tviews_check_jsonb_delta()")
    assert db.one("SELECT status FROM pg_tviews_health_check() WHERE component = 'jsonb_delta'") == "OK"
    before = db.one("SELECT data FROM tv_post WHERE pk_post = 1")
    db.q("UPDATE tb_post SET title = 'patched' WHERE pk_post = 1")
    after = db.one("SELECT data FROM tv_post WHERE pk_post = 1")
    assert after["title"] == before["title"]              # not replaced ...
    assert after["author"]["title"] == "patched"           # ... merged under 'author'
    assert db.one("SELECT data ->> 'title' FROM v_post WHERE pk_post = 1") == "patched"  # so tv_ has drifted
    # a new base row never reaches tv_ (UPDATE only)
    db.q("INSERT INTO tb_post (pk_post, id, fk_user, title) VALUES (99, '00000000-0000-4000-8000-000000000999', 1, 'new')")
    assert db.one("SELECT count(*) FROM tv_post WHERE pk_post = 99") == 0
    # a TVIEW without dependency metadata (user: no fk_ column) is still upserted in full
    db.q("UPDATE tb_user SET name = 'Zed' WHERE pk_user = 1")
    assert db.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 1") == "Zed"


def test_jsonb_delta_array_dependency_fails_the_write(jsonb_delta_db):
    """Upstream calls jsonb_smart_patch_array with 4 arguments (text[] path, key); jsonb_delta
    exports 5: the call does not resolve and the writer's statement fails."""
    db = jsonb_delta_db
    db.q("CREATE TABLE tb_shelf (pk_shelf bigint PRIMARY KEY, id uuid NOT NULL, label text)")
    db.q("INSERT INTO tb_shelf VALUES (1, '00000000-0000-4000-8000-000000000701', 'a')")
    db.q("SELECT pg_tviews_create('tv_shelf', $$SELECT s.pk_shelf, s.id, jsonb_build_object('label', s.label, 'posts',"
         " coalesce(jsonb_agg(v_post.data), '[]'::jsonb)) AS data FROM tb_shelf s LEFT JOIN v_post ON true"
         " GROUP BY s.pk_shelf, s.id$$)")
    err = db.error("UPDATE tb_shelf SET label = 'b'")
    assert err.pgcode == "42883" and "jsonb_smart_patch_array" in err.diag.message_primary


def test_tviewschema_in_is_not_strict(db):
    assert db.one("SELECT proisstrict FROM pg_proc WHERE oid = 'tviewschema_in(cstring)'::regprocedure") is False
    assert db.one("SELECT NULL::tviewschema IS NULL")
    assert db.one("SELECT '{\"a\": 1}'::tviewschema::text") == '{"a": 1}'


def test_audit_log_comment(db):
    assert db.one("SELECT obj_description('pg_tview_audit_log'::regclass, 'pg_class')") == "Audit log for TVIEW operations"


def test_analyze_select_is_a_text_parser(db):
    res = db.one("SELECT pg_tviews_analyze_select('SELECT pk_x, id, data, v.name FROM nowhere v')")
    assert res == {"pk_column": "pk_x", "id_column": "id", "identifier_column": None, "data_column": "data",
                   "fk_columns": [], "uuid_fk_columns": [], "additional_columns": ["name"],
                   "additional_columns_with_types": [["name", "TEXT"]], "entity_name": "x"}
