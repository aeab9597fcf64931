"""The gate rules: gates_server, gates_catalog, gates_timing.compare and gates_app."""

import datetime

from ansible_collections.pgtviews.ops.plugins.module_utils.gates import app as gates_app
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import catalog as gates_catalog
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import server as gates_server
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import timing as gates_timing
from ansible_collections.pgtviews.ops.plugins.module_utils.host import disk

UTC = datetime.timezone.utc
FACTS = {"server_version": "15.10", "server_major": 15, "is_primary": True, "is_superuser": True}


def test_server_rules():
    assert gates_server.server_version(FACTS, [15, 16])["status"] == "pass"
    c = gates_server.server_version(dict(FACTS, server_major=12, server_version="12.1"), [13, 14])
    assert c["status"] == "fail" and "major 12 is not one of the supported majors 13, 14" in c["reason"]
    assert gates_server.privileges(FACTS, "postgres")["status"] == "pass"
    assert "ops is not a superuser" in gates_server.privileges(dict(FACTS, is_superuser=False), "ops")["reason"]
    assert gates_server.primary(dict(FACTS, is_primary=False))["reason"].startswith("standby (in recovery)")
    assert gates_server.reachable("cannot connect to h:1/postgres as u: timeout", "h")["status"] == "fail"


def test_target_available():
    ok = gates_server.target_available("0.2.0", ["0.1.0", "0.2.0"], {"ran": True, "database": "postgres",
                                                                     "library_version": "0.2.0", "error": None})
    assert ok["status"] == "pass" and "probed in postgres and rolled back; library 0.2.0" in ok["reason"]
    missing = gates_server.target_available("0.2.0", ["0.1.0"], None)
    assert missing["status"] == "fail" and "(available: 0.1.0); run the install role first" in missing["reason"]
    broken = gates_server.target_available("0.2.0", ["0.2.0"], {"ran": True, "database": "postgres", "error": "could not load library"})
    assert broken["status"] == "fail" and "CREATE EXTENSION fails" in broken["reason"]
    wrong = gates_server.target_available("0.2.0", ["0.2.0"], {"ran": True, "database": "postgres", "library_version": "0.1.0-beta.8"})
    assert wrong["status"] == "fail" and "its library reports 0.1.0-beta.8" in wrong["reason"]
    assert gates_server.target_available("0.2.0", ["0.2.0"], {"ran": False, "skipped": "standby (read-only)"})["status"] == "pass"
    assert "API generation" in gates_server.target_available("0.9.0", ["0.9.0"], None)["reason"]
    later = gates_server.target_available("0.2.0", ["0.1.0"], None, required=False)
    assert later["status"] == "warn" and later["reason"] == (
        "pg_tviews 0.2.0 is not installed on this server yet (available: 0.1.0): the install phase adds it, beside the "
        "running version")


def test_transactions_sessions_space_pg_dump():
    rows = [{"gid": "g1", "database": "app", "age_seconds": 5, "owner": "u"},
            {"gid": "g2", "database": "other", "age_seconds": 9, "owner": "u"}]
    c = gates_server.prepared_transactions(rows, ["app"])
    assert c["status"] == "fail" and c["details"]["gids"] == ["g1"] and "g1 in app (5s old, owner u)" in c["reason"]
    assert gates_server.prepared_transactions(rows[1:], ["app"])["status"] == "warn"
    assert gates_server.prepared_transactions([], ["app"])["status"] == "pass"
    sessions = [{"pid": 7, "user": "u", "state": "idle in transaction", "transaction_age_seconds": 400},
                {"pid": 8, "user": "u", "state": "idle", "transaction_age_seconds": None}]
    lt = gates_server.long_transactions("app", sessions, 300)
    assert lt["status"] == "fail" and lt["details"]["pids"] == [7] and lt["database"] == "app"
    assert gates_server.long_transactions("app", sessions, 500)["status"] == "pass"
    s = gates_server.sessions("app", sessions, [{"pid": 7, "mode": "RowExclusiveLock"}])
    assert s["status"] == "warn" and "pid 7 (RowExclusiveLock)" in s["reason"] and s["details"]["count"] == 2
    sp = gates_server.backup_space("/b", 1000, {"app": 600, "x": 500}, 1.0)
    assert sp["status"] == "fail" and sp["details"]["needed_bytes"] == 1100
    assert gates_server.backup_space("/b", 10 ** 12, {"app": 600}, 2.0)["status"] == "pass"
    assert gates_server.backup_space("/b", 0, {}, 1.0, error="permission denied")["status"] == "fail"
    assert gates_server.pg_dump("/x/pg_dump", "pg_dump (PostgreSQL) 15.10 (Debian 15.10-1)", 15)["status"] == "pass"
    old = gates_server.pg_dump("/x/pg_dump", "pg_dump (PostgreSQL) 13.2", 15)
    assert old["status"] == "fail" and "needs pg_dump 15 or newer" in old["reason"]
    assert gates_server.pg_dump(None, None, 15, error="not found")["status"] == "fail"
    # One byte formatting for the gates and the backup: binary units (issue 16).
    assert disk.human(1536) == "1.5 KiB" and disk.human(12) == "12 B"


