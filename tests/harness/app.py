"""The application for tests that run with it writing: a writer and a reader process
(tests/harness/traffic.py), their logs, their pause switch, and the checks that compare what
they saw committed with what the database holds."""

import json
import os
import subprocess
import sys

from psycopg2 import sql

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from tests.harness import traffic

TRAFFIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traffic.py")


class App(object):
    """The writer and the reader processes, their logs and their pause switch."""

    def __init__(self, cluster, root, db="app"):
        self.cluster, self.db = cluster, db
        cluster.execute(traffic.setup_sql(), db)
        self.control = os.path.join(root, "app-control")
        os.makedirs(self.control, exist_ok=True)
        os.chmod(self.control, 0o777)
        self.logs = dict((r, os.path.join(root, "app-%s.jsonl" % r)) for r in ("writer", "reader"))
        dsn = "host=%s port=%s user=%s dbname=%s" % (cluster.socket_dir, cluster.port, cluster.user, db)
        self.procs = [subprocess.Popen([sys.executable, TRAFFIC, role, dsn, self.logs[role], self.control])
                      for role in ("writer", "reader")]

    def pause_command(self):
        """The shell command a rollback's stop hook runs: pause both and wait for them."""
        # paused-at is written once both have stopped: every statement started before it has ended.
        return ("sh -c 'touch %s/pause; while [ ! -e %s/paused-writer ] || [ ! -e %s/paused-reader ]; "
                "do sleep 0.05; done; date +%%s.%%N > %s/paused-at'" % ((self.control,) * 4))

    def paused_at(self):
        with open(os.path.join(self.control, "paused-at")) as fh:
            return float(fh.read())

    def resume_command(self):
        return "rm -f %s/pause" % self.control

    def pause(self):
        subprocess.run(["sh", "-c", self.pause_command()[len("sh -c '"):-1]], check=True, timeout=60)

    def resume(self):
        os.unlink(os.path.join(self.control, "pause"))

    def events(self, role, since=0.0, until=None):
        out = []
        with open(self.logs[role]) as fh:
            for line in fh:
                e = json.loads(line)
                if e["t"] >= since and (until is None or e["t"] <= until):
                    out.append(e)
        return out

    def stop(self):
        open(os.path.join(self.control, "stop"), "w").close()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for p in self.procs:
            assert p.returncode == 0, "an application process died (exit %s)" % p.returncode


def db_state(conn):
    """What the writer changes: post and comment keys, user names."""
    with conn.cursor() as cur:
        cur.execute("SELECT pk_post FROM tb_post")
        posts = set(r[0] for r in cur.fetchall())
        cur.execute("SELECT pk_comment FROM tb_comment")
        comments = set(r[0] for r in cur.fetchall())
        cur.execute("SELECT pk_user, name FROM tb_user")
        users = dict(cur.fetchall())
    return {"posts": posts, "comments": comments, "users": users}


def expected_state(base, events):
    """``base`` with the writer's committed statements applied in order."""
    state = {"posts": set(base["posts"]), "comments": set(base["comments"]), "users": dict(base["users"])}
    for e in events:
        if e["error"]:
            continue
        if e["op"] == "insert_post":
            state["posts"].add(e["key"])
        elif e["op"] == "insert_comment":
            state["comments"].add(e["key"])
        elif e["op"] == "delete_comment":
            state["comments"].discard(e["key"])
        elif e["op"] == "rename_user":
            state["users"][e["key"]] = e["value"]
    return state


def deleted_comments(events):
    """Keys of the comments the writer's committed statements deleted."""
    return set(e["key"] for e in events if e["op"] == "delete_comment" and not e["error"])


def stale_keys(conn, record):
    """Keys of the tv_ rows whose key the v_ view no longer has."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT t.{pk} FROM {tv} t WHERE NOT EXISTS (SELECT 1 FROM {v} v WHERE v.{pk} = t.{pk})").format(
            pk=sql.Identifier(record["pk_column"]), tv=sql.Identifier(record["schema"], record["table"]),
            v=sql.Identifier(record["view_schema"], record["view"])))
        return set(r[0] for r in cur.fetchall())


def assert_tviews_equal_views(cluster, db, deleted=None):
    """Every tv_ equals its v_, both ways, all TVIEWs in one snapshot, except the rows pg_tviews
    0.1 leaves behind the application's DELETEs (it never deletes a tv_ row): those may only be
    comments, and only comments the application deleted (``deleted``: their keys; by default,
    comments tb_comment no longer has)."""
    conn = cluster.connect(db, autocommit=False)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        records, dummy = adapter_for(conn, detect(conn)).records()
        assert len(records) == 4
        for r in records:
            d = objects.drift(conn, r, classify=True)
            assert d["only_in_view"] == 0 and d["only_in_tv"] == d["stale"], (db, r["entity"], d)
            if d["stale"]:
                assert r["entity"] == "comment", (db, r["entity"], d)
                keys = stale_keys(conn, r)
                if deleted is None:
                    with conn.cursor() as cur:
                        cur.execute("SELECT pk_comment FROM tb_comment WHERE pk_comment = ANY(%s)", (sorted(keys),))
                        assert cur.fetchall() == [], (db, "stale tv_comment rows of comments that exist")
                else:
                    assert keys <= set(deleted), (db, sorted(keys - set(deleted))[:10])
        conn.rollback()
    finally:
        conn.close()
