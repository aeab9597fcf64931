"""tviews_backup against a real server with stand-in pg_tviews 0.1.0 and the app schema (four
TVIEWs, one in schema "Sales Dept" with non-ASCII names), in a database whose own name needs
quoting everywhere: dump, verify, test restore, manifest, CSV, record, reuse, retention, check
mode, progress, and the failures that must stop it (full disk before and during the dump, an
unwritable destination, a failing or too old pg_dump) without a record or a false success."""

import csv
import glob
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as manifest
from ansible_collections.pgtviews.ops.plugins.module_utils.backup.layout import safe_name
from tests.harness.modules import conn_args, run_module
from tests.harness.pg import SUPERUSER_PASSWORD, make_base_dir
from tests.integration.backup.helpers import (
    all_files, failing_bin_dir, fake_bin_dir, mode, read_only_dir, slow_bin_dir, tiny_tmpfs)
from tests.integration.conftest import load_app

DB = 'Bk "App" Ä db'
TABLES = ['"Sales Dept"."tb_Bücher"', '"Sales Dept"."tv_Bücher"', "pgtviews_ops.manifests", "public.tb_comment",
          "public.tb_post", "public.tb_user", "public.tv_comment", "public.tv_post", "public.tv_user"]


@pytest.fixture(scope="module")
def app(pg_cluster):
    load_app(pg_cluster, DB)
    return DB


