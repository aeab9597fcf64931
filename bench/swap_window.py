"""Benchmark: the write-blocked window of the one-transaction swap, by data size.

Builds a throwaway cluster with stand-in 0.1.0 and 0.2.0 side by side, loads the app schema
scaled to N posts, and measures tviews_swap with rehearse (the real transaction, rolled back)
in adopt and rebuild modes. Writes bench/results/swap_window-<timestamp>.json. Not a test:
nothing here asserts a timing."""

import datetime
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.harness.modules import conn_args, run_module  # noqa: E402
from tests.harness.pg import Cluster, PgInstall, make_base_dir  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN = os.path.join(REPO, "build", "standin")
SIZES = [int(x) for x in os.environ.get("PGTVIEWS_BENCH_SIZES", "1000,10000,50000").split(",")]
REPEAT = int(os.environ.get("PGTVIEWS_BENCH_REPEAT", "3"))


def main():
    base = make_base_dir("bench-")
    inst = PgInstall.private_copy(os.path.join(base, "pg"))
    inst.install_tarball(os.path.join(STANDIN, "pg_tviews-0.1.0.tar.gz"))
    inst.install_side_by_side(os.path.join(STANDIN, "pg_tviews-v0.2.0-pg15.tar.gz"), "0.2.0")
    cluster = Cluster(inst, base).start()
    results = []
    try:
        for size in SIZES:
            db = "bench_%d" % size
            cluster.createdb(db)
            cluster.execute("CREATE EXTENSION pg_tviews", db)
            # Base rows first, TVIEWs after: row-by-row propagation would dominate loading.
            cluster.execute("CREATE TABLE tb_user (pk_user bigint PRIMARY KEY, id uuid NOT NULL, name text)", db)
            cluster.execute("CREATE TABLE tb_post (pk_post bigint PRIMARY KEY, id uuid NOT NULL, "
                            "fk_user bigint REFERENCES tb_user, title text)", db)
            cluster.execute("INSERT INTO tb_user SELECT g, md5('u'||g)::uuid, 'user '||g FROM generate_series(1, %s) g",
                            db, (max(size // 10, 1),))
            cluster.execute("INSERT INTO tb_post SELECT g, md5('p'||g)::uuid, 1 + g %% %s, 'post '||g "
                            "FROM generate_series(1, %s) g", db, (max(size // 10, 1), size))
            cluster.execute("SELECT pg_tviews_create('user', 'SELECT pk_user, id, jsonb_build_object(''name'', name) AS data "
                            "FROM tb_user')", db)
            cluster.execute("SELECT pg_tviews_create('post', 'SELECT p.pk_post, p.id, p.fk_user, "
                            "jsonb_build_object(''title'', p.title, ''author'', vu.data) AS data "
                            "FROM tb_post p JOIN v_user vu ON vu.pk_user = p.fk_user')", db)
            for mode in ("adopt", "rebuild"):
                for i in range(REPEAT):
                    res = run_module("tviews_swap", conn_args(cluster, db, version="0.2.0", tview_mode=mode, rehearse=True))
                    if res.get("failed"):
                        raise SystemExit(res["msg"])
                    results.append({"posts": size, "mode": mode, "run": i + 1, "window_ms": res["window_ms"],
                                    "lock_wait_ms": res["lock_wait_ms"], "statements_ms": res["statements_ms"]})
                    print("%7d posts  %-7s run %d  window %8.1f ms" % (size, mode, i + 1, res["window_ms"]))
            cluster.dropdb(db)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    out = os.path.join(REPO, "bench", "results", "swap_window-%s.json"
                       % datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ"))
    with open(out, "w") as fh:
        json.dump({"server": "PostgreSQL %s, stand-in pg_tviews 0.1.0 -> 0.2.0" % inst.major, "nproc": os.cpu_count(),
                   "results": results}, fh, indent=2)
    print("results: %s" % out)


if __name__ == "__main__":
    main()
