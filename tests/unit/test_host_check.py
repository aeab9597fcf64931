"""tviews_host_check: a host whose Python lacks psycopg2 (or pglast) is stopped with one sentence
naming what is missing, where, and the package that provides it. The module runs as Ansible runs it,
once on this venv's Python and once on the same Python where importing psycopg2 fails."""

import json
import os
import subprocess
import sys

from tests.harness.modules import LINK, ensure_link


def run(args, tmp_path, broken=()):
    ensure_link()
    shadow = tmp_path / "shadow"
    for name in broken:   # a package of that name that cannot be imported, first on the path
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text("raise ImportError('No module named %r' % __name__)\n")
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow), LINK]))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.pgtviews.ops.plugins.modules.tviews_host_check",
                           str(argfile)], capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout)


def test_a_host_with_psycopg2_passes(tmp_path):
    res = run({}, tmp_path)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["missing"] == [] and "psycopg2" in res["versions"]
    assert res["python"] == sys.executable


def test_a_host_without_psycopg2_is_told_what_to_install(tmp_path):
    res = run({}, tmp_path, broken=["psycopg2"])
    assert res["failed"] and res["missing"] == ["psycopg2"], res
    assert res["msg"] == (
        "This host cannot run the pgtviews.ops modules: psycopg2 is not installed for %s, the Python Ansible uses "
        "there. Install psycopg2 with apt-get install python3-psycopg2 (Debian, Ubuntu) or dnf install "
        "python3-psycopg2 (RHEL and the like) or %s -m pip install psycopg2-binary." % (sys.executable, sys.executable))


def test_pglast_only_when_asked(tmp_path):
    res = run({"libraries": ["psycopg2", "pglast"]}, tmp_path, broken=["pglast"])
    assert res["failed"] and res["missing"] == ["pglast"], res
    assert "pglast with %s -m pip install pglast" % sys.executable in res["msg"]
