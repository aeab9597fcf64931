"""The collection's playbooks run for real on an inventory of unreachable hosts (one standby and four
primaries on the discard port), for the checks that need no connection: should a check ever let a run
through, its first task fails there instead of acting on this machine."""

import os
import subprocess

import yaml

from tests.harness.modules import REPO, ansible_env

ANSIBLE_PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
PRIMARIES = ["db1", "db2", "db3", "db4"]


def write_inventory(workdir, inventory_vars=None, host_vars=None, groups=None):
    """The inventory file in ``workdir``; ``inventory_vars`` are added to the group all,
    ``host_vars`` ({host: vars}) to the primaries, ``groups`` ({name: [hosts]}) as more groups."""
    inventory = {"all": {
        "vars": dict({"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9}, **(inventory_vars or {})),
        "children": {"tviews_standbys": {"hosts": {"rep1": None}},
                     "tviews_primaries": {"hosts": dict((h, (host_vars or {}).get(h)) for h in PRIMARIES)}},
    }}
    for name, members in (groups or {}).items():
        inventory["all"]["children"][name] = {"hosts": dict.fromkeys(members)}
    path = os.path.join(str(workdir), "inventory.yml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(inventory, fh)
    return path


def run_playbook(playbook, workdir, *args, inventory_vars=None, host_vars=None, groups=None):
    """ansible-playbook ``playbook`` (a path, or pgtviews.ops.<name>) on that inventory, in ``workdir``."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", write_inventory(workdir, inventory_vars, host_vars, groups), playbook] + list(args)
    # PWD too: the report role writes under the working directory it reads from there.
    env = ansible_env(str(workdir), PWD=str(workdir))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=str(workdir), env=env, timeout=300, check=False)
