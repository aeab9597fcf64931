"""The metadata CSV, the space check, and the progress file and its follower."""

import csv
import io
import json
import os
import stat

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import metadata_csv as backup_csv
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import progress as backup_progress
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import space as backup_space
from ansible_collections.pgtviews.ops.plugins.module_utils.host import disk
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import progress as follower


def test_csv_v01_and_v02_records():
    records = [
        {"entity": "post", "schema": "public", "table": "tv_post", "view": "v_post",
         "definition": "SELECT a, b\n  FROM t WHERE x = 'y,z'", "last_refreshed": None,
         "last_refresh_duration_ms": None, "last_error": None},
        {"entity": "Bücher", "schema": "Sales Dept", "table": "tv_Bücher", "view": "v_Bücher",
         "definition": 'SELECT "Titel"', "last_refreshed": "2026-01-01T00:00:00.000000Z",
         "last_refresh_duration_ms": 12.5, "last_error": 'said "no"'},
    ]
    rows = list(csv.reader(io.StringIO(backup_csv.render(records, "0.1.0-beta.8", "0.1.0"))))
    assert rows[0] == list(backup_csv.COLUMNS)
    assert rows[1][:5] == ["Bücher", "Sales Dept", "tv_Bücher", "v_Bücher", 'SELECT "Titel"']
    assert rows[1][5:] == ["2026-01-01T00:00:00.000000Z", "12.5", 'said "no"', "0.1.0-beta.8", "0.1.0"]
    assert rows[2][4] == "SELECT a, b\n  FROM t WHERE x = 'y,z'"
    assert rows[2][5:8] == ["", "", ""]


def test_human_sizes():
    assert disk.human(0) == "0 B"
    assert disk.human(1536) == "1.5 KiB"
    assert disk.human(12 * 1024 ** 2) == "12.0 MiB"


def test_space_check_message(tmp_path, monkeypatch):
    monkeypatch.setattr(backup_space, "free_bytes", lambda path: 3 * 1024 ** 2)
    with pytest.raises(backup_space.SpaceError) as e:
        backup_space.check(str(tmp_path / "not" / "yet"), 6 * 1024 ** 2, 2.0)
    assert str(e.value) == ("not enough space for the backup in %s: need 12.0 MiB (2.0 x database size 6.0 MiB), "
                            "3.0 MiB free" % tmp_path)
    facts = backup_space.check(str(tmp_path), 1024 ** 2, 2.0)
    assert facts["needed"] == 2 * 1024 ** 2 and facts["measured_at"] == str(tmp_path)


def test_progress_file_is_private_and_removed(tmp_path):
    path = str(tmp_path / "p" / "x.json")
    p = backup_progress.Progress(path, "app")
    p.update("dump", directory="/b/1", nbytes=42)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = backup_progress.read(path)
    assert (doc["phase"], doc["bytes"], doc["directory"], doc["pid"]) == ("dump", 42, "/b/1", os.getpid())
    p.remove()
    assert not os.path.exists(path) and backup_progress.read(path) is None


def test_progress_on_an_unwritable_place_is_silent(tmp_path):
    (tmp_path / "file").write_text("x")
    p = backup_progress.Progress(str(tmp_path / "file" / "x.json"), "app")
    p.update("dump", nbytes=1)
    assert p.enabled is False


def write_json(path, doc):
    with open(str(path), "w") as fh:
        json.dump(doc, fh)


def test_follower_while_running_and_after(tmp_path):
    results, prog = tmp_path / "job", tmp_path / "prog.json"
    write_json(results, {"started": 1, "finished": 0, "ansible_job_id": "j1"})
    now = [1000.0]
    write_json(prog, {"started": 990.0, "phase": "dump", "bytes": 3 * 1024 ** 2, "directory": "/b/1"})
    out = follower.observe(str(results), str(prog), wait=2, clock=lambda: now[0],
                           sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert out == {"finished": False, "failed_job": False, "phase": "dump", "elapsed": 12, "bytes": 3 * 1024 ** 2,
                   "directory": "/b/1", "size": "3.0 MiB"}
    write_json(results, {"changed": True, "bytes": 5000, "directory": "/b/1", "durations": {"total": 33.2}})
    os.remove(str(prog))
    out = follower.observe(str(results), str(prog), wait=60)
    assert (out["finished"], out["phase"], out["bytes"], out["elapsed"]) == (True, "finished", 5000, 33)
    write_json(results, {"failed": True, "msg": "pg_dump failed"})
    out = follower.observe(str(results), None, wait=60)
    assert (out["finished"], out["failed_job"], out["phase"]) == (True, True, "failed")


def test_follower_without_job_file(tmp_path):
    with pytest.raises(ValueError, match="no async job results file"):
        backup_progress.job_status(str(tmp_path / "missing"))


def test_follower_collects_the_finished_job_and_removes_its_file(tmp_path):
    results = tmp_path / "job"
    write_json(results, {"started": 1, "finished": 0, "ansible_job_id": "j1"})
    out = follower.observe(str(results), None, wait=0, collect=True)
    assert out["finished"] is False and "job" not in out and results.exists()    # still running: nothing taken
    job = {"changed": True, "bytes": 5000, "directory": "/b/1", "durations": {"total": 2.5}, "warnings": ["w"]}
    write_json(results, job)
    out = follower.observe(str(results), None, wait=60, collect=True)
    assert out["finished"] is True and out["job"] == job and not results.exists()
    write_json(results, {"failed": True, "msg": "pg_dump failed"})
    out = follower.observe(str(results), None, wait=60, collect=True)
    assert out["failed_job"] is True and out["job"] == {"failed": True, "msg": "pg_dump failed"} and not results.exists()
