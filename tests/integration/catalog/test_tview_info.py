"""tviews_info and tviews_manifest against real servers running stand-in 0.1.0 and 0.2.0."""

import json
import os
import stat

import pytest

from tests.harness.modules import conn_args, run_module
from tests.integration.conftest import load_app

ENTITIES = {"user", "post", "comment", "Bücher"}


def _info(cluster, db, **kw):
    res = run_module("tviews_info", conn_args(cluster, db, **kw))
    assert not res.get("failed"), res.get("msg")
    return res


def _by_entity(dbinfo):
    return {t["entity"]: t for t in dbinfo["tviews"]}


@pytest.fixture(scope="module", params=["0.1", "0.2"])
def app(request, pg_cluster, pg02_cluster):
    cluster = pg_cluster if request.param == "0.1" else pg02_cluster
    db = load_app(cluster, "app_info")
    yield cluster, db, request.param
    cluster.dropdb(db)


def test_detection_facts(app):
    cluster, db, gen = app
    facts = _info(cluster, db)["databases"][db]["facts"]
    assert facts["installed"] is True
    assert facts["api_generation"] == gen
    assert facts["is_primary"] is True
    assert facts["server_major"] == 15
    if gen == "0.1":
        assert facts["extversion"] == "0.1.0"
        assert facts["library_version"] == "0.1.0-beta.8"   # upstream: the two never match
    else:
        assert facts["extversion"] == "0.2.0"
        assert facts["library_version"] == "0.2.0"
    assert facts["extversion"] in facts["available_versions"]


def test_tviews_dependencies_and_order(app):
    cluster, db, gen = app
    info = _info(cluster, db)["databases"][db]
    tv = _by_entity(info)
    assert set(tv) == ENTITIES
    order = info["order"]
    assert order.index("user") < order.index("post") < order.index("comment")
    assert tv["post"]["depends_on"] == ["user"]
    assert tv["comment"]["depends_on"] == ["post", "user"]
    assert tv["user"]["depends_on"] == []
    post = tv["post"]
    assert post["qualified_table"] == "public.tv_post"
    assert post["qualified_view"] == "public.v_post"
    assert post["pk_column"] == "pk_post"
    assert "fk_user" in post["fk_columns"]
    assert "user_id" in post["uuid_fk_columns"]
    assert "public.tb_post" in post["dependencies"]
    assert "v_user" in post["view_definition"]


def test_awkward_names_come_back_intact(app):
    cluster, db, gen = app
    b = _by_entity(_info(cluster, db)["databases"][db])["Bücher"]
    assert b["schema"] == "Sales Dept"
    assert b["table"] == "tv_Bücher"
    assert b["view"] == "v_Bücher"
    assert b["pk_column"] == "pk_Bücher"
    assert b["qualified_table"] == '"Sales Dept"."tv_Bücher"'
    assert b["dependencies"] == ['"Sales Dept"."tb_Bücher"']


def test_index_grant_comment_and_dependents(app):
    cluster, db, gen = app
    info = _info(cluster, db)["databases"][db]
    details = _by_entity(info)["post"]["table_details"]
    assert "tv_post_title_idx" in [i["name"] for i in details["indexes"]]
    assert {"grantee": "app_reader", "privilege": "SELECT", "grantable": False} in details["grants"]
    assert details["comment"] == "posts for the feed"
    deps = {d["name"]: d for d in info["dependents"]}
    assert set(deps) == {"public.post_titles"}
    assert deps["public.post_titles"]["ddl"].startswith("CREATE VIEW public.post_titles AS")
    assert deps["public.post_titles"]["comment"] == "titles for the sitemap"
    assert {"grantee": "app_reader", "privilege": "SELECT", "grantable": False} in deps["public.post_titles"]["grants"]
    trig = {(t["name"], t["table"]) for t in info["triggers"]}
    assert ("trg_tview_post_on_tb_post", "public.tb_post") in trig
    assert ("trg_tview_user_on_tb_user", "public.tb_user") in trig
    assert len(info["health_check"]) == 5
    if gen == "0.1":
        assert [h["signature"] for h in info["non_member_helpers"]] == ["public.tview_trigger_handler()"]
    else:
        assert info["non_member_helpers"] == []


def test_data_subset_counts_rows(app):
    cluster, db, gen = app
    info = _info(cluster, db, gather_subset=["catalog", "data"])["databases"][db]
    tv = _by_entity(info)
    assert tv["user"]["row_count"] == 20
    assert tv["post"]["row_count"] == 60
    assert tv["comment"]["row_count"] == 120
    assert tv["Bücher"]["row_count"] == 5
    assert info["base_tables"]["public.tb_post"]["row_count"] == 60
    assert len(tv["post"]["checksum"]) == 32


def test_all_databases_lists_only_pg_tviews_databases(pg_install, make_cluster):
    cluster = make_cluster(pg_install, name="alldbs")
    try:
        load_app(cluster, "app_a")
        load_app(cluster, "app b")
        cluster.createdb("plain")
        res = _info(cluster, "postgres", all_databases=True)
        assert set(res["databases"]) == {"app_a", "app b"}
    finally:
        cluster.destroy()


