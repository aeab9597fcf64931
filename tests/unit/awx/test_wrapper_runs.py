"""The wrappers' checks, run for real with ansible-playbook: a bad answer stops the run with a message
that names its field before any play of the collection starts; good answers reach the plays."""

import re

import pytest

from tests.unit.awx.awx_files import good_answers, run_wrapper

CHECK_PLAY = "PLAY [Check the survey answers before anything runs]"
# The first play of each collection playbook.
FIRST_PLAY = {
    "preflight": "PLAY [Preflight gates]",
    "migrate": "PLAY [Install pg_tviews on the standbys first]",
    "rollback": "PLAY [Roll pg_tviews back]",
    "finalize": "PLAY [Finalize pg_tviews]",
}

BAD_ANSWERS = [
    ("migrate", {"tviews_survey_waves": "abc"}, "Survey field tviews_survey_waves: \"abc\" is neither the word inventory nor a"),
    ("migrate", {"tviews_survey_waves": "1,0,100%"}, "Survey field tviews_survey_waves: \"1,0,100%\""),
    ("migrate", {"tviews_survey_waves": "1,101%"}, "Survey field tviews_survey_waves: \"1,101%\""),
    ("migrate", {"tviews_survey_rehearse": "maybe"},
     "Survey field tviews_survey_rehearse (Rehearse first): \"maybe\" is not one of yes, no."),
    ("migrate", {"tviews_survey_wave_pause_seconds": "soon"},
     "Survey field tviews_survey_wave_pause_seconds (Soak between waves (seconds)): \"soon\" is not a whole number"),
    ("migrate", {"tviews_survey_max_fail_percentage": 101},
     "Survey field tviews_survey_max_fail_percentage (Failed hosts allowed (%)): 101 is not a whole number from 0 to 100."),
    ("rollback", {"tviews_survey_rollback_confirm": "true"},
     "Survey field tviews_survey_rollback_confirm (Switch to the restored databases): \"true\" is not one of no, yes."),
    ("rollback", {"tviews_survey_rollback_mode": None},
     "Survey field tviews_survey_rollback_mode (Rollback mode): an answer is required."),
    ("rollback", {"tviews_survey_target_hosts": "db1 db2"},
     "Survey field tviews_survey_target_hosts: \"db1 db2\" is not a host pattern"),
    ("finalize", {"tviews_survey_target_hosts": "db1,db9"},
     "Survey field tviews_survey_target_hosts: \"db9\" matches no host in the inventory."),
    ("finalize", {"tviews_survey_install_finalize_remove_stash": "no "},
     "Survey field tviews_survey_install_finalize_remove_stash (Delete the stashed 0.1 files): \"no \" is not one of no, yes."),
    ("preflight", {"tviews_survey_target_hosts": ""},
     "Survey field tviews_survey_target_hosts (Target hosts): an answer is required."),
]


