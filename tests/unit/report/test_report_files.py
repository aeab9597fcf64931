"""The report's files written in one module run (host/file_set), the state the report takes from
the hosts' facts instead of reading their files (tviews_report_state_hosts, state_facts), and the
tviews_state_latest filter the roles keep that fact with."""

import base64
import json
import os
import stat

import pytest

from ansible_collections.pgtviews.ops.plugins.filter.tviews_host_state import tviews_state_latest
from ansible_collections.pgtviews.ops.plugins.filter.tviews_report import tviews_report_build, tviews_report_state_hosts
from ansible_collections.pgtviews.ops.plugins.module_utils.host import file_set


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_file_set_writes_once_and_then_changes_nothing(tmp_path):
    root = tmp_path / "reports"
    files = [{"path": "run1/hosts/db1.json", "content": "{}\n"}, {"path": "run1/summary.md", "content": "# r\n"},
             {"path": "fleet/hosts/db1.json", "content": "{}\n"}]
    done = file_set.write_set(str(root), ["run1/hosts", "fleet/hosts"], files)
    assert sorted(os.path.relpath(p, str(root)) for p in done["files"]) == sorted(f["path"] for f in files)
    assert (root / "run1" / "summary.md").read_text() == "# r\n"
    assert mode(root / "run1" / "summary.md") == 0o640 and mode(root / "run1" / "hosts") == 0o750
    assert file_set.write_set(str(root), ["run1/hosts", "fleet/hosts"], files) == {"directories": [], "files": []}
    files[1]["content"] = "# r2\n"
    done = file_set.write_set(str(root), [], files, check_mode=True)
    assert done["files"] == [str(root / "run1" / "summary.md")] and (root / "run1" / "summary.md").read_text() == "# r\n"
    file_set.write_set(str(root), [], files)
    assert (root / "run1" / "summary.md").read_text() == "# r2\n"
    assert [n for n in os.listdir(str(root / "run1")) if n.startswith(".pgtviews-")] == []


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", ""])
def test_file_set_refuses_paths_outside_its_directory(tmp_path, path):
    with pytest.raises(file_set.FileSetError):
        file_set.write_set(str(tmp_path), [], [{"path": path, "content": "x"}])


def answer(doc):
    return {"changed": True, "state": doc, "summary": {"app": {"last_change": "swap"}}, "invocation": {}}


def test_state_latest_takes_the_last_call_that_answered():
    first, second = {"databases": {"app": {"backup": {}}}}, {"databases": {"app": {"backup": {}, "swap": {}}}}
    loop = {"results": [answer(first), {"skipped": True, "item": "x"}, answer(second), {"failed": True, "item": "y"}]}
    assert tviews_state_latest(loop) == {"state": second, "summary": {"app": {"last_change": "swap"}}}
    assert tviews_state_latest([loop, {"results": [], "skipped": True}]) == tviews_state_latest(loop)
    kept = {"state": first, "summary": {}}
    assert tviews_state_latest({"skipped": True}, kept) is kept                  # nothing written: unchanged
    assert tviews_state_latest({"results": []}) is None


def slurped(host, doc):
    return {"item": host, "content": base64.b64encode(json.dumps(doc).encode()).decode()}


def test_the_report_reads_only_the_files_it_has_no_current_copy_of():
    doc = {"format": 1, "databases": {"app": {"swap": {"from_version": "0.1.0", "to_version": "0.2.0", "window_ms": 12}}}}
    hv = {"ok": {"tviews_run_started": True, "tviews_host_state": {"state": doc, "summary": {}}},
          "failed": {"tviews_run_started": True, "tviews_host_state": {"state": doc, "summary": {}},
                     "tviews_failure": {"phase": "swap", "msg": "boom"}},
          "fresh": {"tviews_run_started": True},
          "later": {}}
    hosts = ["ok", "failed", "fresh", "later"]
    assert tviews_report_state_hosts(hv, hosts) == ["failed", "fresh"]           # "later" has not started
    assert tviews_report_state_hosts(hv, ["ok"], failed_hosts=["ok"]) == ["ok"]
    other = {"format": 1, "databases": {"app": {"swap": {"from_version": "0.1.0", "to_version": "0.2.0", "window_ms": 99}}}}
    built = tviews_report_build(hv, hosts, states=[slurped("failed", other), slurped("fresh", other)], state_facts=True)
    by_host = dict((r["host"], r) for r in built["records"])
    assert by_host["ok"]["databases"]["app"]["write_blocked_window_ms"] == 12   # from the fact
    assert by_host["failed"]["databases"]["app"]["write_blocked_window_ms"] == 99  # from its file
    assert by_host["ok"]["state_file"] == {"available": True, "error": None}
    assert by_host["later"]["status"] == "not_started"
    # Without state_facts (tviews_report_read_state false), the facts are not used either.
    built = tviews_report_build(hv, ["ok"], states=[], state_facts=False)
    assert built["records"][0]["state_file"] == {"available": False, "error": "not read"}
