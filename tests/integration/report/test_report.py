"""The preflight, validate and report roles in one real ansible-playbook run over two hosts:
alpha migrates (preflight, swap, validate all pass), beta fails preflight (a tv_ out of sync)
and is left untouched. The report renders for both, failures first, without the password;
the HTML is opened in headless Chromium and the screenshot checked."""

import glob
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from tests.harness.pg import make_base_dir
from tests.integration.conftest import load_app
from tests.integration.gates.helpers import fingerprint
from tests.integration.gates.playbook import Playbook, host_vars
from tests.integration.report import pngcheck

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
OUTPUT = os.path.join(REPO, "tests", "output", "report")
DB = "shop"
PASSWORD = "harness-secret-pw"  # the harness clusters' superuser password (tests/harness/pg.py)
RUN_ID = "run-two-hosts"


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path.startswith("/health") else 500)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def fleet(make_pg_install, standin_build, make_cluster, http_url):
    """Two servers (0.1.0 running, 0.2.0 side by side), one ansible-playbook run over both."""
    inst = make_pg_install(("0.1.0",))
    inst.install_side_by_side(standin_build["0.2.0"]["artifact"], "0.2.0")
    alpha, beta = make_cluster(inst, name="rep-alpha"), make_cluster(inst, name="rep-beta")
    for c in (alpha, beta):
        load_app(c, DB)
    beta.execute("UPDATE tv_post SET data = '{}' WHERE pk_post = 5", DB)
    beta_before = fingerprint(beta, DB)
    work = make_base_dir("pgtviews-report-")
    reports = os.path.join(work, "reports")
    os.makedirs(os.path.join(reports, "scan"))
    for host, counts in (("alpha", {"error": 0, "warning": 0, "info": 0}), ("beta", {"error": 2, "warning": 1, "info": 0})):
        with open(os.path.join(reports, "scan", host + ".json"), "w") as fh:
            json.dump({"host": host, "summary": {"counts": {"total": sum(counts.values()), "severities": counts}}}, fh)
    pb = Playbook(work)
    common = dict(tviews_databases=[DB], tviews_preflight_baseline_full=True, tviews_preflight_baseline_runs=1,
                  tviews_validate_timing_runs=1)
    inventory = pb.inventory({"targets": {
        "alpha": host_vars(alpha, work, "alpha", **common),
        "beta": host_vars(beta, work, "beta", **common),
    }})
    extra = {
        "tviews_test_db_password": PASSWORD,
        "tviews_version": "0.2.0",
        "tviews_report_dir": reports,
        "tviews_report_run_id": RUN_ID,
        "tviews_validate_http_checks": [
            {"name": "shop health", "url": http_url.replace("://", "://probe:url-secret-99@") + "/health?token=tok-secret-77"}],
        "tviews_validate_commands": [{"name": "<b>smoke</b> & co", "argv": ["true"]}],
    }
    run = pb.run(os.path.join(HERE, "migrate.yml"), inventory, extra)
    yield {"run": run, "alpha": alpha, "beta": beta, "beta_before": beta_before, "work": work,
           "dir": os.path.join(reports, RUN_ID), "pb": pb, "inventory": inventory, "extra": extra}
    shutil.rmtree(work, ignore_errors=True)


def load(path):
    with open(path) as fh:
        return json.load(fh)


def test_roles_gate_migrate_and_validate(fleet):
    run = fleet["run"]
    assert run.stats["alpha"]["failures"] == 0, run.failed_messages()
    assert run.stats["beta"]["failures"] == 1 and run.stats["beta"]["rescued"] == 1, run.failed_messages()
    assert run.stats["localhost"]["failures"] == 0, run.failed_messages()
    # beta stopped at preflight with every reason listed, and nothing was changed there.
    stop = run.task("Stop this host when a check failed", "beta")[0]
    assert stop["failed"] and "preflight failed on beta (1 failing check(s))" in stop["msg"]
    assert "drift[shop]: 1 TVIEW(s) out of sync" in stop["msg"] and "public.tv_post differs" in stop["msg"]
    assert fingerprint(fleet["beta"], DB) == fleet["beta_before"]
    assert fleet["beta"].execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", DB) == [("0.1.0",)]
    # alpha: swapped and validated; the state file has preflight (with baseline), swap and validate.
    assert fleet["alpha"].execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", DB) == [("0.2.0",)]
    state = load(os.path.join(fleet["work"], "alpha", "state", "state.json"))["databases"][DB]
    assert set(state) == {"preflight", "swap", "validate"}
    assert state["preflight"]["status"] == "pass" and len(state["preflight"]["baseline"]) == 4
    assert state["validate"]["status"] == "pass" and state["validate"]["failures"] == []
    assert load(os.path.join(fleet["work"], "beta", "state", "state.json"))["databases"][DB]["preflight"]["status"] == "fail"
    shown = run.task("Show the checks", "alpha")
    assert "validate pass" in shown[-1]["msg"]


