"""The fault matrix (docs/reliability.md): each test interrupts a migration or a rollback at a named
point with the application writing, checks the database is entirely on one version with no
acknowledged write lost, re-runs the same command, checks it completes and says what it resumed
or cleaned up, and records the row. Points: docs/development.md, "Fault points"."""

import glob
import os
import subprocess
import time

import pytest

from tests.faults.harness import (FAST, FaultRun, TableHold, app_errors, assert_no_write_lost, assert_one_version,
                                  extversion, kill_at, last_report, leftovers, pg_dump_waiting, rerun, state)
from tests.harness.app import App, db_state
from tests.harness.fleet import Fleet
from tests.harness.pg import make_base_dir


class World(object):
    """A fleet with the application writing to db1's app database."""

    def __init__(self, standin_build, names=("db1",), extra_vars=None):
        self.root = make_base_dir("faults-")
        self.fleet = Fleet(self.root, os.path.dirname(standin_build["0.2.0"]["artifact"]), names=names).up()
        self.extra_vars = dict(FAST, **(extra_vars or {}))
        self.fleet.write_inventory(extra_vars=self.extra_vars)
        self.cluster = self.fleet.cluster("db1")
        self.cluster.execute("CREATE TABLE fault_hold (id int PRIMARY KEY)", "app")
        self.app = App(self.cluster, self.root)
        conn = self.cluster.connect("app")
        try:
            self.base = db_state(conn)
        finally:
            conn.close()
        time.sleep(0.5)

    def inventory(self, host_overrides=None, **extra_vars):
        self.extra_vars.update(extra_vars)
        self.fleet.write_inventory(extra_vars=self.extra_vars, host_overrides=host_overrides)

    def close(self):
        try:
            self.app.stop()
        finally:
            self.fleet.down()


@pytest.fixture
def world(standin_build):
    made = []

    def make(**kw):
        made.append(World(standin_build, **kw))
        return made[-1]

    yield make
    for w in made:
        w.close()


def after_fault(w, expect_version, app_may_fail=False):
    """The checks made right after a fault: one version, no write lost, the application unharmed."""
    version = assert_one_version(w.cluster)
    assert version == expect_version, "after the fault pg_tviews is %s, expected %s" % (version, expect_version)
    lost = assert_no_write_lost(w.app, w.cluster, w.base)
    if not app_may_fail:
        assert app_errors(w.app) == [], "application statements failed: %s" % app_errors(w.app)[:5]
    return lost


def after_rerun(w, out, version="0.2.0"):
    assert assert_one_version(w.cluster) == version
    assert leftovers(w.fleet, w.cluster) == []
    lost = assert_no_write_lost(w.app, w.cluster, w.base)
    st = state(w.fleet)
    if version == "0.2.0":
        assert st["swap"]["to_version"] == "0.2.0" and st["validate"]["status"] in ("pass", "warn"), st
        assert st["backup"]["superseded_by"] in ("swap", "recovery"), st["backup"]
        host = last_report(w.fleet)
        assert "db1" in str(host), host
    return lost


def test_01_killed_after_install_before_backup(world, fault_record):
    w = world()
    kill_at(w.fleet, "migrate", "install:installed:0.2.0")
    lost = after_fault(w, "0.1.0")
    assert "backup" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)
    fault_record.row("01", fault="ansible-playbook killed (SIGKILL to it and every process it started; here and below)",
                     when="after install, before backup",
                     after="0.1.0, 0.2.0's files installed beside it, no backup recorded",
                     rerun="completes: the install finds 0.2.0 in place, then backup, swap, validate", rows_lost=lost)


