"""The application, for the live-traffic test: a writer and a reader, each its own process with
its own connection and the server's default settings (as an application has), one statement
about every 10 ms, every statement logged with its latency.

The writer cycles through: INSERT a post, INSERT a comment, UPDATE a user's name (cascades into
tv_user, tv_post and tv_comment), DELETE the oldest comment (a leaf row). The reader reads tv_post and tv_user. Both log one JSON line per statement:
{"t": unix time, "op", "key", "value", "ms": latency, "error": text or null}.

A pause file makes them close their connections, write an acknowledgement file and wait until
the pause file is gone (the "stop the application" hook of a complete rollback); a stop file
ends them. Usage: python traffic.py writer|reader DSN LOG CONTROL_DIR
"""

import json
import os
import sys
import time

import psycopg2

INTERVAL = 0.010
FIRST_POST = 1000000
FIRST_COMMENT = 2000000
# Users the writer renames, each with one post and one comment (setup_sql): a rename cascades into
# tv_user, tv_post and tv_comment without the stand-in's per-row cost dominating the latency.
LIVE_USERS = list(range(1001, 1011))


def setup_sql():
    """Rows the writer needs, loaded before it starts (deterministic ids)."""
    return """
INSERT INTO tb_user SELECT g, md5('user' || g)::uuid, 'user ' || g, 'user' || g || '@example.com'
  FROM generate_series(%(lo)d, %(hi)d) g;
INSERT INTO tb_post SELECT g, md5('post' || g)::uuid, g, 'post of user ' || g FROM generate_series(%(lo)d, %(hi)d) g;
INSERT INTO tb_comment SELECT g, md5('comment' || g)::uuid, g, g, 'comment of user ' || g
  FROM generate_series(%(lo)d, %(hi)d) g;
""" % {"lo": LIVE_USERS[0], "hi": LIVE_USERS[-1]}


def _log(fh, **event):
    fh.write(json.dumps(event) + "\n")
    fh.flush()


def _paused(control, role):
    pause = os.path.join(control, "pause")
    if not os.path.exists(pause):
        return False
    ack = os.path.join(control, "paused-" + role)
    with open(ack, "w") as fh:
        fh.write(str(os.getpid()))
    while os.path.exists(pause) and not os.path.exists(os.path.join(control, "stop")):
        time.sleep(0.02)
    os.unlink(ack)
    return True


def writer_statements(conn, counter):
    """(op, key, value, sql, params) of the next write, or None."""
    n = counter
    kind = n % 4
    if kind == 0:
        pk = FIRST_POST + n
        user = 1 + n % 20
        return ("insert_post", pk, user,
                "INSERT INTO tb_post (pk_post, id, fk_user, title) VALUES (%s, md5(%s)::uuid, %s, %s)",
                (pk, "live-post-%d" % pk, user, "live post %d" % pk))
    if kind == 1:
        pk = FIRST_COMMENT + n
        return ("insert_comment", pk, None,
                "INSERT INTO tb_comment (pk_comment, id, fk_post, fk_user, body) VALUES (%s, md5(%s)::uuid, %s, %s, %s)",
                (pk, "live-comment-%d" % pk, 1 + n % 60, 1 + n % 20, "live comment %d" % pk))
    if kind == 2:
        user = LIVE_USERS[(n // 4) % len(LIVE_USERS)]
        name = "user %d renamed %d" % (user, n)
        return ("rename_user", user, name, "UPDATE tb_user SET name = %s WHERE pk_user = %s", (name, user))
    # Delete the oldest comment (a leaf: nothing else reads tv_comment), not the live users' own.
    with conn.cursor() as cur:
        cur.execute("SELECT min(pk_comment) FROM tb_comment WHERE pk_comment <> ALL(%s)", (LIVE_USERS,))
        pk = cur.fetchone()[0]
    if pk is None:
        return None
    return ("delete_comment", pk, None, "DELETE FROM tb_comment WHERE pk_comment = %s", (pk,))


def reader_statements(conn, counter):
    if counter % 2:
        return ("read_posts", None, None, "SELECT count(*), max(pk_post) FROM tv_post", None)
    user = 1 + counter % 20
    return ("read_user", user, None, "SELECT data->>'name' FROM tv_user WHERE pk_user = %s", (user,))


def run(role, dsn, log_path, control):
    make = writer_statements if role == "writer" else reader_statements
    counter = 0
    conn = None
    with open(log_path, "a") as fh:
        while not os.path.exists(os.path.join(control, "stop")):
            if _paused(control, role):
                if conn is not None:
                    conn.close()
                    conn = None
                continue
            if conn is None or conn.closed:
                try:
                    conn = psycopg2.connect(dsn, application_name="live-" + role)
                    conn.autocommit = True
                except psycopg2.Error as e:
                    _log(fh, t=time.time(), op="connect", key=None, value=None, ms=None, error=" ".join(str(e).split()))
                    conn = None
                    time.sleep(0.2)
                    continue
            started = time.time()
            op = None
            try:
                stmt = make(conn, counter)
                if stmt is None:
                    counter += 1
                    continue
                op, key, value, query, params = stmt
                t0 = time.monotonic()
                with conn.cursor() as cur:
                    cur.execute(query, params)
                    if cur.description:
                        cur.fetchall()
                ms = (time.monotonic() - t0) * 1000
                _log(fh, t=started, op=op, key=key, value=value, ms=round(ms, 2), error=None)
            except psycopg2.Error as e:
                # The key of a failed write is logged: a statement cut off by a lost connection
                # may have committed, and the checks treat that key as in doubt.
                _log(fh, t=started, op=op or "prepare", key=key if op else None, value=value if op else None,
                     ms=None, error=" ".join(str(e).split()) or e.__class__.__name__)
                if conn.closed:
                    conn = None
            counter += 1
            time.sleep(max(0.0, INTERVAL - (time.time() - started)))
    if conn is not None:
        conn.close()


if __name__ == "__main__":
    run(*sys.argv[1:5])
