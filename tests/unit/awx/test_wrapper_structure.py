"""Each wrapper is thin: one play that only checks the answers, then the collection playbook of the
same name; and ansible-playbook accepts it."""

import os
import subprocess

import pytest
import yaml

from tests.harness.modules import REPO, ansible_env
from tests.unit.awx.awx_files import AWX, TEMPLATES, wrapper
from tests.unit.unreachable_fleet import ANSIBLE_PLAYBOOK, write_inventory

CHECK_MODULES = {"ansible.builtin.assert", "ansible.builtin.import_tasks"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_wrapper_passes_syntax_check(name, tmp_path):
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "--syntax-check", "-i", write_inventory(tmp_path),
                           os.path.join(AWX, name + ".yml")],
                          capture_output=True, text=True, env=ansible_env(str(tmp_path)), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", TEMPLATES)
def test_wrapper_checks_then_imports_the_collection_playbook(name):
    check, run = wrapper(name)
    assert run["ansible.builtin.import_playbook"] == "pgtviews.ops." + name
    assert os.path.isfile(os.path.join(REPO, "playbooks", name + ".yml"))
    # The checks run on any one host, whatever job tags the template sets, and gather nothing.
    assert check["hosts"] == "all" and check["run_once"] is True and check["tags"] == ["always"]
    assert check["gather_facts"] is False
    for task in check["tasks"]:
        assert set(task) & CHECK_MODULES, task["name"]


def test_shared_check_tasks_only_assert():
    for filename in os.listdir(os.path.join(AWX, "tasks")):
        with open(os.path.join(AWX, "tasks", filename), encoding="utf-8") as fh:
            for task in yaml.safe_load(fh):
                assert "ansible.builtin.assert" in task, (filename, task["name"])
