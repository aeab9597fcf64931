"""The real playbooks (ansible-playbook pgtviews.ops.*) against a local three-server fleet."""

import glob
import json
import os
import uuid

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from tests.harness.fleet import Fleet, broken_artifact, recap
from tests.harness.pg import make_base_dir


def versions(fleet):
    return {n: fleet.cluster(n).execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0]
            for n in fleet.names}


def live_and_equal(cluster, db="app"):
    """Every tv_ equals its v_ and a base-table write propagates through fk lineage."""
    conn = cluster.connect(db)
    try:
        records, dummy = adapter_for(conn, detect(conn)).records()
        assert len(records) == 4
        for r in records:
            assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
        marker = "m-" + uuid.uuid4().hex[:8]
        with conn.cursor() as cur:
            cur.execute("UPDATE tb_user SET name = %s WHERE pk_user = 5", (marker,))
            cur.execute("SELECT count(*) FROM tv_post WHERE data->'author'->>'name' = %s", (marker,))
            assert cur.fetchone()[0] == 3
        for r in records:
            assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
    finally:
        conn.close()


def content(cluster, db="app"):
    """Base-table content, to prove nothing was lost."""
    return cluster.execute("SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY pk_user)) FROM tb_user t), "
                           "(SELECT md5(string_agg(t::text, ',' ORDER BY pk_post)) FROM tb_post t), "
                           "(SELECT md5(string_agg(t::text, ',' ORDER BY pk_comment)) FROM tb_comment t)", db)[0]


@pytest.fixture
def fleet(standin_build):
    root = make_base_dir("fleet-")
    f = Fleet(root, os.path.dirname(standin_build["0.2.0"]["artifact"])).up()
    yield f
    f.down()


def test_migrate_in_waves_is_idempotent_and_rolls_back(fleet):
    before = dict((n, content(fleet.cluster(n))) for n in fleet.names)

    # A comma-separated target keeps every host it names, and the standby filter.
    listed = fleet.playbook("migrate", "--list-hosts", "-e", "tviews_target_hosts=db1,db3")
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    primaries = listed.stdout.split("Migrate the primaries in waves")[1]
    assert "db1" in primaries and "db3" in primaries and "db2" not in primaries, listed.stdout

    check = fleet.playbook("migrate", check=True)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    assert set(versions(fleet).values()) == {"0.1.0"}
    assert "DROP EXTENSION" in check.stdout          # the plan is printed

    run = fleet.playbook("migrate")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert versions(fleet) == {"db1": "0.2.0", "db2": "0.2.0", "db3": "0.2.0"}
    # The canary wave holds db1 alone; the others follow in a later wave.
    waves = run.stdout.split("PLAY [Migrate the primaries in waves]")[1:]
    assert len(waves) == 2                          # tviews_waves [1, "100%"] was honoured
    assert "[db1]" in waves[0] and "[db2]" not in waves[0] and "[db3]" not in waves[0]
    assert "[db2]" in "".join(waves[1:]) and "[db3]" in "".join(waves[1:])
    for n in fleet.names:
        assert content(fleet.cluster(n)) == before[n]
    assert glob.glob(os.path.join(fleet.root, "reports", "**", "*.html"), recursive=True)

    again = fleet.playbook("migrate")
    assert again.returncode == 0, again.stdout[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in recap(again.stdout).values()), again.stdout[-3000:]

    for n in fleet.names:
        live_and_equal(fleet.cluster(n))
    after_writes = dict((n, content(fleet.cluster(n))) for n in fleet.names)

    back = fleet.playbook("rollback", "-e", "tviews_target_hosts=db1")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    assert versions(fleet) == {"db1": "0.1.0", "db2": "0.2.0", "db3": "0.2.0"}
    assert content(fleet.cluster("db1")) == after_writes["db1"]      # writes made on 0.2 are kept
    live_and_equal(fleet.cluster("db1"))
    again = fleet.playbook("rollback", "-e", "tviews_target_hosts=db1")
    assert recap(again.stdout)["db1"]["changed"] == 0, again.stdout[-3000:]

    # "false" on the command line is a string: it must still mean no switch.
    c2 = fleet.cluster("db2")
    oid_before = c2.execute("SELECT oid FROM pg_database WHERE datname = 'app'")[0][0]
    dry = fleet.playbook("rollback", "-e", "tviews_target_hosts=db2", "-e", "tviews_rollback_mode=complete",
                         "-e", "tviews_rollback_confirm=false")
    assert dry.returncode == 0, dry.stdout[-4000:] + dry.stderr[-2000:]
    assert c2.execute("SELECT oid FROM pg_database WHERE datname = 'app'")[0][0] == oid_before
    assert c2.execute("SELECT datname FROM pg_database WHERE datname LIKE 'app_%' ORDER BY 1") == [("app_rollback",)]
    assert versions(fleet)["db2"] == "0.2.0"

    full = fleet.playbook("rollback", "-e", "tviews_target_hosts=db2", "-e", "tviews_rollback_mode=complete",
                          "-e", "tviews_rollback_confirm=true")
    assert full.returncode == 0, full.stdout[-4000:] + full.stderr[-2000:]
    assert versions(fleet)["db2"] == "0.1.0"
    assert content(c2) == before["db2"]                                 # the backup's data
    failed = [r[0] for r in c2.execute("SELECT datname FROM pg_database WHERE datname LIKE 'app_failed_%'")]
    assert len(failed) == 1
    live_and_equal(c2)
    app_oid = c2.execute("SELECT oid FROM pg_database WHERE datname = 'app'")[0][0]
    again = fleet.playbook("rollback", "-e", "tviews_target_hosts=db2", "-e", "tviews_rollback_mode=complete",
                           "-e", "tviews_rollback_confirm=true")
    assert again.returncode == 0 and recap(again.stdout)["db2"]["changed"] == 0, again.stdout[-3000:]

    # A run cut off between the switch and its record: the re-run sees the switch as made and
    # only records it; nothing is restored or renamed again.
    state_path = os.path.join(fleet.root, "db2", "state", "state.json")
    with open(state_path) as fh:
        state = json.load(fh)
    assert state["databases"]["app"]["rollback_complete"]["failed_database"] == failed[0]
    state["databases"]["app"]["rollback_complete"]["switched"] = False
    with open(state_path, "w") as fh:
        json.dump(state, fh)
    resumed = fleet.playbook("rollback", "-e", "tviews_target_hosts=db2", "-e", "tviews_rollback_mode=complete",
                             "-e", "tviews_rollback_confirm=true")
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    assert c2.execute("SELECT oid FROM pg_database WHERE datname = 'app'")[0][0] == app_oid
    assert [r[0] for r in c2.execute("SELECT datname FROM pg_database WHERE datname LIKE 'app_%'")] == failed
    with open(state_path) as fh:
        assert json.load(fh)["databases"]["app"]["rollback_complete"]["switched"] is True


