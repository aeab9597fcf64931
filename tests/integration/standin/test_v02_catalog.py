"""Stand-in 0.2.0: the planned API's catalog, exactly as the 0.2 catalog adapter
expects it (fixture README, "0.2.0 contract"; reference §5)."""

import os

import pytest

from .helpers import columns, functions, make_fixture_db, members, tx

EXPECTED_MEMBERS_02 = {
    "event trigger pg_tviews_ddl_end",
    "function pg_tviews_analyze_select(text)",
    "function pg_tviews_cascade(oid,bigint)",
    "function pg_tviews_check_jsonb_delta()",
    "function pg_tviews_commit_prepared(text)",
    "function pg_tviews_convert_existing_table(text)",
    "function pg_tviews_convert_table(text)",
    "function pg_tviews_create(text,text)",
    "function pg_tviews_delete(oid,bigint)",
    "function pg_tviews_drop(text,boolean)",
    "function pg_tviews_handle_ddl_event()",
    "function pg_tviews_health_check()",
    "function pg_tviews_hook_status()",
    "function pg_tviews_infer_types(text,text[])",
    "function pg_tviews_insert(oid,bigint)",
    "function pg_tviews_queue_stats()",
    "function pg_tviews_recover_prepared_transactions()",
    "function pg_tviews_refresh(text,bigint[],boolean,text,interval,integer)",
    "function pg_tviews_rollback_prepared(text)",
    "function pg_tviews_show_cascade_path(text)",
    "function pg_tviews_version()",
    "function tviews.base_dependencies(oid)",
    "function tviews.copy_columns(oid,oid)",
    "function tviews.dependency_metadata(text,text[])",
    "function tviews.edges()",
    "function tviews.full_refresh(text)",
    "function tviews.install_triggers(text)",
    "function tviews.ordered_entities(text[],boolean)",
    "function tviews.refresh_queue(text[],bigint[],boolean,boolean)",
    "function tviews.register(text,oid,oid,text,timestamp with time zone,double precision,jsonb)",
    "function tviews.remove_triggers(text)",
    "function tviews.resolve(text)",
    "function tviews.select_columns(text)",
    "function tviews.tview_trigger_handler()",
    "function tviews.view_reads(oid)",
    "function tviewschema_in(cstring)",
    "function tviewschema_out(tviewschema)",
    "schema tviews",
    "sequence tviews.audit_log_log_id_seq",
    "table tviews.audit_log",
    "table tviews.tview_meta",
    "type tviewschema",
    "view pg_tviews_cache_stats",
    "view pg_tviews_metadata",
    "view pg_tviews_performance_summary",
    "view pg_tviews_queue_realtime",
}

EXPECTED_PUBLIC_FUNCTIONS_02 = {
    "pg_tviews_version()": ("text", True, "c"),
    "pg_tviews_hook_status()": ("text", True, "c"),
    "pg_tviews_check_jsonb_delta()": ("boolean", True, "c"),
    "pg_tviews_queue_stats()": ("jsonb", True, "sql"),
    "pg_tviews_health_check()": ("TABLE(status text, component text, message text, severity text)", True, "plpgsql"),
    "pg_tviews_analyze_select(sql text)": ("jsonb", True, "plpgsql"),
    "pg_tviews_infer_types(table_name text, columns text[])": ("jsonb", True, "plpgsql"),
    "pg_tviews_commit_prepared(gid text)": ("void", True, "plpgsql"),
    "pg_tviews_rollback_prepared(gid text)": ("void", True, "plpgsql"),
    "pg_tviews_recover_prepared_transactions()": ("TABLE(gid text, queue_size integer, status text)", True, "plpgsql"),
    "pg_tviews_cascade(base_table_oid oid, pk_value bigint)": ("void", True, "plpgsql"),
    "pg_tviews_insert(base_table_oid oid, pk_value bigint)": ("void", True, "plpgsql"),
    "pg_tviews_delete(base_table_oid oid, pk_value bigint)": ("void", True, "plpgsql"),
    "pg_tviews_show_cascade_path(entity text)": ("TABLE(depth integer, entity_name text, depends_on text)", True, "sql"),
    "pg_tviews_refresh(tview_name text, primary_keys bigint[] DEFAULT NULL::bigint[], cascade boolean DEFAULT false,"
    " priority text DEFAULT 'normal'::text, timeout interval DEFAULT NULL::interval, retry_count integer DEFAULT 0)": (
        "void", False, "plpgsql"),
    "pg_tviews_create(tview_name text, select_sql text)": ("text", True, "plpgsql"),
    "pg_tviews_drop(tview_name text, if_exists boolean DEFAULT false)": ("text", True, "plpgsql"),
    "pg_tviews_convert_existing_table(table_name text)": ("text", True, "plpgsql"),
    "pg_tviews_convert_table(table_name text)": ("void", True, "plpgsql"),
    "pg_tviews_handle_ddl_event()": ("event_trigger", False, "plpgsql"),
}


@pytest.fixture(scope="module")
def empty_db(pg02_cluster):
    return make_fixture_db(pg02_cluster, load_fixture=False)


@pytest.fixture
def db(pg02_cluster, empty_db):
    d = tx(pg02_cluster, empty_db)
    yield d
    d.conn.rollback()
    d.close()