def test_code_scan_and_window():
    scan = {"summary": {"counts": {"severities": {"error": 1, "warning": 2, "info": 3}}}}
    assert gates_server.code_scan(scan, "s.json")["status"] == "warn"
    assert gates_server.code_scan(scan, "s.json", fail_on="error")["status"] == "fail"
    assert gates_server.code_scan({"counts": {"warning": 0, "info": 2}}, "s", fail_on="warning")["status"] == "warn"
    assert gates_server.code_scan({"counts": {"info": 2}}, "s", fail_on="info")["status"] == "fail"
    assert gates_server.code_scan({"counts": {}}, "s")["status"] == "pass"
    assert gates_server.code_scan(None, "s")["status"] == "skip"
    assert gates_server.code_scan(None, "s", required=True)["status"] == "fail"
    now = datetime.datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert gates_server.maintenance_window([], now)["status"] == "skip"
    assert gates_server.maintenance_window([{"start": "22:00", "end": "02:00"}], now)["status"] == "pass"
    out = gates_server.maintenance_window([{"start": "01:00", "end": "02:00"}], now)
    assert out["status"] == "fail" and "now (2026-11-28T23:00Z) is outside" in out["reason"]
    assert gates_server.maintenance_window([{"start": "1"}], now)["status"] == "fail"


def test_extension_version_before_and_after():
    base = {"installed": True, "extversion": "0.1.0", "library_version": "0.1.0-beta.8"}
    assert gates_catalog.extension_before("app", base, "0.2.0")["status"] == "pass"
    done = gates_catalog.extension_before("app", dict(base, extversion="0.2.0", library_version="0.2.0"), "0.2.0")
    assert done["status"] == "pass" and done["details"]["done"] is True and "done" in done["reason"]
    mixed = gates_catalog.extension_before("app", dict(base, library_version="0.2.0"), "0.2.0")
    assert mixed["status"] == "fail" and "another pg_tviews library was installed" in mixed["reason"]
    assert gates_catalog.extension_before("app", dict(base, library_version=None), "0.2.0")["status"] == "fail"
    assert gates_catalog.extension_before("app", {"installed": False}, "0.2.0")["status"] == "fail"
    assert gates_catalog.extension_before("app", dict(base, extversion="0.3.0", library_version="0.3.0"), "0.2.0")["status"] == "fail"
    after = {"installed": True, "extversion": "0.2.0", "library_version": "0.2.0"}
    assert gates_catalog.extension_after("app", after, "0.2.0")["status"] == "pass"
    assert gates_catalog.extension_after("app", dict(after, library_version="0.1.0-beta.8"), "0.2.0")["status"] == "fail"
    assert gates_catalog.extension_after("app", base, "0.2.0")["reason"] == "extversion is 0.1.0, not 0.2.0"


def test_health_and_its_blind_spots():
    rows = [{"status": "OK", "component": "extension", "message": "v", "severity": "info"},
            {"status": "WARNING", "component": "jsonb_delta", "message": "not installed", "severity": "warning"}]
    assert gates_catalog.health("app", rows)["status"] == "pass"  # jsonb_delta is advice
    assert gates_catalog.health("app", rows + [{"status": "WARNING", "component": "triggers", "message": "2 orphaned",
                                                "severity": "warning"}])["status"] == "warn"
    bad = gates_catalog.health("app", rows + [{"status": "ERROR", "component": "metadata", "message": "1 orphaned metadata entries found",
                                               "severity": "error"}])
    assert bad["status"] == "fail" and "metadata: 1 orphaned metadata entries found" in bad["reason"]
    assert gates_catalog.health("app", [], callable_=False)["status"] == "skip"
    rec = {"entity": "post", "qualified_table": "public.tv_post", "qualified_view": "public.v_post",
           "dependencies": ["public.tb_post", "public.tb_user"]}
    trig = [{"name": "trg_tview_post_on_tb_post", "table": "public.tb_post"}]
    assert gates_catalog.consistency("app", [rec], trig)["status"] == "pass"
    none = gates_catalog.consistency("app", [rec], [])
    assert none["status"] == "fail" and "post: no pg_tviews trigger on any of its base tables" in none["reason"]
    gone = gates_catalog.consistency("app", [dict(rec, qualified_view=None)], trig)
    assert gone["status"] == "fail" and "its v_ view is missing" in gone["reason"]
    orphan = gates_catalog.consistency("app", [rec], trig + [{"name": "trg_tview_old_on_tb_old", "table": "public.tb_old"}])
    assert orphan["status"] == "warn" and "trg_tview_old_on_tb_old on public.tb_old" in orphan["reason"]


