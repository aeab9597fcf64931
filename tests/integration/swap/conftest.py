"""Fixtures of the swap tests: one server with stand-in 0.1.0 and 0.2.0 beside it, and a fresh
application database per test."""

import os

import pytest

from tests.integration.conftest import load_app


@pytest.fixture(scope="module")
def cluster(both_install, make_cluster):
    c = make_cluster(both_install, name="swap")
    yield c
    c.destroy()


@pytest.fixture
def app(cluster, request, tmp_path):
    name = "swap_" + request.node.name.split("[")[0][5:40]
    load_app(cluster, name)
    os.chmod(tmp_path, 0o755)
    yield name, str(tmp_path / "manifest.json")
    cluster.dropdb(name)
