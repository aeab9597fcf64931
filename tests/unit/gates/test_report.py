"""Report building: records, checklists, the fleet summary, redaction, the filters, and both
templates rendered with plain Jinja2 (as the template module does: trim_blocks)."""

import os

import jinja2

from ansible.plugins.filter.core import regex_replace

from ansible_collections.pgtviews.ops.plugins.filter.tviews_gates import tviews_gate_record
from ansible_collections.pgtviews.ops.plugins.filter.tviews_report import tviews_report_build
from ansible_collections.pgtviews.ops.plugins.module_utils.report import checklist as report_checklist
from ansible_collections.pgtviews.ops.plugins.module_utils.report import record as report_record
from ansible_collections.pgtviews.ops.plugins.module_utils.report import redact as report_redact
from ansible_collections.pgtviews.ops.plugins.module_utils.report import summary as report_summary
from tests.unit.gates import samples

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATES = os.path.join(REPO, "roles", "report", "templates")
RUN = {"run_id": "r1", "generated_at": "2026-11-26T11:00:00Z", "target_version": "0.2.0"}


def record(host, **inputs):
    return report_record.build(host, inputs, RUN)


def test_passed_host_record():
    r = record("alpha", preflight=samples.preflight(), validate=samples.validate(), state=samples.state())
    assert r["status"] == "passed" and r["failures"] == [] and not r["rolled_back"]
    d = r["databases"]["app"]
    assert d["status"] == "passed"
    assert d["versions"] == {"before": {"extversion": "0.1.0", "library_version": "0.1.0-beta.8"},
                             "after": {"extversion": "0.2.0", "library_version": "0.2.0"}, "target": "0.2.0"}
    assert [p["phase"] for p in d["phases"]] == ["preflight", "backup", "swap", "validate"]
    pre, backup, swap, val = d["phases"]
    assert pre["duration_ms"] == 2000.0 and backup["duration_ms"] == 3000.0 and backup["result"] == "done"
    assert swap["started_at"] is None and swap["details"]["window_ms"] == 42.5
    assert val["result"] == "pass" and d["write_blocked_window_ms"] == 42.5
    assert d["backup"]["path"] == "/var/backups/pgtviews/app" and d["checksums"][0]["equal"] is True
    assert r["server"]["server_major"] == 15


def test_failed_and_rolled_back_records():
    bad = record("beta", preflight=samples.preflight(drift="fail"), failure={"phase": "Stop this host", "msg": "preflight failed"})
    assert bad["status"] == "failed"
    assert bad["failures"] == ["preflight: drift[app]: public.tv_post differs from public.v_post",
                               "Stop this host: preflight failed"]
    assert bad["databases"]["app"]["status"] == "failed" and bad["databases"]["app"]["versions"]["after"] is None
    rb = record("gamma", preflight=samples.preflight(), validate=samples.validate(status="fail"),
                state=samples.state(rollback=True))
    assert rb["status"] == "failed" and rb["rolled_back"] is True
    assert rb["databases"]["app"]["rollback_events"][0]["kind"] == "immediate"
    assert [p["phase"] for p in rb["databases"]["app"]["phases"]][-1] == "rollback"
    # Migrated again after the rollback: the last change is a swap, and the record says so.
    again = samples.state(rollback=True)
    again["databases"]["app"]["rollback"]["recorded_at"] = "2026-11-26T10:00:00.000000Z"
    again["databases"]["app"]["swap"]["recorded_at"] = "2026-11-26T11:00:00.000000Z"
    remigrated = record("eta", preflight=samples.preflight(), validate=samples.validate(), state=again)
    assert remigrated["rolled_back"] is False and remigrated["databases"]["app"]["rolled_back"] is False
    gone = record("delta", unreachable=True, state_error="host unreachable")
    assert gone["status"] == "failed" and gone["failures"] == ["host unreachable"]
    ready = record("eps", preflight=samples.preflight())
    assert ready["status"] == "ready"
    later = record("zeta", preflight=samples.preflight(), state={"format": 1, "databases": {"app": {
        "validate": {"status": "pass", "started_at": "2026-11-26T09:00:00Z", "finished_at": "2026-11-26T09:00:01Z"}}}})
    assert later["status"] == "passed"  # validated by an earlier run, preflight again now


