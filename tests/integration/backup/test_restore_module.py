"""tviews_restore (the complete rollback) against a real server: a verified backup is restored
beside the database, its TVIEWs recreated and checked against the manifest, and switched in by
renaming. Then the inputs that must stop it before anything changes (a missing dump, a tampered
backup, a backup of another database, a version the server lacks, clashing names) and the
failures that must leave no half-built copy behind (pg_restore failing, recreated TVIEWs
that do not match the manifest)."""

import json
import os
import shutil

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.host import sealed

from tests.harness.modules import conn_args, run_module
from tests.harness.pg import make_base_dir
from tests.integration.conftest import load_app

DB = "Rs app"
SIDE = "Rs app_rollback"


@pytest.fixture(scope="module")
def backup(pg_cluster):
    """The app database and one verified backup of it (dump, manifest, record)."""
    load_app(pg_cluster, DB)
    dest = make_base_dir("pgtviews-restore-")
    res = run_module("tviews_backup", conn_args(pg_cluster, DB, dest=dest, host_label="pg1", target_version="0.2.0",
                                                pg_bin_dir=pg_cluster.install.bindir))
    assert not res.get("failed"), res.get("msg")
    yield res
    shutil.rmtree(dest, ignore_errors=True)


@pytest.fixture
def copy_of(backup):
    """A private copy of the backup directory, with its record rewritten to point into it."""
    made = []

    def make():
        root = make_base_dir("pgtviews-restore-copy-")
        made.append(root)
        d = os.path.join(root, "bk")
        shutil.copytree(backup["directory"], d)
        old = backup["directory"]
        record_path = os.path.join(d, os.path.relpath(backup["record"], old))
        with open(record_path) as fh:
            text = fh.read()
        # The record names absolute paths: point them at the copy and seal it again, as the
        # backup module would have written it there.
        write_record(record_path, json.loads(text.replace(json.dumps(old)[1:-1], json.dumps(d)[1:-1])))
        return dict(directory=d, record=record_path, manifest=os.path.join(d, os.path.relpath(backup["manifest"], old)))

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


def write_record(path, doc):
    doc = {k: v for k, v in doc.items() if k != "digest"}
    with open(path, "w") as fh:
        fh.write(sealed.dumps(backup_record.seal(doc)))


def restore(cluster, bk, check_mode=False, **kw):
    args = conn_args(cluster, "postgres", database=DB, backup_dir=bk["directory"], manifest=bk["manifest"],
                     record=bk["record"], pg_bin_dir=cluster.install.bindir)
    args.update(kw)
    return run_module("tviews_restore", args, check_mode=check_mode)


def databases(cluster):
    return sorted(r[0] for r in cluster.execute("SELECT datname FROM pg_database WHERE NOT datistemplate"))


def rows(cluster, db, table):
    # id and data only: a recreated TVIEW's own timestamps are new
    return cluster.execute("SELECT id, data FROM %s ORDER BY id" % table, db)


@pytest.fixture
def no_side(pg_cluster):
    yield
    for name in databases(pg_cluster):
        if name.startswith("Rs app") and name != DB:
            pg_cluster.dropdb(name)