def test_report_records(fleet):
    d = fleet["dir"]
    assert sorted(os.listdir(os.path.join(d, "hosts"))) == ["alpha.json", "beta.json"]
    alpha, beta = load(os.path.join(d, "hosts", "alpha.json")), load(os.path.join(d, "hosts", "beta.json"))
    assert alpha["kind"] == "pgtviews.ops/migration-record" and alpha["run_id"] == RUN_ID
    assert alpha["status"] == "passed" and alpha["failures"] == []
    a = alpha["databases"][DB]
    assert a["versions"]["before"] == {"extversion": "0.1.0", "library_version": "0.1.0-beta.8"}
    assert a["versions"]["after"] == {"extversion": "0.2.0", "library_version": "0.2.0"}
    assert [p["phase"] for p in a["phases"]] == ["preflight", "swap", "validate"]
    for p in a["phases"]:
        assert p["result"] in ("pass", "done"), p
    for p in (a["phases"][0], a["phases"][2]):
        assert p["started_at"] and p["finished_at"] and p["duration_ms"] > 0
    assert a["write_blocked_window_ms"] >= 0 and a["swap"]["from_version"] == "0.1.0" and a["swap"]["to_version"] == "0.2.0"
    assert a["swap"]["manifest"].endswith("shop.manifest.json")
    assert {c["tview"] for c in a["checksums"]} == {"user", "post", "comment", "Bücher"}
    assert all(c["equal"] for c in a["checksums"])
    assert alpha["code_scan"]["total"] == 0 and beta["code_scan"]["counts"] == {"error": 2, "warning": 1, "info": 0}
    names = [c["name"] for c in alpha["validate"]["checks"]]
    assert "http" in names and "command" in names
    http = [c for c in alpha["validate"]["checks"] if c["name"] == "http"][0]
    assert http["status"] == "pass" and "shop health: http://127.0.0.1:" in http["reason"] and "/health returned 200" in http["reason"]
    assert beta["status"] == "failed" and beta["validate"] is None
    # The role's stop message repeats the failing check: the record lists the reason once.
    assert len(beta["failures"]) == 1, beta["failures"]
    assert beta["failures"][0].startswith("preflight: drift[shop]: 1 TVIEW(s) out of sync") and "public.tv_post differs" in beta["failures"][0]
    b = beta["databases"][DB]
    assert b["status"] == "failed" and [p["phase"] for p in b["phases"]] == ["preflight"]
    assert b["versions"]["before"]["extversion"] == "0.1.0" and b["versions"]["after"] is None