@pytest.mark.parametrize("name,changes,message", BAD_ANSWERS)
def test_bad_answer_stops_the_run_naming_the_field(name, changes, message, tmp_path):
    answers = good_answers(name, **changes)
    for key in [k for k, v in changes.items() if v is None]:
        del answers[key]
    proc = run_wrapper(name, answers, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert message in out, out
    assert CHECK_PLAY in out
    assert FIRST_PLAY[name] not in out, out
    assert "pgtviews.ops" not in out.split(CHECK_PLAY, 1)[1], out
    assert "changed=0" in out and "changed=1" not in out


def test_bad_answers_of_different_checks_are_listed_in_one_pass(tmp_path):
    """A bad answer to a question, a target that matches nothing and bad waves: all three in the one
    message that stops the run."""
    answers = good_answers("migrate", tviews_survey_rehearse="sometimes", tviews_survey_target_hosts="db9",
                           tviews_survey_waves="abc")
    proc = run_wrapper("migrate", answers, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    final = [line for line in out.splitlines() if "Nothing was changed." in line]
    assert final, out
    for words in ("Survey field tviews_survey_rehearse (Rehearse first): \\\"sometimes\\\"",
                  "Survey field tviews_survey_target_hosts: \\\"db9\\\" matches no host in the inventory.",
                  "Survey field tviews_survey_waves: \\\"abc\\\" is neither the word inventory"):
        assert words in final[-1], (words, final[-1])
    assert FIRST_PLAY["migrate"] not in out


def test_every_bad_field_is_listed_at_once(tmp_path):
    answers = good_answers("migrate", tviews_survey_rehearse="sometimes", tviews_survey_wave_pause_seconds=-5)
    out = run_wrapper("migrate", answers, tmp_path).stdout
    assert "Survey field tviews_survey_rehearse (Rehearse first): \"sometimes\"" in out
    assert "Survey field tviews_survey_wave_pause_seconds (Soak between waves (seconds)): -5" in out


# The plays of the collection playbook, started but with every task skipped by a job tag that no
# task has: what the answers did to hosts and waves shows in the plays' batches.
@pytest.mark.parametrize("waves,batches", [("1,25%,100%", 3), ("1", 4), ("100%", 1), (" 1 , 3", 2)])
def test_waves_become_the_batches_of_the_migrate_play(waves, batches, tmp_path):
    answers = good_answers("migrate", tviews_survey_target_hosts="all", tviews_survey_waves=waves)
    proc = run_wrapper("migrate", answers, tmp_path, "--tags", "tviews_no_such_tag")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PLAY [Migrate the primaries in waves]") == batches, proc.stdout
    assert "(item=tviews_survey_waves)" in proc.stdout


def test_waves_from_the_inventory_by_default(tmp_path):
    """The survey's default, "inventory", leaves the waves to the inventory: here its batch sizes."""
    answers = good_answers("migrate", tviews_survey_target_hosts="all", tviews_survey_waves="inventory")
    proc = run_wrapper("migrate", answers, tmp_path, "--tags", "tviews_no_such_tag", inventory_vars={"tviews_waves": [3, "100%"]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PLAY [Migrate the primaries in waves]") == 2, proc.stdout
    assert 'from tviews_waves [3, \\"100%\\"]: batch 1: db1, db2, db3; batch 2: db4.' in proc.stdout


@pytest.mark.parametrize("name", sorted(FIRST_PLAY))
def test_good_answers_reach_the_collection_playbook(name, tmp_path):
    proc = run_wrapper(name, good_answers(name), tmp_path, "--tags", "tviews_no_such_tag")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert FIRST_PLAY[name] in proc.stdout


def test_comma_pattern_is_passed_on_as_one_colon_pattern(tmp_path):
    # Ansible splits "db1,db2:!tviews_standbys" on the comma alone and would keep rep1 and drop db2.
    answers = good_answers("rollback", tviews_survey_target_hosts="db1,db2,rep1")
    proc = run_wrapper("rollback", answers, tmp_path, "--list-hosts")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    play = proc.stdout.split("Roll pg_tviews back", 1)[1]
    assert "pattern: ['db1:db2:rep1:!tviews_standbys']" in play
    hosts = play.split("hosts (2):", 1)[1].split()
    assert sorted(hosts) == ["db1", "db2"]


def test_survey_answers_win_over_inventory_variables(tmp_path):
    # An AWX inventory may carry tviews_waves or tviews_target_hosts; the wrappers pass the answers
    # as play variables, which both the play keywords and the tasks read, so the playbooks' own
    # play-keyword check lets the run through, in the survey's waves.
    answers = good_answers("migrate", tviews_survey_target_hosts="tviews_primaries", tviews_survey_waves="1,100%")
    proc = run_wrapper("migrate", answers, tmp_path, "--tags", "always",
                       inventory_vars={"tviews_waves": [2, "100%"], "tviews_target_hosts": "db1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plays = proc.stdout.split("PLAY [Migrate the primaries in waves]")[1:]
    assert len(plays) == 2, proc.stdout
    assert sorted(set(re.findall(r"^ok: \[(\w+)\]", plays[1], re.M))) == ["db2", "db3", "db4"], proc.stdout
