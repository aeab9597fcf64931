"""Run ansible-playbook against local hosts for the gate and report role tests: an isolated
ANSIBLE_HOME, the collection through .build/link, the JSON callback, secrets in an extra-vars
file (never on the command line)."""

import json
import os
import subprocess
import sys

from tests.harness.modules import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def host_vars(cluster, workdir, name, **extra):
    """Inventory variables of a local host whose database server is ``cluster``."""
    hv = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "tviews_connection": {"login_host": cluster.host, "login_port": cluster.port, "login_user": cluster.user,
                              "login_password": "{{ tviews_test_db_password }}", "login_db": "postgres"},
        "tviews_state_file": os.path.join(workdir, name, "state", "state.json"),
        "tviews_backup_root": os.path.join(workdir, name, "backups"),
        "tviews_swap_manifest_dir": os.path.join(workdir, name, "manifests"),
    }
    hv.update(extra)
    return hv


class Playbook(object):
    def __init__(self, workdir):
        self.workdir = workdir
        self.env = ansible_env(workdir, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_PIPELINING="1", ANSIBLE_FORKS="4")
        self.count = 0

    def write_json(self, name, data):
        self.count += 1
        path = os.path.join(self.workdir, "%s%d.json" % (name, self.count))
        with open(path, "w") as fh:
            json.dump(data, fh)
        return path

    def inventory(self, groups):
        """groups: {group: {host: vars}}."""
        inv = {"all": {"children": dict((g, {"hosts": hosts}) for g, hosts in groups.items())}}
        return self.write_json("inventory", inv)

    def run(self, playbook, inventory, extra_vars, check=False):
        argv = [PLAYBOOK_BIN, "-i", inventory, "-e", "@" + self.write_json("extra", extra_vars), playbook]
        if check:
            argv.append("--check")
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=600, cwd=self.workdir, check=False)
        try:
            result = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            raise AssertionError("no JSON from ansible-playbook (rc=%s)\n%s\n%s"
                                 % (proc.returncode, proc.stdout[-5000:], proc.stderr[-5000:]))
        return Result(proc, result)


class Result(object):
    def __init__(self, proc, result):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = result
        self.stats = result.get("stats", {})

    def task(self, name, host):
        """Results of the task called ``name`` (role prefix ignored) for ``host``."""
        out = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                tname = task["task"]["name"]
                if (tname == name or tname.endswith(" : " + name)) and host in task["hosts"]:
                    out.append(task["hosts"][host])
        return out

    def failed_messages(self):
        msgs = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                for h, r in task["hosts"].items():
                    if r.get("failed") or r.get("unreachable"):
                        msgs.append("%s %s: %s" % (h, task["task"]["name"], r.get("msg")))
        return "\n".join(msgs)