def test_drift_tells_rows_0_1_left_from_other_differences():
    ok = {"tview": "post", "table": "public.tv_post", "view": "public.v_post", "only_in_tv": 0, "only_in_view": 0, "stale": 0}
    stale = dict(ok, tview="comment", table="public.tv_comment", view="public.v_comment", only_in_tv=3, stale=3)
    before = gates_catalog.drift("app", [ok, stale], 0)
    assert before["status"] == "warn" and before["details"]["stale"] == {"comment": 3}
    assert "public.tv_comment has 3 row(s) whose key public.v_comment no longer has" in before["reason"]
    assert "pg_tviews 0.1 never deletes a TVIEW row" in before["reason"]
    assert "tviews_swap_repair_stale_rows: true" in before["reason"]
    after = gates_catalog.drift("app", [ok, stale], 0, after_swap=True)
    assert after["status"] == "warn" and "not drift the migration made" in after["reason"]
    # a changed row, or a row missing from tv_, is not 0.1's: it fails, and the stale rows are told apart
    mixed = gates_catalog.drift("app", [dict(stale, only_in_tv=4, only_in_view=1)], 0, after_swap=True)
    assert mixed["status"] == "fail" and mixed["details"]["tviews"] == ["comment"]
    assert "(1 row(s) only in tv_, 1 only in v_, besides 3 stale)" in mixed["reason"]
    missing = gates_catalog.drift("app", [dict(ok, only_in_view=2)], 0, after_swap=True)
    assert missing["status"] == "fail" and "stale" not in missing["reason"]


def test_drift_definitions_readable_manifest():
    ok = {"tview": "post", "table": "public.tv_post", "view": "public.v_post", "only_in_tv": 0, "only_in_view": 0}
    assert gates_catalog.drift("app", [ok], 0)["reason"].endswith("(EXCEPT both ways, every row)")
    bad = gates_catalog.drift("app", [ok, dict(ok, tview="user", table="public.tv_user", view="public.v_user", only_in_tv=2)], 100)
    assert bad["status"] == "fail" and bad["details"]["tviews"] == ["user"]
    assert "public.tv_user differs from public.v_user (2 row(s) only in tv_, 0 only in v_)" in bad["reason"]
    assert "first 100 primary keys" in bad["reason"]
    assert gates_catalog.drift("app", [dict(ok, error="permission denied")], 0)["status"] == "fail"
    d = gates_catalog.definitions("app", [{"tview": "a", "error": None}, {"tview": "b", "error": "column x does not exist"}])
    assert d["status"] == "fail" and "b: column x does not exist" in d["reason"]
    assert gates_catalog.readable("app", [{"tview": "a", "error": None}])["status"] == "pass"
    assert gates_catalog.manifest("app", None, [], [])["status"] == "skip"
    diffs = [{"kind": "row_count", "object": "post"}, {"kind": "checksum", "object": "post"}]
    assert gates_catalog.manifest("app", "/m.json", diffs, diffs[1:])["reason"] == (
        "differs from the manifest (/m.json) in 1 way(s): checksum of post")
    assert "apart from 2 allowed" in gates_catalog.manifest("app", "/m.json", diffs, [])["reason"]


def test_write_path_and_refresh():
    assert gates_catalog.write_path("app", [])["status"] == "warn"
    res = [{"tview": "user", "status": "pass", "detail": "ok"}, {"tview": "x", "status": "untestable", "detail": "no text"}]
    ok = gates_catalog.write_path("app", res)
    assert ok["status"] == "pass" and "not observable for x" in ok["reason"]
    assert gates_catalog.write_path("app", res[1:])["status"] == "warn"
    assert gates_catalog.write_path("app", res + [{"tview": "p", "status": "fail", "detail": "no change"}])["status"] == "fail"
    assert gates_catalog.refresh("app", [], "0.1")["status"] == "skip"
    assert gates_catalog.refresh("app", [{"tview": "a", "kind": "rows", "error": None, "drift": 0}], "0.2")["status"] == "pass"
    assert gates_catalog.refresh("app", [{"tview": "a", "kind": "rows", "error": None, "drift": 2}], "0.2")["status"] == "fail"


