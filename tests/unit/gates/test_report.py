"""Report building: records, checklists, the fleet summary, redaction, the filters, and both
templates rendered with plain Jinja2 (as the template module does: trim_blocks)."""

import os

import jinja2

from ansible_collections.pgtviews.ops.plugins.filter.tviews_gates import tviews_gate_record
from ansible_collections.pgtviews.ops.plugins.filter.tviews_report import tviews_report_build
from ansible_collections.pgtviews.ops.plugins.module_utils import report_checklist, report_record, report_redact, report_summary
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
    assert s["totals"] == {"failed": 1, "incomplete": 0, "ready": 0, "passed": 1}
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
    assert beta["state_file"] == {"available": False, "error": "file not found"}
    assert "connect as postgres:******** failed" in str(beta["failures"])
    assert "sup3r-s3cret" not in str(out) and "unrelated" not in str(out) and "tviews_connection" not in str(out)


def render(name, summary, title="pg_tviews migration report"):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, undefined=jinja2.StrictUndefined)
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
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt; \\| pipe &amp; amp" in md
    assert md.index("| &lt;img src=x&gt; | app | **failed**") < md.index("| alpha | app | **passed** | 0.1.0 | 0.2.0 | 42 ms |")
    assert "- [ ] Staging environment tested (manual, 0/2 hosts): " in md
    assert "| swap | app | - | - | - | done |" in md
