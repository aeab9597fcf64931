"""Stand-in 0.1.0: catalog shape against the upstream reference
(reference/pg_tviews-upstream.md §1.2-§1.6, §3.3, §4, §6.1)."""

import os

import pytest

from .helpers import DB, columns, functions, make_fixture_db, members, tx

EXPECTED_MEMBERS_01 = {
    "event trigger pg_tviews_ddl_end",
    "function pg_tview_stmt_trigger_handler()",
    "function pg_tview_trigger_handler()",
    "function pg_tviews_analyze_select(text)",
    "function pg_tviews_cascade(oid,bigint)",
    "function pg_tviews_check_jsonb_delta()",
    "function pg_tviews_commit_prepared(text)",
    "function pg_tviews_convert_existing_table(text)",
    "function pg_tviews_convert_table(text)",
    "function pg_tviews_create(text,text)",
    "function pg_tviews_debug_queue()",
    "function pg_tviews_delete(oid,bigint)",
    "function pg_tviews_drop(text,boolean)",
    "function pg_tviews_handle_ddl_event()",
    "function pg_tviews_health_check()",
    "function pg_tviews_hook_status()",
    "function pg_tviews_infer_types(text,text[])",
    "function pg_tviews_insert(oid,bigint)",
    "function pg_tviews_performance_stats()",
    "function pg_tviews_queue_stats()",
    "function pg_tviews_recover_prepared_transactions()",
    "function pg_tviews_refresh(text)",
    "function pg_tviews_rollback_prepared(text)",
    "function pg_tviews_show_cascade_path(text)",
    "function pg_tviews_version()",
    "function tviewschema_in(cstring)",
    "function tviewschema_out(tviewschema)",
    "sequence pg_tview_audit_log_log_id_seq",
    "table pg_tview_audit_log",
    "table pg_tview_helpers",
    "table pg_tview_meta",
    "type tviewschema",
    "view pg_tviews_cache_stats",
    "view pg_tviews_performance_summary",
    "view pg_tviews_queue_realtime",
}

# §1.6: name(args) -> (result, strict)
EXPECTED_FUNCTIONS_01 = {
    "pg_tviews_version()": ("text", True),
    "pg_tviews_hook_status()": ("text", True),
    "pg_tviews_check_jsonb_delta()": ("boolean", True),
    "pg_tviews_queue_stats()": ("jsonb", True),
    "pg_tviews_debug_queue()": ("jsonb", True),
    "pg_tviews_health_check()": ("TABLE(status text, component text, message text, severity text)", True),
    "pg_tviews_analyze_select(sql text)": ("jsonb", True),
    "pg_tviews_infer_types(table_name text, columns text[])": ("jsonb", True),
    "pg_tviews_commit_prepared(gid text)": ("void", True),
    "pg_tviews_rollback_prepared(gid text)": ("void", True),
    "pg_tviews_recover_prepared_transactions()": ("TABLE(gid text, queue_size integer, status text)", True),
    "pg_tviews_cascade(base_table_oid oid, pk_value bigint)": ("void", True),
    "pg_tviews_insert(base_table_oid oid, pk_value bigint)": ("void", True),
    "pg_tviews_delete(base_table_oid oid, pk_value bigint)": ("void", True),
    "pg_tviews_show_cascade_path(entity text)": ("TABLE(depth integer, entity_name text, depends_on text)", True),
    "pg_tviews_refresh(entity text)": ("void", True),
    "pg_tviews_performance_stats()": (
        "TABLE(entity text, table_size text, total_size text, row_count bigint, index_count integer)", True),
    "pg_tviews_create(tview_name text, select_sql text)": ("text", True),
    "pg_tviews_drop(tview_name text, if_exists boolean DEFAULT false)": ("text", True),
    "pg_tviews_convert_existing_table(table_name text)": ("text", True),
    "pg_tviews_convert_table(table_name text)": ("void", True),
    "pg_tviews_handle_ddl_event()": ("event_trigger", False),
    "pg_tview_trigger_handler()": ("trigger", False),
    "pg_tview_stmt_trigger_handler()": ("trigger", False),
}

