"""The AWX files under test (wrappers, surveys, credential type) and one way to run a wrapper."""

import json
import os
import re
import subprocess

import yaml

from tests.harness.modules import REPO, ansible_env

AWX = os.path.join(REPO, "awx")
TEMPLATES = ("preflight", "migrate", "rollback", "finalize")
ANSIBLE_PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
SURVEY_PREFIX = "tviews_survey_"

# One standby and four primaries, none reachable (the discard port): the checks need no connection,
# and should a check ever let a run through, its first task fails there instead of acting on this machine.
INVENTORY = {
    "all": {
        "vars": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9},
        "children": {
            "tviews_standbys": {"hosts": {"rep1": None}},
            "tviews_primaries": {"hosts": {"db1": None, "db2": None, "db3": None, "db4": None}},
        },
    }
}


def survey(name):
    with open(os.path.join(AWX, "surveys", name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


def wrapper(name):
    with open(os.path.join(AWX, name + ".yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def imported(name):
    """The wrapper's import_playbook entry."""
    (entry,) = [p for p in wrapper(name) if "ansible.builtin.import_playbook" in p]
    return entry


def target_of(survey_variable):
    """tviews_survey_<x> is the answer for tviews_<x>."""
    assert survey_variable.startswith(SURVEY_PREFIX), survey_variable
    return "tviews_" + survey_variable[len(SURVEY_PREFIX):]


def mentions(text, variable):
    return re.search(r"(?<![\w.])%s\b" % re.escape(variable), text) is not None


def write_inventory(workdir):
    path = os.path.join(str(workdir), "inventory.yml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(INVENTORY, fh)
    return path


def run_wrapper(name, answers, workdir, *args):
    """ansible-playbook awx/<name>.yml with the answers as extra vars, as AWX passes them."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", write_inventory(workdir), os.path.join(AWX, name + ".yml"),
           "-e", json.dumps(answers)] + list(args)
    # PWD too: the report role writes under the working directory it reads from there.
    env = ansible_env(str(workdir), PWD=str(workdir))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=str(workdir), env=env,
                          timeout=300, check=False)


def good_answers(name, **changes):
    """Every question answered with its default, targets where the survey has none."""
    answers = {q["variable"]: q["default"] for q in survey(name)["spec"]}
    answers["tviews_survey_target_hosts"] = answers["tviews_survey_target_hosts"] or "tviews_primaries"
    answers.update(changes)
    return answers
