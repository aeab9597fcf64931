"""Loader of tests/fixtures/schemas/real01_states.sql: states real pg_tviews 0.1 databases are in
(issue 20). Each ``-- @@ session`` section runs on a new connection (the pg_tviews library, and
so its DDL hook, is loaded per session)."""

import os

from tests.integration.standin.helpers import install_jsonb_delta

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REAL01_SQL = os.path.join(REPO, "tests", "fixtures", "schemas", "real01_states.sql")

# entity -> what it is in the fixture
FROZEN = ("note",)
CTAS_HOOKED = ("tag",)
ORPHANED = ("gone",)
PLAIN_TV_TABLES = ("public.tv_legacy",)


def sections():
    with open(REAL01_SQL, encoding="utf-8") as fh:
        text = fh.read()
    parts = text.split("\n-- @@ session:")[1:]
    return [p.split("\n", 1)[1] for p in parts]


def load(cluster, db):
    """Apply the fixture to ``db`` (app.sql at 0.1.0 already loaded), the jsonb_delta stand-in
    being installed into the cluster's installation first."""
    install_jsonb_delta(cluster.install.extdir)
    for body in sections():
        conn = cluster.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(body)
        finally:
            conn.close()
