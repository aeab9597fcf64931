"""Render the latest bench results (bench/results/{swap_window,runbook,fleet}-*.json) into the
generated part of docs/performance.md, between the bench:begin and bench:end markers: ratios
first, then times, the machine and the files. ``python bench/render.py [--print]``; the rest of
the page is written by hand."""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import common  # noqa: E402

DOC = os.path.join(common.REPO, "docs", "performance.md")
BEGIN, END = "<!-- bench:begin (bench/render.py) -->", "<!-- bench:end -->"


def latest(name):
    """The newest finished result file of ``name`` (a run that died leaves a partial one, taken
    only with PGTVIEWS_BENCH_RENDER_PARTIAL=fleet)."""
    for path in sorted(glob.glob(os.path.join(common.RESULTS, name + "-*.json")), reverse=True):
        with open(path) as fh:
            doc = json.load(fh)
        if not doc.get("partial") or (os.environ.get("PGTVIEWS_BENCH_RENDER_PARTIAL") == name and doc.get("results")):
            return os.path.basename(path), doc
    return None, None


def fmt_rows(n):
    return "{:,}".format(n).replace(",", " ")


def ms(v):
    return "–" if v is None else ("%.0f" % v if v >= 10 else "%.1f" % v)


def n(v):
    return "–" if v is None else "%d" % round(v)


def s(v):
    return "–" if v is None else "%.1f" % v


def ratio(a, b, digits=2):
    if a is None or not b:
        return "–"
    return ("%%.%df" % digits) % (a / b)


def swap_section(name, doc):
    med = dict(((m["rows"], m["kind"]), m) for m in doc["medians"])
    sizes = doc["sizes"]
    small = min(sizes)

    def w(size, kind):
        return (med.get((size, kind)) or {}).get("window_ms")

    def adopt_all(size, field="window_ms"):
        # Rehearsed and committed adopts run the same transaction (one rolls back, one commits):
        # the ratios take the median of all of them, which the machine's noise moves less.
        return common.median([r.get(field) for r in doc["results"]
                              if r["rows"] == size and r["kind"] in ("adopt", "adopt_commit")])
    out = ["### Windows by size (`bench/swap_window.py`)", "",
           "Ratios (medians of the same run; \"adopt\" here is the median of every adopt of the size, rehearsed "
           "and committed, %d runs: the same transaction, rolled back or committed):" % (2 * doc["repeat"]), "",
           "| tv_ rows | adopt / adopt at %s | adopt − floor | immediate rollback (register) / adopt | rebuild / adopt "
           "| rollback by rebuild / adopt | rebuild, tables built before the locks / all under them "
           "| the same, rollback by rebuild | writer's worst / window (adopt) |" % fmt_rows(small),
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        a, f = adopt_all(size), w(size, "floor")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fmt_rows(size), ratio(a, adopt_all(small)), ("%+.0f ms" % (a - f)) if a is not None and f is not None else "–",
            ratio(w(size, "rollback_register"), a), ratio(w(size, "rebuild"), a, 1), ratio(w(size, "rollback_rebuild"), a, 1),
            ratio(w(size, "rebuild"), w(size, "rebuild_locked")), ratio(w(size, "rollback_rebuild"), w(size, "rollback_rebuild_locked")),
            ratio(adopt_all(size, "writer_max_ms"), a)))
    out += ["", "Times: the module's `window_ms` (median), and what the independent writer saw in the same runs "
            "(worst INSERT latency and worst read of a tv_ table: medians; errors, rows lost from tv_like and failed reads: the worst run):", "",
            "| tv_ rows | what | window ms | writer worst ms | writer errors | rows lost | reader worst ms | reads failed "
            "| tv_ = v_ after |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    labels = [("floor", "bare-SQL floor (rolled back)"), ("adopt", "adopt (rehearsed)"), ("adopt_commit", "adopt (committed)"),
              ("rollback_register", "immediate rollback (register)"), ("rebuild", "rebuild 0.1 → 0.2 (tables built before the locks)"),
              ("rollback_rebuild", "rollback by rebuild (tables built before the locks)"),
              ("rebuild_locked", "rebuild 0.1 → 0.2, all under the locks"),
              ("rollback_rebuild_locked", "rollback by rebuild, all under the locks")]
    for size in sizes:
        for kind, label in labels:
            m = med.get((size, kind))
            if not m:
                continue
            cons = "–" if kind in ("floor", "adopt") else ("yes, at COMMIT" if m["tv_equals_v"] else "NO")
            if kind in ("rebuild", "rollback_rebuild") and m.get("prebuild_ms") is None:
                label = label.split(" (", maxsplit=1)[0]   # results from before the tables were built ahead of the locks
            reader = m.get("reader_max_ms")
            if reader is None:  # results from before the field was kept in the medians
                reader = common.median([r.get("reader_max_ms") for r in doc["results"] if r["rows"] == size and r["kind"] == kind])
            out.append("| %s | %s | %s | %s | %d | %d | %s | %d | %s |" % (
                fmt_rows(size), label, ms(m["window_ms"]), ms(m["writer_max_ms"]), m["writer_errors"], m["rows_lost"],
                ms(reader), m["reader_errors"], cons))
    pre = [(size, kind, med[(size, kind)]) for size in sizes for kind in ("rebuild", "rollback_rebuild")
           if (med.get((size, kind)) or {}).get("prebuild_ms") is not None]
    if pre:
        out += ["", "The rebuilds with their tables built before the locks (medians): the build, writes flowing; the "
                "fingerprints under the locks; the TVIEWs moved in (of 10); those rebuilt under the locks because the "
                "writer wrote to a table they read after the build:", "",
                "| tv_ rows | what | build before the locks s | check under the locks ms | moved in | rebuilt under the locks |",
                "|---:|---|---:|---:|---:|---|"]
        for size, kind, m in pre:
            out.append("| %s | %s | %.1f | %s | %s | %s |" % (
                fmt_rows(size), "rebuild 0.1 → 0.2" if kind == "rebuild" else "rollback by rebuild", m["prebuild_ms"] / 1000.0,
                ms(m["prebuild_check_ms"]), "%g" % m["moved_in"], ", ".join(m["rebuilt_under_locks"]) or "none"))
    loads = ", ".join("%s rows: %s loaded in %.0f s" % (fmt_rows(x["tv_rows"]), x.get("db_size", "?"), x["load_s"])
                      for x in doc["loads"])
    out += ["", "%d runs per kind (%d of the rebuilds); the dataset: %s. File `bench/results/%s` (%d s)." % (
        doc["repeat"], doc["rebuild_repeat"], loads, name, doc["seconds"]), ""]
    return out


