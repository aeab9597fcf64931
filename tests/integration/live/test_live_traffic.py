"""Live traffic, end to end: the application keeps writing and reading (tests/harness/
traffic.py, one statement about every 10 ms each) through migrate (default variables: rehearsal
on, no allow-list) -> rollback immediate -> migrate rebuilding (tables built before the locks) ->
rollback complete, run with the real playbooks on a one-server fleet. After each step: no application statement failed, none waited
longer than the step's reported write-blocked window + 150 ms, every tv_ equals its v_ (one
snapshot), and every committed write is there (after a complete rollback: in the kept copy)."""

import json
import os
import shutil
import time

import pytest

from tests.harness.app import App, assert_tviews_equal_views, db_state, deleted_comments, expected_state
from tests.harness.fleet import Fleet
from tests.harness.pg import make_base_dir

SLACK_MS = 150


def extversion(cluster, db="app"):
    return cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db)[0][0]


def state_file(fleet):
    with open(fleet.host_vars("db1")["tviews_state_file"]) as fh:
        return json.load(fh)["databases"]["app"]


class Steps(object):
    def __init__(self, fleet, app):
        self.fleet, self.app = fleet, app
        self.cluster = fleet.cluster("db1")
        self.latencies = []
        conn = self.cluster.connect("app")
        try:
            self.base = db_state(conn)
        finally:
            conn.close()
        self.base_t = 0.0

    def run(self, name, playbook, *args):
        t0 = time.time()
        res = self.fleet.playbook(playbook, *args)
        t1 = time.time()
        assert res.returncode == 0, "%s failed:\n%s\n%s" % (name, res.stdout[-6000:], res.stderr[-2000:])
        return t0, t1, res

    def check(self, name, t0, t1, window_ms, db="app"):
        writes = self.app.events("writer", t0, t1)
        reads = self.app.events("reader", t0, t1)
        errors = [e for e in writes + reads if e["error"]]
        assert errors == [], "%s: application statements failed: %s" % (name, errors[:5])
        assert len(writes) > 50 and len(reads) > 50, "%s: the application hardly ran (%d writes)" % (name, len(writes))
        worst = max(e["ms"] for e in writes + reads)
        budget = (window_ms or 0) + SLACK_MS
        self.latencies.append({"step": name, "worst_ms": worst, "window_ms": window_ms, "budget_ms": budget})
        slow = sorted((e for e in writes + reads if e["ms"] > budget), key=lambda e: -e["ms"])
        assert not slow, "%s: statements waited longer than the window (%s ms) + %d ms: %s" % (
            name, window_ms, SLACK_MS, slow[:5])
        # Every committed write is there: pause the application so the log and the data agree.
        self.app.pause()
        try:
            # rows 0.1 left behind the application's deletes may stay (only those; a restored backup
            # brings back those of deletes before it was taken)
            assert_tviews_equal_views(self.cluster, db, deleted=deleted_comments(self.app.events("writer")))
            conn = self.cluster.connect(db)
            try:
                actual = db_state(conn)
            finally:
                conn.close()
            expected = expected_state(self.base, self.app.events("writer", self.base_t))
            assert actual == expected, "%s: the data differs from the application's committed writes" % name
        finally:
            self.app.resume()


@pytest.fixture
def live(standin_build):
    root = make_base_dir("live-")
    fleet = Fleet(root, os.path.dirname(standin_build["0.2.0"]["artifact"]), names=("db1",)).up()
    app = App(fleet.cluster("db1"), root)
    try:
        yield fleet, app
    finally:
        try:
            app.stop()
        finally:
            keep = os.environ.get("PGTVIEWS_LIVE_KEEP_LOGS")
            if keep:
                os.makedirs(keep, exist_ok=True)
                for path in list(app.logs.values()):
                    shutil.copy(path, keep)
            fleet.down()


