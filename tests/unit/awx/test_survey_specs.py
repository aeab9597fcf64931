"""The survey specs: valid for AWX, safe by default, and every answer lands in a variable that the
collection's playbooks or roles read."""

import os
import re

import pytest
import yaml

from tests.harness.modules import REPO
from tests.unit.awx.awx_files import SURVEY_PREFIX, TEMPLATES, imported, mentions, survey, target_of
from tests.unit.awx.awx_rules import survey_problems


def _playbook_text(name):
    with open(os.path.join(REPO, "playbooks", name + ".yml"), encoding="utf-8") as fh:
        return fh.read()


def _role_options(playbook_text):
    """Options (all entry points) of the roles the playbook includes, with their types."""
    options = {}
    for role in sorted(set(re.findall(r"pgtviews\.ops\.(\w+)", playbook_text))):
        specs = os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")
        if os.path.exists(specs):
            with open(specs, encoding="utf-8") as fh:
                for entry in yaml.safe_load(fh)["argument_specs"].values():
                    for option, spec in entry.get("options", {}).items():
                        options[option] = spec.get("type", "str")
    return options


@pytest.mark.parametrize("name", TEMPLATES)
def test_survey_passes_awx_checks(name):
    assert survey_problems(survey(name)) == []


def test_awx_checks_catch_what_awx_rejects():
    good = survey("rollback")
    assert survey_problems(good) == []
    bad = dict(good, spec=[dict(q) for q in good["spec"]])
    bad["spec"][1]["default"] = "everything"
    bad["spec"][2]["type"] = "boolean"
    bad["spec"][0]["variable"] = "target-hosts"
    assert survey_problems(bad) == [
        "question 0: 'target-hosts' is not a variable name",
        "question 1: default 'everything' is not a choice",
        "question 2: type 'boolean' is not one of text, textarea, password, multiplechoice, multiselect, integer, float",
    ]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_answer_maps_to_a_variable_the_playbook_or_its_roles_read(name):
    text = _playbook_text(name)
    options = _role_options(text)
    import_vars = imported(name)["vars"]
    for question in survey(name)["spec"]:
        variable = question["variable"]
        assert variable.startswith(SURVEY_PREFIX), variable
        target = target_of(variable)
        assert target in import_vars, "%s: %s is not passed on as %s" % (name, variable, target)
        assert mentions(import_vars[target], variable), (name, target, import_vars[target])
        # Read by the playbook itself (beyond its comments), or an option of a role it runs.
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert mentions(code, target) or target in options, "%s: nothing reads %s" % (name, target)
        if question["type"] == "multiplechoice" and sorted(question["choices"]) == ["no", "yes"] and target in options:
            assert options[target] == "bool", (name, target)


@pytest.mark.parametrize("name", TEMPLATES)
def test_wrapper_passes_on_nothing_but_survey_answers(name):
    answered = {target_of(q["variable"]) for q in survey(name)["spec"]}
    assert set(imported(name)["vars"]) == answered


@pytest.mark.parametrize("name", TEMPLATES)
def test_free_text_answers_cannot_be_blank(name):
    for question in survey(name)["spec"]:
        assert question["required"] is True, question["variable"]
        if question["type"] in ("text", "textarea"):
            assert question["min"] >= 1, question["variable"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_secret_is_asked_in_a_survey(name):
    # The password comes from the credential type, never from a survey answer or default.
    for question in survey(name)["spec"]:
        assert question["type"] != "password"
        assert "password" not in question["variable"]


SAFE_DEFAULTS = {
    ("rollback", "tviews_survey_rollback_mode"): "immediate",
    ("rollback", "tviews_survey_rollback_confirm"): "no",
    ("finalize", "tviews_survey_install_finalize_remove_stash"): "no",
    ("migrate", "tviews_survey_rehearse"): "yes",
    ("migrate", "tviews_survey_max_fail_percentage"): 0,
    ("migrate", "tviews_survey_waves"): "inventory",
}


@pytest.mark.parametrize("name,variable", sorted(SAFE_DEFAULTS))
def test_risky_choices_default_to_the_safe_answer(name, variable):
    (question,) = [q for q in survey(name)["spec"] if q["variable"] == variable]
    assert question["default"] == SAFE_DEFAULTS[(name, variable)]


@pytest.mark.parametrize("name", ("migrate", "rollback", "finalize"))
def test_templates_that_change_databases_have_no_default_targets(name):
    (question,) = [q for q in survey(name)["spec"] if q["variable"] == "tviews_survey_target_hosts"]
    assert question["default"] == ""
