"""Fixtures shared by the scenarios' testinfra tests (imported by each tests/conftest.py)."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pgcheck  # noqa: E402  pylint: disable=wrong-import-position

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")


@pytest.fixture()
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture()
def db(hostvars):
    """psycopg2 connection to this host's application database, from the controller."""
    conn = pgcheck.connect(hostvars["molecule_pg_port"])
    yield conn
    conn.close()


def baseline(hostname, dbname="app"):
    path = os.path.join(EPHEMERAL, "snapshots", "%s-%s.json" % (hostname, dbname))
    with open(path) as fh:
        return json.load(fh)


def state_file(host, hostvars):
    path = hostvars.get("tviews_state_file", "/var/lib/pgtviews/state.json")
    f = host.file(path)
    return json.loads(f.content_string) if f.exists else None


def report_records(run_id="molecule"):
    """{host: record} of the report run written on the controller."""
    root = os.path.join(EPHEMERAL, "reports", run_id)
    records = {}
    for dirpath, _dirs, files in os.walk(os.path.join(root, "hosts")):
        for name in files:
            if name.endswith(".json"):
                with open(os.path.join(dirpath, name)) as fh:
                    doc = json.load(fh)
                records[doc.get("host", name[:-5])] = doc
    return records


def report_summary(run_id="molecule"):
    with open(os.path.join(EPHEMERAL, "reports", run_id, "summary.json")) as fh:
        return json.load(fh)


def manifest_verified(host, hostvars, path, dbname="app"):
    """Run the collection's own manifest verification (pgtviews.ops.tviews_manifest) on the host."""
    args = ("state=verified path=%s login_db=%s login_host=127.0.0.1 login_port=%s login_user=postgres "
            "login_password=%s" % (path, dbname, hostvars["molecule_pg_port"], pgcheck.PASSWORD))
    return host.ansible("pgtviews.ops.tviews_manifest", args, check=False)


def pg_bin(hostvars, tool):
    return "/usr/lib/postgresql/%s/bin/%s" % (hostvars["molecule_pg_major"], tool)
