"""Fixtures shared by integration tests: databases loaded with the application schema."""

import os

import pytest


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP_SCHEMA = os.path.join(REPO, "tests", "fixtures", "schemas", "app.sql")


def load_app(cluster, dbname):
    """Create ``dbname`` with pg_tviews (the installation's default version) and the app schema."""
    cluster.createdb(dbname)
    cluster.execute("CREATE EXTENSION pg_tviews", dbname)
    cluster.psql(dbname, "-f", APP_SCHEMA)
    return dbname


@pytest.fixture(scope="module")
def both_install(make_pg_install, standin_build):
    """An installation with stand-in 0.1.0 and 0.2.0 beside it, as the install role leaves a server."""
    inst = make_pg_install(("0.1.0",))
    inst.install_side_by_side(standin_build["0.2.0"]["artifact"], "0.2.0")
    return inst


@pytest.fixture(scope="session")
def pg02_install(make_pg_install):
    """An installation whose only pg_tviews is 0.2.0 (a server already migrated)."""
    return make_pg_install(("0.2.0",))


@pytest.fixture(scope="module")
def pg02_cluster(pg02_install, make_cluster, request):
    c = make_cluster(pg02_install, name="m02-" + request.module.__name__.rsplit(".", 1)[-1])
    yield c
    c.destroy()
