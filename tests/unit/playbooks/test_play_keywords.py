"""A play's hosts and serial are templated from extra vars only; a target pattern or wave list set in
the inventory would be ignored there while the tasks see it. The playbooks' first check stops such a
play before anything runs. The batch arithmetic is checked against ansible-playbook's own, and the
playbooks are run for real (only their checks: --tags always) on an inventory of unreachable hosts."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible.executor.playbook_executor import PlaybookExecutor

from ansible_collections.pgtviews.ops.plugins.filter.tviews_serial import tviews_serial_batches

from tests.unit.unreachable_fleet import PRIMARIES, run_playbook

WAVES_PLAY = "PLAY [Migrate the primaries in waves]"


class _Host:
    def __init__(self, name):
        self.name = name


class _Inventory:
    def __init__(self, names):
        self.names = names

    def get_hosts(self, pattern, order=None):
        return [_Host(n) for n in self.names]


class _Play:
    hosts = "all"
    order = None

    def __init__(self, serial):
        self.serial = serial


def ansibles_batches(serial, names):
    """What ansible-playbook itself makes of serial (a list after the play's post-validation)."""
    executor = PlaybookExecutor.__new__(PlaybookExecutor)
    executor._inventory = _Inventory(names)
    batches = executor._get_serialized_batches(_Play(serial if isinstance(serial, list) else [serial]))
    return [[h.name for h in b] for b in batches]


@pytest.mark.parametrize("serial", [[], [1], ["1"], [1, "25%", "100%"], [2, "100%"], ["10%"], ["50%", 1],
                                    [1, 1, 3], ["0%"], [0], "30%", 3, ["100%"], [1, "33%", "66%"]])
@pytest.mark.parametrize("count", [1, 2, 4, 7, 10])
def test_batches_are_ansibles(serial, count):
    names = ["h%d" % i for i in range(count)]
    assert tviews_serial_batches(serial, names) == ansibles_batches(serial, names)


@pytest.mark.parametrize("bad", ["abc", [1, "x%"], [None], [True], [[1]]])
def test_a_bad_batch_size_is_named(bad):
    with pytest.raises(AnsibleFilterError, match="is not a batch size"):
        tviews_serial_batches(bad, PRIMARIES)


def run(tmp_path, playbook, inventory_vars=None, *args):
    proc = run_playbook("pgtviews.ops." + playbook, tmp_path, "--tags", "always", *args, inventory_vars=inventory_vars)
    return proc.returncode, proc.stdout + proc.stderr


def batches_run(out):
    """The hosts of each batch of the waves play, in order, from the log (sorted within a batch:
    its hosts report in any order)."""
    batches = []
    for part in out.split(WAVES_PLAY)[1:]:
        task = part.split("TASK [Check that this batch is one the waves ask for]")[0]
        # every host of the batch reports once per check task before this one
        batches.append(sorted(set(line.split("[", 1)[1].split("]", 1)[0] for line in task.splitlines()
                                  if line.startswith(("ok: [", "fatal: [")))))
    return batches


def test_waves_from_extra_vars_pass(tmp_path):
    rc, out = run(tmp_path, "migrate", None, "-e", '{"tviews_waves": [2, "100%"]}')
    assert rc == 0, out
    assert batches_run(out) == [["db1", "db2"], ["db3", "db4"]]
    assert "rep1" in out  # the standbys play ran its check too


def test_default_waves_pass(tmp_path):
    rc, out = run(tmp_path, "migrate")
    assert rc == 0, out
    assert batches_run(out) == [["db1"], ["db2"], ["db3", "db4"]]


def test_waves_in_the_inventory_are_honoured(tmp_path):
    rc, out = run(tmp_path, "migrate", {"tviews_waves": [2, "100%"]})
    assert rc == 0, out
    assert batches_run(out) == [["db1", "db2"], ["db3", "db4"]]
    assert 'primaries: 2 batch(es), from tviews_waves [2, \\"100%\\"]: batch 1: db1, db2; batch 2: db3, db4.' in out


def test_waves_from_extra_vars_win_over_the_inventory(tmp_path):
    rc, out = run(tmp_path, "migrate", {"tviews_waves": [2, "100%"]}, "-e", '{"tviews_waves": [3, "100%"]}')
    assert rc == 0, out
    assert batches_run(out) == [["db1", "db2", "db3"], ["db4"]]


def test_target_in_the_inventory_stops_the_whole_run(tmp_path):
    rc, out = run(tmp_path, "migrate", {"tviews_target_hosts": "db1"})
    assert rc == 2, out
    assert 'tviews_target_hosts is \\"db1\\" for db2, which it does not name' in out
    assert "PLAY [Install pg_tviews on the standbys first]" not in out
    assert WAVES_PLAY not in out, "the run went on to the primaries after the check failed"


def test_target_in_the_inventory_stops_the_run_before_the_first_batch(tmp_path):
    rc, out = run(tmp_path, "migrate", {"tviews_target_hosts": "db1:rep1"})
    assert rc == 2, out
    assert 'tviews_target_hosts is \\"db1:rep1\\" for db2, which it does not name' in out
    assert batches_run(out) == [], "a batch ran after the plan was refused"


def test_target_from_extra_vars_with_commas_passes(tmp_path):
    rc, out = run(tmp_path, "migrate", None, "-e", "tviews_target_hosts=db1,db3", "-e", '{"tviews_waves": ["100%"]}')
    assert rc == 0, out
    assert batches_run(out) == [["db1", "db3"]]


@pytest.mark.parametrize("playbook,variable", [("rollback", "tviews_target_hosts"), ("finalize", "tviews_target_hosts"),
                                               ("preflight", "tviews_target_hosts"), ("backup", "tviews_target_hosts"),
                                               ("install", "tviews_target_hosts"), ("scan", "tviews_scan_hosts")])
def test_every_playbook_refuses_a_target_from_the_inventory(tmp_path, playbook, variable):
    rc, out = run(tmp_path, playbook, {variable: "db1"})
    assert rc == 2, out
    assert '%s is \\"db1\\" for db2, which it does not name' % variable in out
    assert "Nothing was changed" in out


@pytest.mark.parametrize("playbook,variable,play", [("rollback", "tviews_rollback_serial", "Roll pg_tviews back"),
                                                    ("install", "tviews_install_serial",
                                                     "Install pg_tviews side by side on the primaries")])
def test_batch_sizes_in_the_inventory_are_honoured(tmp_path, playbook, variable, play):
    target = ("-e", "tviews_target_hosts=all")
    rc, out = run(tmp_path, playbook, {variable: 1}, *target)
    assert rc == 0, out
    assert out.count("PLAY [%s]" % play) == 4, out            # one batch per primary
    rc, out = run(tmp_path, playbook, {variable: 1}, "-e", "%s=2" % variable, *target)
    assert rc == 0, out
    assert out.count("PLAY [%s]" % play) == 2, out            # -e wins


@pytest.mark.parametrize("playbook", ["migrate", "install", "rollback", "finalize", "preflight", "backup"])
def test_a_standby_marked_by_a_variable_is_refused(tmp_path, playbook):
    """A standby is a host in the group tviews_standbys, for every playbook; migrate would take a host
    marked only by tviews_role for a primary, so the variable stops every run before anything runs."""
    rc, out = run(tmp_path, playbook, {"tviews_role": "standby"}, "-e", "tviews_target_hosts=all")
    assert rc == 2, out
    assert "sets tviews_role, which no playbook reads any more: a standby is a host in the inventory group " \
           "tviews_standbys" in out
    assert "Nothing was changed" in out
    assert WAVES_PLAY not in out


def test_a_rollback_names_its_hosts(tmp_path):
    rc, out = run(tmp_path, "rollback")
    assert rc == 2, out
    assert "Say which hosts to roll back: -e tviews_target_hosts=<host pattern> (for example db1, or all for every " \
           "host). A rollback is never aimed at the whole inventory by default. Nothing was changed." in out
    assert "PLAY [Roll pg_tviews back]" not in out
    rc, out = run(tmp_path, "rollback", None, "-e", "tviews_target_hosts=all")
    assert rc == 0, out
    assert "PLAY [Roll pg_tviews back]" in out
