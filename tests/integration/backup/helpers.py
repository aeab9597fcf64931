"""Helpers for the backup tests: fake and slow client programs, a tiny tmpfs, a read-only
bind mount (we run as root, so permissions alone do not stop a write), file modes, and an
ansible-playbook runner with the JSON callback in an isolated ANSIBLE_HOME."""

import contextlib
import json
import os
import stat
import subprocess
import sys

from tests.harness.modules import ansible_env
from tests.harness.pg import make_base_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def all_files(root):
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            yield os.path.join(dirpath, d)
        for f in files:
            yield os.path.join(dirpath, f)


def _script(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o755)


def fake_bin_dir(base, real_bindir, pg_dump_body, version="15.99"):
    """A bin dir whose pg_dump answers --version with ``version`` and otherwise runs
    ``pg_dump_body`` (sh); pg_restore is the real one."""
    d = os.path.join(base, "fakebin")
    os.makedirs(d, exist_ok=True)
    _script(os.path.join(d, "pg_dump"), "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) %s'; exit 0; fi\n%s\n"
            % (version, pg_dump_body))
    target = os.path.join(d, "pg_restore")
    if not os.path.lexists(target):
        os.symlink(os.path.join(real_bindir, "pg_restore"), target)
    return d


def failing_bin_dir(base, real_bindir, log):
    """pg_dump that logs its argv and whether it got PGPASSWORD, writes a partial file into its
    --file directory, and fails like a lost connection."""
    body = """{ for a in "$@"; do echo "ARG $a"; done; echo "PGPASSWORD=${PGPASSWORD:-unset}"; } > '%s'
for a in "$@"; do case "$a" in --file=*) dir="${a#--file=}";; esac; done
mkdir -p "$dir" && echo partial > "$dir/toc.dat"
echo "pg_dump: error: query failed: server closed the connection unexpectedly" >&2
exit 1""" % log
    return fake_bin_dir(base, real_bindir, body)


def slow_bin_dir(base, real_bindir, seconds=3):
    """The real pg_dump, then a pause with the dump on disk: a long dump, for progress."""
    body = '"%s/pg_dump" "$@"; rc=$?; sleep %d; exit $rc' % (real_bindir, seconds)
    return fake_bin_dir(base, real_bindir, body, version=_real_version(real_bindir))


def _real_version(bindir):
    out = subprocess.run([os.path.join(bindir, "pg_dump"), "--version"], capture_output=True, text=True, check=False).stdout
    return out.split(")", 1)[1].strip()


@contextlib.contextmanager
def tiny_tmpfs(size="600k"):
    d = make_base_dir("pgtviews-bk-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", d], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", d], check=True)
        os.rmdir(d)


@contextlib.contextmanager
def read_only_dir():
    """A directory on a read-only bind mount: writes fail with EROFS, even for root."""
    base = make_base_dir("pgtviews-bk-ro-")
    ro = os.path.join(base, "ro")
    os.mkdir(ro)
    subprocess.run(["mount", "--bind", ro, ro], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
        yield ro
    finally:
        subprocess.run(["umount", ro], check=True)
        os.rmdir(ro)
        os.rmdir(base)


class Ansible(object):
    """ansible-playbook against localhost (local connection), JSON callback, isolated home."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.env = ansible_env(workdir, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                               ANSIBLE_PIPELINING="1", ANSIBLE_ASYNC_DIR=os.path.join(workdir, "ansible-home", "async"))
        self.bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        self.count = 0

    def run(self, playbook, extra_vars, check=False):
        self.count += 1
        ev = os.path.join(self.workdir, "extra%d.json" % self.count)
        with open(ev, "w") as fh:
            json.dump(extra_vars, fh)
        os.chmod(ev, 0o600)
        argv = [self.bin, "-i", "localhost,", "-c", "local", "-e", "@" + ev, playbook]
        if check:
            argv.append("--check")
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=300, cwd=self.workdir, check=False)
        try:
            result = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            raise AssertionError("no JSON from ansible-playbook (rc=%s)\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
        return Run(proc, result)


class Run(object):
    def __init__(self, proc, result):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = result
        self.stats = result.get("stats", {}).get("localhost", {})

    def task(self, name):
        """The localhost result of every run of the task called ``name`` (role prefix ignored)."""
        out = []
        for play in self.result.get("plays", []):
            for t in play.get("tasks", []):
                if t["task"]["name"].split(" : ", 1)[-1] == name and "localhost" in t["hosts"]:
                    out.append(t["hosts"]["localhost"])
        return out

    def failures(self):
        return [(t["task"]["name"], t["hosts"]["localhost"].get("msg"))
                for play in self.result.get("plays", []) for t in play.get("tasks", [])
                if t["hosts"].get("localhost", {}).get("failed")]