def test_control_file(pg02_install):
    with open(os.path.join(pg02_install.extdir, "pg_tviews.control"), encoding="utf-8") as fh:
        text = fh.read()
    assert "default_version = '0.2.0'" in text
    assert "module_pathname = '$libdir/pg_tviews'" in text
    assert "relocatable = false" in text and "superuser = false" in text and "schema" not in text
    assert sorted(f for f in os.listdir(pg02_install.extdir) if f.startswith("pg_tviews")) == [
        "pg_tviews--0.2.0.sql", "pg_tviews.control"]


def test_versions(db):
    assert db.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'") == "0.2.0"
    assert db.one("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_tviews'") == "public"
    assert db.one("SELECT pg_tviews_version()") == "0.2.0"
    assert db.one("SELECT probin FROM pg_proc WHERE oid = 'pg_tviews_version()'::regprocedure") == "$libdir/pg_tviews"


def test_members(db):
    assert members(db) == EXPECTED_MEMBERS_02


def test_public_functions(db):
    assert functions(db, "public", "pg\\_tview%") == EXPECTED_PUBLIC_FUNCTIONS_02


def test_removed_and_absent(db):
    for fn in ("pg_tviews_debug_queue()", "pg_tviews_performance_stats()", "pg_tviews_refresh(text)",
               "pg_tview_trigger_handler()", "pg_tview_stmt_trigger_handler()", "tview_trigger_handler()"):
        assert db.one("SELECT to_regprocedure(%s)", (fn,)) is None, fn
    for rel in ("pg_tview_meta", "pg_tview_helpers", "pg_tview_audit_log"):
        assert db.one("SELECT to_regclass(%s)", (rel,)) is None, rel
    assert db.one("SELECT count(*) FROM pg_proc WHERE proname = 'pg_tviews_refresh'") == 1


def test_tview_meta_columns(db):
    assert columns(db, "tviews.tview_meta") == [
        ("entity", "text", True, None),
        ("view_oid", "oid", False, None),
        ("table_oid", "oid", False, None),
        ("definition", "text", False, None),
        ("pk_column", "text", False, None),
        ("dependencies", "oid[]", False, "'{}'::oid[]"),
        ("fk_columns", "text[]", False, "'{}'::text[]"),
        ("uuid_fk_columns", "text[]", False, "'{}'::text[]"),
        ("dependency_types", "text[]", False, "'{}'::text[]"),
        ("dependency_paths", "text[]", False, "'{}'::text[]"),
        ("array_match_keys", "text[]", False, "'{}'::text[]"),
        ("refresh_policy", "text", True, "'immediate'::text"),
        ("last_refreshed", "timestamp with time zone", False, None),
        ("last_refresh_duration_ms", "double precision", False, None),
        ("last_error", "text", False, None),
        ("created_at", "timestamp with time zone", True, "now()"),
    ]
    assert db.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'tviews.tview_meta'::regclass"
                  " AND contype = 'p'") == "PRIMARY KEY (entity)"


def test_audit_log_columns(db):
    assert columns(db, "tviews.audit_log") == [
        ("log_id", "bigint", True, "nextval('tviews.audit_log_log_id_seq'::regclass)"),
        ("operation", "text", True, None),
        ("entity", "text", True, None),
        ("performed_by", "text", True, "CURRENT_USER"),
        ("performed_at", "timestamp with time zone", True, "now()"),
        ("details", "jsonb", False, None),
        ("client_addr", "inet", False, "inet_client_addr()"),
        ("client_port", "integer", False, "inet_client_port()"),
    ]
    assert set(db.col("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'tviews.audit_log'::regclass")) == {
        "tviews.audit_log_pkey", "tviews.idx_audit_log_entity", "tviews.idx_audit_log_timestamp"}


def test_metadata_view_columns(db):
    assert [c[:2] for c in columns(db, "public.pg_tviews_metadata")] == [
        ("entity_name", "text"),
        ("tview_name", "text"),
        ("view_name", "text"),
        ("primary_key", "text"),
        ("definition", "text"),
        ("dependencies", "oid[]"),
        ("fk_columns", "text[]"),
        ("uuid_fk_columns", "text[]"),
        ("refresh_policy", "text"),
        ("created_at", "timestamp with time zone"),
        ("last_refreshed", "timestamp with time zone"),
        ("last_refresh_duration_ms", "double precision"),
        ("last_error", "text"),
        ("rows_cached", "bigint"),
    ]


def test_trigger_handler_is_a_member(db):
    assert db.one("SELECT prorettype::regtype::text FROM pg_proc WHERE oid = 'tviews.tview_trigger_handler()'::regprocedure") \
        == "trigger"


def test_pg_prefixed_schema_is_reserved(db):
    # why the internal schema is "tviews" and not "pg_tviews" (reference §5.1 #5)
    err = db.error("CREATE SCHEMA pg_tviews")
    assert err.pgcode == "42939" and "pg_" in err.diag.message_detail


def test_no_update_scripts(pg02_install):
    assert not [f for f in os.listdir(pg02_install.extdir) if f.startswith("pg_tviews--0.1")]


def test_health_check_empty(db):
    assert db.q("SELECT * FROM pg_tviews_health_check()") == [
        ("OK", "extension", "pg_tviews version 0.2.0", "info"),
        ("WARNING", "jsonb_delta", "jsonb_delta not installed (falling back to standard JSONB)", "warning"),
        ("OK", "metadata", "All metadata entries valid", "info"),
        ("OK", "triggers", "All triggers properly linked", "info"),
        ("OK", "tviews", "0 TVIEWs registered", "info"),
    ]