def test_02_killed_while_pg_dump_runs(world, fault_record):
    w = world()
    hold = TableHold(w.cluster)
    run = FaultRun(w.fleet, "migrate")
    try:
        run.wait_for(lambda: pg_dump_waiting(w.cluster), "pg_dump waiting for its locks")
        run.kill()
    finally:
        hold.release()  # the backup job the killed run started goes on, detached, and finishes
    lost = after_fault(w, "0.1.0")
    assert "backup" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)
    fault_record.row("02", fault="ansible-playbook killed", when="while pg_dump runs (held at its lock round)",
                     after="0.1.0; the backup job the run had started goes on detached and finishes; nothing recorded",
                     rerun="completes: the backup waits for that job's lock if it still runs, takes its own, "
                           "and the swap and validate follow", rows_lost=lost)


def test_03_killed_while_the_rehearsal_copy_is_restored(world, fault_record):
    w = world(extra_vars={"tviews_rehearse": True})
    kill_at(w.fleet, "migrate", "restore:created:app_rehearsal")
    lost = after_fault(w, "0.1.0")
    assert leftovers(w.fleet, w.cluster) == ["app_rehearsal"]
    out = rerun(w.fleet, "migrate")
    assert "dropped app_rehearsal (its restore was interrupted)" in out, out[-6000:]
    lost += after_rerun(w, out)
    assert state(w.fleet)["rehearsal"]["passed"] is True
    fault_record.row("03", fault="ansible-playbook killed", when="while the rehearsal copy is restored",
                     after="0.1.0; app_rehearsal half-restored, marked as a restore in progress",
                     rerun="completes and says \"dropped app_rehearsal (its restore was interrupted)\"; "
                           "rehearses again on a new copy", rows_lost=lost)


def test_04_killed_while_the_swap_waits_for_its_locks(world, fault_record):
    w = world()
    blocker = w.cluster.connect("app", autocommit=False)
    with blocker.cursor() as cur:
        # ROW EXCLUSIVE, as a writer in a long transaction takes: the application goes on, the swap's
        # EXCLUSIVE lock cannot be had.
        cur.execute("LOCK TABLE tb_user IN ROW EXCLUSIVE MODE")
    run = FaultRun(w.fleet, "migrate", point="swap:lock-retry:2")
    try:
        run.wait_point()
        run.kill()
    finally:
        blocker.rollback()
        blocker.close()
    lost = after_fault(w, "0.1.0")
    assert "swap" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    assert "not swapped yet: this run goes on from there" in out and "reused the backup" in out, out[-6000:]
    lost += after_rerun(w, out)
    fault_record.row("04", fault="ansible-playbook killed", when="while the swap waits for its locks (after its second "
                     "lock attempt timed out)", after="0.1.0: the swap's session ended with the controller, nothing taken",
                     rerun="completes and says \"not swapped yet: this run goes on from there\"; the recorded backup "
                           "is reused, then swap, validate",
                     rows_lost=lost)


def test_05_swap_backend_terminated_after_drop_extension(world, fault_record):
    w = world()
    run = FaultRun(w.fleet, "migrate", point="swap:create extension:None")
    run.wait_point()
    killed = w.cluster.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'app' "
                               "AND application_name = 'pgtviews.ops' AND state = 'idle in transaction'")
    assert killed == [(True,)], killed
    rc, out = run.finish()
    assert rc != 0 and "failed in Swap each database in one transaction" in out, out[-6000:]
    assert "rolled back, nothing changed" in out, out[-6000:]
    lost = after_fault(w, "0.1.0")
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)
    fault_record.row("05", fault="the swap's backend terminated (pg_terminate_backend)",
                     when="after DROP EXTENSION, before COMMIT",
                     after="0.1.0: PostgreSQL rolled the transaction back; the run failed in swap and said so",
                     rerun="completes: swap, validate", rows_lost=lost)


