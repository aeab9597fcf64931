"""What every fault test needs: a one-database fleet with the application writing, a playbook run
that can be held at a named fault point and killed, and the checks made after the fault and after
the re-run (docs/reliability.md)."""

import glob
import json
import os
import signal
import subprocess
import time

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import catalog as gates_catalog
from tests.harness.app import assert_tviews_equal_views, db_state

POINT_TIMEOUT = 300
# Faults run with the rehearsal off unless they are about it: the same checks, half the time.
FAST = {"tviews_rehearse": False, "tviews_wave_pause_seconds": 0}


class FaultRun(object):
    """One ansible-playbook run in a process group of its own (a job runner's controller), held
    at ``point`` (plugins/module_utils/host/faults.py) until the test kills or releases it."""

    def __init__(self, fleet, playbook, *args, point=None, waves=(1, "100%")):
        self.hold = os.path.join(fleet.root, "fault-%d" % time.monotonic_ns())
        env = {}
        if point:
            open(self.hold, "w").close()
            env = {"PGTVIEWS_OPS_FAULT_POINT": point, "PGTVIEWS_OPS_FAULT_FILE": self.hold}
        cmd, penv = fleet.playbook_command(playbook, *args, env=env, waves=waves)
        self.log = self.hold + ".log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(cmd, env=penv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        with open(self.log) as fh:
            return fh.read()

    def wait_for(self, ready, what, timeout=POINT_TIMEOUT):
        deadline = time.time() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError("the run ended (exit %s) before %s:\n%s"
                                     % (self.proc.returncode, what, self.output()[-6000:]))
            if time.time() > deadline:
                self.kill()
                raise AssertionError("no %s within %d s:\n%s" % (what, timeout, self.output()[-6000:]))
            time.sleep(0.05)

    def wait_point(self):
        self.wait_for(lambda: os.path.exists(self.hold + ".reached"), "fault point")

    def kill(self):
        """SIGKILL to the controller and every process it started that is still its descendant
        (ansible-core starts each module in a session of its own, so the process group alone would
        leave the module running): a job runner's container killed. An async job (the backup)
        has detached itself and goes on, as it would on a remote host."""
        for pid in [self.proc.pid] + descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=60)
        self.release()

    def release(self):
        if os.path.exists(self.hold):
            os.unlink(self.hold)

    def finish(self, timeout=900):
        self.release()
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.output()


def kill_at(fleet, playbook, point, *args):
    """Run ``playbook`` until it reaches ``point``, then kill it there."""
    run = FaultRun(fleet, playbook, *args, point=point)
    run.wait_point()
    run.kill()


def descendants(pid):
    children = {}
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rerun(fleet, playbook, *args, waves=(1, "100%")):
    """The same command again, to the end; returns its output after checking it succeeded."""
    run = FaultRun(fleet, playbook, *args, waves=waves)
    rc, out = run.finish()
    assert rc == 0, "the re-run failed (exit %d):\n%s" % (rc, out[-8000:])
    return out


def extversion(cluster, db="app"):
    rows = cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db)
    return rows[0][0] if rows else None


def assert_one_version(cluster, db="app"):
    """Entirely on 0.1 or entirely on 0.2: the extension, its catalog (every TVIEW registered with
    its tv_, v_ and base-table triggers, no orphan trigger) and every tv_ equal to its v_."""
    version = extversion(cluster, db)
    assert version in ("0.1.0", "0.2.0"), "%s: pg_tviews is %s" % (db, version)
    conn = cluster.connect(db)
    try:
        facts = detect(conn)
        records, dummy = adapter_for(conn, facts).records()
        verdict = gates_catalog.consistency(db, records, objects.tview_triggers(conn))
    finally:
        conn.close()
    assert facts["library_version"] is not None, "%s: the pg_tviews library does not load" % db
    assert verdict["status"] == "pass", verdict
    assert_tviews_equal_views(cluster, db)
    return version


