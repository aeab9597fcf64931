"""Shared pieces of the benchmarks (issue 21): the 10-TVIEW dataset, an independent writer and
reader with latency logs, the tv_ = v_ check, the machine description and the result files.

The dataset (``load``): company -> dept -> user -> post -> comment, plus project, tag, post_tag,
like and ``user_profile``, a TVIEW over ``v_user``. ``rows`` is the total of tv_ rows aimed at
(the real total is recorded); base rows are loaded first, then the TVIEWs are created in
dependency order (row-by-row propagation would dominate loading otherwise).

Not a test: nothing here asserts a timing."""

import datetime
import json
import os
import platform
import statistics
import subprocess
import threading
import time

import psycopg2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "results")
STANDIN = os.environ.get("PGTVIEWS_STANDIN_DIR") or os.path.join(REPO, "build", "standin")
QUICK = os.environ.get("PGTVIEWS_BENCH_QUICK") == "1"

# (entity, SELECT) in creation (dependency) order. Names are what pg_tviews_create gets.
TVIEWS = [
    ("company", """SELECT c.pk_company, c.id, jsonb_build_object('id', c.id, 'name', c.name) AS data
  FROM tb_company c"""),
    ("dept", """SELECT d.pk_dept, d.id, d.fk_company, vc.id AS company_id,
       jsonb_build_object('id', d.id, 'name', d.name, 'company', vc.data) AS data
  FROM tb_dept d JOIN v_company vc ON vc.pk_company = d.fk_company"""),
    ("user", """SELECT u.pk_user, u.id, u.fk_dept, vd.id AS dept_id,
       jsonb_build_object('id', u.id, 'name', u.name, 'email', u.email, 'dept', vd.data) AS data
  FROM tb_user u JOIN v_dept vd ON vd.pk_dept = u.fk_dept"""),
    # The TVIEW over v_user (and tb_user, which gives it its triggers).
    ("user_profile", """SELECT u.pk_user AS pk_user_profile, vu.id, u.pk_user AS fk_user,
       jsonb_build_object('id', vu.id, 'display', (vu.data ->> 'name') || ' <' || (vu.data ->> 'email') || '>',
                          'dept', vu.data -> 'dept' -> 'name') AS data
  FROM tb_user u JOIN v_user vu ON vu.pk_user = u.pk_user"""),
    ("project", """SELECT pr.pk_project, pr.id, pr.fk_dept, vd.id AS dept_id,
       jsonb_build_object('id', pr.id, 'name', pr.name, 'dept', vd.data) AS data
  FROM tb_project pr JOIN v_dept vd ON vd.pk_dept = pr.fk_dept"""),
    ("tag", """SELECT t.pk_tag, t.id, jsonb_build_object('id', t.id, 'label', t.label) AS data
  FROM tb_tag t"""),
    ("post", """SELECT p.pk_post, p.id, p.fk_user, vu.id AS user_id,
       jsonb_build_object('id', p.id, 'title', p.title, 'author', vu.data) AS data
  FROM tb_post p JOIN v_user vu ON vu.pk_user = p.fk_user"""),
    ("post_tag", """SELECT pt.pk_post_tag, pt.id, pt.fk_post, pt.fk_tag,
       jsonb_build_object('id', pt.id, 'post', vp.data -> 'title', 'tag', vt.data) AS data
  FROM tb_post_tag pt JOIN v_post vp ON vp.pk_post = pt.fk_post JOIN v_tag vt ON vt.pk_tag = pt.fk_tag"""),
    ("comment", """SELECT c.pk_comment, c.id, c.fk_post, c.fk_user,
       jsonb_build_object('id', c.id, 'body', c.body, 'post', vp.data -> 'title', 'author', vu.data -> 'name') AS data
  FROM tb_comment c JOIN v_post vp ON vp.pk_post = c.fk_post JOIN v_user vu ON vu.pk_user = c.fk_user"""),
    ("like", """SELECT l.pk_like, l.id, l.fk_post, l.fk_user,
       jsonb_build_object('id', l.id, 'post', vp.data -> 'id', 'user', vu.data -> 'name') AS data
  FROM tb_like l JOIN v_post vp ON vp.pk_post = l.fk_post JOIN v_user vu ON vu.pk_user = l.fk_user"""),
]
ENTITIES = [t[0] for t in TVIEWS]

