"""The backup record: sealed, refused when modified, and trusted only while its files are intact."""

import json
import os

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as br
from ansible_collections.pgtviews.ops.plugins.module_utils.host import sealed
from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_private


def make_backup(tmp_path, extversion="0.1.0", test_restore=True):
    d = tmp_path / "20260101T000000.000000Z"
    dump = d / "dump"
    dump.mkdir(parents=True)
    (dump / "toc.dat").write_bytes(b"TOC")
    (dump / "3001.dat.gz").write_bytes(b"data" * 10)
    (d / "manifest.json").write_text('{"m": 1}')
    (d / "tview_metadata_before.csv").write_text("entity_name\nuser\n")
    record = br.seal({
        "database": "app", "host": "h1", "created": "2026-01-01T00:00:00.000000Z", "target_version": "0.2.0",
        "directory": str(d),
        "extension": {"extversion": extversion, "library_version": "0.1.0-beta.8", "api_generation": "0.1", "schema": "public"},
        "dump": {"path": str(dump), "files": {"toc.dat": 3, "3001.dat.gz": 40}, "bytes": 43,
                 "toc_sha256": br.sha256_file(str(dump / "toc.dat"))},
        "manifest": dict(br.file_facts(str(d / "manifest.json")), digest="sha256:m"),
        "csv": br.file_facts(str(d / "tview_metadata_before.csv")),
        "verification": {"list": {"checked": 3}, "test_restore": {"performed": test_restore}},
    })
    path = str(d / "backup.json")
    write_private(path, sealed.dumps(record))
    return path, d


def test_round_trip_and_state_data(tmp_path):
    path, d = make_backup(tmp_path)
    rec = br.load(path)
    assert rec["kind"] == br.KIND and rec["digest"].startswith("sha256:")
    assert br.problems(rec) == []
    data = br.state_data(rec, path)
    assert data["path"] == str(d) and data["record"] == path and data["manifest"].endswith("manifest.json")
    assert data["extversion"] == "0.1.0" and data["test_restored"] is True
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_modified_record_is_refused(tmp_path):
    path, d = make_backup(tmp_path)
    doc = json.load(open(path))
    doc["extension"]["extversion"] = "0.2.0"
    open(path, "w").write(json.dumps(doc))
    with pytest.raises(br.RecordError, match="modified after it was written"):
        br.load(path)


@pytest.mark.parametrize("damage, expected", [
    (lambda d: os.remove(str(d / "dump" / "3001.dat.gz")), "3001.dat.gz is missing"),
    (lambda d: (d / "dump" / "3001.dat.gz").write_bytes(b"short"), "has 5 bytes, recorded 40"),
    (lambda d: (d / "dump" / "toc.dat").write_bytes(b"TOX"), "toc.dat changed"),
    (lambda d: (d / "manifest.json").write_text('{"m": 2}'), "manifest .* changed"),
    (lambda d: os.remove(str(d / "tview_metadata_before.csv")), "csv .* is missing"),
])
def test_damage_is_found(tmp_path, damage, expected):
    path, d = make_backup(tmp_path)
    damage(d)
    found = br.problems(br.load(path))
    assert found and __import__("re").search(expected, found[0]), found


def test_reusable_rules(tmp_path):
    path, d = make_backup(tmp_path, test_restore=False)
    rec = br.load(path)
    assert br.reusable(rec, "app", "0.2.0", "0.1.0", False) is None
    assert "database app" in br.reusable(rec, "other", "0.2.0", "0.1.0", False)
    assert "migration to 0.2.0, not 0.3.0" in br.reusable(rec, "app", "0.3.0", "0.1.0", False)
    assert "was 0.1.0 then and is 0.2.0 now" in br.reusable(rec, "app", "0.2.0", "0.2.0", False)
    assert "not test-restored" in br.reusable(rec, "app", "0.2.0", "0.1.0", True)


def test_state_data_times_the_backup(tmp_path):
    path, d = make_backup(tmp_path)
    rec = json.load(open(path))
    rec["durations"] = {"manifest": 0.1, "dump": 1.0, "verify": 0.2, "test_restore": 0.7, "total": 2.25}
    data = br.state_data(rec, path)
    assert data["started_at"] == "2026-01-01T00:00:00.000000Z" and data["created"] == data["started_at"]
    assert data["finished_at"] == "2026-01-01T00:00:02.250000Z" and data["duration_ms"] == 2250.0
    assert data["durations"]["dump"] == 1.0
    del rec["durations"]                               # a record without durations: no timing claimed
    data = br.state_data(rec, path)
    assert "duration_ms" not in data and "started_at" not in data and data["durations"] is None
