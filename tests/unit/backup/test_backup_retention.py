"""Retention keeps the newest K complete backups, never the current or a protected one."""

import os

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import retention as br


def tree(tmp_path, spec):
    """spec: {name: 'ok' | 'partial' | 'invalid'}"""
    paths = {}
    for name, kind in spec.items():
        d = tmp_path / name
        d.mkdir()
        if kind != "partial":
            (d / "backup.json").write_text(kind)
        paths[name] = str(d)
    return paths


def fake_load(path):
    if open(path).read() != "ok":
        raise ValueError("bad")


NAMES = ["20260101T000000.000000Z", "20260102T000000.000000Z", "20260103T000000.000000Z",
         "20260104T000000.000000Z", "20260105T000000.000000Z"]


def test_keep_all_removes_only_partials(tmp_path):
    p = tree(tmp_path, {NAMES[0]: "ok", NAMES[1]: "partial", NAMES[2]: "ok"})
    plan = br.plan(str(tmp_path), p[NAMES[2]], 0, load=fake_load)
    assert plan["remove"] == [] and plan["partial"] == [p[NAMES[1]]]


def test_keep_newest_but_never_protected_or_current(tmp_path):
    p = tree(tmp_path, {NAMES[0]: "ok", NAMES[1]: "ok", NAMES[2]: "invalid", NAMES[3]: "ok", NAMES[4]: "ok"})
    plan = br.plan(str(tmp_path), p[NAMES[4]], 2, protect=[p[NAMES[0]]], load=fake_load)
    assert plan["remove"] == [p[NAMES[1]]]
    assert plan["invalid"] == [p[NAMES[2]]]
    assert plan["protected"] == [p[NAMES[0]]]
    assert p[NAMES[4]] in plan["keep"] and p[NAMES[3]] in plan["keep"]
    removed, errors = br.apply(plan)
    assert removed == [p[NAMES[1]]] and errors == []
    assert sorted(os.listdir(str(tmp_path))) == [NAMES[0], NAMES[2], NAMES[3], NAMES[4]]


def test_an_older_current_backup_is_kept(tmp_path):
    """A reused backup may be older than others; it stays whatever keep says."""
    p = tree(tmp_path, {NAMES[0]: "ok", NAMES[1]: "ok", NAMES[2]: "ok"})
    plan = br.plan(str(tmp_path), p[NAMES[0]], 1, load=fake_load)
    assert plan["remove"] == [p[NAMES[1]]]
    assert p[NAMES[0]] in plan["keep"] and p[NAMES[2]] in plan["keep"]


def test_check_mode_current_does_not_exist_yet(tmp_path):
    p = tree(tmp_path, {NAMES[0]: "ok", NAMES[1]: "ok"})
    plan = br.plan(str(tmp_path), str(tmp_path / NAMES[4]), 2, load=fake_load)
    assert plan["remove"] == [p[NAMES[0]]]