BASE_SQL = """
SET client_min_messages = warning;
CREATE TABLE tb_company (pk_company bigint PRIMARY KEY, id uuid NOT NULL, name text NOT NULL);
CREATE TABLE tb_dept (pk_dept bigint PRIMARY KEY, id uuid NOT NULL, fk_company bigint NOT NULL REFERENCES tb_company,
                      name text NOT NULL);
CREATE TABLE tb_user (pk_user bigint PRIMARY KEY, id uuid NOT NULL, fk_dept bigint NOT NULL REFERENCES tb_dept,
                      name text NOT NULL, email text NOT NULL);
CREATE TABLE tb_project (pk_project bigint PRIMARY KEY, id uuid NOT NULL, fk_dept bigint NOT NULL REFERENCES tb_dept,
                         name text NOT NULL);
CREATE TABLE tb_tag (pk_tag bigint PRIMARY KEY, id uuid NOT NULL, label text NOT NULL);
CREATE TABLE tb_post (pk_post bigint PRIMARY KEY, id uuid NOT NULL, fk_user bigint NOT NULL REFERENCES tb_user,
                      title text NOT NULL);
CREATE TABLE tb_post_tag (pk_post_tag bigint PRIMARY KEY, id uuid NOT NULL, fk_post bigint NOT NULL REFERENCES tb_post,
                          fk_tag bigint NOT NULL REFERENCES tb_tag);
CREATE TABLE tb_comment (pk_comment bigint PRIMARY KEY, id uuid NOT NULL, fk_post bigint NOT NULL REFERENCES tb_post,
                         fk_user bigint NOT NULL REFERENCES tb_user, body text NOT NULL);
CREATE TABLE tb_like (pk_like bigint PRIMARY KEY, id uuid NOT NULL, fk_post bigint NOT NULL REFERENCES tb_post,
                      fk_user bigint NOT NULL REFERENCES tb_user);
INSERT INTO tb_company SELECT g, md5('company' || g)::uuid, 'company ' || g FROM generate_series(1, %(company)s) g;
INSERT INTO tb_dept SELECT g, md5('dept' || g)::uuid, 1 + g %% %(company)s, 'dept ' || g FROM generate_series(1, %(dept)s) g;
INSERT INTO tb_user SELECT g, md5('user' || g)::uuid, 1 + g %% %(dept)s, 'user ' || g, 'user' || g || '@example.com'
  FROM generate_series(1, %(user)s) g;
INSERT INTO tb_project SELECT g, md5('project' || g)::uuid, 1 + g %% %(dept)s, 'project ' || g
  FROM generate_series(1, %(project)s) g;
INSERT INTO tb_tag SELECT g, md5('tag' || g)::uuid, 'tag ' || g FROM generate_series(1, %(tag)s) g;
INSERT INTO tb_post SELECT g, md5('post' || g)::uuid, 1 + g %% %(user)s, 'post ' || g FROM generate_series(1, %(post)s) g;
INSERT INTO tb_post_tag SELECT g, md5('post_tag' || g)::uuid, 1 + g %% %(post)s, 1 + (g * 7) %% %(tag)s
  FROM generate_series(1, %(post_tag)s) g;
INSERT INTO tb_comment SELECT g, md5('comment' || g)::uuid, 1 + g %% %(post)s, 1 + (g * 7) %% %(user)s, 'comment ' || g
  FROM generate_series(1, %(comment)s) g;
INSERT INTO tb_like SELECT g, md5('like' || g)::uuid, 1 + g %% %(post)s, 1 + (g * 13) %% %(user)s
  FROM generate_series(1, %(like)s) g;
"""


