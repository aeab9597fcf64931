"""fleet, after the first run: the canary's broken package stopped the rollout. Every server, the
canary included, is on 0.1.0 with its data and live TVIEWs."""

import pgcheck
from conftest_common import baseline


def test_every_server_runs_the_old_version(db):
    assert pgcheck.extversion(db) == "0.1.0"
    assert pgcheck.scalar(db, "SELECT pg_tviews_version()") == "0.1.0-beta.8"


def test_data_equal_to_before(host, db):
    assert pgcheck.snapshot(db) == baseline(host.backend.hostname)["tables"]


def test_tviews_live(db):
    assert pgcheck.tviews_out_of_step(db) == []
    seen = pgcheck.write_propagates(db)
    assert seen["insert"] and seen["cascade"], seen