def test_checklists_tick_only_from_evidence():
    scan = {"summary": {"counts": {"severities": {"error": 0, "warning": 0, "info": 0}}}}
    good = record("alpha", preflight=samples.preflight(), validate=samples.validate(), state=samples.state(), scan=scan,
                  scan_source="scan/alpha.json")
    items = dict((i["text"], i) for s in report_checklist.evaluate(good) for i in s["items"])
    assert items["Backup verified"] == {"text": "Backup verified", "state": "done",
                                        "evidence": "verified backup recorded for app (/var/backups/pgtviews/app, test-restored)"}
    assert items["Code updated for new API"]["state"] == "done"
    assert items["Extension updated successfully"]["state"] == "done"
    assert items["Application working normally"]["state"] == "done"
    assert items["Staging environment tested"]["state"] == "manual"
    assert items["Maintenance window scheduled (30-90 minutes)"]["state"] == "manual"
    assert items["User impact minimized"] == {"text": "User impact minimized", "state": "manual",
                                              "evidence": "write-blocked window: app 42 ms"}
    bad = record("beta", preflight=samples.preflight(drift="fail"))
    items = dict((i["text"], i) for s in report_checklist.evaluate(bad) for i in s["items"])
    assert items["pg_tviews 0.1.x currently installed and stable"]["state"] == "not_done"
    assert items["Backup verified"]["state"] == "no_evidence"
    assert items["Code updated for new API"]["state"] == "no_evidence"
    assert items["All TVIEWs accessible and functional"]["state"] == "no_evidence"
    fleet = dict((i["text"], i) for s in report_checklist.fleet([good, bad]) for i in s["items"])
    item = fleet["pg_tviews 0.1.x currently installed and stable"]
    assert item["state"] == "not_done" and item["counts"]["done"] == 1 and item["hosts"] == 2
    assert item["evidence"][0].startswith("beta: preflight: ")
    assert fleet["Staging environment tested"]["state"] == "manual"


def test_summary_failures_first_and_timeline():
    good = record("alpha", preflight=samples.preflight(), validate=samples.validate(), state=samples.state())
    bad = record("beta", preflight=samples.preflight(drift="fail"))
    s = report_summary.build([good, bad], RUN)
    assert [h["host"] for h in s["hosts"]] == ["beta", "alpha"]
    assert s["totals"] == {"failed": 1, "incomplete": 0, "not_started": 0, "ready": 0, "passed": 1}
    tl = s["hosts"][1]["timeline"]
    assert [p["phase"] for p in tl["phases"]] == ["preflight", "backup", "validate"]
    assert tl["phases"][0]["left_pct"] == 0 and tl["phases"][-1]["left_pct"] + tl["phases"][-1]["width_pct"] == 100
    assert [p["phase"] for p in tl["untimed"]] == ["swap"] and tl["span"] == "12.5 s"
    assert s["rows"][0]["host"] == "beta" and s["rows"][1]["window"] == "42 ms" and s["rows"][1]["checksums"] == "1/1 equal"
    assert s["hosts"][0]["checks"][0]["status"] == "fail"
    assert report_summary.record_file("../we ird/host") == "hosts/_we_ird_host.json"


