"""The rollout plan: which primaries go in which batch, worked out from the inventory before anything
runs (playbooks/tasks/plan.yml, filter tviews_wave_plan). The filter's rules, then the migrate
playbook run for real (its checks and the plan only: --tags always) on unreachable hosts."""

import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pgtviews.ops.plugins.filter.tviews_serial import tviews_wave_plan

from tests.unit.unreachable_fleet import run_playbook
from tests.unit.playbooks.test_play_keywords import batches_run

HOSTS = ["db1", "db2", "db3", "db4"]


def plan(hostvars=None, groups=None, **kw):
    hv = dict((h, dict((hostvars or {}).get(h, {}))) for h in HOSTS)
    return tviews_wave_plan(HOSTS, hv, groups or {}, **kw)


def test_host_variables_make_the_waves_lowest_first_and_hosts_without_one_last():
    p = plan({"db4": {"tviews_wave": 1}, "db2": {"tviews_wave": "2"}})
    assert p["batches"] == [["db4"], ["db2"], ["db1", "db3"]]
    assert p["order"] == ["db4", "db2", "db1", "db3"] and p["sizes"] == [1, 1, 2]
    assert p["labels"] == ["wave 1", "wave 2", "no wave given (last)"]


def test_groups_are_the_same_as_host_variables_and_the_canary_group_is_wave_0():
    p = plan(groups={"tviews_canary": ["db3"], "tviews_wave_2": ["db1", "db2"], "tviews_wave_5": ["db4"]})
    assert p["batches"] == [["db3"], ["db1", "db2"], ["db4"]]
    both = plan({"db1": {"tviews_wave": 2}}, {"tviews_wave_2": ["db1"]})   # saying it twice is fine
    assert both["batches"] == [["db1"], ["db2", "db3", "db4"]]


def test_batch_sizes_without_waves():
    assert plan()["batches"] == [["db1"], ["db2"], ["db3", "db4"]]              # default: canary, 25%, rest
    sized = plan(dict((h, {"tviews_waves": [2, "100%"]}) for h in HOSTS))
    assert sized["batches"] == [["db1", "db2"], ["db3", "db4"]] and sized["source"] == 'tviews_waves [2, "100%"]'
    assert plan(default="100%", memberships=False)["batches"] == [HOSTS]


@pytest.mark.parametrize("hostvars,groups,words", [
    ({"db1": {"tviews_wave": "first"}}, {}, "db1 has tviews_wave 'first', which is not a whole number"),
    ({"db1": {"tviews_wave": 1}}, {"tviews_wave_2": ["db1"]},
     "db1 is in more than one wave: wave 1 by tviews_wave, wave 2 by group tviews_wave_2"),
    ({"db1": {"tviews_waves": [2]}, "db2": {"tviews_waves": [1]}, "db3": {"tviews_waves": [1]}, "db4": {"tviews_waves": [1]},
      }, {}, "tviews_waves differs between hosts ([2] for db1; [1] for db2, db3, db4)"),
    (dict((h, {"tviews_wave": 1, "tviews_waves": [1]}) for h in HOSTS), {}, "both per-host waves (tviews_wave) and tviews_waves"),
    (dict((h, {"tviews_waves": ["half"]}) for h in HOSTS), {}, "tviews_waves: 'half' is not a batch size"),
])
def test_a_plan_that_cannot_be_honoured_says_why(hostvars, groups, words):
    with pytest.raises(AnsibleFilterError, match=re.escape(words)):
        plan(hostvars, groups)


def run(tmp_path, *args, **kw):
    proc = run_playbook("pgtviews.ops.migrate", tmp_path, "--tags", "always", *args, **kw)
    return proc.returncode, proc.stdout + proc.stderr


def test_migrate_runs_the_waves_the_inventory_gives(tmp_path):
    """The canary is the host listed last; the others share wave 2; no -e at all."""
    rc, out = run(tmp_path, host_vars={"db4": {"tviews_wave": 1}, "db1": {"tviews_wave": 2}, "db2": {"tviews_wave": 2},
                                       "db3": {"tviews_wave": 2}})
    assert rc == 0, out
    assert batches_run(out) == [["db4"], ["db1", "db2", "db3"]]
    assert "primaries: 2 batch(es), from the inventory: per-host waves" in out
    assert "wave 1: db4; wave 2: db1, db2, db3." in out


def test_migrate_runs_group_waves_within_a_limit(tmp_path):
    rc, out = run(tmp_path, "--limit", "db1,db2,db3,rep1", groups={"tviews_canary": ["db3"], "tviews_wave_1": ["db1"]})
    assert rc == 0, out
    assert batches_run(out) == [["db3"], ["db1"], ["db2"]]


def test_migrate_refuses_a_plan_it_cannot_honour_before_anything_runs(tmp_path):
    rc, out = run(tmp_path, host_vars={"db2": {"tviews_wave": 1}}, groups={"tviews_wave_3": ["db2"]})
    assert rc == 2, out
    assert "The rollout plan cannot be honoured: db2 is in more than one wave: wave 1 by tviews_wave, wave 3 by " \
           "group tviews_wave_3; give each host one wave. Nothing was changed." in out
    assert "PLAY [Install pg_tviews on the standbys first]" not in out and batches_run(out) == []