def test_restore_beside_then_switch(pg_cluster, backup, no_side):
    before = databases(pg_cluster)
    res = restore(pg_cluster, backup, check_mode=True)
    assert res["changed"] is True and res["restored"] is False, res
    assert databases(pg_cluster) == before, "check mode created a database"

    res = restore(pg_cluster, backup)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["restored"] is True and res["switched"] is False
    assert res["side_database"] == SIDE
    assert len(res["recreated"]) == pg_cluster.execute("SELECT count(*) FROM pg_tview_meta", DB)[0][0] == 4
    assert all(r["rows"] > 0 for r in res["recreated"]), res["recreated"]
    for table in ("public.tv_user", "public.tv_post", "public.tv_comment", '"Sales Dept"."tv_Bücher"'):
        assert rows(pg_cluster, SIDE, table) == rows(pg_cluster, DB, table), table
    assert pg_cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", SIDE)[0][0] == "0.1.0"

    res = restore(pg_cluster, backup)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False and res["restored"] is False, "a second run restored again"

    marker = pg_cluster.execute("SELECT oid FROM pg_database WHERE datname = %s", params=(SIDE,))[0][0]
    res = restore(pg_cluster, backup, switch=True, failed_name="Rs app_failed")
    assert not res.get("failed"), res.get("msg")
    assert res["switched"] is True
    assert pg_cluster.execute("SELECT oid FROM pg_database WHERE datname = %s", params=(DB,))[0][0] == marker
    assert {"Rs app_failed", DB} <= set(databases(pg_cluster)) and SIDE not in databases(pg_cluster)
    assert pg_cluster.execute("SELECT bool_and(datallowconn) FROM pg_database WHERE datname IN (%s, %s)",
                              params=(DB, "Rs app_failed"))[0][0] is True

    res = restore(pg_cluster, backup, switch=True, failed_name="Rs app_failed")
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False and res["switched"] is False, "a second switch ran"
    res = restore(pg_cluster, backup, failed_name="Rs app_failed")  # the restore step of a resumed rollback
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False and SIDE not in databases(pg_cluster), "restored again after the switch"
    # the restored database's TVIEWs are live: a write to a base table propagates
    pg_cluster.execute("UPDATE public.tb_user SET name = 'restored' WHERE pk_user = 1", DB)
    assert pg_cluster.execute("SELECT data->>'name' FROM public.tv_user WHERE pk_user = 1", DB)[0][0] == "restored"
    assert pg_cluster.execute("SELECT count(*) FROM public.tv_post WHERE fk_user = 1 AND data->'author'->>'name' = 'restored'",
                              DB)[0][0] > 0
    # Put the original back for the other tests (the switch is reversible by renaming).
    pg_cluster.execute('ALTER DATABASE "Rs app" RENAME TO "Rs app_rollback"')
    pg_cluster.execute('ALTER DATABASE "Rs app_failed" RENAME TO "Rs app"')


def refused(res, *words):
    assert res.get("failed"), res
    for w in words:
        assert w in res["msg"], res["msg"]
    assert res["changed"] is False


def test_edited_record_is_refused(pg_cluster, copy_of, no_side):
    bk = copy_of()
    with open(bk["record"]) as fh:
        record = json.load(fh)
    record["extension"]["extversion"] = "0.0.1"  # edited by hand, digest left as it was
    with open(bk["record"], "w") as fh:
        json.dump(record, fh)
    before = databases(pg_cluster)
    refused(restore(pg_cluster, bk), "was modified after it was written")
    assert databases(pg_cluster) == before


def test_missing_dump_is_refused_before_anything(pg_cluster, copy_of, no_side):
    bk = copy_of()
    shutil.rmtree(os.path.join(bk["directory"], "dump"))
    before = databases(pg_cluster)
    for check_mode in (True, False):
        refused(restore(pg_cluster, bk, check_mode=check_mode, record=None), "no toc.dat")
    assert databases(pg_cluster) == before


def test_tampered_backup_is_refused(pg_cluster, copy_of, no_side):
    bk = copy_of()
    with open(os.path.join(bk["directory"], "dump", "toc.dat"), "r+b") as fh:
        fh.seek(40)
        byte = fh.read(1)
        fh.seek(40)
        fh.write(bytes([byte[0] ^ 0xFF]))
    before = databases(pg_cluster)
    refused(restore(pg_cluster, bk), "cannot be trusted", "toc.dat changed since the backup")
    assert databases(pg_cluster) == before


def test_record_of_another_database_is_refused(pg_cluster, copy_of, no_side):
    bk = copy_of()
    with open(bk["record"]) as fh:
        record = json.load(fh)
    record["database"] = "someone else"
    write_record(bk["record"], record)
    refused(restore(pg_cluster, bk), "record", "of database someone else, not Rs app")


def test_manifest_of_another_database_is_refused(pg_cluster, backup, no_side):
    before = databases(pg_cluster)
    refused(restore(pg_cluster, backup, database="other"), "manifest", "is of database Rs app, not other")
    assert databases(pg_cluster) == before


def test_missing_version_is_refused(pg_cluster, backup, no_side):
    before = databases(pg_cluster)
    refused(restore(pg_cluster, backup, version="0.9.9"), "pg_tviews 0.9.9 is not installed")
    assert databases(pg_cluster) == before


@pytest.mark.parametrize("names", [dict(side_database=DB), dict(switch=True, failed_name=DB),
                                   dict(switch=True, side_database="x", failed_name="x")])