def test_redaction():
    doc = {"msg": "cannot connect with pw-123456 to postgres://u:pw-123456@h/db", "login_password": "pw-123456",
           "invocation": {"module_args": {}}, "nested": [{"api_token": "abc", "ok": "fine"}], "pw-123456": 1,
           "url": "https://user:other@host/x", "empty_password": ""}
    out = report_redact.redact(doc, ["pw-123456", "abc", None, "pw"])
    text = str(out)
    assert "pw-123456" not in text and "other" not in text and "invocation" not in out
    assert out["login_password"] == "********" and out["nested"][0] == {"api_token": "********", "ok": "fine"}
    assert out["empty_password"] == "" and out["url"] == "https://********@host/x"


def test_gate_record_for_the_state_file():
    rec = tviews_gate_record(samples.preflight(drift="fail"), "app")
    assert rec["status"] == "fail" and rec["extversion"] == "0.1.0"
    assert rec["failures"] == ["drift[app]: public.tv_post differs from public.v_post"]
    assert rec["baseline"] == [{"database": "app", "tview": "post", "kind": "full", "duration_ms": 3.0, "primary_keys": []}]
    assert "baseline" not in tviews_gate_record(samples.validate(), "app")


def test_report_filter_reads_only_what_it_needs_and_scrubs_secrets(tmp_path):
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    (scan_dir / "alpha.json").write_text('{"summary": {"counts": {"severities": {"error": 1}}}}')
    hostvars = {
        "alpha": {"tviews_preflight": samples.preflight(), "tviews_validate": samples.validate(),
                  "tviews_connection": {"login_password": "sup3r-s3cret", "login_user": "postgres"},
                  "unrelated": "sup3r-s3cret"},
        "beta": {"tviews_preflight": samples.preflight(drift="fail"),
                 "tviews_failure": {"phase": "Preflight", "msg": "connect as postgres:sup3r-s3cret failed"},
                 "ansible_password": "ssh-pass-1"},
    }
    states = [samples.slurped("alpha", samples.state()), {"item": "beta", "failed": True, "msg": "file not found"}]
    out = tviews_report_build(hostvars, ["alpha", "beta"], states=states, scan_dir=str(scan_dir), **RUN)
    assert [r["host"] for r in out["records"]] == ["alpha", "beta"]
    assert out["files"] == {"alpha": "hosts/alpha.json", "beta": "hosts/beta.json"}
    alpha, beta = out["records"]
    assert alpha["code_scan"]["counts"] == {"error": 1, "warning": 0, "info": 0} and beta["code_scan"] is None
    assert alpha["databases"]["app"]["swap"]["window_ms"] == 42.5
    # No state file yet is no error (the host has recorded nothing): no warning about it.
    assert beta["state_file"] == {"available": False, "error": None}
    assert not any("state file" in w for w in beta["warnings"])
    assert "connect as postgres:******** failed" in str(beta["failures"])
    assert "sup3r-s3cret" not in str(out) and "unrelated" not in str(out) and "tviews_connection" not in str(out)


def render(name, summary, title="pg_tviews migration report"):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["regex_replace"] = regex_replace   # Ansible's, as the template module has it
    return env.get_template(name).render(tviews_report={"summary": summary}, tviews_report_title=title)


def test_templates_render_and_escape_everything():
    evil = samples.preflight(drift="fail")
    evil["checks"][5]["reason"] = '<script>alert("x")</script> | pipe & amp'
    evil["summary"] = samples.summary(evil["checks"])
    good = record("alpha", preflight=samples.preflight(), validate=samples.validate(), state=samples.state())
    bad = record("<img src=x>", preflight=evil)
    s = report_summary.build([good, bad], RUN)
    html = render("summary.html.j2", s, title="Report <b>&</b>")
    assert "<script" not in html and "<img" not in html and "<b>&</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; | pipe &amp; amp" in html
    assert html.index("&lt;img src=x&gt;") < html.index(">alpha<")
    assert 'style="left: 0.0%;' in html and "Runbook checklists" in html
    md = render("summary.md.j2", s)
    # Markdown: markup characters backslash-escaped, no HTML entities (the raw file reads as text).
    assert "\\<script>alert(\"x\")\\</script> \\| pipe & amp" in md and "&lt;" not in md and "&amp;" not in md
    assert md.index("| \\<img src=x> | app | **failed**") < md.index("| alpha | app | **passed** | 0.1.0 | 0.2.0 | 42 ms |")
    assert "- [ ] Staging environment tested (manual, 0/2 hosts): " in md
    assert "| swap | app | - | - | - | done |" in md


