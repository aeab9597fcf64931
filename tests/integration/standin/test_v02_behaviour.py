"""Stand-in 0.2.0: TVIEW behaviour, the unified refresh and adoption of live
tv_ tables, on the FraiseQL fixture.  Every test runs in one transaction and
rolls back."""

import pytest

from .helpers import FIXTURE_TVIEWS, columns, make_fixture_db, rows_equal_view, triggers, tx

# dependency order of the fixture's TVIEWs (qualified tv_ names)
ADOPT_ORDER = ["public.tv_user", "public.tv_post", "public.tv_comment", "public.tv_user_card",
               '"Sales Dept"."tv_Kunde"', '"Sales Dept"."tv_Bücher"', '"Sales Dept"."tv_Bestellung O\'Brien"']


@pytest.fixture(scope="module")
def fixture_db(pg02_cluster):
    return make_fixture_db(pg02_cluster)


@pytest.fixture
def db(pg02_cluster, fixture_db):
    d = tx(pg02_cluster, fixture_db)
    yield d
    d.conn.rollback()
    d.close()


def snapshot(db):
    """Every tv_ row with its physical identity (xmin, ctid): unchanged means untouched."""
    out = {}
    for entity, (schema, _count) in FIXTURE_TVIEWS.items():
        tv = '"%s"."%s"' % (schema, "tv_" + entity)
        out[entity] = sorted(db.q("SELECT xmin::text, ctid::text, t::text FROM %s t" % tv))
    return out


def refreshed(db):
    return dict(db.q("SELECT entity_name, last_refreshed FROM pg_tviews_metadata"))


# --------------------------------------------------------------------------- shape and metadata


def test_fixture_and_metadata_view(db):
    for entity, (schema, count) in FIXTURE_TVIEWS.items():
        assert rows_equal_view(db, schema, entity), entity
    rows = {r["entity_name"]: r for r in db.dicts("SELECT * FROM pg_tviews_metadata")}
    assert set(rows) == set(FIXTURE_TVIEWS)
    post = rows["post"]
    assert (post["tview_name"], post["view_name"], post["primary_key"]) == ("public.tv_post", "public.v_post", "pk_post")
    assert post["refresh_policy"] == "immediate" and post["last_error"] is None
    assert post["last_refreshed"] >= post["created_at"] and post["last_refresh_duration_ms"] >= 0
    assert post["fk_columns"] == ["fk_user"] and post["uuid_fk_columns"] == ["user_id"]
    assert post["definition"].startswith("SELECT p.pk_post,")
    assert rows["Bestellung O'Brien"]["tview_name"] == '"Sales Dept"."tv_Bestellung O\'Brien"'
    assert rows["Bücher"]["primary_key"] == "pk_Bücher"
    for entity, (schema, count) in FIXTURE_TVIEWS.items():
        assert rows[entity]["rows_cached"] == count, entity
    # tview_name is usable as the refresh argument and as a relation name
    for r in rows.values():
        db.q("SELECT pg_tviews_refresh(%s)", (r["tview_name"],))
        assert db.one("SELECT %s::regclass::oid = (SELECT table_oid FROM tviews.tview_meta WHERE entity = %s)",
                      (r["tview_name"], r["entity_name"]))


def test_rows_cached_never_negative(db):
    db.q("CREATE TABLE tv_empty (pk_empty bigint PRIMARY KEY, id uuid NOT NULL, data jsonb)")
    db.q("CREATE VIEW v_empty AS SELECT 1::bigint AS pk_empty, gen_random_uuid() AS id, '{}'::jsonb AS data WHERE false")
    db.q("SELECT pg_tviews_convert_existing_table('tv_empty')")  # never analyzed: reltuples = -1
    assert db.one("SELECT rows_cached FROM pg_tviews_metadata WHERE entity_name = 'empty'") == 0


def test_triggers_execute_the_member_handler(db):
    assert set(triggers(db, "tb_user")) == {
        "trg_tview_user_on_tb_user", "trg_tview_post_on_tb_user", "trg_tview_comment_on_tb_user"}
    assert triggers(db, "tb_post")["trg_tview_post_on_tb_post"] == (
        "CREATE TRIGGER trg_tview_post_on_tb_post AFTER INSERT OR DELETE OR UPDATE ON public.tb_post"
        " FOR EACH ROW EXECUTE FUNCTION tviews.tview_trigger_handler('post')")
    assert db.col("SELECT DISTINCT tgfoid::regprocedure::text FROM pg_trigger WHERE tgname LIKE 'trg\\_tview\\_%'") == [
        "tviews.tview_trigger_handler()"]
    assert db.one("SELECT to_regprocedure('public.tview_trigger_handler()')") is None