def server(prefix):
    """(base directory, started cluster): a private PostgreSQL 15 with the stand-in 0.1.0 installed
    and 0.2.0 beside it, as the install role leaves a server."""
    from tests.harness.pg import Cluster, PgInstall, make_base_dir
    base = make_base_dir(prefix)
    inst = PgInstall.private_copy(os.path.join(base, "pg"))
    inst.install_tarball(os.path.join(STANDIN, "pg_tviews-0.1.0.tar.gz"))
    inst.install_side_by_side(os.path.join(STANDIN, "pg_tviews-v0.2.0-pg15.tar.gz"), "0.2.0")
    return base, Cluster(inst, base).start()


def counts(rows):
    """Base rows per entity for about ``rows`` tv_ rows in total."""
    n = int(rows)
    c = {"company": max(1, n // 10000), "dept": max(2, n // 1000), "user": max(20, n // 20),
         "project": max(5, n // 100), "tag": max(10, n // 100), "post": max(20, n // 5),
         "post_tag": max(10, n // 10), "comment": max(20, n * 35 // 100), "like": max(20, n * 22 // 100)}
    c["user_profile"] = c["user"]
    return c


def load(cluster, db, rows, version=None):
    """Create ``db`` with pg_tviews 0.1 (or ``version``) and the 10-TVIEW dataset; return seconds."""
    t0 = time.monotonic()
    cluster.createdb(db)
    cluster.execute("CREATE EXTENSION pg_tviews" + (" VERSION '%s'" % version if version else ""), db)
    c = counts(rows)
    conn = cluster.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(BASE_SQL % c)
            for entity, select in TVIEWS:
                cur.execute("SELECT pg_tviews_create(%s, %s)", (entity, select))
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    return round(time.monotonic() - t0, 1)


def tv_rows(cluster, db):
    return sum(cluster.execute("SELECT count(*) FROM tv_%s" % e, db)[0][0] for e in ENTITIES)


def view_columns(cur, entity):
    cur.execute("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", ("public.v_" + entity,))
    return cur.fetchone()[0]


def differences(cluster, db):
    """{entity: rows in one and not the other} for every TVIEW, all in one snapshot (only the
    non-zero ones; a TVIEW that is missing counts as None)."""
    conn = cluster.connect(db, autocommit=False)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        out = {}
        with conn.cursor() as cur:
            for e in ENTITIES:
                cur.execute("SAVEPOINT s")
                try:
                    cols = view_columns(cur, e)
                    cur.execute("SELECT (SELECT count(*) FROM (SELECT {c} FROM tv_{e} EXCEPT ALL SELECT {c} FROM v_{e}) a)"
                                " + (SELECT count(*) FROM (SELECT {c} FROM v_{e} EXCEPT ALL SELECT {c} FROM tv_{e}) b)"
                                .format(c=cols, e=e))
                    n = cur.fetchone()[0]
                except psycopg2.Error:
                    cur.execute("ROLLBACK TO SAVEPOINT s")
                    n = None
                if n != 0:
                    out[e] = n
        conn.rollback()
        return out
    finally:
        conn.close()


class Traffic(object):
    """An independent writer (one INSERT into tb_like every 10 ms, on its own connection with the
    server's default settings) and reader (every 20 ms one read from each tv_ table), in threads,
    every statement logged with its start time, latency and error."""

    INTERVAL = 0.010
    READ_INTERVAL = 0.020

    def __init__(self, cluster, db, first_key, users=20, posts=20):
        self.cluster, self.db = cluster, db
        self.key = first_key
        self.users, self.posts = users, posts
        self.writes, self.reads = [], []
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._writer, daemon=True),
                        threading.Thread(target=self._reader, daemon=True)]

    def _connect(self, name):
        conn = self.cluster.connect(self.db, application_name=name)
        return conn

    def _writer(self):
        conn = None
        n = 0
        while not self.stop_flag.is_set():
            started = time.time()
            t0 = time.monotonic()
            key = self.key + n
            n += 1
            try:
                if conn is None or conn.closed:
                    conn = self._connect("bench-writer")
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO tb_like (pk_like, id, fk_post, fk_user) VALUES (%s, md5(%s)::uuid, %s, %s)",
                                (key, "bench-like-%d" % key, 1 + key % self.posts, 1 + key % self.users))
                self.writes.append((started, (time.monotonic() - t0) * 1000, None, key))
            except psycopg2.Error as e:
                self.writes.append((started, (time.monotonic() - t0) * 1000, " ".join(str(e).split())[:200], key))
                if conn is not None and conn.closed:
                    conn = None
            time.sleep(max(0.0, self.INTERVAL - (time.time() - started)))
        if conn is not None:
            conn.close()

    def _reader(self):
        conn = None
        while not self.stop_flag.is_set():
            started = time.time()
            for e in ENTITIES:
                t = time.time()
                t0 = time.monotonic()
                try:
                    if conn is None or conn.closed:
                        conn = self._connect("bench-reader")
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1 FROM tv_%s LIMIT 1" % e)
                        cur.fetchall()
                    self.reads.append((t, (time.monotonic() - t0) * 1000, None, e))
                except psycopg2.Error as ex:
                    self.reads.append((t, (time.monotonic() - t0) * 1000, " ".join(str(ex).split())[:200], e))
                    if conn is not None and conn.closed:
                        conn = None
            time.sleep(max(0.0, self.READ_INTERVAL - (time.time() - started)))
        if conn is not None:
            conn.close()

    def start(self, warmup=0.5):
        for t in self.threads:
            t.start()
        time.sleep(warmup)
        return self

    def stop(self, settle=0.5):
        time.sleep(settle)
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)

    def summary(self, since, until):
        """Writer and reader figures between ``since`` and ``until`` (unix times)."""
        w = [x for x in self.writes if since - 0.05 <= x[0] <= until]
        ok = [x for x in w if x[2] is None]
        errors = [x for x in w if x[2] is not None]
        # Unreadable: per tv_ table, from a failed read to the next successful one.
        unreadable = {}
        failing = {}
        for t, ms, err, e in sorted(self.reads):
            if err is not None:
                failing.setdefault(e, t)
            elif e in failing:
                unreadable[e] = max(unreadable.get(e, 0.0), t - failing.pop(e))
        for e, t in failing.items():
            unreadable[e] = max(unreadable.get(e, 0.0), self.reads[-1][0] - t)
        reads = [x for x in self.reads if since - 0.05 <= x[0] <= until]
        return {
            "writes": len(w), "writer_errors": len(errors),
            "writer_error_sample": sorted(set(x[2] for x in errors))[:3],
            "writer_max_ms": round(max([x[1] for x in w] or [0]), 1),
            "writer_median_ms": round(statistics.median([x[1] for x in ok]), 2) if ok else None,
            "reader_errors": len([x for x in reads if x[2] is not None]),
            "reader_max_ms": round(max([x[1] for x in reads] or [0]), 1),
            "unreadable_ms": round(max(unreadable.values() or [0.0]) * 1000),
            "unreadable_tviews": sorted(unreadable),
        }

    def acked_keys(self):
        return [x[3] for x in self.writes if x[2] is None]