def test_prepared_transactions_and_sessions_are_reported(pg_cluster):
    db = load_app(pg_cluster, "app_prep")
    conn = pg_cluster.connect(db, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE tb_user SET name = name WHERE pk_user = 1")
            cur.execute("PREPARE TRANSACTION 'pgtviews-test-gid'")
        info = _info(pg_cluster, db)["databases"][db]
        gids = [p["gid"] for p in info["prepared_transactions"]]
        assert gids == ["pgtviews-test-gid"]
        assert info["prepared_transactions"][0]["this_database"] is True
    finally:
        pg_cluster.execute("ROLLBACK PREPARED 'pgtviews-test-gid'", db)
        conn.close()
        pg_cluster.dropdb(db)


def test_unknown_database_fails_with_one_line(pg_cluster):
    res = run_module("tviews_info", conn_args(pg_cluster, "no_such_db"))
    assert res["failed"]
    assert "no_such_db" in res["msg"] and "\n" not in res["msg"]


def test_wrong_password_names_target_not_password(pg_cluster):
    res = run_module("tviews_info", conn_args(pg_cluster, "postgres", login_password="Wr0ng-Secret-xyz"))
    assert res["failed"]
    assert "Wr0ng-Secret-xyz" not in json.dumps(res)
    assert "password authentication failed" in res["msg"]
    assert "127.0.0.1:%d/postgres as %s" % (pg_cluster.port, pg_cluster.user) in res["msg"]


# --- tviews_manifest -----------------------------------------------------------------------


def test_manifest_capture_verify_and_survives_drop_extension(pg_cluster, tmp_path):
    db = load_app(pg_cluster, "app_manifest")
    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "manifest.json")
    try:
        res = run_module("tviews_manifest", conn_args(pg_cluster, db, state="captured", path=path))
        assert res["changed"] and not res.get("failed"), res.get("msg")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        doc = json.load(open(path))
        assert doc["kind"] == "pgtviews.ops/manifest" and doc["schema_version"] == 1
        assert doc["order"].index("user") < doc["order"].index("post")
        assert {t["entity"] for t in doc["tviews"]} == ENTITIES
        assert doc["digest"] == res["manifest"]["digest"]

        again = run_module("tviews_manifest", conn_args(pg_cluster, db, state="captured", path=path))
        assert again["changed"] is False

        ok = run_module("tviews_manifest", conn_args(pg_cluster, db, state="verified", path=path))
        assert not ok.get("failed"), ok.get("msg")
        assert ok["differences"] == []

        # A tv_ row edited behind pg_tviews' back is a difference; allow lets it through.
        pg_cluster.execute("UPDATE tv_post SET data = data || '{\"x\": 1}' WHERE pk_post = 1", db)
        bad = run_module("tviews_manifest", conn_args(pg_cluster, db, state="verified", path=path))
        assert bad["failed"] and "checksum of post" in bad["msg"]
        allowed = run_module("tviews_manifest", conn_args(pg_cluster, db, state="verified", path=path,
                                                          allow=["checksum:post"]))
        assert not allowed.get("failed") and [d["kind"] for d in allowed["differences"]] == ["checksum"]

        pg_cluster.execute("DROP EXTENSION pg_tviews", db)
        stored = pg_cluster.execute("SELECT digest, document FROM pgtviews_ops.manifests ORDER BY id DESC LIMIT 1", db)
        assert stored[0][0] == doc["digest"]
        assert json.loads(stored[0][1]) == doc
        assert json.load(open(path)) == doc
    finally:
        pg_cluster.dropdb(db)


def test_manifest_check_mode_writes_nothing(pg_cluster, tmp_path):
    db = load_app(pg_cluster, "app_manifest_check")
    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "m.json")
    try:
        res = run_module("tviews_manifest", conn_args(pg_cluster, db, state="captured", path=path), check_mode=True)
        assert res["changed"] and not os.path.exists(path)
        assert pg_cluster.execute("SELECT to_regclass('pgtviews_ops.manifests')", db) == [(None,)]
    finally:
        pg_cluster.dropdb(db)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.update(schema_version=99), "schema version 99"),
    (lambda d: d["tviews"][0].update(row_count=12345), "modified after it was written"),
])
def test_bad_manifests_are_refused(pg_cluster, tmp_path, edit, message):
    db = load_app(pg_cluster, "app_badmanifest")
    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "m.json")
    try:
        run_module("tviews_manifest", conn_args(pg_cluster, db, state="captured", path=path))
        doc = json.load(open(path))
        edit(doc)
        if message.startswith("schema version"):
            from ansible_collections.pgtviews.ops.plugins.module_utils.manifest.document import seal
            doc = seal(doc)
        with open(path, "w") as fh:
            json.dump(doc, fh)
        res = run_module("tviews_manifest", conn_args(pg_cluster, db, state="verified", path=path))
        assert res["failed"] and message in res["msg"] and "\n" not in res["msg"]
    finally:
        pg_cluster.dropdb(db)