def test_report_summaries_failures_first_and_checklists(fleet):
    d = fleet["dir"]
    summary = load(os.path.join(d, "summary.json"))
    assert [h["host"] for h in summary["hosts"]] == ["beta", "alpha"]
    assert summary["totals"] == {"failed": 1, "incomplete": 0, "not_started": 0, "ready": 0, "passed": 1}
    items = dict((i["text"], i) for s in summary["checklists"] for i in s["items"])
    counts = items["pg_tviews 0.2.0 installed and functional"]["counts"]
    assert counts == {"not_done": 1, "no_evidence": 0, "manual": 0, "done": 1}
    assert items["Code updated for new API"]["state"] == "not_done"
    assert any("beta: code scan: 3 finding(s)" in e for e in items["Code updated for new API"]["evidence"])
    assert items["Staging environment tested"]["state"] == "manual"
    with open(os.path.join(d, "summary.md")) as fh:
        md = fh.read()
    assert md.index("| beta | shop | **failed**") < md.index("| alpha | shop | **passed**")
    assert "| alpha | shop | **passed** | 0.1.0 | 0.2.0 |" in md
    assert "### beta" in md and "drift[shop]: 1 TVIEW(s) out of sync" in md
    assert "- [ ] Code updated for new API (NOT DONE, 1/2 hosts)" in md
    assert "| validate | command | - | pass | \\<b>smoke\\</b> & co: exit status 0 |" in md
    with open(os.path.join(d, "summary.html")) as fh:
        html = fh.read()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<script" not in html.lower() and "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html
    assert "src=" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert html.index(">beta<") < html.index(">alpha<")
    assert "&lt;b&gt;smoke&lt;/b&gt; &amp; co" in html and "<b>smoke</b>" not in html
    assert 'class="bar r-pass"' in html and "Runbook checklists" in html


def test_no_secrets_in_any_output(fleet):
    files = [p for p in glob.glob(os.path.join(fleet["dir"], "**", "*"), recursive=True) if os.path.isfile(p)]
    assert len(files) == 5
    for path in files:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for secret in (PASSWORD, "url-secret-99", "tok-secret-77", "probe:"):
            assert secret not in text, "%s found in %s" % (secret, path)
        assert "login_password" not in text and "tviews_connection" not in text
    for host in ("alpha", "beta"):
        with open(os.path.join(fleet["work"], host, "state", "state.json")) as fh:
            assert PASSWORD not in fh.read()


def test_html_screenshot_in_headless_chromium(fleet):
    os.makedirs(OUTPUT, exist_ok=True)
    png = os.path.join(OUTPUT, "summary.png")
    if os.path.exists(png):
        os.remove(png)
    profile = make_base_dir("pgtviews-chromium-")
    try:
        proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                               "--disable-component-update", "--disable-sync", "--no-first-run",
                               "--user-data-dir=" + profile, "--screenshot=" + png, "--window-size=1280,1600",
                               "file://" + os.path.join(fleet["dir"], "summary.html")],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.isfile(png), proc.stderr[-2000:]
    info = pngcheck.read(png)
    assert (info["width"], info["height"]) == (1280, 1600)
    seen = pngcheck.colours(info, 260)
    assert len(seen) > 20, "screenshot looks blank (%d colours)" % len(seen)
    # The status colours of a failed and a passed host are on screen.
    assert bytes.fromhex("c62828") in seen and bytes.fromhex("2e7d32") in seen


def test_preflight_playbook_in_check_mode_changes_nothing(fleet):
    pb, beta = fleet["pb"], fleet["beta"]
    before = fingerprint(beta, DB)
    state = os.path.join(fleet["work"], "beta", "state", "state.json")
    with open(state) as fh:
        state_before = fh.read()
    extra = dict(fleet["extra"], tviews_preflight_report=True)
    del extra["tviews_report_run_id"]  # the default: one timestamped run directory
    run = pb.run("pgtviews.ops.preflight", fleet["inventory"], extra, check=True)
    assert run.stats["beta"]["failures"] == 1 and run.stats["alpha"]["failures"] == 0, run.failed_messages()
    # alpha is already at 0.2.0: preflight passes and says so.
    alpha_fact = run.task("Run the preflight checks", "alpha")[0]
    assert [c["reason"] for c in alpha_fact["checks"] if c["name"] == "extension_version"] == [
        "already at 0.2.0 (library 0.2.0): done, nothing to migrate"]
    assert fingerprint(beta, DB) == before
    with open(state) as fh:
        assert fh.read() == state_before
    reports = os.path.dirname(fleet["dir"])
    runs = sorted(d for d in os.listdir(reports) if d not in (RUN_ID, "scan", "fleet"))
    assert len(runs) == 1 and re.match(r"^\d{8}T\d{6}Z$", runs[0]), runs
    summary = load(os.path.join(reports, runs[0], "summary.json"))
    assert [(h["host"], h["status"]) for h in summary["hosts"]] == [("beta", "failed"), ("alpha", "passed")]