def test_06_killed_after_commit_before_the_state_file_records_it(world, fault_record):
    w = world()
    kill_at(w.fleet, "migrate", "swap:committed:app")
    lost = after_fault(w, "0.2.0")
    assert "swap" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    assert "found on 0.2.0 with no swap to it recorded since the last change" in out, out[-6000:]
    lost += after_rerun(w, out)
    assert "recovered" in state(w.fleet)["swap"]
    fault_record.row("06", fault="ansible-playbook killed", when="after the swap's COMMIT, before the state file records it",
                     after="0.2.0, consistent; the state file has the backup but no swap",
                     rerun="completes and says the database was found on 0.2.0 with no swap recorded (an interrupted "
                           "run committed it); records it and validates", rows_lost=lost)


def test_07_killed_during_validate(world, fault_record):
    w = world()
    kill_at(w.fleet, "migrate", "validate:app")
    lost = after_fault(w, "0.2.0")
    assert "swap" in state(w.fleet) and "validate" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    assert "app: earlier runs recorded backup, preflight, swap; swapped and not validated since: this run validates it." \
        in out, out[-6000:]
    lost += after_rerun(w, out)
    fault_record.row("07", fault="ansible-playbook killed", when="during validate",
                     after="0.2.0, consistent; swap recorded, no validate",
                     rerun="completes and says \"swapped and not validated since: this run validates it\"; nothing to "
                           "swap, validates what the interrupted run swapped", rows_lost=lost)


def test_08_postgresql_restarted_while_pg_dump_runs(world, fault_record):
    w = world()
    hold = TableHold(w.cluster)
    run = FaultRun(w.fleet, "migrate")
    run.wait_for(lambda: pg_dump_waiting(w.cluster), "pg_dump waiting for its locks")
    restarted = time.time()
    w.cluster.restart()
    hold.release()
    rc, out = run.finish()
    assert rc != 0 and "failed in Collect the result of the backup of app" in out and "Nothing was changed in its databases" in out, out[-6000:]
    assert "no record was written and" in out, out[-6000:]
    lost = after_fault(w, "0.1.0", app_may_fail=True)
    assert all(e["t"] >= restarted - 1 for e in app_errors(w.app)), app_errors(w.app)[:3]
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)
    fault_record.row("08", fault="PostgreSQL restarted (fast shutdown, start)", when="while pg_dump runs",
                     after="0.1.0; pg_dump failed, the backup said so and removed its directory; the run stopped "
                           "with \"Nothing was changed in its databases\"",
                     rerun="completes: backup, swap, validate", rows_lost=lost)


def test_09_postgresql_restarted_during_the_swap_transaction(world, fault_record):
    w = world()
    run = FaultRun(w.fleet, "migrate", point="swap:create extension:None")
    run.wait_point()
    w.cluster.restart()
    rc, out = run.finish()
    assert rc != 0 and "failed in Swap each database in one transaction" in out, out[-6000:]
    lost = after_fault(w, "0.1.0", app_may_fail=True)
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)
    fault_record.row("09", fault="PostgreSQL restarted", when="during the swap transaction (after DROP EXTENSION)",
                     after="0.1.0: the transaction died with the server; the run failed in swap and said so",
                     rerun="completes: swap, validate", rows_lost=lost)


