"""Backup directories: safe names, never a shared directory, 0700, one backup at a time."""

import datetime
import os
import stat

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import layout as bl


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


@pytest.mark.parametrize("name", ["app", "app_2", "db.prod-1"])
def test_plain_names_stay(name):
    assert bl.safe_name(name) == name


@pytest.mark.parametrize("name", ['Bk "App" Ä db', "a/b", "..", ".hidden", "x" * 200, "ÄÖÜ", ""])
def test_awkward_names_are_safe_and_distinct(name):
    safe = bl.safe_name(name)
    assert "/" not in safe and safe not in (".", "..") and not safe.startswith(".")
    assert len(safe) <= 100 and safe.isascii()
    assert safe != bl.safe_name(name + "x")


def test_new_backup_dirs_never_collide(tmp_path):
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)
    a = bl.new_backup_dir(str(tmp_path), now)
    b = bl.new_backup_dir(str(tmp_path), now)
    assert os.path.basename(a) == "20260102T030405.678901Z"
    assert os.path.basename(b) == "20260102T030405.678901Z-1"
    assert mode(a) == mode(b) == 0o700
    assert bl.backup_dirs(str(tmp_path)) == [a, b]


def test_make_dirs_is_0700_and_names_the_problem(tmp_path):
    old = os.umask(0o022)
    try:
        created = bl.make_dirs(str(tmp_path / "r" / "h" / "db"))
    finally:
        os.umask(old)
    assert len(created) == 3 and all(mode(p) == 0o700 for p in created)
    (tmp_path / "file").write_text("x")
    with pytest.raises(bl.LayoutError, match="file exists and is not a directory"):
        bl.make_dirs(str(tmp_path / "file" / "h"))


def test_lock_is_exclusive(tmp_path):
    with bl.DatabaseLock(str(tmp_path), "app"):
        with pytest.raises(bl.LayoutError, match="another backup of database app is still running after 0 s .*"
                                                 "let it finish, then run again"):
            with bl.DatabaseLock(str(tmp_path), "app"):
                pass
    with bl.DatabaseLock(str(tmp_path), "app"):
        pass
    assert mode(tmp_path / ".lock") == 0o600


def test_lock_waits_for_the_backup_that_holds_it(tmp_path):
    """The job an interrupted run left running is waited for, and the wait is reported."""
    holder = bl.DatabaseLock(str(tmp_path), "app").__enter__()
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 2:
            holder.__exit__(None, None, None)  # the other backup finishes

    with bl.DatabaseLock(str(tmp_path), "app", wait=60, sleep=sleep) as lock:
        assert len(naps) == 2 and lock.contended
    with pytest.raises(bl.LayoutError, match="still running after"):
        with bl.DatabaseLock(str(tmp_path), "app"):
            with bl.DatabaseLock(str(tmp_path), "app", wait=0.01, sleep=lambda s: None):
                pass


def test_backup_dirs_ignores_other_entries(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "20260102T030405.678901Z").write_text("a file")
    keep = tmp_path / "20260102T030406.000000Z"
    keep.mkdir()
    assert bl.backup_dirs(str(tmp_path)) == [str(keep)]
    assert bl.tree_size(str(tmp_path)) == (6, 1)
