"""fleet, after the first run: the rollout stopped after the canary; the other three servers were not
touched at all."""

import pgcheck
from conftest_common import state_file

testinfra_hosts = ["mol-fleet-[234]"]  # fnmatch over the inventory: every server but the canary


def test_the_other_servers_were_not_touched(host, hostvars, db):
    # nothing installed, nothing recorded, no backup taken
    versions = [r[0] for r in pgcheck.query(
        db, "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_tviews'")]
    assert versions == ["0.1.0"]
    assert state_file(host, hostvars) is None
    assert not host.file("/var/backups/pgtviews").exists
    assert pgcheck.scalar(db, "SELECT to_regnamespace('pgtviews_ops')") is None
