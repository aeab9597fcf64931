"""What each wrapper passes on, rendered by Ansible's own templating from the wrapper file as
ansible-playbook loads it: text answers become the lists, numbers and booleans the playbooks test."""

import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from tests.unit.awx.awx_files import AWX, good_answers


def passed_on(name, answers):
    plays = DataLoader().load_from_file(os.path.join(AWX, name + ".yml"), trusted_as_template=True)
    (entry,) = [p for p in plays if "ansible.builtin.import_playbook" in p]
    templar = Templar(loader=DataLoader(), variables=answers)
    return {key: templar.template(value) for key, value in entry["vars"].items()}


@pytest.mark.parametrize("text,waves", [
    ("1,25%,100%", [1, "25%", "100%"]),
    (" 2 , 50% ", [2, "50%"]),
    ("100%", ["100%"]),
    ("3", [3]),
])
def test_waves_text_becomes_the_serial_list(text, waves):
    got = passed_on("migrate", good_answers("migrate", tviews_survey_waves=text))["tviews_waves"]
    assert got == waves
    # Counts are numbers and percentages text (Ansible may hand back tagged subclasses of both).
    assert all(isinstance(g, type(w)) for g, w in zip(got, waves))


@pytest.mark.parametrize("name,variable,target", [
    ("migrate", "tviews_survey_rehearse", "tviews_rehearse"),
    ("rollback", "tviews_survey_rollback_confirm", "tviews_rollback_confirm"),
    ("finalize", "tviews_survey_install_finalize_remove_stash", "tviews_install_finalize_remove_stash"),
    ("preflight", "tviews_survey_preflight_report", "tviews_preflight_report"),
])
def test_yes_no_answers_become_booleans(name, variable, target):
    assert passed_on(name, good_answers(name, **{variable: "yes"}))[target] is True
    assert passed_on(name, good_answers(name, **{variable: "no"}))[target] is False


def test_numbers_pass_on_as_integers_also_when_given_as_text():
    got = passed_on("migrate", good_answers("migrate", tviews_survey_wave_pause_seconds="600",
                                            tviews_survey_max_fail_percentage=10))
    assert (got["tviews_wave_pause_seconds"], got["tviews_max_fail_percentage"]) == (600, 10)
    assert isinstance(got["tviews_wave_pause_seconds"], int)


@pytest.mark.parametrize("pattern,passed", [
    ("db1", "db1"),
    (" db1,db2 ", "db1:db2"),
    ("tviews_primaries:!db3", "tviews_primaries:!db3"),
    ("web,tviews_primaries[0:1]", "web:tviews_primaries[0:1]"),
])
def test_target_pattern_is_passed_on_colon_separated(pattern, passed):
    for name in ("preflight", "migrate", "rollback", "finalize"):
        got = passed_on(name, good_answers(name, tviews_survey_target_hosts=pattern))
        assert got["tviews_target_hosts"] == passed


def test_rollback_mode_passes_on_unchanged():
    assert passed_on("rollback", good_answers("rollback", tviews_survey_rollback_mode="complete"))[
        "tviews_rollback_mode"] == "complete"