def lost_writes(base, events, actual):
    """The application's acknowledged writes that ``actual`` does not show (and rows it shows that
    nothing wrote). A write that failed with a lost connection may have committed: its key is in
    doubt either way."""
    posts, comments, users = set(base["posts"]), set(base["comments"]), dict(base["users"])
    doubt = set()
    for e in events:
        if e["op"] in (None, "prepare", "connect"):
            continue
        if e["error"]:
            doubt.add((e["op"].split("_")[-1], e["key"]))
            continue
        if e["op"] == "insert_post":
            posts.add(e["key"])
        elif e["op"] == "insert_comment":
            comments.add(e["key"])
        elif e["op"] == "delete_comment":
            comments.discard(e["key"])
        elif e["op"] == "rename_user":
            users[e["key"]] = e["value"]
            doubt.discard(("user", e["key"]))
    problems = []
    for kind, want, have in (("post", posts, actual["posts"]), ("comment", comments, actual["comments"])):
        problems += ["%s %s lost" % (kind, k) for k in sorted(want - have) if (kind, k) not in doubt]
        problems += ["%s %s appeared" % (kind, k) for k in sorted(have - want) if (kind, k) not in doubt]
    problems += ["user %s is %r, not %r" % (k, actual["users"].get(k), v) for k, v in sorted(users.items())
                 if actual["users"].get(k) != v and ("user", k) not in doubt]
    return problems


def assert_no_write_lost(app, cluster, base, db="app", until=None, resume=True):
    """Every write the application saw committed (up to ``until``) is in ``db``; returns 0, the
    number of rows lost, for the table. Pauses the application so that its log and the data agree."""
    app.pause()
    try:
        conn = cluster.connect(db)
        try:
            actual = db_state(conn)
        finally:
            conn.close()
        problems = lost_writes(base, app.events("writer", 0.0, until), actual)
    finally:
        if resume:
            app.resume()
    assert problems == [], "%s: %d writes differ from what the application saw committed: %s" % (
        db, len(problems), problems[:10])
    return 0


def app_errors(app, since=0.0):
    return [e for e in app.events("writer", since) + app.events("reader", since) if e["error"]]


def leftovers(fleet, cluster, name="db1"):
    """What a run leaves that it should not once it has finished: scratch databases, the schema of
    prebuilt tables, backup directories without a record, temporary files beside the state file."""
    host = os.path.join(fleet.root, name)
    scratch = [r[0] for r in cluster.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'pgtviews\\_verify\\_%' OR datname LIKE '%\\_rehearsal' "
        "OR datname LIKE '%\\_rollback' ORDER BY 1")]
    partial = [d for d in glob.glob(os.path.join(host, "backups", "*", "*", "2*"))
               if not os.path.exists(os.path.join(d, "backup.json"))]
    # A rebuild's tables built before its locks (swap.prebuild), in the application's database.
    scratch += [r[0] for r in cluster.execute("SELECT nspname FROM pg_namespace WHERE nspname = '_pgtviews_ops_prebuilt'", "app")]
    temp = glob.glob(os.path.join(host, "state", ".pgtviews-*"))
    temp += glob.glob(os.path.join(host, "backups", "**", ".restore-*"), recursive=True)
    return scratch + partial + temp


def state(fleet, name="db1", db="app"):
    with open(fleet.host_vars(name)["tviews_state_file"]) as fh:
        return json.load(fh)["databases"].get(db, {})


def last_report(fleet):
    """The newest run's summary.json."""
    runs = sorted(glob.glob(os.path.join(fleet.root, "reports", "*", "summary.json")), key=os.path.getmtime)
    assert runs, "no report was written"
    with open(runs[-1]) as fh:
        return json.load(fh)


def pg_dump_waiting(cluster, db="app"):
    """True once pg_dump waits for the lock the test holds (it runs, and has not dumped the data yet)."""
    return bool(cluster.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                                "AND query LIKE 'LOCK TABLE %%fault_hold IN ACCESS SHARE MODE%%'", "postgres", (db,))[0][0])


class TableHold(object):
    """An ACCESS EXCLUSIVE lock on fault_hold, a table only pg_dump reads (never the application):
    holds pg_dump at its lock round while the test injects the fault."""

    def __init__(self, cluster, db="app"):
        self.conn = cluster.connect(db, autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute("LOCK TABLE fault_hold IN ACCESS EXCLUSIVE MODE")

    def release(self):
        try:
            self.conn.rollback()
            self.conn.close()
        except Exception:  # the server was restarted under it
            pass
