"""The collection as a user meets it: the built tarball installed offline into a fresh collections
path, an inventory written from docs/operator-guide.md in a project directory of its own (a relative
artifact path, no report directory set), and preflight -> migrate --check -> migrate -> rollback run
from there with only that collections path. Nothing is written inside the installed collection."""

import glob
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.harness.fleet import Fleet, recap
from tests.harness.modules import REPO
from tests.harness.pg import make_base_dir

BIN = os.path.dirname(sys.executable)


def tree(root):
    """Every path under ``root`` with its size and mtime (Python's own bytecode caches aside: the
    interpreter writes those for any package it imports from a writable directory)."""
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime)
    return out


@pytest.fixture
def project(standin_build):
    root = make_base_dir("installed-")
    fleet = Fleet(os.path.join(root, "fleet"), os.path.dirname(standin_build["0.2.0"]["artifact"]), names=("db1",)).up()
    home = os.path.join(root, "home")
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("ANSIBLE_")]:
        del env[key]
    env.update({"ANSIBLE_HOME": os.path.join(home, ".ansible"), "ANSIBLE_NOCOLOR": "1",
                "PWD": os.path.join(root, "project"),   # as a shell sets it in the project directory
                "PATH": BIN + os.pathsep + env["PATH"]})
    # Build and install, as README "Install" says.
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                    os.path.join(root, "dist"), REPO], check=True, capture_output=True, env=env)
    (tarball,) = glob.glob(os.path.join(root, "dist", "pgtviews-ops-*.tar.gz"))
    collections = os.path.join(root, "collections")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", collections,
                    tarball], check=True, capture_output=True, env=env)
    env["ANSIBLE_COLLECTIONS_PATH"] = collections
    # The user's project: the operator guide's inventory, the artifact in files/ next to it.
    proj = os.path.join(root, "project")
    os.makedirs(os.path.join(proj, "files"))
    shutil.copy(os.path.join(fleet.standin_dir, "pg_tviews-v0.2.0-pg15.tar.gz"), os.path.join(proj, "files"))
    host = fleet.host_vars("db1")
    inventory = {"all": {
        "vars": {
            "tviews_version": "0.2.0",
            "tviews_install_method": "artifact",
            "tviews_install_src": "files/pg_tviews-v0.2.0-pg15.tar.gz",      # relative, as in the guide
            "tviews_pg_config": host["tviews_pg_config"],
        },
        "children": {"tviews_standbys": {"hosts": {}}, "tviews_primaries": {"hosts": {"db1": dict(
            (k, host[k]) for k in ("ansible_connection", "ansible_python_interpreter", "tviews_connection",
                                   "tviews_state_file", "tviews_install_stash_dir", "tviews_install_receipt_dir",
                                   "tviews_install_work_dir", "tviews_backup_root", "tviews_backup_pg_bin_dir",
                                   "tviews_rollback_pg_bin_dir", "tviews_swap_manifest_dir"))}}},
    }}
    with open(os.path.join(proj, "inventory.yml"), "w") as fh:
        yaml.safe_dump(inventory, fh)
    installed = os.path.join(collections, "ansible_collections", "pgtviews", "ops")
    yield {"fleet": fleet, "dir": proj, "env": env, "installed": installed}
    fleet.down()
    shutil.rmtree(root, ignore_errors=True)


def play(project, name, *args):
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "inventory.yml", "pgtviews.ops." + name] + list(args)
    return subprocess.run(cmd, cwd=project["dir"], env=project["env"], capture_output=True, text=True, check=False)


def test_the_installed_collection_from_a_project_of_its_own(project):
    before = tree(project["installed"])
    cluster = project["fleet"].cluster("db1")

    pre = play(project, "preflight")
    assert pre.returncode == 0, pre.stdout[-4000:] + pre.stderr[-2000:]
    assert recap(pre.stdout)["db1"]["changed"] == 0, pre.stdout[-3000:]
    assert "the install phase adds it" in pre.stdout

    check = play(project, "migrate", "--check")
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
    # The plan reads as the SQL that would run, numbered, whole; skipped phases say so.
    assert "app: would run, from 0.1.0 to 0.2.0, in one transaction:" in check.stdout
    for line in ('" 1. BEGIN;"', 'DROP EXTENSION \\"pg_tviews\\";', "IN ACCESS EXCLUSIVE MODE;", "COMMIT;\""):
        assert line in check.stdout, line
    assert "Check mode: the rehearsal is not run" in check.stdout
    assert "Check mode: validation is not run" in check.stdout
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0] == "0.1.0"

    run = play(project, "migrate")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "app: 0.1.0 → 0.2.0, adopted 4 TVIEW(s), writes waited " in run.stdout
    assert "{'pass'" not in run.stdout and "({'" not in run.stdout      # no Python reprs
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0] == "0.2.0"
    # The report is in the user's project, where they ran the playbook.
    assert glob.glob(os.path.join(project["dir"], "tviews-reports", "*", "summary.html"))
    assert os.path.isfile(os.path.join(project["dir"], "tviews-reports", "fleet", "summary.md"))

    back = play(project, "rollback", "-e", "tviews_target_hosts=all")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0] == "0.1.0"

    after = tree(project["installed"])
    assert sorted(set(after) - set(before)) == [], "written inside the installed collection"
    assert [p for p in before if after.get(p) != before[p]] == [], "changed inside the installed collection"
