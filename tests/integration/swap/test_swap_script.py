"""Check mode shows the swap as the SQL that would run, in order: BEGIN, the settings, every LOCK,
the counts taken under the locks, the plan, the verification and COMMIT, numbered for a person."""

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connect
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import build_plan, script
from tests.integration.conftest import load_app


@pytest.fixture(scope="module")
def cluster(make_pg_install, standin_build, make_cluster):
    inst = make_pg_install(("0.1.0",))
    inst.install_side_by_side(standin_build["0.2.0"]["artifact"], "0.2.0")
    c = make_cluster(inst, name="swap-script")
    load_app(c, "app")
    yield c
    c.destroy()


def test_the_script_is_the_transaction_as_it_runs(cluster):
    conn = connect({"login_host": cluster.socket_dir, "login_port": cluster.port, "login_user": cluster.user,
                    "login_db": "app"})
    try:
        plan, ctx = build_plan(conn, "0.2.0", "auto", "adopt")
        lines = script(conn, plan, ctx, lock_timeout_ms=100, statement_timeout_ms=0)
        rebuild_plan, rebuild_ctx = build_plan(conn, "0.2.0", "auto", "rebuild")
        rebuild = script(conn, rebuild_plan, rebuild_ctx, rehearse=True)
    finally:
        conn.close()
    assert lines[0] == "BEGIN;" and "COMMIT;" in lines
    swap_tx, after = lines[:lines.index("COMMIT;") + 1], lines[lines.index("COMMIT;") + 1:]
    assert lines[1].startswith("SELECT count(*) FROM pg_prepared_xacts") and lines[1].endswith("-- must be 0")
    assert "set_config('lock_timeout', '100ms', true)" in lines[2] and "set_config('deadlock_timeout', '20ms', true)" in lines[2]
    locks = [line for line in lines if line.startswith("LOCK TABLE")]
    assert locks[0] == 'LOCK TABLE "Sales Dept"."tb_Bücher" IN EXCLUSIVE MODE;'
    assert [line.split(" IN ")[1] for line in locks] == (
        ["EXCLUSIVE MODE;"] * (len(ctx["lock_base"]) + len(ctx["lock_tv"])) + ["ACCESS EXCLUSIVE MODE;"] * len(ctx["lock_base"]))
    body = swap_tx[swap_tx.index(locks[-1]) + 1:]
    assert body[0] == "SELECT set_config('statement_timeout', '0ms', true);"
    # Adopting keeps the tables: nothing between the first LOCK and COMMIT scans a tv_ table (issue 21).
    assert ctx["lock_tv"] and not [line for line in body if "count(" in line and "tv_" in line]
    assert not [line for line in body if "string_agg(" in line or "EXCEPT" in line]
    assert "DROP EXTENSION \"pg_tviews\";" in body and any(line.startswith("CREATE EXTENSION") for line in body)
    assert body.index("DROP EXTENSION \"pg_tviews\";") < [i for i, line in enumerate(body) if "pg_tviews_convert_existing_table" in line][0]
    verify = [line for line in body if line.startswith("-- verify:")]
    assert len(verify) == 2 and "relfilenode" in verify[1]
    assert any("pg_stat_get_xact_tuples_inserted" in line and line.endswith("-- all 0") for line in body)
    # The content check comes after COMMIT, in one snapshot.
    assert after[1] == "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" and after[-1] == "ROLLBACK;"
    # Rebuilding keeps its row counts and id checksums under the locks, and a rehearsal ends in ROLLBACK.
    # (the rows whose key the view still has: a rebuild drops the stale rows 0.1 leaves behind deletes)
    assert any(line.startswith('SELECT count(*) AS n FROM "public"."tv_post" AS t WHERE EXISTS (SELECT 1 FROM "public"."v_post"')
               for line in rebuild), rebuild
    verify_rebuild = rebuild.index([line for line in rebuild if line.startswith("-- verify:")][0])
    assert rebuild[verify_rebuild + 1].endswith("-- unchanged") and rebuild[verify_rebuild + 1].startswith("SELECT count(*) AS n FROM")
    assert any(line.startswith("SELECT md5(coalesce(string_agg(") for line in rebuild)
    assert rebuild[-1] == "ROLLBACK;  -- a rehearsal"
    assert all(line.endswith(";") or "--" in line for line in lines)
