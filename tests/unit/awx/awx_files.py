"""The AWX files under test (wrappers, surveys, credential type) and one way to run a wrapper."""

import json
import os
import re

import yaml

from tests.harness.modules import REPO
from tests.unit.unreachable_fleet import run_playbook

AWX = os.path.join(REPO, "awx")
TEMPLATES = ("preflight", "migrate", "rollback", "finalize")
SURVEY_PREFIX = "tviews_survey_"


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


def run_wrapper(name, answers, workdir, *args, inventory_vars=None):
    """ansible-playbook awx/<name>.yml with the answers as extra vars, as AWX passes them."""
    return run_playbook(os.path.join(AWX, name + ".yml"), workdir, "-e", json.dumps(answers), *args,
                        inventory_vars=inventory_vars)


def good_answers(name, **changes):
    """Every question answered with its default, targets where the survey has none."""
    answers = {q["variable"]: q["default"] for q in survey(name)["spec"]}
    answers["tviews_survey_target_hosts"] = answers["tviews_survey_target_hosts"] or "tviews_primaries"
    answers.update(changes)
    return answers