def test_migrate_and_roll_back_with_the_application_writing(live):
    fleet, app = live
    steps = Steps(fleet, app)
    cluster = steps.cluster
    time.sleep(1.0)  # the application is running before anything starts

    # 1. migrate with default variables: rehearsal on, no manifest allow-list.
    t0, t1, res = steps.run("migrate", "migrate")
    assert extversion(cluster) == "0.2.0"
    st = state_file(fleet)
    assert st["rehearsal"]["passed"] is True, st.get("rehearsal")
    assert st["validate"]["status"] in ("pass", "warn"), st["validate"]
    first_backup = st["backup"]["path"]
    assert st["backup"]["superseded_by"] == "swap", st["backup"]
    steps.check("migrate", t0, t1, st["swap"]["window_ms"])

    # 2. rollback immediate.
    t0, t1, res = steps.run("rollback immediate", "rollback", "-e", "tviews_rollback_mode=immediate",
                            "-e", "tviews_target_hosts=db1")
    assert extversion(cluster) == "0.1.0"
    st = state_file(fleet)
    assert st["backup"]["path"] == first_backup and st["backup"]["superseded_by"] == "swap", st["backup"]
    steps.check("rollback immediate", t0, t1, st["rollback"]["window_ms"])

    # 3. migrate again, rebuilding: a new backup (the first one predates writes made since), a passing
    # rehearsal, each TVIEW's table built before the locks while the application writes, and moved in
    # unless the application wrote to a table it reads meanwhile (then rebuilt under the locks).
    t0, t1, res = steps.run("migrate again", "migrate", "-e", "tviews_swap_tview_mode=rebuild")
    assert extversion(cluster) == "0.2.0"
    st = state_file(fleet)
    assert st["swap"]["mode"] == "rebuild", st["swap"]
    pre = st["swap"]["prebuilt"]
    assert pre["build_ms"] > 0 and pre["not_built"] == {}, pre
    assert sorted(pre["moved_in"] + list(pre["rebuilt_under_locks"])) == ["Bücher", "comment", "post", "user"], pre
    # (and the swap that followed it marks it as no longer reusable for a later migration)
    assert st["backup"]["path"] != first_backup and st["backup"]["superseded_by"] == "swap", st["backup"]
    assert "is not reused: a swap of this database came after it" in res.stdout
    steps.check("migrate again", t0, t1, st["swap"]["window_ms"])

    # 4. rollback complete: the application is stopped for the switch by the stop/start hooks.
    t0, t1, res = steps.run("rollback complete", "rollback", "-e", json.dumps({
        "tviews_target_hosts": "db1", "tviews_rollback_mode": "complete", "tviews_rollback_confirm": True,
        "tviews_rollback_stop_commands": [app.pause_command()],
        "tviews_rollback_start_commands": [app.resume_command()]}))
    assert extversion(cluster) == "0.1.0"
    st = state_file(fleet)
    failed_copy = st["rollback_complete"]["failed_database"]
    assert st["rollback_complete"]["switched"] is True
    # Everything the application committed before it was stopped is in the kept copy.
    conn = cluster.connect(failed_copy)
    try:
        kept = db_state(conn)
    finally:
        conn.close()
    assert kept == expected_state(steps.base, app.events("writer", steps.base_t, app.paused_at())), \
        "the kept copy differs from what the application committed before the switch"
    assert_tviews_equal_views(cluster, failed_copy,
                              deleted=deleted_comments(app.events("writer", 0.0, app.paused_at())))
    # From now on the application writes to the restored database.
    app.pause()
    try:
        conn = cluster.connect("app")
        try:
            steps.base, steps.base_t = db_state(conn), time.time()
        finally:
            conn.close()
    finally:
        app.resume()
    time.sleep(1.0)
    steps.check("rollback complete", t0, time.time(), None)

    print("worst latencies: %s" % json.dumps(steps.latencies))
    report = os.path.join(os.environ.get("PGTVIEWS_LIVE_RESULTS", fleet.root), "live-latencies.json")
    with open(report, "w") as fh:
        json.dump(steps.latencies, fh)