def two_databases():
    """A preflight that passed on app and shop (both ready)."""
    pre = samples.preflight()
    pre["databases"].append(dict(pre["databases"][0], name="shop"))
    pre["checks"] += [dict(c, database="shop") for c in pre["checks"] if c.get("database") == "app"]
    pre["summary"] = samples.summary(pre["checks"])
    return pre


SWAP_FAILED = {"phase": "Swap each database in one transaction",
               "msg": "app: swap of database app to pg_tviews 0.2.0: step 'adopt TVIEW' for TVIEW 'post' failed: boom; "
                      "rolled back, nothing changed",
               "databases": ["app"]}


def test_a_failure_naming_databases_fails_those_rows_with_its_text():
    r = record("alpha", preflight=two_databases(), failure=SWAP_FAILED)
    line = "Swap each database in one transaction: " + SWAP_FAILED["msg"]
    assert r["status"] == "failed" and r["failures"] == [line]          # once, not again per database
    assert r["databases"]["app"]["status"] == "failed" and r["databases"]["app"]["failures"] == [line]
    assert r["databases"]["shop"]["status"] == "ready" and r["databases"]["shop"]["failures"] == []
    s = report_summary.build([r], RUN)
    rows = dict((row["database"], row) for row in s["rows"])
    assert rows["app"]["status"] == "failed" and rows["app"]["failures"] == [line]
    assert rows["shop"]["status"] == "ready"
    assert [row["database"] for row in s["rows"]] == ["app", "shop"]    # failures first
    md = render("summary.md.j2", s)
    assert "| alpha | app | **failed** |" in md and "### alpha (failed)" in md
    assert "- Swap each database in one transaction: app: swap of database app to pg_tviews 0.2.0: step 'adopt TVIEW' for TVIEW 'post' failed: boom;" in md
    html = render("summary.html.j2", s)
    assert "step &#39;adopt TVIEW&#39; for TVIEW &#39;post&#39; failed: boom" in html


def test_a_failure_naming_no_database_fails_every_row_of_the_host():
    # Validated earlier (passed), preflight now (ready): a host-level failure still fails every row.
    passed = record("alpha", preflight=samples.preflight(), validate=samples.validate(), state=samples.state(),
                    failure={"phase": "Write the report", "msg": "disk full"})
    assert passed["status"] == "failed" and passed["failures"] == ["Write the report: disk full"]
    assert passed["databases"]["app"]["status"] == "failed"
    assert passed["databases"]["app"]["failures"] == ["Write the report: disk full"]
    ready = record("beta", preflight=two_databases(), failure={"phase": "Install", "msg": "no such file", "databases": []})
    incomplete = record("gamma", state={"format": 1, "databases": {"app": {}}}, failure={"phase": "Back up", "msg": "x"})
    # A failure that names only databases this host does not have names none of its own.
    other = record("delta", preflight=two_databases(), failure=dict(SWAP_FAILED, databases=["not_here"]))
    for r in (ready, incomplete, other):
        assert r["status"] == "failed"
        assert set(d["status"] for d in r["databases"].values()) == {"failed"}, r["host"]
        for d in r["databases"].values():
            assert d["failures"] == r["failures"][-1:]
    s = report_summary.build([passed, ready, incomplete, other], RUN)
    assert set(row["status"] for row in s["rows"]) == {"failed"}
    assert s["totals"]["failed"] == 4
    for h in s["hosts"]:
        assert set(d["status"] for d in h["databases"]) == {h["status"]}
    md = render("summary.md.j2", s)
    assert "**ready**" not in md and "**passed**" not in md and "**incomplete**" not in md


