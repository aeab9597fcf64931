"""Stand-in 0.1.0 where upstream's code differs from its intent (issue 20, points 2, 4, 6).

Each test pins the stand-in to upstream's Rust source (fraiseql/pg_tviews at the reference's
HEAD), since that is what a migration meets on real 0.1 databases."""

import psycopg2
import pytest

from .helpers import make_fixture_db, triggers, tx


@pytest.fixture(scope="module")
def fixture_db(pg_cluster):
    return make_fixture_db(pg_cluster)


@pytest.fixture
def db(pg_cluster, fixture_db):
    d = tx(pg_cluster, fixture_db)
    yield d
    d.conn.rollback()
    d.close()


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
