"""Benchmark: the runbook's procedure done literally in psql against our swap, with the
application writing (issue 21).

Per size, the 10-TVIEW dataset (bench/common.py) is loaded once on 0.1 into a template; each run
gets a fresh copy of it and, with the independent writer (one INSERT into tb_like every 10 ms)
and reader (every tv_ table every 20 ms) going, runs:

- ``swap``: tviews_swap 0.1 -> 0.2 adopting, committed (on its own copy);
- ``runbook``: the runbook's Phase 2 as a psql script (``psql -f``, one transaction per statement
  as psql runs them): Step 4 ``ALTER EXTENSION pg_tviews UPDATE TO '0.2.0'`` (fails, as the
  runbook expects), Step 5 ``DROP EXTENSION pg_tviews; CREATE EXTENSION pg_tviews VERSION '0.2.0'``,
  Step 6 the TVIEWs recreated. Step 6 as printed cannot run (it reads ``pg_tviews_metadata`` after
  the drop and converts tables named ``source_table_<entity>``; reference §5.2), so it is done the
  faithful way §5.2 names: each tv_ table and v_ view dropped (dependents first), then
  ``pg_tviews_create(entity, definition)`` in dependency order, with the definitions read from
  ``pg_tview_meta`` before the drop (what a DBA must have saved; not timed).

Measured: the procedure's duration, the writer's worst latency and its errors, acknowledged writes
missing from tv_like afterwards (rows lost from the read model), how long a tv_ table was
unreadable, and the time from the start until every tv_ equals its v_: checked right after the
procedure; when it does not hold, Step 7's refresh (``pg_tviews_refresh`` of every TVIEW through
the 0.2 API) is what a DBA would run, and the time is the procedure's plus the refresh's
(``repaired_by_refresh``; the checks themselves are not counted).

Writes bench/results/runbook-<timestamp>.json. Not a test: nothing here asserts a timing.
PGTVIEWS_BENCH_QUICK=1: 10k and 100k tv_ rows, one run each. PGTVIEWS_BENCH_SIZES and
PGTVIEWS_BENCH_REPEAT override."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import common  # noqa: E402
from bench.swap_window import Keys  # noqa: E402
from tests.harness.modules import conn_args, run_module  # noqa: E402

QUICK = common.QUICK
SIZES = [int(x) for x in os.environ.get("PGTVIEWS_BENCH_SIZES", "10000,100000" if QUICK else "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("PGTVIEWS_BENCH_REPEAT", "1" if QUICK else "3"))


def dollar(text):
    tag = "$def$"
    assert tag not in text
    return tag + text + tag


def runbook_script(definitions):
    """Phase 2 of the runbook (Steps 4-6) as one psql script."""
    lines = ["-- Step 4: Extension Update (this will fail due to breaking changes)",
             "\\set ON_ERROR_STOP 0",
             "ALTER EXTENSION pg_tviews UPDATE TO '0.2.0';",
             "\\set ON_ERROR_STOP 1",
             "-- Step 5: Handle Breaking Changes",
             "DROP EXTENSION pg_tviews;",
             "CREATE EXTENSION pg_tviews VERSION '0.2.0';",
             "SELECT pg_tviews_version();",
             "-- Step 6: TVIEW Recreation (the faithful form of reference 5.2: drop, then create in dependency order)"]
    for entity in reversed(common.ENTITIES):
        lines.append("DROP TABLE IF EXISTS public.tv_%s;" % entity)
        lines.append("DROP VIEW IF EXISTS public.v_%s;" % entity)
    for entity in common.ENTITIES:
        lines.append("SELECT pg_tviews_create('%s', %s);" % (entity, dollar(definitions[entity])))
    return "\n".join(lines) + "\n"


def psql(cluster, db, path):
    args = [os.path.join(cluster.install.bindir, "psql"), "-X", "-q", "-h", cluster.socket_dir, "-p", str(cluster.port),
            "-U", cluster.user, "-d", db, "-f", path]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def run_runbook(cluster, db, size, definitions, script_path):
    with open(script_path, "w") as fh:
        fh.write(runbook_script(definitions))
    os.chmod(script_path, 0o644)
    traffic = common.Traffic(cluster, db, Keys.take()).start()
    t0 = time.time()
    try:
        proc = psql(cluster, db, script_path)
    finally:
        t1 = time.time()
        traffic.stop()
    row = {"rows": size, "kind": "runbook", "elapsed_ms": round((t1 - t0) * 1000, 1), "psql_rc": proc.returncode,
           "psql_errors": [" ".join(line.split())[:200] for line in proc.stderr.splitlines() if "ERROR" in line]}
    row.update(traffic.summary(t0, t1))
    row["rows_lost"] = common.rows_lost(cluster, db, traffic.acked_keys())
    # tv_ = v_ right after the procedure? (the checks themselves are not counted)
    diff = common.differences(cluster, db)
    row["differences"] = diff
    row["consistent_after_s"] = round(row["elapsed_ms"] / 1000, 2) if not diff else None
    row["repaired_by_refresh"] = False
    if diff:
        # Step 7's refresh, through the 0.2 API, of every TVIEW: what brings tv_ back to v_. The
        # time to consistency is the procedure plus this refresh.
        t = time.monotonic()
        conn = cluster.connect(db)
        try:
            with conn.cursor() as cur:
                for entity in common.ENTITIES:
                    cur.execute("SELECT pg_tviews_refresh(tview_name => %s)", ("public.tv_" + entity,))
        finally:
            conn.close()
        row["refresh_s"] = round(time.monotonic() - t, 2)
        row["repaired_by_refresh"] = True
        after = common.differences(cluster, db)
        row["differences_after_refresh"] = after
        row["consistent_after_s"] = None if after else round(row["elapsed_ms"] / 1000 + row["refresh_s"], 2)
        row["rows_lost_after_refresh"] = common.rows_lost(cluster, db, traffic.acked_keys())
    print("%8d rows  runbook  %8.1f s  writer max %8.1f ms  errors %d  lost %d  unreadable %.1f s  consistent after %s s%s" % (
        size, row["elapsed_ms"] / 1000, row["writer_max_ms"], row["writer_errors"], row["rows_lost"],
        row["unreadable_ms"] / 1000.0, row["consistent_after_s"], " (after a refresh)" if row["repaired_by_refresh"] else ""),
        flush=True)
    return row


def run_swap(cluster, db, size):
    traffic = common.Traffic(cluster, db, Keys.take()).start()
    t0 = time.time()
    try:
        res = run_module("tviews_swap", conn_args(cluster, db, version="0.2.0", tview_mode="adopt"))
    finally:
        t1 = time.time()
        traffic.stop()
    if res.get("failed"):
        raise SystemExit("%s: %s" % (db, res["msg"]))
    row = {"rows": size, "kind": "swap", "elapsed_ms": round((t1 - t0) * 1000, 1), "window_ms": res["window_ms"],
           "content_check_ms": res.get("content_check_ms")}
    row.update(traffic.summary(t0, t1))
    row["rows_lost"] = common.rows_lost(cluster, db, traffic.acked_keys())
    diff = common.differences(cluster, db)
    row["differences"] = diff
    row["consistent_after_s"] = None if diff else round((row["elapsed_ms"] - (res.get("content_check_ms") or 0)) / 1000, 2)
    print("%8d rows  swap     %8.1f s  writer max %8.1f ms  errors %d  lost %d  window %.1f ms" % (
        size, row["elapsed_ms"] / 1000, row["writer_max_ms"], row["writer_errors"], row["rows_lost"], row["window_ms"]),
        flush=True)
    return row


def main():
    base, cluster = common.server("bench-runbook-")
    results, loads = [], []
    started = time.time()
    out = common.result_path("runbook")
    machine = common.machine()
    try:
        for size in SIZES:
            template = "tmpl_%d" % size
            load_s = common.load(cluster, template, size)
            loads.append({"rows": size, "tv_rows": common.tv_rows(cluster, template), "load_s": load_s})
            print("%8d rows  loaded in %.1f s" % (size, load_s), flush=True)
            definitions = dict(cluster.execute("SELECT entity, definition FROM pg_tview_meta", template))
            for i in range(REPEAT):
                for kind in ("swap", "runbook"):
                    db = "%s_%d_%d" % (kind, size, i)
                    t = time.monotonic()
                    cluster.createdb(db, template=template)
                    copy_s = round(time.monotonic() - t, 1)
                    if kind == "swap":
                        results.append(run_swap(cluster, db, size))
                    else:
                        results.append(run_runbook(cluster, db, size, definitions, os.path.join(base, "runbook-%s.sql" % db)))
                    results[-1]["copy_s"] = copy_s
                    cluster.dropdb(db)
            cluster.dropdb(template)
            partial = {"bench": "runbook", "partial": True, "machine": machine, "loads": loads, "results": results}
            common.write_result("runbook", partial, out)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    med = []
    for size in SIZES:
        for kind in ("swap", "runbook"):
            rows = [r for r in results if r["rows"] == size and r["kind"] == kind]
            m = {"rows": size, "kind": kind, "runs": len(rows)}
            for f in ("elapsed_ms", "window_ms", "writer_max_ms", "writer_errors", "rows_lost", "unreadable_ms",
                      "consistent_after_s", "reader_errors"):
                m[f] = common.median([r.get(f) for r in rows])
            m["repaired_by_refresh"] = any(r.get("repaired_by_refresh") for r in rows)
            med.append(m)
    doc = {"bench": "runbook", "server": "PostgreSQL %s, stand-in pg_tviews 0.1.0 -> 0.2.0" % cluster.install.major,
           "dataset": "10 TVIEWs (bench/common.py)", "sizes": SIZES, "repeat": REPEAT,
           "seconds": round(time.time() - started), "loads": loads, "medians": med, "results": results}
    doc["machine"] = machine
    common.write_result("runbook", doc, out)
    print("\n| rows | what | duration s | writer worst ms | writer errors | rows lost | tv_ unreadable s | tv_ = v_ after s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for m in med:
        print("| %d | %s | %.2f | %.0f | %d | %d | %.1f | %s%s |" % (
            m["rows"], m["kind"], m["elapsed_ms"] / 1000, m["writer_max_ms"], m["writer_errors"], m["rows_lost"],
            m["unreadable_ms"] / 1000, m["consistent_after_s"], " (refresh)" if m["repaired_by_refresh"] else ""))
    print("\nresults: %s (%d s)" % (out, doc["seconds"]))


if __name__ == "__main__":
    main()