def test_audit_log(db):
    assert db.col("SELECT entity FROM tviews.audit_log WHERE operation = 'CREATE' ORDER BY log_id") == [
        "user", "post", "comment", "user_card", "Kunde", "Bücher", "Bestellung O'Brien"]
    assert db.one("SELECT DISTINCT details ->> 'version' FROM tviews.audit_log") == "0.2.0"


def test_tv_shape_same_as_01(db):
    assert [c[0] for c in columns(db, "tv_comment")] == [
        "pk_comment", "id", "data", "fk_post", "fk_user", "post_id", "user_id", "created_at", "updated_at"]


# --------------------------------------------------------------------------- propagation (as 0.1)


def test_propagation(db):
    db.q("UPDATE tb_user SET name = 'Alicia' WHERE pk_user = 1")
    assert db.col("SELECT data -> 'author' ->> 'name' FROM tv_post WHERE fk_user = 1") == ["Alicia"] * 3
    assert db.one("SELECT data ->> 'display' FROM tv_user_card WHERE pk_user_card = 1") == "Alicia <alice@example.com>"
    db.q("INSERT INTO tb_comment VALUES (6, '00000000-0000-4000-8000-000000000206', 3, 4, 'late')")
    db.q("DELETE FROM tb_post WHERE pk_post = 1")
    db.q('UPDATE "Sales Dept"."tb_Kunde" SET "Name" = \'Meier\' WHERE "pk_Kunde" = 1')
    for entity, (schema, _count) in FIXTURE_TVIEWS.items():
        assert rows_equal_view(db, schema, entity), entity
    assert db.one("SELECT count(*) FROM tv_post WHERE pk_post = 1") == 0


def test_ctas_event_trigger(db):
    db.q("CREATE TABLE tb_tag (pk_tag bigint PRIMARY KEY, id uuid NOT NULL, label text)")
    db.q("INSERT INTO tb_tag VALUES (1, '00000000-0000-4000-8000-000000000601', 'x')")
    db.q("CREATE TABLE tv_tag AS SELECT pk_tag, id, jsonb_build_object('label', label) AS data FROM tb_tag")
    assert db.one("SELECT tview_name FROM pg_tviews_metadata WHERE entity_name = 'tag'") == "public.tv_tag"
    db.q("UPDATE tb_tag SET label = 'y'")
    assert db.one("SELECT data ->> 'label' FROM tv_tag") == "y"


def test_drop(db):
    assert db.one("SELECT pg_tviews_drop('public.tv_user_card')") == "TVIEW 'public.tv_user_card' dropped successfully"
    assert db.one("SELECT to_regclass('tv_user_card')") is None and triggers(db, "tv_user") == {}
    assert db.one("SELECT operation FROM tviews.audit_log ORDER BY log_id DESC LIMIT 1") == "DROP"


# --------------------------------------------------------------------------- unified refresh


@pytest.mark.parametrize("name", ["tv_post", "public.tv_post", '"public"."tv_post"', "public.tv_p%", "tv_po%"])
def test_refresh_name_forms(db, name):
    db.q("UPDATE tv_post SET data = '{}'")
    before = refreshed(db)
    db.q("SELECT pg_tviews_refresh(%s)", (name,))
    assert rows_equal_view(db, "public", "post")
    after = refreshed(db)
    assert after["post"] > before["post"]
    assert {k for k in after if after[k] != before[k]} == {"post"}


def test_refresh_named_arguments_and_policies(db):
    db.q("UPDATE tv_post SET data = '{}'")
    lock_timeout = db.one("SHOW lock_timeout")
    db.q("SELECT pg_tviews_refresh(tview_name => 'public.tv_post', priority => 'high', timeout => '30s',"
         " retry_count => 3)")
    assert rows_equal_view(db, "public", "post")
    assert db.one("SHOW lock_timeout") == lock_timeout
    err = db.error("SELECT pg_tviews_refresh('tv_post', retry_count => -1)")
    assert err.pgcode == "22000"
    err = db.error("SELECT pg_tviews_refresh('tv_post', priority => 'urgent')")
    assert err.pgcode == "22000"


