"""Benchmark: the write-blocked window of the one-transaction swap, by data size (issue 21).

Builds a throwaway cluster with stand-in 0.1.0 and 0.2.0 side by side, loads the 10-TVIEW dataset
(bench/common.py: company -> dept -> user -> post -> comment, project, tag, post_tag, like and a
TVIEW over v_user; base rows first) at each size and measures, per size, in the same run, each
with an independent writer (one INSERT every 10 ms) and reader (every tv_ table every 20 ms):

- ``floor``: the bare SQL of an adopt (BEGIN, the same locks, DROP/CREATE EXTENSION, one convert
  per TVIEW, ROLLBACK) through psycopg2, nothing else: what no adopt can beat;
- ``adopt``: tviews_swap 0.1 -> 0.2 adopting, rehearsed (the real transaction, rolled back);
- ``adopt_commit``: the same, committed (plus its content check after COMMIT, outside the window);
- ``rollback_register``: the immediate rollback, tviews_swap 0.2 -> 0.1 in auto mode (registers the
  kept tables from the manifest);
- ``rebuild``: tviews_swap 0.1 -> 0.2 rebuilding every TVIEW;
- ``rollback_rebuild``: tviews_swap 0.2 -> 0.1 rebuilding every TVIEW (the fallback);
- both again with ``prebuild`` off (``rebuild_locked``, ``rollback_rebuild_locked``): every table rebuilt under
  the locks. With prebuild on (the default) each table is built before the locks and moved in when nothing it
  reads changed since; the writer's likes make tv_like (and what reads tb_like) rebuild under the locks.

Per measurement: the module's window_ms, the writer's worst latency and errors, the reader's
errors and how long a tv_ table was unreadable, acknowledged writes missing from tv_like, and
whether every tv_ equals its v_ afterwards (checked independently, once per size and kind).

Writes bench/results/swap_window-<timestamp>.json. Not a test: nothing here asserts a timing.
PGTVIEWS_BENCH_QUICK=1: 10k and 100k tv_ rows, one run of each kind.
PGTVIEWS_BENCH_SIZES (e.g. 10000,100000,1000000) and PGTVIEWS_BENCH_REPEAT override."""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import common  # noqa: E402
from tests.harness.modules import conn_args, run_module  # noqa: E402

