"""A backup taken while the application writes: the manifest and the dump describe the same
snapshot, so a copy restored from the dump matches the manifest exactly (data included) — what
the rehearsal and a complete rollback check."""

import shutil
import threading
import time

import psycopg2.errors

from tests.harness.modules import conn_args, run_module
from tests.harness.pg import make_base_dir
from tests.integration.conftest import load_app

DB = "Bw app"
SIDE = "Bw app_rehearsal"


def test_restored_copy_matches_the_manifest_while_the_application_writes(pg_cluster):
    load_app(pg_cluster, DB)
    dest = make_base_dir("pgtviews-bw-")
    stop = threading.Event()
    written = []

    def writer(first):
        conn = pg_cluster.connect(DB)
        try:
            n = first
            while not stop.is_set():
                n += 4
                try:
                    write(conn, n)
                except psycopg2.errors.DeadlockDetected:
                    continue   # two writers' cascades met; the application would retry
                written.append(n)
        finally:
            conn.close()

    def write(conn, n):
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tb_post (pk_post, id, fk_user, title) VALUES (%s, md5(%s)::uuid, %s, %s)",
                        (500000 + n, "bw%d" % n, 1 + n % 20, "written during the backup"))
            if n % 10 == 0:   # a cascading write now and then (the stand-in's cascade is slow)
                cur.execute("UPDATE tb_user SET name = %s WHERE pk_user = %s", ("renamed %d" % n, 1 + n % 20))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]   # a commit every few ms
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        res = run_module("tviews_backup", conn_args(pg_cluster, DB, dest=dest, host_label="pg1", target_version="0.2.0",
                                                    pg_bin_dir=pg_cluster.install.bindir))
        assert not res.get("failed"), res.get("msg")
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    try:
        assert len(written) > 20, "the writer hardly ran"
        restored = run_module("tviews_restore", conn_args(
            pg_cluster, "postgres", database=DB, side_database=SIDE, backup_dir=res["directory"],
            manifest=res["manifest"], record=res["record"], pg_bin_dir=pg_cluster.install.bindir))
        assert not restored.get("failed"), restored.get("msg")
        verified = run_module("tviews_manifest", conn_args(pg_cluster, SIDE, state="verified", path=res["manifest"],
                                                           allow_other_database=True))
        assert not verified.get("failed"), verified.get("msg")
        assert verified["differences"] == [], verified["differences"]
        # ... and the live database has moved on since: the rows written after the snapshot.
        live = pg_cluster.execute("SELECT count(*) FROM tb_post", DB)[0][0]
        copy = pg_cluster.execute("SELECT count(*) FROM tb_post", SIDE)[0][0]
        assert live > copy
    finally:
        pg_cluster.dropdb(SIDE)
        pg_cluster.dropdb(DB)
        shutil.rmtree(dest, ignore_errors=True)