def test_clashing_names_are_refused(pg_cluster, backup, no_side, names):
    before = databases(pg_cluster)
    refused(restore(pg_cluster, backup, **names), "three different names")
    refused(restore(pg_cluster, backup, state="absent", **names), "three different names")
    assert databases(pg_cluster) == before


def test_existing_side_copy_that_differs_is_left_and_reported(pg_cluster, backup, no_side):
    pg_cluster.createdb(SIDE)  # left from an earlier attempt: pg_tviews, no data
    pg_cluster.execute("CREATE EXTENSION pg_tviews", SIDE)
    res = restore(pg_cluster, backup, switch=True, failed_name="Rs app_failed")
    refused(res, "differs from the manifest", "state=absent drops it")
    assert SIDE in databases(pg_cluster), "the side copy was dropped"
    assert "Rs app_failed" not in databases(pg_cluster), "switched to a copy that failed verification"

    res = restore(pg_cluster, backup, state="absent", check_mode=True)
    assert res["changed"] is True and SIDE in databases(pg_cluster)
    res = restore(pg_cluster, backup, state="absent")
    assert res["changed"] is True and SIDE not in databases(pg_cluster)
    res = restore(pg_cluster, backup, state="absent")
    assert res["changed"] is False


@pytest.fixture
def wrapped_pg_restore(pg_cluster):
    """A bin directory whose pg_restore lists with the real one and runs ``body`` (sh) for the
    restore itself; ``$real`` is the real pg_restore and ``$db`` the target database."""
    made = []

    def make(body):
        bindir = os.path.join(make_base_dir("pgtviews-restore-bin-"), "bin")
        made.append(os.path.dirname(bindir))
        os.makedirs(bindir)
        with open(os.path.join(bindir, "pg_restore"), "w") as fh:
            fh.write('#!/bin/sh\nreal=%s\nbin=%s\n'
                     'case " $* " in *" --list "*) exec "$real" "$@";; esac\n'
                     'db=; prev=; for a in "$@"; do [ "$prev" = --dbname ] && db=$a; prev=$a; done\n%s\n'
                     % (os.path.join(pg_cluster.install.bindir, "pg_restore"), pg_cluster.install.bindir, body))
        os.chmod(os.path.join(bindir, "pg_restore"), 0o755)
        return bindir

    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


def test_failed_pg_restore_leaves_no_half_built_copy(pg_cluster, backup, no_side, wrapped_pg_restore):
    # fails partway, as on a full disk or a lost connection
    bindir = wrapped_pg_restore('echo "pg_restore: error: could not write to the server" >&2\nexit 1')
    before = databases(pg_cluster)
    refused(restore(pg_cluster, backup, pg_bin_dir=bindir), "pg_restore into Rs app_rollback failed", "could not write")
    assert databases(pg_cluster) == before, "a half-restored side database was left behind"
    # the next run, with a working pg_restore, starts clean
    res = restore(pg_cluster, backup)
    assert not res.get("failed"), res.get("msg")
    assert res["restored"] is True


def test_failed_recreate_leaves_no_half_built_copy(pg_cluster, backup, no_side, wrapped_pg_restore):
    # pg_restore succeeds, but the data it restored lacks a row the manifest counted, so the
    # TVIEWs recreated from it would not match: the copy is dropped, never switched in
    bindir = wrapped_pg_restore('"$real" "$@" || exit $?\n'
                                '"$bin/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" '
                                '-c "DELETE FROM tb_comment WHERE id IN (SELECT id FROM tb_comment ORDER BY id LIMIT 1)"')
    before = databases(pg_cluster)
    res = restore(pg_cluster, backup, pg_bin_dir=bindir, switch=True, failed_name="Rs app_failed")
    refused(res, "rows, the manifest has")
    assert databases(pg_cluster) == before, "the side copy whose TVIEWs failed verification was left behind"
    res = restore(pg_cluster, backup)
    assert not res.get("failed"), res.get("msg")
    assert res["restored"] is True


def test_switch_refused_when_failed_name_taken(pg_cluster, backup, no_side):
    res = restore(pg_cluster, backup)
    assert not res.get("failed"), res.get("msg")
    pg_cluster.createdb("Rs app_failed")
    res = restore(pg_cluster, backup, switch=True, failed_name="Rs app_failed")
    refused(res, "database Rs app_failed already exists")
    assert pg_cluster.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", params=(DB,))[0][0] is True
    assert SIDE in databases(pg_cluster) and DB in databases(pg_cluster)