def test_refresh_pattern_over_schemas(db):
    db.q("UPDATE tv_post SET data = '{}'")
    db.q('UPDATE "Sales Dept"."tv_Bücher" SET data = \'{}\'')
    before = refreshed(db)
    db.q("SELECT pg_tviews_refresh('public.tv_%')")
    after = refreshed(db)
    assert {k for k in after if after[k] != before[k]} == {"user", "post", "comment", "user_card"}
    assert rows_equal_view(db, "public", "post") and not rows_equal_view(db, "Sales Dept", "Bücher")
    db.q("SELECT pg_tviews_refresh('Sales Dept.tv_%')")
    assert rows_equal_view(db, "Sales Dept", "Bücher")
    db.q('UPDATE "Sales Dept"."tv_Bücher" SET data = \'{}\'')
    db.q("SELECT pg_tviews_refresh('tv_B%')")  # unqualified pattern
    assert rows_equal_view(db, "Sales Dept", "Bücher")


@pytest.mark.parametrize("name", ['"Sales Dept"."tv_Bücher"', "Sales Dept.tv_Bücher", '"tv_Bücher"', "tv_Bücher"])
def test_refresh_awkward_names(db, name):
    db.q('UPDATE "Sales Dept"."tv_Bücher" SET data = \'{}\'')
    db.q("SELECT pg_tviews_refresh(%s)", (name,))
    assert rows_equal_view(db, "Sales Dept", "Bücher")


def test_refresh_primary_keys(db):
    db.q("UPDATE tv_post SET data = '{}'")
    db.q("SELECT pg_tviews_refresh('tv_post', primary_keys => ARRAY[1, 2]::bigint[])")
    assert db.col("SELECT pk_post FROM tv_post WHERE data = '{}' ORDER BY 1") == [3, 4]
    # rows whose v_ row is gone are deleted, missing ones inserted
    db.q("SET LOCAL session_replication_role = replica")  # no triggers: tv_ goes stale
    db.q("DELETE FROM tb_comment WHERE pk_comment = 5")
    db.q("INSERT INTO tb_comment VALUES (7, '00000000-0000-4000-8000-000000000207', 2, 1, 'new')")
    db.q("SET LOCAL session_replication_role = origin")
    db.q("SELECT pg_tviews_refresh('tv_comment', ARRAY[5, 7])")
    assert db.col("SELECT pk_comment FROM tv_comment ORDER BY 1") == [1, 2, 3, 4, 7]


def test_refresh_cascade(db):
    db.q("SET LOCAL session_replication_role = replica")
    db.q("UPDATE tb_user SET name = 'Robert' WHERE pk_user = 2")
    db.q("SET LOCAL session_replication_role = origin")
    db.q("SELECT pg_tviews_refresh('tv_user')")
    assert db.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 2") == "Robert"
    assert db.one("SELECT data -> 'author' ->> 'name' FROM tv_post WHERE pk_post = 4") == "Bob"  # no cascade
    before = refreshed(db)
    db.q("SELECT pg_tviews_refresh('tv_user', cascade => true)")
    after = refreshed(db)
    assert {k for k in after if after[k] != before[k]} == {"user", "post", "comment", "user_card"}
    for entity in ("user", "post", "comment", "user_card"):
        assert rows_equal_view(db, "public", entity), entity


def test_refresh_primary_keys_with_cascade_follows_lineage(db):
    db.q("SET LOCAL session_replication_role = replica")
    db.q("UPDATE tb_user SET name = 'Robert' WHERE pk_user = 2")
    db.q("SELECT pg_tviews_refresh('tv_user', ARRAY[2]::bigint[], true)")
    db.q("SET LOCAL session_replication_role = origin")
    assert db.one("SELECT data -> 'author' ->> 'name' FROM tv_post WHERE pk_post = 4") == "Robert"
    assert db.one("SELECT data ->> 'display' FROM tv_user_card WHERE pk_user_card = 2") == "Robert <bob@example.com>"
    for entity in ("user", "post", "comment", "user_card"):
        assert rows_equal_view(db, "public", entity), entity


@pytest.mark.parametrize("name", ["tv_nope", "post", "public.v_post", "nothing_%", "other.tv_post"])
def test_refresh_not_found(db, name):
    err = db.error("SELECT pg_tviews_refresh(%s)", (name,))
    assert (err.pgcode, err.diag.message_primary) == ("22000", "TVIEW not found: %s" % name)


def test_old_one_argument_form_is_gone(db):
    assert db.q("SELECT pronargs, pronargdefaults FROM pg_proc WHERE proname = 'pg_tviews_refresh'") == [(6, 5)]
    err = db.error("SELECT pg_tviews_refresh(entity => 'post')")
    assert err.pgcode == "42883"