def test_timing_compare():
    before = [{"tview": "post", "kind": "rows", "duration_ms": 10.0}, {"tview": "user", "kind": "rows", "duration_ms": 1.0}]
    fast = [{"tview": "post", "kind": "rows", "duration_ms": 12.0}, {"tview": "user", "kind": "rows", "duration_ms": 9.0}]
    c = gates_timing.compare("app", before, fast, 3.0, 50)
    assert c["status"] == "pass"  # user is x9 but only 8 ms slower: noise
    assert [t["ratio"] for t in c["details"]["timings"]] == [1.2, 9.0]
    slow = [{"tview": "post", "kind": "rows", "duration_ms": 100.0}, {"tview": "user", "kind": "rows", "duration_ms": 1.0}]
    c = gates_timing.compare("app", before, slow, 3.0, 50)
    assert c["status"] == "fail" and "post rows refresh 10.0 ms -> 100.0 ms (x10.0)" in c["reason"]
    c = gates_timing.compare("app", before, fast[:1] + [{"tview": "user", "kind": "rows", "duration_ms": None, "error": "lock timeout"}], 3.0, 50)
    assert c["status"] == "warn" and "user (lock timeout)" in c["reason"]
    assert gates_timing.compare("app", [], fast, 3.0, 50)["status"] == "skip"


def test_app_checks_hide_credentials_and_output():
    assert gates_app.safe_url("https://u:p@app.example/health?token=t#x") == "https://app.example/health"
    http = gates_app.http_checks([
        {"item": {"name": "app", "url": "https://u:pw@app/health?key=secret"}, "status": 200},
        {"item": {"url": "http://app/ready", "status": [200, 204]}, "status": 503},
        {"item": {"name": "down", "url": "http://down/"}, "status": -1, "msg": "Connection refused"},
        {"item": {"name": "skipped"}, "skipped": True}])
    assert [c["status"] for c in http] == ["pass", "fail", "fail"]
    assert http[0]["reason"] == "app: https://app/health returned 200" and "secret" not in str(http)
    assert http[1]["reason"] == "http://app/ready: http://app/ready returned 503, expected 200 or 204"
    assert "no response (Connection refused)" in http[2]["reason"]
    cmd = gates_app.command_checks([{"item": {"name": "smoke", "argv": ["bin/smoke"]}, "rc": 0, "stdout": "password=x"},
                                    {"item": {"cmd": "false", "rc": [0, 2]}, "rc": 1},
                                    {"item": {"argv": ["nope"]}, "msg": "No such file"}])
    assert [c["status"] for c in cmd] == ["pass", "fail", "fail"]
    assert "password" not in str(cmd) and cmd[1]["reason"] == "false: exit status 1, expected 0 or 2"
    assert "did not run (No such file)" in cmd[2]["reason"]


def test_dependents_the_swap_cannot_set_aside_fail():
    view = {"object": "view public.post_titles", "problem": None}
    assert gates_catalog.dependents("app", [], "0.2.0")["status"] == "pass"
    ok = gates_catalog.dependents("app", [view], "0.2.0")
    assert ok["status"] == "pass" and "view public.post_titles" in ok["reason"]
    fn = {"object": "function public.meta_entity(pg_tview_meta)",
          "problem": "depends on type pg_tview_meta; the swap sets aside only views, foreign keys and triggers"}
    meta = {"object": "view public.tview_entities", "problem": "reads public.pg_tview_meta, which pg_tviews 0.2.0 does not have"}
    bad = gates_catalog.dependents("app", [view, fn, meta], "0.2.0")
    assert bad["status"] == "fail" and bad["database"] == "app"
    assert bad["details"]["objects"] == ["function public.meta_entity(pg_tview_meta)", "view public.tview_entities"]
    assert "function public.meta_entity(pg_tview_meta) (depends on type pg_tview_meta;" in bad["reason"]
    assert "recreate them against pg_tviews 0.2.0 after it" in bad["reason"]
    assert "post_titles" not in bad["reason"]


def test_extension_version_asks_the_target_adapter():
    base = {"installed": True, "extversion": "0.1.0", "library_version": "0.1.0-beta.8"}
    assert gates_catalog.extension_before("app", base, "0.1.1")["status"] == "pass"   # 0.1.x updates within 0.1
    on_02 = dict(base, extversion="0.2.0", library_version="0.2.0")
    assert gates_catalog.extension_before("app", on_02, "0.1.0")["status"] == "fail"  # back to 0.1 is a rollback