def test_10_backup_filesystem_fills_up_while_pg_dump_runs(world, fault_record):
    w = world()
    mnt = os.path.join(w.root, "db1", "small-disk")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", mnt], check=True)
    try:
        w.inventory(host_overrides={"db1": {"tviews_backup_root": mnt}})
        hold = TableHold(w.cluster)
        run = FaultRun(w.fleet, "migrate")
        run.wait_for(lambda: pg_dump_waiting(w.cluster), "pg_dump waiting for its locks")
        filler = os.path.join(mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M"], capture_output=True, check=False)
        hold.release()
        rc, out = run.finish()
        assert rc != 0 and "failed in Collect the result of the backup of app" in out and "No space left on device" in out, out[-6000:]
        assert "Nothing was changed in its databases" in out, out[-6000:]
        lost = after_fault(w, "0.1.0")
        assert glob.glob(os.path.join(mnt, "db1", "*", "2*")) == [], "the failed backup left its directory"
        os.unlink(filler)  # what the operator does about it
        out = rerun(w.fleet, "migrate")
        lost += after_rerun(w, out)
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
    fault_record.row("10", fault="the backup filesystem fills up (a 64 MiB tmpfs filled by the test)",
                     when="while pg_dump runs",
                     after="0.1.0; pg_dump failed with \"No space left on device\", the backup removed its "
                           "directory; the run stopped with \"Nothing was changed in its databases\"",
                     rerun="after space is freed, completes: backup, swap, validate", rows_lost=lost)


def test_11_killed_during_an_immediate_rollback(world, fault_record):
    w = world()
    rerun(w.fleet, "migrate")
    rollback = ("-e", "tviews_target_hosts=db1", "-e", "tviews_rollback_mode=immediate")
    kill_at(w.fleet, "rollback", "swap:create extension:None", *rollback)
    lost = after_fault(w, "0.2.0")
    assert "rollback" not in state(w.fleet)
    out = rerun(w.fleet, "rollback", *rollback)
    assert assert_one_version(w.cluster) == "0.1.0" and leftovers(w.fleet, w.cluster) == []
    lost += assert_no_write_lost(w.app, w.cluster, w.base)
    assert state(w.fleet)["rollback"]["to_version"] == "0.1.0", out[-3000:]
    fault_record.row("11", fault="ansible-playbook killed", when="during an immediate rollback's swap (after DROP EXTENSION)",
                     after="0.2.0: the reverse swap's transaction ended with its session",
                     rerun="completes: 0.1.0, the rollback recorded", rows_lost=lost)


def test_15_killed_after_a_rebuilds_tables_were_built_before_its_locks(world, fault_record):
    w = world(extra_vars={"tviews_swap_tview_mode": "rebuild"})
    kill_at(w.fleet, "migrate", "swap:prebuilt:app")
    lost = after_fault(w, "0.1.0")
    assert "_pgtviews_ops_prebuilt" in leftovers(w.fleet, w.cluster) and "swap" not in state(w.fleet)
    out = rerun(w.fleet, "migrate")
    lost += after_rerun(w, out)   # no schema of built tables left either
    swapped = state(w.fleet)["swap"]
    assert swapped["mode"] == "rebuild" and swapped["prebuilt"]["moved_in"], swapped
    assert "table(s) built before the locks in" in out, out[-6000:]
    fault_record.row("15", fault="ansible-playbook killed", when="a rebuild (tviews_swap_tview_mode: rebuild): after its "
                     "tables were built before the locks, before the swap's transaction",
                     after="0.1.0, untouched; the built copies left in the schema _pgtviews_ops_prebuilt",
                     rerun="completes: the swap drops the left schema, builds again, moves the tables in (those written "
                           "meanwhile rebuilt under the locks); no schema left", rows_lost=lost)


def test_12_killed_at_each_step_of_a_complete_rollback(world, fault_record):
    w = world()
    rerun(w.fleet, "migrate")
    app = w.app
    args = ("-e", '{"tviews_target_hosts": "db1", "tviews_rollback_mode": "complete", "tviews_rollback_confirm": true, '
                  '"tviews_rollback_stop_commands": ["%s"], "tviews_rollback_start_commands": ["%s"]}'
            % (app.pause_command().replace('"', '\\"'), app.resume_command()))
    steps = (("restore:created:app_rollback", "while the backup is restored beside the database", False),
             ("restore:verified:app_rollback", "after the restored copy was verified, before the application stops", False),
             ("state:rollback_complete:app", "after the switch was recorded as started, the application stopped", True),
             ("restore:switch:app", "just before the renames, the application stopped", True))
    lost, marks = 0, []
    for point, when, paused in steps:
        run = FaultRun(w.fleet, "rollback", *args, point=point)
        run.wait_point()
        run.kill()
        assert assert_one_version(w.cluster) == "0.2.0", when
        lost += assert_no_write_lost(app, w.cluster, w.base, resume=not paused)
        marks.append(w.cluster.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                       "WHERE datname = 'app_rollback'")[0][0])
    # Killed while restoring: marked unfinished; the next run dropped it and restored it to the end,
    # and the runs after it verified that copy again instead of restoring it a third time.
    assert marks[0].startswith("pgtviews.ops: restore in progress"), marks
    assert all(m.startswith("pgtviews.ops: restored and recreated") for m in marks[1:]) and len(set(marks[1:])) == 1, marks
    out = rerun(w.fleet, "rollback", *args)
    assert assert_one_version(w.cluster) == "0.1.0" and leftovers(w.fleet, w.cluster) == []
    st = state(w.fleet)["rollback_complete"]
    assert st["switched"] is True
    # Everything the application committed before it was stopped is in the copy kept aside.
    lost += assert_no_write_lost(app, w.cluster, w.base, db=st["failed_database"], until=app.paused_at())
    assert w.cluster.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'app'") \
        == [(None,)], "the restored database kept the restore mark"
    fault_record.row("12", fault="ansible-playbook killed, once at each step, each re-run killed at the next",
                     when="during a complete rollback: restoring; restored and verified; switch recorded with the "
                          "application stopped; just before the renames",
                     after="0.2.0 each time, the database untouched; the half-restored copy marked as in progress",
                     rerun="each re-run resumes (drops the unfinished copy, reuses a verified one); the last completes: "
                           "0.1.0 restored, the database kept aside holds every acknowledged write, the application "
                           "started again", rows_lost=lost)