def runbook_section(name, doc):
    med = dict(((m["rows"], m["kind"]), m) for m in doc["medians"])
    out = ["### The runbook done literally vs our swap (`bench/runbook.py`)", "",
           "Ratios (medians of the same run, the same database copies):", "",
           "| tv_ rows | runbook: writes failed | runbook: rows lost | runbook longest unreadable tv_ / swap window "
           "| runbook time to tv_ = v_ / swap's |", "|---:|---:|---:|---:|---:|"]
    for size in doc["sizes"]:
        r, sw = med[(size, "runbook")], med[(size, "swap")]
        out.append("| %s | %d (swap: %d) | %d (swap: %d) | %s | %s |" % (
            fmt_rows(size), r["writer_errors"], sw["writer_errors"], r["rows_lost"], sw["rows_lost"],
            ratio(r["unreadable_ms"], sw["window_ms"], 1), ratio(r["consistent_after_s"], sw["consistent_after_s"], 1)))
    out += ["", "Times (medians):", "",
            "| tv_ rows | what | duration s | window ms | writer worst ms | writer errors | rows lost | longest unreadable tv_ s "
            "| tv_ = v_ after s |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in doc["sizes"]:
        for kind, label in (("swap", "tviews_swap adopt"), ("runbook", "runbook in psql")):
            m = med[(size, kind)]
            out.append("| %s | %s | %.2f | %s | %s | %s | %s | %.1f | %s%s |" % (
                fmt_rows(size), label, m["elapsed_ms"] / 1000, ms(m.get("window_ms")), ms(m["writer_max_ms"]),
                n(m["writer_errors"]), n(m["rows_lost"]), m["unreadable_ms"] / 1000, s(m["consistent_after_s"]),
                " (with Step 7's refresh)" if m.get("repaired_by_refresh") else ""))
    out += ["", "%d run(s) per size. File `bench/results/%s` (%d s)." % (doc["repeat"], name, doc["seconds"]), ""]
    return out


def fleet_section(name, doc):
    if doc.get("partial"):
        from bench.fleet import medians
        doc = dict(doc, medians=medians(doc["results"]), repeat=max(m["runs"] for m in medians(doc["results"])),
                   rows_per_host=doc["results"][0]["rows_per_host"], seconds=0)
    med = doc["medians"]
    one = ([m for m in med if m["hosts"] == 1 and m["rehearse"]] or med)[0]
    out = ["### Fleets and one host's phases (`bench/fleet.py`)", "",
           "Ratios: `migrate` wall time (every host in one wave, forks = hosts) against one host, same run:", "",
           "| hosts | rehearsal | wall / one host | ansible CPU / one host's | ansible CPU s | machine busy |",
           "|---:|---|---:|---:|---:|---:|"]
    for m in med:
        cpu = m.get("ansible_cpu_s")
        busy = m.get("machine_busy_share")
        out.append("| %d | %s | %s | %s | %s | %s |" % (
            m["hosts"], "on" if m["rehearse"] else "off", ratio(m["wall_s"], one["wall_s"]),
            ratio(cpu, one.get("ansible_cpu_s")), s(cpu), "–" if busy is None else "%d %%" % round(busy * 100)))
    out += ["", "(`ansible CPU`: user + system time of ansible-playbook and every process it waited for; `machine busy`: "
            "the whole machine's busy time, servers included, over the run, as a share of its 2 cores.)"]
    out += ["", "Times: the run's wall time, and db1's task time by phase (s, medians; the callback "
            "`bench/callback_plugins/bench_phases.py`; `outside tasks` = wall − db1's tasks: ansible-playbook's start, "
            "the plan, other hosts' turns):", ""]
    phases = []
    for m in med:
        for p in m["db1_phases_s"]:
            if p not in phases:
                phases.append(p)
    order = ["preflight", "install", "backup", "rehearsal", "swap", "validate", "report", "playbook", "common"]
    phases = [p for p in order if p in phases] + [p for p in phases if p not in order]
    out.append("| hosts | rehearsal | wall s | " + " | ".join(phases) + " | outside tasks | swap window ms |")
    out.append("|---:|---|---:|" + "---:|" * len(phases) + "---:|---:|")
    for m in med:
        out.append("| %d | %s | %.1f | %s | %.1f | %s |" % (
            m["hosts"], "on" if m["rehearse"] else "off", m["wall_s"],
            " | ".join(s(m["db1_phases_s"].get(p)) for p in phases), m["db1_outside_tasks_s"], ms(m.get("db1_window_ms"))))
    # What the per-host report JSON itself records (phase duration_ms from the state file).
    reported = {}
    for r in doc["results"]:
        if r["hosts"] == 1 and r["rehearse"]:
            for p, v in ((r["reports"].get("db1") or {}).get("databases", {}).get("app", {}).get("phases_ms") or {}).items():
                reported.setdefault(p, []).append(v)
    if reported:
        out += ["", "The per-host report of one host records (ms, medians): %s%s." % (
            ", ".join("%s %s" % (p, ms(common.median(v))) for p, v in sorted(reported.items())),
            "" if "backup" in reported and "rehearsal" in reported else "; no duration for backup or rehearsal yet, "
            "hence the callback")]
    tasks = sorted(set(r["tasks_per_host"] for r in doc["results"]))
    out += ["", "%d run(s) per fleet, %s tv_ rows per host, %s tasks per host. File `bench/results/%s` (%s)." % (
        doc["repeat"], fmt_rows(doc["rows_per_host"]), "/".join(str(t) for t in tasks), name,
        "a run stopped before its end: the fleets it finished" if doc.get("partial") else "%d s" % doc["seconds"]), ""]
    return out


def render():
    out = [BEGIN, ""]
    machine = server = None
    quick = []
    for bench, section in (("swap_window", swap_section), ("runbook", runbook_section), ("fleet", fleet_section)):
        name, doc = latest(bench)
        if doc is None:
            out += ["(no `%s` results yet: run `make bench`)" % bench, ""]
            continue
        machine = machine or doc.get("machine")
        server = server or doc.get("server")
        env = dict((k, v) for k, v in (doc.get("env") or {}).items() if k != "PGTVIEWS_BENCH_QUICK")
        quick.append("%s: %s%s, load average at its start %s" % (
            bench, "quick set" if doc.get("quick") else "full set",
            (" with " + " ".join("%s=%s" % kv for kv in sorted(env.items()))) if env else "",
            " ".join((doc.get("machine") or {}).get("loadavg_at_start") or ["?"])))
        out += section(name, doc)
    if machine:
        out += ["Machine: %s cores (%s), %s GB, %s; %s. %s." % (
            machine.get("nproc"), machine.get("cpu", "?"), machine.get("mem_gb", "?"), machine.get("platform"), server,
            "; ".join(quick)), ""]
    out.append(END)
    return "\n".join(out)


def main():
    text = render()
    if "--print" in sys.argv:
        print(text)
        return
    with open(DOC) as fh:
        doc = fh.read()
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(DOC, "w") as fh:
        fh.write(doc)
    print("docs/performance.md: generated part rewritten from the latest results")


if __name__ == "__main__":
    main()
