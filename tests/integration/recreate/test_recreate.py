"""tviews_recreate: after pg_dump/pg_restore, TVIEWs are dead (no metadata rows are dumped,
reference §1.2); the manifest brings them back with the same data and ids."""

import os
import subprocess

from tests.harness.modules import conn_args, run_module
import shutil

from tests.harness.pg import _run_as_owner, make_base_dir
from tests.integration.conftest import load_app
from tests.integration.swap.test_swap import assert_live_and_equal


def _dump_restore(cluster, src, dst):
    workdir = make_base_dir("dump-")
    os.chmod(workdir, 0o777)  # the dump runs as the server's owner
    dump = os.path.join(workdir, "dump")
    env = dict(os.environ, PGHOST=cluster.socket_dir, PGPORT=str(cluster.port), PGUSER=cluster.user)
    subprocess.run(_run_as_owner() + [os.path.join(cluster.install.bindir, "pg_dump"), "-Fd", "-f", dump, src],
                   check=True, env=env, capture_output=True)
    cluster.createdb(dst)
    try:
        subprocess.run(_run_as_owner() + [os.path.join(cluster.install.bindir, "pg_restore"), "-d", dst, dump],
                       check=True, env=env, capture_output=True)
    finally:
        shutil.rmtree(workdir)


def test_restore_then_recreate_from_manifest(pg_cluster, tmp_path):
    os.chmod(tmp_path, 0o777)
    manifest = str(tmp_path / "manifest.json")
    load_app(pg_cluster, "rec_src")
    try:
        assert not run_module("tviews_manifest", conn_args(pg_cluster, "rec_src", state="captured", path=manifest)).get("failed")
        _dump_restore(pg_cluster, "rec_src", "rec_dst")
        # Restored but dead: no metadata, so writes to base tables fail in the old triggers' cascade.
        assert pg_cluster.execute("SELECT count(*) FROM pg_tview_meta", "rec_dst") == [(0,)]

        plan = run_module("tviews_recreate", conn_args(pg_cluster, "rec_dst", manifest=manifest), check_mode=True)
        assert plan["changed"] and plan["recreated"] == []
        assert pg_cluster.execute("SELECT count(*) FROM pg_tview_meta", "rec_dst") == [(0,)]
        rebuilt = [p["tview"] for p in plan["plan"] if p["step"] == "rebuild TVIEW"]
        assert rebuilt.index("user") < rebuilt.index("post") < rebuilt.index("comment")

        res = run_module("tviews_recreate", conn_args(pg_cluster, "rec_dst", manifest=manifest))
        assert not res.get("failed"), res.get("msg")
        assert {r["tview"] for r in res["recreated"]} == {"user", "post", "comment", "Bücher"}
        # Same data, ids, indexes, grants, comments and dependents as the source had.
        ver = run_module("tviews_manifest", conn_args(pg_cluster, "rec_dst", state="verified", path=manifest,
                                                      allow_other_database=True))
        assert not ver.get("failed"), ver.get("msg")
        assert ver["differences"] == []
        assert_live_and_equal(pg_cluster, "rec_dst")

        again = run_module("tviews_recreate", conn_args(pg_cluster, "rec_dst", manifest=manifest))
        assert again["changed"] is False and set(again["skipped"]) == {"user", "post", "comment", "Bücher"}
    finally:
        pg_cluster.dropdb("rec_src")
        pg_cluster.dropdb("rec_dst")