C_FUNCTIONS = {"pg_tviews_version", "pg_tviews_hook_status", "pg_tviews_check_jsonb_delta",
               "pg_tviews_debug_queue", "tviewschema_in", "tviewschema_out",
               # the write path (src/lib.rs): tview_trigger_handler() calls these
               "pg_tviews_cascade", "pg_tviews_insert", "pg_tviews_delete",
               # reads what the library's ProcessUtility hook cached (src/event_trigger.rs)
               "pg_tviews_convert_table"}


@pytest.fixture(scope="module")
def empty_db(pg_cluster):
    """A database with only CREATE EXTENSION pg_tviews (0.1.0)."""
    return make_fixture_db(pg_cluster, load_fixture=False)


@pytest.fixture
def db(pg_cluster, empty_db):
    d = tx(pg_cluster, empty_db)
    yield d
    d.conn.rollback()
    d.close()


def test_control_file_is_upstreams(pg_install):
    with open(os.path.join(pg_install.extdir, "pg_tviews.control"), encoding="utf-8") as fh:
        settings = dict(line.split("=", 1) for line in fh.read().splitlines() if "=" in line and not line.startswith("#"))
    settings = {k.strip(): v.strip() for k, v in settings.items()}
    assert settings == {
        "comment": "'Transactional Views (TVIEWs) for PostgreSQL with automatic refresh triggers'",
        "default_version": "'0.1.0'",
        "module_pathname": "'$libdir/pg_tviews'",
        "relocatable": "false",
        "superuser": "false",
    }
    assert sorted(f for f in os.listdir(pg_install.extdir) if f.startswith("pg_tviews")) == [
        "pg_tviews--0.1.0.sql", "pg_tviews.control"]
    assert os.path.isfile(os.path.join(pg_install.pkglibdir, "pg_tviews.so"))


def test_version_strings(db):
    assert db.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'") == "0.1.0"
    assert db.one("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_tviews'") == "public"
    assert db.one("SELECT pg_tviews_version()") == "0.1.0-beta.8"
    assert db.one("SELECT pg_tviews_hook_status()") == "Extension loaded - hook installation attempted in _PG_init"
    assert db.one("SELECT pg_tviews_check_jsonb_delta()") is False


def test_members_exactly_upstreams(db):
    assert members(db) == EXPECTED_MEMBERS_01


def test_function_signatures_and_strictness(db):
    found = functions(db, "public", "pg\\_tview%")
    assert {k: v[:2] for k, v in found.items()} == EXPECTED_FUNCTIONS_01
    io = functions(db, "public", "tviewschema%")
    # pgrx declares a PostgresType's input function without STRICT (src/schema/mod.rs)
    assert io == {"tviewschema_in(input cstring)": ("tviewschema", False, "c"),
                  "tviewschema_out(input tviewschema)": ("cstring", True, "c")}


def test_c_functions_use_upstream_symbols(db):
    rows = db.q("SELECT p.proname::text, p.prosrc, p.probin FROM pg_proc p WHERE p.prolang = "
                "(SELECT oid FROM pg_language WHERE lanname = 'c') AND p.pronamespace = 'public'::regnamespace")
    assert {r[0] for r in rows} == C_FUNCTIONS
    for name, src, binary in rows:
        assert src == name + "_wrapper"
        assert binary == "$libdir/pg_tviews"


def test_pg_tview_meta_columns(db):
    assert columns(db, "public.pg_tview_meta") == [
        ("entity", "text", True, None),
        ("view_oid", "oid", True, None),
        ("table_oid", "oid", True, None),
        ("definition", "text", True, None),
        ("dependencies", "oid[]", True, "'{}'::oid[]"),
        ("fk_columns", "text[]", True, "'{}'::text[]"),
        ("uuid_fk_columns", "text[]", True, "'{}'::text[]"),
        ("dependency_types", "text[]", True, "'{}'::text[]"),
        ("dependency_paths", "text[]", True, "'{}'::text[]"),
        ("array_match_keys", "text[]", True, "'{}'::text[]"),
        ("created_at", "timestamp with time zone", True, "now()"),
    ]
    assert db.one("SELECT attndims FROM pg_attribute WHERE attrelid = 'pg_tview_meta'::regclass"
                  " AND attname = 'dependency_paths'") == 1  # beta.8: text[], not text[][]
    assert db.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'pg_tview_meta'::regclass"
                  " AND contype = 'p'") == "PRIMARY KEY (entity)"
    assert db.one("SELECT obj_description('pg_tview_meta'::regclass, 'pg_class')") == \
        "Metadata for TVIEW materialized tables"