def test_refresh_errors_and_last_error(db):
    db.q("ALTER TABLE tv_post ADD CONSTRAINT small CHECK (pk_post < 100)")
    # trigger path: errors are downgraded to WARNINGs and recorded in last_error
    db.q("INSERT INTO tb_post VALUES (200, '00000000-0000-4000-8000-000000000200', 1, 'big', '')")
    assert db.one("SELECT count(*) FROM tv_post WHERE pk_post = 200") == 0
    assert "small" in db.one("SELECT last_error FROM pg_tviews_metadata WHERE entity_name = 'post'")
    # explicit refresh: raises
    err = db.error("SELECT pg_tviews_refresh('tv_post', retry_count => 1)")
    assert err.pgcode == "22000" and err.diag.message_primary.startswith("Refresh failed for TVIEW post: ")
    db.q("DELETE FROM tb_post WHERE pk_post = 200")
    db.q("SELECT pg_tviews_refresh('tv_post')")
    assert db.one("SELECT last_error FROM pg_tviews_metadata WHERE entity_name = 'post'") is None


# --------------------------------------------------------------------------- adoption


def test_adoption_of_live_tables(db):
    """DROP EXTENSION ... CASCADE (triggers go, tv_/v_ stay), CREATE EXTENSION, then
    adopt every TVIEW in dependency order: no row is rewritten."""
    before = snapshot(db)
    db.q("DROP EXTENSION pg_tviews CASCADE")
    assert db.one("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'trg\\_tview\\_%'") == 0
    db.q("CREATE EXTENSION pg_tviews")
    for name in ADOPT_ORDER:
        assert db.one("SELECT pg_tviews_convert_existing_table(%s)", (name,)) == \
            "Table '%s' converted to TVIEW successfully" % name
    assert snapshot(db) == before  # same rows, ids, timestamps, even the same tuple versions
    rows = {r["entity_name"]: r for r in db.dicts("SELECT * FROM pg_tviews_metadata")}
    assert set(rows) == set(FIXTURE_TVIEWS)
    assert rows["post"]["last_refreshed"] is None  # adopted, not refreshed
    assert rows["post"]["fk_columns"] == ["fk_user"]
    assert "public.v_user" in rows["post"]["definition"]  # deparsed with qualified names
    assert db.one("SELECT dependencies::regclass[]::text[] FROM tviews.tview_meta WHERE entity = 'user_card'") == [
        "tv_user"]
    assert db.one("SELECT ARRAY[dependency_types, dependency_paths] FROM tviews.tview_meta WHERE entity = 'comment'") == [
        ["nested_object", "nested_object"], ["post", "author"]]
    assert set(triggers(db, "tb_user")) == {
        "trg_tview_user_on_tb_user", "trg_tview_post_on_tb_user", "trg_tview_comment_on_tb_user"}
    assert db.one("SELECT details ->> 'adopted' FROM tviews.audit_log WHERE entity = 'post' ORDER BY log_id DESC LIMIT 1") \
        == "public.tv_post"
    # live: writes propagate again
    db.q("UPDATE tb_user SET name = 'Alicia' WHERE pk_user = 1")
    db.q('UPDATE "Sales Dept"."tb_Kunde" SET "Name" = \'Meier\' WHERE "pk_Kunde" = 1')
    assert db.col("SELECT data -> 'author' ->> 'name' FROM tv_post WHERE fk_user = 1") == ["Alicia"] * 3
    for entity, (schema, _count) in FIXTURE_TVIEWS.items():
        assert rows_equal_view(db, schema, entity), entity
    db.q("SELECT pg_tviews_refresh('public.tv_%', cascade => true)")


def test_adoption_validation(db):
    err = db.error("SELECT pg_tviews_convert_existing_table('tv_post')")
    assert (err.pgcode, err.diag.message_primary) == ("22000", "TVIEW 'post' already exists")
    db.q("CREATE TABLE tv_noview (pk_noview bigint PRIMARY KEY, id uuid NOT NULL, data jsonb)")
    err = db.error("SELECT pg_tviews_convert_existing_table('tv_noview')")
    assert err.pgcode == "22000" and "v_noview" in err.diag.message_primary
    db.q("CREATE TABLE tv_nopk (pk_nopk bigint, id uuid NOT NULL, data jsonb)")
    db.q("CREATE VIEW v_nopk AS SELECT * FROM tv_nopk")
    err = db.error("SELECT pg_tviews_convert_existing_table('tv_nopk')")
    assert err.pgcode == "22000" and "primary key" in err.diag.message_primary
    db.q("CREATE TABLE tv_txt (pk_txt bigint PRIMARY KEY, id text, data jsonb)")
    db.q("CREATE VIEW v_txt AS SELECT * FROM tv_txt")
    assert db.error("SELECT pg_tviews_convert_existing_table('tv_txt')").pgcode == "22000"
    for name in ("tb_post", "nope", "v_post"):
        assert db.error("SELECT pg_tviews_convert_existing_table(%s)", (name,)).pgcode == "22000"


