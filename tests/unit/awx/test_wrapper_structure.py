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
    # Every check is a block of asserts whose rescue only notes what was wrong; the last task stops
    # the run with all of it (every bad answer in one pass).
    *checks, stop = check["tasks"]
    assert stop == {"name": "Stop when any answer is bad", "ansible.builtin.import_tasks": "tasks/stop_on_problems.yml"}
    for task in checks:
        assert set(task) == {"name", "block", "rescue"}, task["name"]
        for inner in task["block"]:
            assert set(inner) & CHECK_MODULES, inner["name"]
        assert task["rescue"] == [{"name": "Note what was wrong", "ansible.builtin.import_tasks": "tasks/note_problems.yml"}]


def test_shared_check_tasks_only_assert():
    # The two that gather and report what the asserts found only set a fact and fail.
    only = {"note_problems.yml": "ansible.builtin.set_fact", "stop_on_problems.yml": "ansible.builtin.fail"}
    for filename in os.listdir(os.path.join(AWX, "tasks")):
        with open(os.path.join(AWX, "tasks", filename), encoding="utf-8") as fh:
            for task in yaml.safe_load(fh):
                assert only.get(filename, "ansible.builtin.assert") in task, (filename, task["name"])
