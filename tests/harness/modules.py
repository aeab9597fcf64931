"""Run one of the collection's modules the way Ansible does (a separate Python process
reading its arguments from a JSON file), without the overhead of a whole playbook."""

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK = os.path.join(REPO, ".build", "link")


def ensure_link():
    target = os.path.join(LINK, "ansible_collections", "pgtviews", "ops")
    if not os.path.islink(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(REPO, target)


def run_module(name, args, check_mode=False, diff=False):
    ensure_link()
    module_args = dict(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": module_args}, fh)
        argfile = fh.name
    try:
        env = dict(os.environ, PYTHONPATH=LINK)
        proc = subprocess.run([sys.executable, "-m", "ansible_collections.pgtviews.ops.plugins.modules." + name, argfile],
                              capture_output=True, text=True, env=env, timeout=600, check=False)
    finally:
        os.unlink(argfile)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc=%s):\n%s\n%s" % (name, proc.returncode, proc.stdout, proc.stderr))
    result["_stderr"] = proc.stderr
    return result


def conn_args(cluster, dbname="postgres", **extra):
    """Module connection options for a harness cluster (TCP with the superuser password)."""
    args = dict(login_host=cluster.host, login_port=cluster.port, login_user=cluster.user,
                login_password=cluster.password, login_db=dbname)
    args.update(extra)
    return args


def ansible_env(workdir, **overrides):
    """Environment for ansible-playbook against this checkout: the collection through the
    .build/link symlink (never first in a path molecule installs into), an isolated
    ANSIBLE_HOME under ``workdir``, no colour, no retry files."""
    ensure_link()
    home = os.path.join(workdir, "ansible-home")
    os.makedirs(os.path.join(home, "tmp"), exist_ok=True)
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (LINK, os.path.join(REPO, ".cache", "collections")),
        "ANSIBLE_HOME": home,
        "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    env.update(overrides)
    return env