@pytest.fixture
def dest():
    d = make_base_dir("pgtviews-bk-dest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def backup(cluster, dest, db=DB, check_mode=False, **kw):
    args = conn_args(cluster, db, dest=dest, host_label="pg1", target_version="0.2.0", pg_bin_dir=cluster.install.bindir)
    args.update(kw)
    return run_module("tviews_backup", args, check_mode=check_mode)


def ok(res):
    assert not res.get("failed"), res.get("msg")
    return res


def count(cluster, db, table):
    return cluster.execute("SELECT count(*) FROM %s" % table, db)[0][0]


def scratch_databases(cluster):
    return cluster.execute("SELECT datname FROM pg_database WHERE datname LIKE 'pgtviews_verify_%'")


def backup_dirs(root):
    return sorted(glob.glob(os.path.join(root, "*", "*", "2*")))


def test_backup_verified_and_test_restored(pg_cluster, app, dest):
    pg_cluster.createdb("pgtviews_verify_left_0000")  # left by a killed run: reported, not touched
    try:
        res = ok(backup(pg_cluster, dest, test_restore=True, jobs=2, compress=6))
        assert scratch_databases(pg_cluster) == [("pgtviews_verify_left_0000",)]
    finally:
        pg_cluster.dropdb("pgtviews_verify_left_0000")
    assert "interrupted test restore: pgtviews_verify_left_0000;" in json.dumps(res.get("warnings")), res.get("warnings")
    assert res["changed"] is True and res["reused"] is False
    d = res["directory"]
    assert os.path.dirname(d) == os.path.join(dest, "pg1", safe_name(DB))
    # Directories 0700, every file 0600, all owned by the user that ran the dump.
    for p in [os.path.join(dest, "pg1"), os.path.dirname(d)] + list(all_files(d)):
        assert mode(p) == (0o700 if os.path.isdir(p) else 0o600), p
        assert os.lstat(p).st_uid == os.geteuid()
    assert sorted(os.listdir(d)) == ["backup.json", "dump", "manifest.json", "tview_metadata_before.csv"]

    record = backup_record.load(res["record"])
    assert record["database"] == DB and record["target_version"] == "0.2.0" and record["host"] == "pg1"
    assert record["extension"]["extversion"] == "0.1.0" and record["extension"]["library_version"] == "0.1.0-beta.8"
    assert record["tools"]["pg_dump"]["path"] == os.path.join(pg_cluster.install.bindir, "pg_dump")
    assert record["dump"]["bytes"] == res["bytes"] > 0 and record["dump"]["jobs"] == 2 and record["dump"]["compress"] == 6
    assert record["manifest"]["sha256"] == backup_record.sha256_file(res["manifest"])
    assert backup_record.problems(record) == []
    assert set(record["durations"]) == {"manifest", "dump", "verify", "test_restore", "total"}
    man = manifest.load_file(res["manifest"])
    assert man["database"] == DB and {t["entity"] for t in man["tviews"]} == {"user", "post", "comment", "Bücher"}
    assert record["manifest"]["digest"] == man["digest"]
    assert res["state_data"]["manifest"] == res["manifest"] and res["state_data"]["path"] == d

    # The test restore compared every table with the source's counts at the dump's snapshot.
    restore = record["verification"]["test_restore"]
    assert restore["performed"] and restore["mismatches"] == []
    compared = dict((c["table"], c["rows"]) for c in restore["compared"])
    assert sorted(compared) == TABLES
    for table, rows in compared.items():
        # This backup's own manifest is stored after the snapshot the dump and the manifest share.
        later = 1 if table == "pgtviews_ops.manifests" else 0
        assert rows == count(pg_cluster, DB, table) - later, table
    assert compared["public.tb_comment"] == 120 and compared['"Sales Dept"."tv_Bücher"'] == 5
    assert "public.pg_tview_meta" in [n["table"] for n in restore["not_compared"]]
    assert record["verification"]["list"]["checked"] >= 4 * 3 + 4 * 2
    assert scratch_databases(pg_cluster) == []

    rows = list(csv.DictReader(open(res["csv"], encoding="utf-8")))
    assert [r["entity_name"] for r in rows] == ["Bücher", "comment", "post", "user"]
    assert {r["version_before"] for r in rows} == {"0.1.0-beta.8"} and {r["last_refreshed"] for r in rows} == {""}
    assert "pg_tviews_create" not in rows[2]["definition"] and "tb_post" in rows[2]["definition"]

    # No secret anywhere: files, result.
    for p in all_files(d):
        if os.path.isfile(p):
            assert SUPERUSER_PASSWORD.encode() not in open(p, "rb").read(), p
    assert SUPERUSER_PASSWORD not in json.dumps(res)

    # Independent of the module's own claims: the dump restores with the same row counts.
    env = dict(os.environ, PGPASSWORD=SUPERUSER_PASSWORD)
    listing = subprocess.run([os.path.join(pg_cluster.install.bindir, "pg_restore"), "--list", res["dump"]],
                             capture_output=True, text=True, check=True).stdout
    assert " TABLE DATA Sales Dept tv_Bücher " in listing and " TABLE DATA public tv_comment " in listing
    pg_cluster.createdb("bk_restored")
    try:
        subprocess.run([os.path.join(pg_cluster.install.bindir, "pg_restore"), "--exit-on-error", "-h", pg_cluster.host,
                        "-p", str(pg_cluster.port), "-U", pg_cluster.user, "-d", "bk_restored", res["dump"]],
                       env=env, check=True, capture_output=True)
        for table in TABLES:
            assert count(pg_cluster, "bk_restored", table) == compared[table], table
    finally:
        pg_cluster.dropdb("bk_restored")


def test_reuse_force_tamper_and_retention(pg_cluster, app, dest):
    first = ok(backup(pg_cluster, dest))
    assert first["changed"] and first["verification"]["test_restore"] == {"performed": False}
    # The same backup stands for a re-run: nothing dumped.
    again = ok(backup(pg_cluster, dest, reuse=[first["record"]]))
    assert again["changed"] is False and again["reused"] is True and again["directory"] == first["directory"]
    # Asking for more verification than it had: a new backup, in its own directory.
    stronger = ok(backup(pg_cluster, dest, reuse=[first["record"]], test_restore=True))
    assert stronger["changed"] and not stronger["reused"] and stronger["directory"] != first["directory"]
    assert "not test-restored" in stronger["reuse_rejected"][0]["reason"]
    # Forced twice in a row: each gets its own directory.
    forced = [ok(backup(pg_cluster, dest, reuse=[first["record"]], force=True)) for dummy in range(2)]
    dirs = {first["directory"], stronger["directory"]} | {f["directory"] for f in forced}
    assert len(dirs) == 4 and backup_dirs(dest) == sorted(dirs)
    # A changed manifest: the record no longer stands.
    with open(first["manifest"], "a") as fh:
        fh.write(" ")
    tampered = ok(backup(pg_cluster, dest, reuse=[first["record"]]))
    assert tampered["changed"] and "manifest" in tampered["reuse_rejected"][0]["reason"]
    assert "changed since the backup" in tampered["reuse_rejected"][0]["reason"]
    # Retention: keep 2, but never the protected one (the backup the migration depends on).
    last = ok(backup(pg_cluster, dest, keep=2, protect=[first["directory"]], force=True))
    assert backup_dirs(dest) == sorted([first["directory"], tampered["directory"], last["directory"]])
    assert sorted(last["removed"]) == sorted([stronger["directory"]] + [f["directory"] for f in forced])


def test_check_mode_writes_nothing(pg_cluster, app, dest):
    stored = count(pg_cluster, DB, "pgtviews_ops.manifests")
    res = ok(backup(pg_cluster, dest, check_mode=True, test_restore=True, pg_bin_dir=None, space_factor=1.5))
    assert res["changed"] is True and res["directory"].startswith(os.path.join(dest, "pg1") + "/")
    assert os.listdir(dest) == []
    assert count(pg_cluster, DB, "pgtviews_ops.manifests") == stored
    assert res["tools"]["pg_dump"]["major"] >= 15
    space = res["space"]["destination"]
    assert space["database_size"] == res["database_size"] > 0 and space["needed"] >= int(1.5 * res["database_size"])
    assert res["command"][0].endswith("/pg_dump") and "--format=directory" in res["command"]
    assert SUPERUSER_PASSWORD not in json.dumps(res["command"])


def test_progress_while_dumping(pg_cluster, app, dest, tmp_path):
    progress = os.path.join(dest, ".progress", "p.json")
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                seen.append(json.load(open(progress)))
            except (IOError, ValueError):
                pass
            time.sleep(0.1)

    t = threading.Thread(target=watch)
    t.start()
    try:
        res = ok(backup(pg_cluster, dest, pg_bin_dir=slow_bin_dir(str(tmp_path), pg_cluster.install.bindir, 3),
                        progress_file=progress))
    finally:
        done.set()
        t.join()
    dumping = [s for s in seen if s["phase"] == "dump" and s["bytes"] > 0]
    assert dumping, [(s["phase"], s["bytes"]) for s in seen]
    assert dumping[-1]["directory"] == res["directory"] and dumping[-1]["bytes"] <= res["bytes"]
    assert not os.path.exists(progress)


# --- failures: a clear one-line message, no record, no half-written backup left ---------------


def assert_failed_cleanly(res, root, *fragments):
    assert res.get("failed") is True and res.get("changed") is False, res
    assert "\n" not in res["msg"]
    for f in fragments:
        assert f in res["msg"], res["msg"]
    assert SUPERUSER_PASSWORD not in json.dumps(res)
    if os.path.isdir(root):
        assert backup_dirs(root) == []
        assert [p for p in all_files(root) if p.endswith("backup.json") or p.endswith(".dat")] == []


def test_full_disk_refused_before_starting(pg_cluster, app):
    with tiny_tmpfs() as fs:
        res = backup(pg_cluster, os.path.join(fs, "backups"), space_factor=1.0)
        assert_failed_cleanly(res, fs, "not enough space for the backup in %s: need " % fs, "(1.0 x database size ")
        assert os.listdir(fs) == []


def test_disk_full_during_the_dump(pg_cluster):
    db = load_app(pg_cluster, "bk_big")
    try:
        pg_cluster.execute("CREATE TABLE big AS SELECT g, md5(g::text) || md5((g * 7)::text) AS t "
                           "FROM generate_series(1, 40000) g", db)
        with tiny_tmpfs() as fs:
            res = backup(pg_cluster, fs, db=db, compress=0, space_factor=0.01, test_restore=True)
            assert_failed_cleanly(res, fs, "backup of database bk_big failed: pg_dump failed (exit 1)",
                                  "No space left on device", "no record was written and")
            st = os.statvfs(fs)
            assert st.f_bavail * st.f_frsize > 500 * 1024  # the partial dump was removed
        assert scratch_databases(pg_cluster) == []
    finally:
        pg_cluster.dropdb(db)


def test_unwritable_destination(pg_cluster, app, dest):
    with read_only_dir() as ro:
        res = backup(pg_cluster, os.path.join(ro, "backups"))
        assert_failed_cleanly(res, ro, "cannot create backup directory %s/backups: Read-only file system" % ro)
    blocker = os.path.join(dest, "not-a-dir")
    open(blocker, "w").close()
    res = backup(pg_cluster, blocker)
    assert_failed_cleanly(res, dest, "dest %s is a file, not a directory: point dest (tviews_backup_root) at a "
                                     "directory" % blocker)
    res = backup(pg_cluster, os.path.join(blocker, "below"))
    assert_failed_cleanly(res, dest, "is under %s, a file, not a directory" % blocker)


def test_failing_pg_dump(pg_cluster, app, dest, tmp_path):
    log = str(tmp_path / "pg_dump.log")
    res = backup(pg_cluster, dest, pg_bin_dir=failing_bin_dir(str(tmp_path), pg_cluster.install.bindir, log))
    assert_failed_cleanly(res, dest, "failed: pg_dump failed (exit 1): pg_dump: error: query failed: server closed the "
                                     "connection unexpectedly", "no record was written and")
    calls = open(log).read().splitlines()
    assert "PGPASSWORD=%s" % SUPERUSER_PASSWORD in calls
    assert not any(SUPERUSER_PASSWORD in c for c in calls if c.startswith("ARG "))
    assert any(c.startswith("ARG --snapshot=") for c in calls)


def test_too_old_pg_dump(pg_cluster, app, dest, tmp_path):
    old = fake_bin_dir(str(tmp_path), pg_cluster.install.bindir, "exit 0", version="14.11")
    res = backup(pg_cluster, dest, pg_bin_dir=old)
    assert_failed_cleanly(res, dest, "pg_dump 14.11 at %s/pg_dump is older than the server (PostgreSQL 15)" % old)
    assert os.listdir(dest) == []