def test_pg_tview_helpers_columns(db):
    assert columns(db, "public.pg_tview_helpers") == [
        ("helper_name", "text", True, None),
        ("is_helper", "boolean", True, "true"),
        ("used_by", "text[]", True, "'{}'::text[]"),
        ("depends_on", "text[]", True, "'{}'::text[]"),
        ("created_at", "timestamp with time zone", True, "now()"),
    ]
    assert db.one("SELECT obj_description('pg_tview_helpers'::regclass, 'pg_class')") == \
        "Tracks helper views used by TVIEWs"


def test_audit_log_columns_sequence_and_indexes(db):
    assert db.one("SELECT obj_description('pg_tview_audit_log'::regclass, 'pg_class')") == \
        "Audit log for TVIEW operations"  # src/metadata.rs, audit_table
    assert columns(db, "public.pg_tview_audit_log") == [
        ("log_id", "bigint", True, "nextval('pg_tview_audit_log_log_id_seq'::regclass)"),
        ("operation", "text", True, None),
        ("entity", "text", True, None),
        ("performed_by", "text", True, "CURRENT_USER"),
        ("performed_at", "timestamp with time zone", True, "now()"),
        ("details", "jsonb", False, None),
        ("client_addr", "inet", False, "inet_client_addr()"),
        ("client_port", "integer", False, "inet_client_port()"),
    ]
    idx = dict(db.q("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
                    " WHERE indrelid = 'pg_tview_audit_log'::regclass"))
    assert set(idx) == {"pg_tview_audit_log_pkey", "idx_audit_log_entity", "idx_audit_log_timestamp"}
    assert idx["idx_audit_log_entity"].endswith("USING btree (entity)")
    assert idx["idx_audit_log_timestamp"].endswith("USING btree (performed_at DESC)")


def test_no_config_dump(db):
    # §1.2: no pg_extension_config_dump(): pg_dump emits none of the member rows
    assert db.one("SELECT extconfig FROM pg_extension WHERE extname = 'pg_tviews'") is None


def test_monitoring_views(db):
    assert [c[:2] for c in columns(db, "public.pg_tviews_queue_realtime")] == [
        ("session", "text"), ("backend_pid", "integer"), ("transaction_id", "bigint"), ("queue_size", "integer"),
        ("entities", "text[]"), ("last_enqueued", "timestamp with time zone")]
    assert [c[:2] for c in columns(db, "public.pg_tviews_cache_stats")] == [
        ("cache_type", "text"), ("entries", "bigint"), ("estimated_size", "text")]
    assert [c[:2] for c in columns(db, "public.pg_tviews_performance_summary")] == [
        ("entity", "text"), ("total_refreshes", "bigint"), ("avg_refresh_ms", "numeric"),
        ("last_refresh", "timestamp with time zone")]
    assert db.q("SELECT queue_size, entities FROM pg_tviews_queue_realtime") == [(0, [])]
    assert db.q("SELECT * FROM pg_tviews_cache_stats ORDER BY 1") == [
        ("graph_cache", 0, "0 bytes"), ("table_cache", 0, "0 bytes")]


def test_type_and_event_trigger(db):
    assert db.one("SELECT typtype::text || ':' || typlen FROM pg_type WHERE typname = 'tviewschema'") == "b:-1"
    assert db.one("SELECT '{\"a\":1}'::tviewschema::text") == '{"a":1}'
    evt = db.one("SELECT evtevent, evtfoid::regproc::text, evttags, evtenabled FROM pg_event_trigger"
                 " WHERE evtname = 'pg_tviews_ddl_end'")
    assert evt == ("ddl_command_end", "pg_tviews_handle_ddl_event", ["CREATE TABLE", "CREATE TABLE AS", "SELECT INTO"], "O")
    assert db.one("SELECT obj_description(oid, 'pg_event_trigger') FROM pg_event_trigger"
                  " WHERE evtname = 'pg_tviews_ddl_end'") == \
        "Intercepts CREATE TABLE tv_* commands and converts them to TVIEWs"


