"""The collection gives way to the application: a deadlock between one of our sessions and an
application session rolls back ours; a deadlock inside pg_tviews' propagation fails the writer's
statement (as upstream does) instead of committing a stale tv_ row; validate's write-path test
picks the row with the smallest fan-out."""

import threading
import time

import psycopg2
import psycopg2.errors
import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils import connection
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import writepath as gates_writepath
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from tests.integration.conftest import load_app


def params(cluster, db):
    return {"login_host": cluster.socket_dir, "login_port": cluster.port, "login_user": cluster.user, "login_db": db,
            "connect_timeout": 10}


@pytest.fixture(scope="module")
def app_db(pg_cluster):
    db = load_app(pg_cluster, "give_way")
    yield db
    pg_cluster.dropdb(db)


def wait_for_lock_wait(cluster, pid, timeout=30):
    """Until session ``pid`` waits for a lock (no fixed sleep: the server says when)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cluster.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", "postgres", (pid,))[0][0]:
            return
        time.sleep(0.01)
    raise AssertionError("session %d never waited for a lock" % pid)


def in_thread(fn):
    out = {}

    def run():
        try:
            out["result"] = fn()
        except Exception as e:  # the outcome is what the test looks at
            out["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_our_session_is_the_deadlock_victim(pg_cluster, app_db):
    """The application started waiting first, so with equal settings it would be the one the
    deadlock detector rolls back; our session's short deadlock_timeout makes it ours."""
    pg_cluster.execute("CREATE TABLE IF NOT EXISTS give_way_t (k int PRIMARY KEY, v int); "
                       "INSERT INTO give_way_t VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING", app_db)
    app = pg_cluster.connect(app_db, autocommit=False)       # the server's defaults, as an application has
    ours = connection.connect(params(pg_cluster, app_db), autocommit=False)
    try:
        with ours.cursor() as cur:
            cur.execute("SHOW deadlock_timeout")
            assert cur.fetchone()[0] == "%dms" % connection.DEADLOCK_TIMEOUT_MS
            cur.execute("SHOW lock_timeout")
            assert cur.fetchone()[0] == "%dms" % connection.LOCK_TIMEOUT_MS
            # Long enough for the deadlock to form before our session gives up on the lock.
            cur.execute("SET lock_timeout = '5s'")
            cur.execute("UPDATE give_way_t SET v = v + 1 WHERE k = 2")
        with app.cursor() as cur:
            cur.execute("UPDATE give_way_t SET v = v + 1 WHERE k = 1")

        def app_waits():
            with app.cursor() as cur:
                cur.execute("UPDATE give_way_t SET v = v + 1 WHERE k = 2")
            app.commit()
        t, out = in_thread(app_waits)
        wait_for_lock_wait(pg_cluster, app.get_backend_pid())  # the application waits on us ...
        time.sleep(0.3)   # ... and has for a while: with equal settings its deadlock check would fire first
        with pytest.raises(psycopg2.errors.DeadlockDetected):
            with ours.cursor() as cur:
                cur.execute("UPDATE give_way_t SET v = v + 1 WHERE k = 1")
        ours.rollback()
        t.join(10)
        assert "error" not in out, out.get("error")
    finally:
        app.close()
        ours.close()


def test_deadlock_in_propagation_fails_the_writer_not_the_read_model(pg_cluster, app_db):
    """Upstream raises a PostgreSQL ERROR met inside pg_tviews_cascade (reference 2.5): the
    writer's statement fails; it never commits its base row with a stale tv_ row."""
    holder = pg_cluster.connect(app_db, autocommit=False)
    writer = pg_cluster.connect(app_db)
    try:
        post = pg_cluster.execute("SELECT min(pk_post) FROM tb_post WHERE fk_user = 3", app_db)[0][0]
        before = pg_cluster.execute("SELECT name FROM tb_user WHERE pk_user = 3", app_db)[0][0]
        with holder.cursor() as cur:
            cur.execute("SET deadlock_timeout = '10s'")
            cur.execute("SELECT 1 FROM tv_post WHERE pk_post = %s FOR UPDATE", (post,))
        with writer.cursor() as cur:
            cur.execute("SET deadlock_timeout = '200ms'")

        def write():
            with writer.cursor() as cur:
                cur.execute("UPDATE tb_user SET name = 'renamed in a deadlock' WHERE pk_user = 3")
        t, out = in_thread(write)
        wait_for_lock_wait(pg_cluster, writer.get_backend_pid())   # the writer's cascade waits on the tv_post row
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM tb_user WHERE pk_user = 3 FOR UPDATE")   # ... and we wait on its row
        holder.rollback()
        t.join(10)
        assert isinstance(out.get("error"), psycopg2.errors.DeadlockDetected), out
        assert pg_cluster.execute("SELECT name FROM tb_user WHERE pk_user = 3", app_db)[0][0] == before
        conn = pg_cluster.connect(app_db)
        try:
            for r in adapter_for(conn, detect(conn)).records()[0]:
                assert objects.drift(conn, r) == {"only_in_tv": 0, "only_in_view": 0}, r["entity"]
        finally:
            conn.close()
    finally:
        holder.close()
        writer.close()


def test_write_path_test_takes_the_row_with_the_smallest_fan_out(pg_cluster, app_db):
    """User 1 has posts and comments (its rename refreshes 9 other rows); user 21 has none."""
    pg_cluster.execute("INSERT INTO tb_user VALUES (21, md5('user21')::uuid, 'user 21', 'u21@example.com') "
                       "ON CONFLICT DO NOTHING", app_db)
    conn = connection.connect(params(pg_cluster, app_db))
    try:
        records, dummy = adapter_for(conn, detect(conn)).records()
        user = [r for r in records if r["entity"] == "user"][0]
        keys = gates_writepath.candidate_keys(conn, user, records)
        assert keys[0] == (21, 0) and keys[1][1] > 0, keys
        results = dict((r["tview"], r) for r in gates_writepath.run(conn, records))
        assert results["user"]["status"] == "pass" and results["user"]["primary_key"] == 21, results["user"]
        assert "(pk 21, 0 dependent row(s))" in results["user"]["detail"]
    finally:
        conn.close()
