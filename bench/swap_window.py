"""Benchmark: the write-blocked window of the one-transaction swap, by data size (issue 21).

Builds a throwaway cluster with stand-in 0.1.0 and 0.2.0 side by side, loads users and posts
(two TVIEWs, N posts, N/10 users) and measures, per size, in the same run:

- ``floor``: the bare SQL of an adopt (BEGIN, the same locks, DROP/CREATE EXTENSION, one convert
  per TVIEW, ROLLBACK) through psycopg2, nothing else: what no adopt can beat;
- ``adopt``: tviews_swap 0.1 -> 0.2 adopting, rehearsed (the real transaction, rolled back);
- ``adopt_commit``: the same, committed (plus its content check after COMMIT, outside the window);
- ``rollback_register``: tviews_swap 0.2 -> 0.1 registering the kept tables from the manifest;
- ``rollback_rebuild``: tviews_swap 0.2 -> 0.1 rebuilding every TVIEW (the fallback).

Writes bench/results/swap_window-<timestamp>.json and prints the table of docs/performance.md.
Not a test: nothing here asserts a timing. PGTVIEWS_BENCH_QUICK=1: 10k and 100k posts, one
rebuild, two repeats (a few minutes). PGTVIEWS_BENCH_SIZES (e.g. 10000,100000,1000000) and
PGTVIEWS_BENCH_REPEAT override."""

