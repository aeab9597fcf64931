import os
import sys

import pytest
import testinfra

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))

import pgcheck  # noqa: E402

PRIMARY_PORT, STANDBY_PORT = 25441, 25442


def _host(name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def primary_host():
    return _host("mol-replica-primary")


@pytest.fixture(scope="module")
def standby_host():
    return _host("mol-replica-standby")


@pytest.fixture()
def primary():
    conn = pgcheck.connect(PRIMARY_PORT)
    yield conn
    conn.close()


@pytest.fixture()
def standby():
    conn = pgcheck.connect(STANDBY_PORT)
    yield conn
    conn.close()