def test_adoption_skips_a_leftover_trigger_with_a_warning(db):
    """An old 0.1-style trigger of the same name is kept (WARNING), as create does."""
    db.q("DROP EXTENSION pg_tviews CASCADE")
    db.q("CREATE FUNCTION public.tview_trigger_handler() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'")
    db.q("CREATE TRIGGER trg_tview_user_on_tb_user AFTER INSERT OR UPDATE OR DELETE ON tb_user"
         " FOR EACH ROW EXECUTE FUNCTION public.tview_trigger_handler('user')")
    db.q("CREATE EXTENSION pg_tviews")
    del db.conn.notices[:]
    db.q("SELECT pg_tviews_convert_existing_table('tv_user')")
    assert any("trg_tview_user_on_tb_user already exists" in n for n in db.conn.notices)
    assert triggers(db, "tb_user")["trg_tview_user_on_tb_user"].endswith("EXECUTE FUNCTION tview_trigger_handler('user')")


# --------------------------------------------------------------------------- DROP EXTENSION


def test_drop_extension_needs_cascade(db):
    err = db.error("DROP EXTENSION pg_tviews")
    assert err.pgcode == "2BP01" and "tviews.tview_trigger_handler()" in err.diag.message_detail
    db.q("DROP EXTENSION pg_tviews CASCADE")
    for rel in ("tv_post", "v_post", '"Sales Dept"."tv_Bücher"'):
        assert db.one("SELECT to_regclass(%s)", (rel,)) is not None
    assert db.one("SELECT to_regnamespace('tviews')") is None
    db.q("UPDATE tb_user SET name = 'x' WHERE pk_user = 2")  # writes work, nothing propagates
    assert db.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 2") == "Bob"


def test_health_check(db):
    assert db.q("SELECT status, component FROM pg_tviews_health_check()") == [
        ("OK", "extension"), ("WARNING", "jsonb_delta"), ("OK", "metadata"), ("OK", "triggers"), ("OK", "tviews")]
    assert db.one("SELECT message FROM pg_tviews_health_check() WHERE component = 'tviews'") == "7 TVIEWs registered"
    db.q("DROP TABLE tv_user_card")
    assert db.q("SELECT status, message FROM pg_tviews_health_check() WHERE component = 'metadata'") == [
        ("ERROR", "1 orphaned metadata entries found")]
    assert db.one("SELECT tview_name FROM pg_tviews_metadata WHERE entity_name = 'user_card'") is None


def test_double_quotes_spaces_and_case_in_names(db):
    db.q('CREATE SCHEMA "we""ird Schema"')
    db.q('CREATE TABLE "we""ird Schema"."tb_A""b" ("pk_A""b" bigint PRIMARY KEY, id uuid NOT NULL, "V a" text)')
    db.q('INSERT INTO "we""ird Schema"."tb_A""b" VALUES (1, \'00000000-0000-4000-8000-000000000001\', \'x\')')
    db.q("""SELECT pg_tviews_create('"we""ird Schema"."tv_A""b"', 'SELECT "pk_A""b", id,"""
         """ jsonb_build_object(''v'', "V a") AS data FROM "we""ird Schema"."tb_A""b"')""")
    assert db.one("SELECT tview_name FROM pg_tviews_metadata WHERE entity_name = 'A\"b'") == '"we""ird Schema"."tv_A""b"'
    db.q('UPDATE "we""ird Schema"."tb_A""b" SET "V a" = \'y\'')
    assert db.one('SELECT data ->> \'v\' FROM "we""ird Schema"."tv_A""b"') == "y"
    db.q('UPDATE "we""ird Schema"."tv_A""b" SET data = \'{}\'')
    db.q("""SELECT pg_tviews_refresh('"we""ird Schema"."tv_A""b"')""")
    assert db.one('SELECT data ->> \'v\' FROM "we""ird Schema"."tv_A""b"') == "y"
    db.q("""SELECT pg_tviews_refresh('we"ird Schema.tv_%')""")
    # adoption of the same objects under their quoted name
    db.q("SELECT tviews.remove_triggers('A\"b')")
    db.q("DELETE FROM tviews.tview_meta WHERE entity = 'A\"b'")
    db.q("""SELECT pg_tviews_convert_existing_table('"we""ird Schema"."tv_A""b"')""")
    assert set(triggers(db, '"we""ird Schema"."tb_A""b"')) == {'trg_tview_A"b_on_tb_A"b'}
