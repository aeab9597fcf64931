"""tviews_validate against a real swap: stand-in 0.1.0 swapped to 0.2.0 with tviews_swap.

Validate passes after the swap (timings compared with the preflight baseline, manifest
verified, write path and refresh proven in rolled-back transactions, nothing committed), and
fails when a tv_ is made to drift after the swap or a base-table trigger stops working."""

import os

import pytest

from tests.harness.modules import conn_args, run_module
from tests.integration.conftest import load_app
from tests.integration.gates.helpers import by_name, fingerprint, status_of

TVIEWS = {"user", "post", "comment", "Bücher"}


@pytest.fixture(scope="module")
def cluster(both_install, make_cluster):
    c = make_cluster(both_install, name="gates-val")
    yield c
    c.destroy()


@pytest.fixture(scope="module")
def swapped(cluster, tmp_path_factory):
    """A database preflighted (full-refresh baseline) and swapped to 0.2.0 for real."""
    db = load_app(cluster, "val_app")
    work = tmp_path_factory.mktemp("validate")
    os.chmod(str(work), 0o755)
    manifest = str(work / "manifest.json")
    pre = run_module("tviews_preflight", conn_args(cluster, "postgres", version="0.2.0", databases=[db],
                                                   backup_root=str(work), baseline_full=True, baseline_runs=1))
    assert pre["summary"]["status"] == "pass", pre["summary"]
    res = run_module("tviews_swap", conn_args(cluster, db, version="0.2.0", manifest=manifest))
    assert not res.get("failed") and res["changed"], res.get("msg")
    return db, manifest, pre["baseline"]


def validate(cluster, db, **kw):
    res = run_module("tviews_validate", conn_args(cluster, "postgres", version="0.2.0", databases=[db], **kw))
    assert not res.get("failed"), res.get("msg")
    return res


def test_validate_passes_after_real_swap(cluster, swapped):
    db, manifest, baseline = swapped
    before = fingerprint(cluster, db)
    res = validate(cluster, db, manifests={db: manifest}, baseline=baseline, timing_runs=1)
    assert res["summary"]["status"] == "pass", res["summary"]
    for name in ("extension_version", "health", "consistency", "readable", "drift", "manifest", "write_path", "refresh",
                 "refresh_timing"):
        assert status_of(res, name, db) == "pass", by_name(res, name, db)
    assert by_name(res, "extension_version", db)[0]["reason"] == "at 0.2.0 (library 0.2.0)"
    assert by_name(res, "manifest", db)[0]["reason"] == "matches the manifest (%s; catalog, not data)" % manifest
    assert "for 4 TVIEW(s) (rolled back)" in by_name(res, "write_path", db)[0]["reason"]
    assert "refreshed 4 TVIEW(s) through the 0.2 API (sampled primary keys; rolled back)" in by_name(res, "refresh", db)[0]["reason"]
    timing = by_name(res, "refresh_timing", db)[0]
    assert {t["tview"] for t in timing["details"]["timings"]} == TVIEWS
    assert all(t["kind"] == "full" and t["before_ms"] > 0 and t["after_ms"] > 0 for t in timing["details"]["timings"])
    assert {c["tview"] for c in res["checksums"]} == TVIEWS
    assert all(c["equal"] and c["before"] == c["after"] and c["row_count_before"] == c["row_count_after"]
               for c in res["checksums"])
    assert res["databases"] == [{"name": db, "extversion": "0.2.0", "library_version": "0.2.0", "api_generation": "0.2",
                                 "tviews": 4}]
    # The write test and the refreshes were rolled back: not a row, not a timestamp changed.
    assert fingerprint(cluster, db) == before
    # Without the manifest path it verifies against the manifest the swap stored in the database.
    stored = validate(cluster, db, write_test=False, refresh_sample=1, timing_runs=1)
    assert by_name(stored, "manifest", db)[0]["reason"] == \
        "matches the manifest (stored in pgtviews_ops.manifests; catalog, not data)"
    assert status_of(stored, "write_path", db) == "skip" and status_of(stored, "refresh_timing", db) == "skip"


def test_row_refresh_is_timed_several_times_only_against_a_baseline(cluster, swapped):
    """Without a row-refresh baseline (a migration from 0.1, which cannot refresh rows) each TVIEW's
    row refresh runs once; with one, timing_runs times and the fastest is compared."""
    db, manifest, baseline = swapped
    res = validate(cluster, db, write_test=False, timing_runs=3)
    rows = [t for t in res["timings"] if t["kind"] == "rows"]
    assert {t["tview"] for t in rows} == TVIEWS and all(len(t["runs_ms"]) == 1 for t in rows), rows
    assert status_of(res, "refresh", db) == "pass"
    rows_baseline = [dict(t, database=db) for t in rows]
    res = validate(cluster, db, write_test=False, timing_runs=3, baseline=rows_baseline)
    rows = [t for t in res["timings"] if t["kind"] == "rows"]
    assert all(len(t["runs_ms"]) == 3 and t["duration_ms"] == min(t["runs_ms"]) for t in rows), rows
    assert status_of(res, "refresh_timing", db) in ("pass", "warn")


def test_validate_fails_on_drift_and_broken_write_path(cluster, swapped):
    db, manifest, baseline = swapped
    cluster.execute("UPDATE tv_comment SET data = data || '{\"body\": \"changed behind pg_tviews\"}' WHERE pk_comment = 7", db)
    before = fingerprint(cluster, db)
    res = validate(cluster, db, manifests={db: manifest}, timing_runs=1)
    assert res["summary"]["status"] == "fail"
    # Drift fails; the manifest check compares the catalog only (data is the drift check's).
    assert sorted(set(c["name"] for c in res["checks"] if c["status"] == "fail")) == ["drift"]
    assert ("1 TVIEW(s) out of sync with their view (every row): public.tv_comment differs from public.v_comment "
            "(1 row(s) only in tv_, 1 only in v_)") == by_name(res, "drift", db)[0]["reason"]
    assert status_of(res, "manifest", db) == "pass"
    assert [c["equal"] for c in res["checksums"] if c["tview"] == "comment"] == [False]
    assert fingerprint(cluster, db) == before

    # Repair the row, then break the write path: writes to tb_user no longer reach tv_user.
    run_module("tviews_refresh", conn_args(cluster, db, tviews=["comment"], primary_keys=[7]))
    cluster.execute("ALTER TABLE tb_user DISABLE TRIGGER USER", db)
    try:
        res = validate(cluster, db, manifests={db: manifest}, timing_runs=1)
        assert sorted(set(c["name"] for c in res["checks"] if c["status"] == "fail")) == ["write_path"]
        reason = by_name(res, "write_path", db)[0]["reason"]
        assert reason.startswith("a write to a base table did not reach 1 TVIEW(s): user: UPDATE of tb_user.name")
        assert "changed the view but not the tv_ row" in reason
    finally:
        cluster.execute("ALTER TABLE tb_user ENABLE TRIGGER USER", db)


def test_validate_fails_before_the_swap(cluster):
    db = load_app(cluster, "val_not_swapped")
    try:
        res = validate(cluster, db, write_test=False, timing_runs=1)
        assert [c["name"] for c in res["checks"] if c["status"] == "fail"] == ["extension_version"]
        assert by_name(res, "extension_version", db)[0]["reason"] == "extversion is 0.1.0, not 0.2.0"
        assert status_of(res, "refresh", db) == "skip"  # 0.1 cannot refresh rows
    finally:
        cluster.dropdb(db)