QUICK = common.QUICK
SIZES = [int(x) for x in os.environ.get("PGTVIEWS_BENCH_SIZES", "10000,100000" if QUICK else "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("PGTVIEWS_BENCH_REPEAT", "1" if QUICK else "3"))
REBUILD_REPEAT = 1 if QUICK else REPEAT
KINDS = ("floor", "adopt", "adopt_commit", "rollback_register", "rebuild", "rollback_rebuild", "rebuild_locked",
         "rollback_rebuild_locked")


def swap(cluster, db, **kw):
    res = run_module("tviews_swap", conn_args(cluster, db, **kw))
    if res.get("failed"):
        raise SystemExit("%s: %s" % (db, res["msg"]))
    return res


def floor_ms(cluster, db):
    """The bare SQL of an adopt, rolled back: locks, DROP/CREATE EXTENSION, the converts."""
    conn = cluster.connect(db, autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'trg_tview_%'")
            triggers = cur.fetchall()
            cur.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'trg_tview_%'")
            bases = sorted(r[0] for r in cur.fetchall())
            conn.rollback()
            t0 = time.monotonic()
            for table in bases + ["tv_%s" % e for e in common.ENTITIES]:
                cur.execute("LOCK TABLE %s IN EXCLUSIVE MODE" % table)
            for table in bases:
                cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % table)
            for name, table in triggers:
                cur.execute('DROP TRIGGER "%s" ON %s' % (name, table))
            cur.execute("DROP FUNCTION IF EXISTS public.tview_trigger_handler()")
            cur.execute("DROP EXTENSION pg_tviews")
            cur.execute("CREATE EXTENSION pg_tviews WITH SCHEMA public VERSION '0.2.0'")
            for e in common.ENTITIES:
                cur.execute("SELECT pg_tviews_convert_existing_table(%s)", ("public.tv_%s" % e,))
            conn.rollback()
            return round((time.monotonic() - t0) * 1000, 1)
    finally:
        conn.close()


class Keys(object):
    """Writer keys never reused within a run (each measurement writes new likes)."""
    next = 1000000000

    @classmethod
    def take(cls):
        cls.next += 1000000
        return cls.next


def measure(cluster, db, size, kind, op, check):
    """Run ``op`` with the writer and reader going; return the row of the result."""
    traffic = common.Traffic(cluster, db, Keys.take()).start()
    t0 = time.time()
    try:
        out = op()
    finally:
        t1 = time.time()
        traffic.stop()
    row = {"rows": size, "kind": kind, "elapsed_ms": round((t1 - t0) * 1000, 1)}
    if isinstance(out, dict):
        row.update(window_ms=out["window_ms"], lock_wait_ms=out.get("lock_wait_ms"), statements_ms=out.get("statements_ms"),
                   mode=out.get("mode"), mode_reason=out.get("mode_reason"), content_check_ms=out.get("content_check_ms"))
        # Every TVIEW is consistent at COMMIT (one transaction): the module's return minus its
        # content check after COMMIT.
        row["consistent_after_ms"] = round(row["elapsed_ms"] - (out.get("content_check_ms") or 0), 1)
        pre = out.get("prebuilt")
        if pre:
            row["prebuilt"] = {"moved_in": len(pre["moved_in"]), "rebuilt_under_locks": sorted(pre["rebuilt_under_locks"]),
                               "not_built": sorted(pre["not_built"]), "build_ms": pre["build_ms"], "check_ms": pre["check_ms"]}
    else:
        row["window_ms"] = out
    row.update(traffic.summary(t0, t1))
    row["rows_lost"] = common.rows_lost(cluster, db, traffic.acked_keys())
    if check:
        t = time.monotonic()
        diff = common.differences(cluster, db)
        row["tv_equals_v"] = not diff
        row["differences"] = diff
        row["check_s"] = round(time.monotonic() - t, 1)
        if diff:
            row["consistent_after_ms"] = None
    print("%8d rows  %-18s window %9.1f ms  writer max %7.1f ms  errors %d  lost %d%s" % (
        size, kind, row["window_ms"], row["writer_max_ms"], row["writer_errors"], row["rows_lost"],
        ("  tv_=v_ %s" % row["tv_equals_v"]) if check else ""), flush=True)
    return row


def main():
    base, cluster = common.server("bench-")
    results, loads = [], []
    started = time.time()
    out = common.result_path("swap_window")
    machine = common.machine()
    try:
        for size in SIZES:
            db = "bench_%d" % size
            load_s = common.load(cluster, db, size)
            loads.append({"rows": size, "tv_rows": common.tv_rows(cluster, db), "load_s": load_s,
                          "db_size": cluster.execute("SELECT pg_size_pretty(pg_database_size(%s))", params=(db,))[0][0]})
            print("%8d rows  loaded in %.1f s (%s)" % (size, load_s, loads[-1]["db_size"]), flush=True)
            # The manifest of the 0.1 catalog, stored in the database: what the rollback registers from.
            run_module("tviews_manifest", conn_args(cluster, db, state="captured", path=os.path.join(base, db + ".json")))
            checked = set()

            def run(kind, op, changes=True):
                check = changes and kind not in checked
                checked.add(kind)
                results.append(measure(cluster, db, size, kind, op, check))
                return results[-1]

            for i in range(REPEAT):
                run("floor", lambda: floor_ms(cluster, db), changes=False)
                run("adopt", lambda: swap(cluster, db, version="0.2.0", tview_mode="adopt", rehearse=True), changes=False)
            for i in range(REPEAT):
                run("adopt_commit", lambda: swap(cluster, db, version="0.2.0", tview_mode="adopt"))
                row = run("rollback_register", lambda: swap(cluster, db, version="0.1.0", tview_mode="auto"))
                assert row["mode"] == "register", row["mode_reason"]
            for i in range(REBUILD_REPEAT):
                # The tables built before the locks (prebuild, the default), then all rebuilt under them.
                run("rebuild", lambda: swap(cluster, db, version="0.2.0", tview_mode="rebuild"))
                run("rollback_rebuild", lambda: swap(cluster, db, version="0.1.0", tview_mode="rebuild"))
                run("rebuild_locked", lambda: swap(cluster, db, version="0.2.0", tview_mode="rebuild", prebuild=False))
                run("rollback_rebuild_locked", lambda: swap(cluster, db, version="0.1.0", tview_mode="rebuild", prebuild=False))
            cluster.dropdb(db)
            partial = {"bench": "swap_window", "partial": True, "machine": machine, "loads": loads, "results": results}
            common.write_result("swap_window", partial, out)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    med = {}
    for size in SIZES:
        for kind in KINDS:
            rows = [r for r in results if r["rows"] == size and r["kind"] == kind]
            if not rows:
                continue
            m = {"rows": size, "kind": kind, "runs": len(rows)}
            for f in ("window_ms", "writer_max_ms", "reader_max_ms", "elapsed_ms", "consistent_after_ms", "unreadable_ms"):
                m[f] = common.median([r.get(f) for r in rows])
            for f in ("writer_errors", "reader_errors", "rows_lost"):
                m[f] = max(r[f] for r in rows)
            m["tv_equals_v"] = all(r.get("tv_equals_v", True) for r in rows)
            pre = [r["prebuilt"] for r in rows if r.get("prebuilt")]
            if pre:
                m["prebuild_ms"] = common.median([p["build_ms"] for p in pre])
                m["prebuild_check_ms"] = common.median([p["check_ms"] for p in pre])
                m["moved_in"] = common.median([p["moved_in"] for p in pre])
                m["rebuilt_under_locks"] = sorted(set(t for p in pre for t in p["rebuilt_under_locks"]))
            med[(size, kind)] = m
    doc = {"bench": "swap_window", "server": "PostgreSQL %s, stand-in pg_tviews 0.1.0 <-> 0.2.0" % cluster.install.major,
           "dataset": "10 TVIEWs (bench/common.py)", "sizes": SIZES, "repeat": REPEAT, "rebuild_repeat": REBUILD_REPEAT,
           "seconds": round(time.time() - started), "loads": loads,
           "medians": list(med.values()), "results": results}
    doc["machine"] = machine
    common.write_result("swap_window", doc, out)
    small = min(SIZES)
    print("\n| rows | adopt / adopt at %d | adopt - floor (ms) | register / adopt | rebuild / adopt "
          "| floor ms | adopt ms | register ms | rebuild ms | rollback rebuild ms |" % small)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        w = dict((k, med[(size, k)]["window_ms"]) for k in KINDS)
        a = w["adopt"]
        print("| %d | %.2f | %+.0f | %.2f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            size, a / med[(small, "adopt")]["window_ms"], a - w["floor"], w["rollback_register"] / a, w["rebuild"] / a,
            w["floor"], a, w["rollback_register"], w["rebuild"], w["rollback_rebuild"]))
    print("\nresults: %s (%d s)" % (out, doc["seconds"]))


if __name__ == "__main__":
    main()