def rows_lost(cluster, db, keys):
    """Acknowledged writes missing from the read model (tv_like)."""
    if not keys:
        return 0
    try:
        found = cluster.execute("SELECT count(*) FROM tv_like WHERE pk_like = ANY(%s)", db, (keys,))[0][0]
    except psycopg2.Error:
        return len(keys)
    return len(keys) - found


def machine():
    info = {"nproc": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor() or None,
            "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/loadavg") as fh:
            info["loadavg_at_start"] = fh.read().split()[:3]
    except OSError:
        pass
    return info


def commit_of_tree():
    try:
        return subprocess.check_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def result_path(name):
    """bench/results/<name>-<UTC time>.json, the time taken now (at the start of a run)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(RESULTS, "%s-%s.json" % (name, stamp))


def write_result(name, doc, out=None):
    """Write ``doc`` (to ``out``, else a new result file); also used for partial results, so that
    a run that dies keeps what it measured."""
    os.makedirs(RESULTS, exist_ok=True)
    doc.setdefault("machine", machine())
    doc.setdefault("commit", commit_of_tree())
    doc.setdefault("quick", QUICK)
    doc.setdefault("env", dict((k, v) for k, v in os.environ.items() if k.startswith("PGTVIEWS_BENCH_")))
    out = out or result_path(name)
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=2)
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
