"""Shared pytest fixtures: the stand-in builds, private PostgreSQL installations and
throwaway clusters (see tests/harness/pg.py)."""

import os
import shutil
import subprocess

import pytest

from tests.harness.pg import Cluster, PgInstall, make_base_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN_VERSIONS = ("0.1.0", "0.1.1", "0.2.0")


@pytest.fixture(scope="session")
def standin_build():
    """Build (or reuse, via PGTVIEWS_STANDIN_DIR) every stand-in version once per session:
    {version: {"source": pgxs tarball, "artifact": upstream-layout tarball}}."""
    out = os.environ.get("PGTVIEWS_STANDIN_DIR") or os.path.join(REPO, "build", "standin")
    if not os.environ.get("PGTVIEWS_STANDIN_DIR"):
        subprocess.run([os.path.join(REPO, "tests/fixtures/pg_tviews/build-standin.sh"), out],
                       check=True, capture_output=True)
    major = PgInstall("/").major
    builds = {}
    for v in STANDIN_VERSIONS:
        builds[v] = {
            "source": os.path.join(out, "pg_tviews-%s.tar.gz" % v),
            "artifact": os.path.join(out, "pg_tviews-v%s-pg%s.tar.gz" % (v, major)),
        }
        for path in builds[v].values():
            assert os.path.isfile(path), "stand-in build missing %s" % path
    return builds


@pytest.fixture(scope="session")
def session_dir():
    path = make_base_dir("pgtviews-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def make_pg_install(session_dir, standin_build):
    """Factory: a fresh private PostgreSQL installation with the given stand-in
    versions installed from their source tarballs, in order (last one wins the
    shared file names, exactly like `make install` on a real server)."""
    counter = [0]

    def factory(versions=("0.1.0",)):
        counter[0] += 1
        inst = PgInstall.private_copy(os.path.join(session_dir, "install%d" % counter[0]))
        for v in versions:
            inst.install_tarball(standin_build[v]["source"])
        return inst

    return factory


@pytest.fixture(scope="session")
def pg_install(make_pg_install):
    """The session's shared installation with stand-in 0.1.0 (the running version).
    Tests that change extension files must use make_pg_install for their own copy."""
    return make_pg_install(("0.1.0",))


@pytest.fixture(scope="session")
def make_cluster(session_dir):
    """Factory for started clusters; all are destroyed at the end of the session."""
    clusters = []

    def factory(install, name=None, settings=None):
        c = Cluster(install, session_dir, name=name or "pg%d" % len(clusters), settings=settings)
        clusters.append(c)
        return c.start()

    yield factory
    for c in clusters:
        c.destroy()


@pytest.fixture(scope="module")
def pg_cluster(pg_install, make_cluster, request):
    """A started cluster on the shared 0.1.0 installation, one per test module."""
    c = make_cluster(pg_install, name="m-" + request.module.__name__.rsplit(".", 1)[-1])
    yield c
    c.destroy()