import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.harness.modules import conn_args, run_module  # noqa: E402
from tests.harness.pg import Cluster, PgInstall, make_base_dir  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN = os.environ.get("PGTVIEWS_STANDIN_DIR") or os.path.join(REPO, "build", "standin")
QUICK = os.environ.get("PGTVIEWS_BENCH_QUICK") == "1"
SIZES = [int(x) for x in os.environ.get("PGTVIEWS_BENCH_SIZES", "10000,100000" if QUICK else "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("PGTVIEWS_BENCH_REPEAT", "2" if QUICK else "3"))


def swap(cluster, db, **kw):
    res = run_module("tviews_swap", conn_args(cluster, db, **kw))
    if res.get("failed"):
        raise SystemExit("%s: %s" % (db, res["msg"]))
    return res


def load(cluster, db, size):
    cluster.createdb(db)
    cluster.execute("CREATE EXTENSION pg_tviews", db)
    # Base rows first, TVIEWs after: row-by-row propagation would dominate loading.
    cluster.execute("CREATE TABLE tb_user (pk_user bigint PRIMARY KEY, id uuid NOT NULL, name text)", db)
    cluster.execute("CREATE TABLE tb_post (pk_post bigint PRIMARY KEY, id uuid NOT NULL, "
                    "fk_user bigint REFERENCES tb_user, title text)", db)
    users = max(size // 10, 1)
    cluster.execute("INSERT INTO tb_user SELECT g, md5('u'||g)::uuid, 'user '||g FROM generate_series(1, %s) g", db, (users,))
    cluster.execute("INSERT INTO tb_post SELECT g, md5('p'||g)::uuid, 1 + g %% %s, 'post '||g "
                    "FROM generate_series(1, %s) g", db, (users, size))
    cluster.execute("SELECT pg_tviews_create('user', 'SELECT pk_user, id, jsonb_build_object(''name'', name) AS data "
                    "FROM tb_user')", db)
    cluster.execute("SELECT pg_tviews_create('post', 'SELECT p.pk_post, p.id, p.fk_user, "
                    "jsonb_build_object(''title'', p.title, ''author'', vu.data) AS data "
                    "FROM tb_post p JOIN v_user vu ON vu.pk_user = p.fk_user')", db)
    cluster.execute("VACUUM ANALYZE", db)


def floor_ms(cluster, db):
    """The bare SQL of an adopt, rolled back: locks, DROP/CREATE EXTENSION, the converts."""
    conn = cluster.connect(db, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'trg_tview_%'")
            triggers = cur.fetchall()
            conn.rollback()
            t0 = time.monotonic()
            for table in ("tb_post", "tb_user", "tv_post", "tv_user"):
                cur.execute("LOCK TABLE %s IN EXCLUSIVE MODE" % table)
            for table in ("tb_post", "tb_user"):
                cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % table)
            for name, table in triggers:
                cur.execute('DROP TRIGGER "%s" ON %s' % (name, table))
            cur.execute("DROP FUNCTION IF EXISTS public.tview_trigger_handler()")
            cur.execute("DROP EXTENSION pg_tviews")
            cur.execute("CREATE EXTENSION pg_tviews WITH SCHEMA public VERSION '0.2.0'")
            for table in ("public.tv_user", "public.tv_post"):
                cur.execute("SELECT pg_tviews_convert_existing_table(%s)", (table,))
            conn.rollback()
            return round((time.monotonic() - t0) * 1000, 1)
    finally:
        conn.close()


def main():
    base = make_base_dir("bench-")
    inst = PgInstall.private_copy(os.path.join(base, "pg"))
    inst.install_tarball(os.path.join(STANDIN, "pg_tviews-0.1.0.tar.gz"))
    inst.install_side_by_side(os.path.join(STANDIN, "pg_tviews-v0.2.0-pg15.tar.gz"), "0.2.0")
    cluster = Cluster(inst, base).start()
    results = []

    def record(size, kind, res=None, **extra):
        row = {"posts": size, "kind": kind}
        if res is not None:
            row.update(window_ms=res["window_ms"], lock_wait_ms=res["lock_wait_ms"], statements_ms=res["statements_ms"],
                       mode=res.get("mode"), content_check_ms=res.get("content_check_ms"))
        row.update(extra)
        results.append(row)
        print("%8d posts  %-18s window %9.1f ms" % (size, kind, row["window_ms"]), flush=True)

    started = time.time()
    try:
        for size in SIZES:
            db = "bench_%d" % size
            load(cluster, db, size)
            # The manifest of the 0.1 catalog, stored in the database: what the rollback registers from.
            run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=os.path.join(base, db + ".json")))
            for i in range(REPEAT):
                record(size, "floor", window_ms=floor_ms(cluster, db))
                record(size, "adopt", swap(cluster, db, version="0.2.0", tview_mode="adopt", rehearse=True))
            for i in range(REPEAT):
                record(size, "adopt_commit", swap(cluster, db, version="0.2.0", tview_mode="adopt"))
                res = swap(cluster, db, version="0.1.0", tview_mode="auto")
                assert res["mode"] == "register", res["mode_reason"]
                record(size, "rollback_register", res)
            for i in range(1 if QUICK else REPEAT):
                swap(cluster, db, version="0.2.0", tview_mode="adopt")
                record(size, "rollback_rebuild", swap(cluster, db, version="0.1.0", tview_mode="rebuild"))
            cluster.dropdb(db)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    med = {}
    for r in results:
        med.setdefault((r["posts"], r["kind"]), []).append(r["window_ms"])
    med = dict((k, statistics.median(v)) for k, v in med.items())
    doc = {"server": "PostgreSQL %s, stand-in pg_tviews 0.1.0 <-> 0.2.0" % inst.major,
           "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor() or None},
           "quick": QUICK, "repeat": REPEAT, "seconds": round(time.time() - started),
           "median_window_ms": [{"posts": k[0], "kind": k[1], "window_ms": v} for k, v in sorted(med.items())],
           "results": results}
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    out = os.path.join(REPO, "bench", "results", "swap_window-%s.json" % stamp)
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=2)
    small = min(SIZES)
    print("\n| posts | adopt / adopt at %d | adopt - floor (ms) | register / adopt | rebuild / adopt "
          "| floor ms | adopt ms | register ms | rebuild ms |" % small)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        a, f = med[(size, "adopt")], med[(size, "floor")]
        reg, reb = med[(size, "rollback_register")], med[(size, "rollback_rebuild")]
        print("| %d | %.2f | %+.0f | %.2f | %.1f | %.0f | %.0f | %.0f | %.0f |" % (
            size, a / med[(small, "adopt")], a - f, reg / a, reb / a, f, a, reg, reb))
    print("\nresults: %s (%d s)" % (out, doc["seconds"]))


if __name__ == "__main__":
    main()