def test_no_runbook_objects(db):
    # §1.6 / §5.2: names the runbook and docs use that do not exist in 0.1
    for rel in ("pg_tviews_metadata", "pg_tviews_queue", "tviews.tview_meta"):
        assert db.one("SELECT to_regclass(%s)", (rel,)) is None
    assert db.one("SELECT count(*) FROM pg_proc WHERE proname IN ('pg_tviews_refresh_one', 'pg_tviews_refresh_batch',"
                  " 'pg_tviews_refresh_all', 'pg_tviews_clear_queue', 'pg_tviews_queue_info', 'pg_tviews_metadata')") == 0
    assert db.one("SELECT count(*) FROM pg_namespace WHERE nspname IN ('tviews', 'pg_tviews')") == 0
    assert db.one("SELECT count(*) FROM pg_settings WHERE name LIKE '%tview%'") == 0


def test_trigger_handler_is_created_at_first_create_and_is_not_a_member(db):
    assert db.one("SELECT to_regprocedure('public.tview_trigger_handler()')") is None
    db.q("CREATE TABLE tb_note (pk_note bigint PRIMARY KEY, id uuid NOT NULL, txt text)")
    db.q("SELECT pg_tviews_create('note', 'SELECT pk_note, id, jsonb_build_object(''t'', txt) AS data FROM tb_note')")
    assert db.one("SELECT to_regprocedure('public.tview_trigger_handler()')::text") == "tview_trigger_handler()"
    assert "function tview_trigger_handler()" not in members(db)
    body = db.one("SELECT prosrc FROM pg_proc WHERE oid = 'public.tview_trigger_handler()'::regprocedure")
    for call in ("pg_tviews_insert(TG_RELID, v_pk)", "pg_tviews_cascade(TG_RELID, v_pk)",
                 "pg_tviews_delete(TG_RELID, v_pk)", "RAISE NOTICE"):
        assert call in body
    # TVIEW objects are not members either
    assert not {"table tv_note", "view v_note"} & members(db)


def test_health_check_on_empty_database(db):
    assert db.q("SELECT * FROM pg_tviews_health_check()") == [
        ("OK", "extension", "pg_tviews version 0.1.0-beta.8", "info"),
        ("WARNING", "jsonb_delta", "jsonb_delta not installed (falling back to standard JSONB)", "warning"),
        ("OK", "metadata", "All metadata entries valid", "info"),
        ("OK", "triggers", "All triggers properly linked", "info"),
        ("OK", "tviews", "0 TVIEWs registered", "info"),
    ]


def test_placeholder_functions(db):
    stats = db.one("SELECT pg_tviews_queue_stats()")
    assert set(stats) == {"queue_size", "total_refreshes", "total_iterations", "max_iterations", "total_timing_ms",
                          "graph_cache_hit_rate", "table_cache_hit_rate", "graph_cache_hits", "graph_cache_misses",
                          "table_cache_hits", "table_cache_misses"}
    assert db.one("SELECT pg_tviews_debug_queue()") == []
    assert db.q("SELECT * FROM pg_tviews_recover_prepared_transactions()") == []
    err = db.error("SELECT pg_tviews_commit_prepared('nope')")
    assert err.pgcode == "22000"
    err = db.error("SELECT pg_tviews_convert_table('tv_x')")
    assert err.pgcode == "22000" and "No SELECT statement found" in err.diag.message_primary


def test_second_database_is_independent(pg_cluster):
    """Extension objects live per database; a fresh one starts empty."""
    name = make_fixture_db(pg_cluster, load_fixture=False)
    d = DB(pg_cluster.connect(name))
    try:
        assert d.one("SELECT count(*) FROM pg_tview_meta") == 0
    finally:
        d.close()
