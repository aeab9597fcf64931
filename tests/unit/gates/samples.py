"""Synthetic preflight/validate results and state files, shaped like the modules' output."""

import base64
import json


def chk(name, status, reason, database=None):
    c = {"name": name, "status": status, "reason": reason}
    if database:
        c["database"] = database
    return c


def summary(checks):
    from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import summarize
    return summarize(checks)


def preflight(db="app", drift="pass", started="2026-11-26T10:00:00.000000Z", finished="2026-11-26T10:00:02.000000Z"):
    checks = [chk("reachable", "pass", "connected"), chk("primary", "pass", "primary (not in recovery)"),
              chk("extension_version", "pass", "at 0.1.0 (library 0.1.0-beta.8)", db),
              chk("health", "pass", "clean", db), chk("consistency", "pass", "ok", db),
              chk("drift", drift, "public.tv_post differs from public.v_post" if drift == "fail" else "equal", db),
              chk("code_scan", "skip", "no code scan report"), chk("maintenance_window", "skip", "no maintenance window configured")]
    return {"checks": checks, "summary": summary(checks), "started_at": started, "finished_at": finished, "duration_ms": 2000.0,
            "target_version": "0.2.0", "server": {"server_version": "15.10", "server_major": 15, "is_primary": True},
            "databases": [{"name": db, "extversion": "0.1.0", "library_version": "0.1.0-beta.8", "api_generation": "0.1",
                           "tviews": 2, "done": False}],
            "baseline": [{"database": db, "tview": "post", "kind": "full", "duration_ms": 3.0, "primary_keys": []}]}


def validate(db="app", status="pass", started="2026-11-26T10:00:10.000000Z", finished="2026-11-26T10:00:12.500000Z"):
    names = ("extension_version", "health", "consistency", "readable", "drift", "manifest", "write_path", "refresh",
             "refresh_timing")
    checks = [chk(n, status if n == "drift" else "pass", "%s ok" % n, db) for n in names]
    checks.append(chk("http", "pass", "health: http://app/health returned 200"))
    return {"checks": checks, "summary": summary(checks), "started_at": started, "finished_at": finished,
            "duration_ms": 2500.0, "target_version": "0.2.0",
            "databases": [{"name": db, "extversion": "0.2.0", "library_version": "0.2.0", "api_generation": "0.2", "tviews": 2}],
            "checksums": [{"database": db, "tview": "post", "table": "public.tv_post", "before": "a", "after": "a",
                           "row_count_before": 3, "row_count_after": 3, "equal": True}],
            "timings": []}


def state(db="app", rollback=False):
    doc = {"format": 1, "databases": {db: {
        "swap": {"from_version": "0.1.0", "to_version": "0.2.0", "strategy": "swap", "mode": "adopt", "window_ms": 42.5,
                 "lock_wait_ms": 1.0, "lock_attempts": 1, "manifest": "/var/lib/pgtviews/manifests/app.manifest.json"},
        "backup": {"path": "/var/backups/pgtviews/app", "manifest": "/var/backups/pgtviews/app/manifest.json",
                   "test_restored": True, "started_at": "2026-11-26T10:00:03Z", "created": "2026-11-26T10:00:06Z"},
    }}}
    if rollback:
        doc["databases"][db]["rollback"] = {"kind": "immediate", "to_version": "0.1.0", "result": "done",
                                            "started_at": "2026-11-26T10:00:13Z", "finished_at": "2026-11-26T10:00:15Z"}
    return doc


def slurped(host, doc):
    return {"item": host, "content": base64.b64encode(json.dumps(doc).encode()).decode(), "failed": False}
