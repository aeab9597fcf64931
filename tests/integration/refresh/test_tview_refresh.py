"""tviews_refresh through both API generations, on real servers."""

import pytest

from tests.harness.modules import conn_args, run_module
from tests.integration.conftest import load_app


@pytest.fixture(scope="module", params=["0.1", "0.2"])
def app(request, pg_cluster, pg02_cluster):
    cluster = pg_cluster if request.param == "0.1" else pg02_cluster
    db = load_app(cluster, "app_refresh")
    yield cluster, db, request.param
    cluster.dropdb(db)


def _refresh(cluster, db, check_mode=False, **kw):
    res = run_module("tviews_refresh", conn_args(cluster, db, **kw), check_mode=check_mode)
    assert not res.get("failed"), res.get("msg")
    return res


def test_refresh_repairs_a_drifted_row_by_any_name(app):
    cluster, db, gen = app
    for name in ("post", "tv_post", "public.tv_post"):
        cluster.execute("UPDATE tv_post SET data = '{}' WHERE pk_post = 7", db)
        res = _refresh(cluster, db, tviews=[name])
        assert res["api_generation"] == gen
        assert [r["entity"] for r in res["refreshed"]] == ["post"]
        assert res["refreshed"][0]["duration_ms"] >= 0
        assert cluster.execute("SELECT data->>'title' FROM tv_post WHERE pk_post = 7", db) == [("post number 7",)]


def test_row_refresh_on_02_full_on_01(app):
    cluster, db, gen = app
    cluster.execute("UPDATE tv_post SET data = '{}' WHERE pk_post IN (3, 4)", db)
    res = _refresh(cluster, db, tviews=["post"], primary_keys=[3])
    assert res["refreshed"][0]["full_refresh"] is (gen == "0.1")
    fixed = dict(cluster.execute("SELECT pk_post, data->>'title' FROM tv_post WHERE pk_post IN (3, 4)", db))
    assert fixed[3] == "post number 3"
    # 0.2 refreshed only the key asked for; 0.1 can only rebuild everything.
    assert fixed[4] == ("post number 4" if gen == "0.1" else None)
    _refresh(cluster, db, tviews=["post"])


def test_pattern_all_and_order(app):
    cluster, db, gen = app
    res = _refresh(cluster, db)
    entities = [r["entity"] for r in res["refreshed"]]
    assert sorted(entities) == sorted(["user", "post", "comment", "Bücher"])
    assert entities.index("user") < entities.index("post") < entities.index("comment")
    res = _refresh(cluster, db, tviews=["public.tv_%"])
    assert sorted(r["entity"] for r in res["refreshed"]) == ["comment", "post", "user"]
    res = _refresh(cluster, db, tviews=['"Sales Dept".%'])
    assert [r["entity"] for r in res["refreshed"]] == ["Bücher"]


def test_check_mode_and_unknown_names(app):
    cluster, db, gen = app
    cluster.execute("UPDATE tv_user SET data = '{}' WHERE pk_user = 2", db)
    res = _refresh(cluster, db, check_mode=True, tviews=["user"])
    assert res["changed"] and res["refreshed"][0]["duration_ms"] is None
    assert cluster.execute("SELECT data FROM tv_user WHERE pk_user = 2", db) == [({},)]
    _refresh(cluster, db, tviews=["user"])
    bad = run_module("tviews_refresh", conn_args(cluster, db, tviews=["nope"]))
    assert bad["failed"] and bad["msg"] == "no TVIEW matches nope"