def test_broken_canary_stops_the_rollout_and_rolls_back(fleet):
    before = dict((n, content(fleet.cluster(n))) for n in fleet.names)
    broken = os.path.join(fleet.root, "pg_tviews-v0.2.0-pg15-broken.tar.gz")
    # triggers that propagate nothing
    broken_artifact(os.path.join(fleet.standin_dir, "pg_tviews-v0.2.0-pg15.tar.gz"), broken,
                    "pg_tviews_cascade", "RETURN;  -- broken on purpose")
    fleet.write_inventory(host_overrides={"db1": {"tviews_install_src": broken}})

    run = fleet.playbook("migrate")
    assert run.returncode != 0
    assert "PLAY [Migrate the primaries in waves]" in run.stdout
    rc = recap(run.stdout)
    # db2 and db3 only took part in the plan (no change there); their batch never ran.
    assert rc["db1"]["failed"] >= 1, run.stdout[-4000:]
    for n in ("db2", "db3"):
        assert rc[n]["changed"] == 0 and rc[n]["failed"] == 0, run.stdout[-4000:]
    assert run.stdout.count("PLAY [Migrate the primaries in waves]") == 1
    assert "rolled back" in run.stdout
    assert versions(fleet) == {"db1": "0.1.0", "db2": "0.1.0", "db3": "0.1.0"}
    for n in fleet.names:
        assert content(fleet.cluster(n)) == before[n]
    live_and_equal(fleet.cluster("db1"))
    for n in ("db2", "db3"):   # untouched: no backup, no state, nothing installed
        assert not os.path.exists(os.path.join(fleet.root, n, "state", "state.json"))
        assert not glob.glob(os.path.join(fleet.install(n).pkglibdir, "pg_tviews-*.so"))


def test_waves_from_the_inventory_put_the_last_listed_host_first(fleet):
    """No -e at all: the inventory gives db3 (listed last) wave 1 and the others wave 2."""
    fleet.write_inventory(host_overrides={"db3": {"tviews_wave": 1}, "db1": {"tviews_wave": 2}, "db2": {"tviews_wave": 2}})
    run = fleet.playbook("migrate", waves=None)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "primaries: 2 batch(es), from the inventory: per-host waves" in run.stdout
    waves = run.stdout.split("PLAY [Migrate the primaries in waves]")[1:]
    assert len(waves) == 2, run.stdout[-3000:]
    assert "[db3]" in waves[0] and "[db1]" not in waves[0] and "[db2]" not in waves[0]
    assert "[db1]" in waves[1] and "[db2]" in waves[1] and "[db3]" not in waves[1].split("PLAY RECAP")[0]
    assert versions(fleet) == {"db1": "0.2.0", "db2": "0.2.0", "db3": "0.2.0"}
    # The fleet view has every host's latest run, all passed.
    with open(os.path.join(fleet.root, "reports", "fleet", "summary.json")) as fh:
        view = json.load(fh)
    passed = [("db1", "passed"), ("db2", "passed"), ("db3", "passed")]
    assert sorted((h["host"], h["status"]) for h in view["hosts"]) == passed
    assert len(set(h["run_id"] for h in view["hosts"])) == 1