def test_13_state_file_corrupted_before_a_rerun(world, fault_record):
    w = world()
    kill_at(w.fleet, "migrate", "validate:app")
    path = w.fleet.host_vars("db1")["tviews_state_file"]
    with open(path, "rb") as fh:
        text = fh.read()
    with open(path, "wb") as fh:
        fh.write(text[:len(text) // 2])  # cut short, as by a full disk or a hand edit
    lost = after_fault(w, "0.2.0")
    out = rerun(w.fleet, "migrate")
    assert "was unreadable" in out and ".corrupt-" in out and "the backup of app was found again" in out, out[-6000:]
    lost += after_rerun(w, out)
    assert [p for p in os.listdir(os.path.dirname(path)) if ".corrupt-" in p]
    assert state(w.fleet)["backup"]["superseded_by"] == "recovery"
    fault_record.row("13", fault="the state file cut to half its length", when="before a re-run (after a run killed "
                     "during validate)", after="0.2.0, consistent; the state file is not valid JSON",
                     rerun="completes and says the state file was unreadable, kept as <file>.corrupt-<time>, and the "
                           "backup of app found again on disk; the swap is found committed, recorded, validated",
                     rows_lost=lost)


def test_14_a_server_refuses_connections_at_the_second_wave(world, fault_record):
    w = world(names=("db1", "db2"))
    db2 = w.fleet.cluster("db2")
    db2.stop()
    run = FaultRun(w.fleet, "migrate")
    rc, out = run.finish()
    assert rc != 0 and "db2 failed in" in out and "Nothing was changed in its databases" in out, out[-6000:]
    assert "Connection refused" in out or "could not connect" in out or "No such file" in out, out[-6000:]
    lost = after_fault(w, "0.2.0")
    db2.start()
    assert extversion(db2) == "0.1.0"
    out = rerun(w.fleet, "migrate")
    assert extversion(db2) == "0.2.0" and assert_one_version(db2) == "0.2.0"
    lost += after_rerun(w, out)
    fault_record.row("14", fault="a server refuses connections (db2 stopped)", when="at the second wave's preflight",
                     after="db1 (first wave) on 0.2.0; db2 untouched on 0.1.0; the run stopped naming db2 and the "
                           "connection error",
                     rerun="with db2 back, completes: db1 unchanged, db2 migrated", rows_lost=lost)