def test_the_host_status_is_the_same_everywhere_for_gate_failures_and_unreachable_hosts():
    # The role's stop message repeats the gate failure: listed once, and the row says failed.
    gate = record("beta", preflight=samples.preflight(drift="fail"),
                  failure={"phase": "Stop this host", "msg": "preflight failed: drift[app]: public.tv_post differs from public.v_post"})
    assert gate["failures"] == ["preflight: drift[app]: public.tv_post differs from public.v_post"]
    assert gate["databases"]["app"]["status"] == "failed" and gate["databases"]["app"]["failures"] == []
    gone = record("delta", preflight=samples.preflight(), unreachable=True)
    assert gone["status"] == "failed" and gone["databases"]["app"]["status"] == "failed"
    assert gone["databases"]["app"]["failures"] == ["host unreachable"]
    # A failure recorded by an older playbook: msg as a dict, no databases; text, not a repr.
    legacy = record("eps", preflight=samples.preflight(), failure={"phase": "Swap", "msg": {"error": "boom", "tables": ["a", "b"]}})
    assert legacy["failures"] == ["Swap: error: boom; tables: a, b"] and legacy["databases"]["app"]["status"] == "failed"


def test_report_filter_carries_the_rescue_failure_to_rows_and_records():
    hostvars = {
        "alpha": {"tviews_preflight": two_databases(), "tviews_connection": {"login_password": "sup3r-s3cret"},
                  "tviews_failure": dict(SWAP_FAILED, msg=SWAP_FAILED["msg"] + " as sup3r-s3cret",
                                         failed_items=[{"item": "app", "msg": "x"}])},
        "beta": {"tviews_preflight": samples.preflight()},
    }
    out = tviews_report_build(hostvars, ["alpha", "beta"], failed_hosts=["beta"], **RUN)
    alpha, beta = out["records"]
    assert alpha["databases"]["app"]["status"] == "failed" and alpha["databases"]["shop"]["status"] == "ready"
    assert alpha["failures"][0].endswith("rolled back, nothing changed as ********")
    assert beta["status"] == "failed" and beta["databases"]["app"]["status"] == "failed"
    assert beta["databases"]["app"]["failures"] == ["run: the host failed in this play"]
    assert "sup3r-s3cret" not in str(out)


def test_hosts_of_later_waves_are_not_started_never_passed():
    """After the first wave only the canary has run: the others were marked by nothing in this run,
    so whatever their state files say from earlier runs, they count as not started."""
    from ansible_collections.pgtviews.ops.plugins.filter.tviews_report import tviews_report_build, tviews_report_fleet
    hostvars = {"db1": {"tviews_run_started": True}, "db2": {}, "db3": {}}
    built = tviews_report_build(hostvars, ["db1", "db2", "db3"], run_id="r1", generated_at="2026-12-07T10:00:00Z",
                                target_version="0.2.0")
    status = dict((r["host"], r["status"]) for r in built["records"])
    assert status["db2"] == status["db3"] == "not_started" and status["db1"] != "not_started"
    assert built["summary"]["totals"]["not_started"] == 2 and built["summary"]["totals"]["passed"] == 0
    # Without the marker (the role used outside a wave play) every host is judged on its evidence.
    plain = tviews_report_build({"db1": {}, "db2": {}}, ["db1", "db2"], run_id="r0")
    assert all(r["status"] != "not_started" for r in plain["records"])
    # The fleet view keeps each host's latest record and the run that set it.
    older = dict(built["records"][0], generated_at="2026-12-06T10:00:00Z", run_id="r0", status="failed")
    fleet = tviews_report_fleet([older, built["records"][0]], generated_at="2026-12-07T11:00:00Z")
    assert [(h["host"], h["run_id"], h["status"]) for h in fleet["hosts"]] == [("db1", "r1", built["records"][0]["status"])]
