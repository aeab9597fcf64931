"""Benchmark: `ansible-playbook pgtviews.ops.migrate` over local fleets of 1, 3 and 6 servers, and
one host's time by phase (issue 21).

Each run gets a fresh fleet (tests/harness/fleet.py: one PostgreSQL 15 server per host, each with
its own copy of the installation and stand-in 0.1.0) with the 10-TVIEW dataset (bench/common.py)
in database ``app`` on every host, and runs migrate with every host in one wave
(``tviews_waves: ["100%"]``) and as many forks as hosts. Measured:

- the run's wall time (ansible-playbook start to exit);
- per host and phase, the sum of its task times (bench/callback_plugins/bench_phases.py: phase =
  the role a task comes from; the swap role's rehearse tasks are ``rehearsal``; tasks of the
  playbook itself ``playbook``): backup and rehearsal are timed here because the per-host report
  has no duration for them;
- what the per-host report JSON says (the swap's window, and each phase's ``duration_ms`` where the
  state file records one);
- one host again with the rehearsal off (``-e tviews_rehearse=false``; not in the quick set).

Writes bench/results/fleet-<timestamp>.json. Not a test: nothing here asserts a timing.
PGTVIEWS_BENCH_QUICK=1: fleets of 1 and 3, one run each, no run without rehearsal. PGTVIEWS_BENCH_FLEETS (e.g. 1,3,6),
PGTVIEWS_BENCH_FLEET_REPEAT and PGTVIEWS_BENCH_FLEET_ROWS (tv_ rows per host, default 10000)
override."""

import glob
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import common  # noqa: E402
from tests.harness.fleet import Fleet, recap  # noqa: E402
from tests.harness.pg import make_base_dir  # noqa: E402

QUICK = common.QUICK
FLEETS = [int(x) for x in os.environ.get("PGTVIEWS_BENCH_FLEETS", "1,3" if QUICK else "1,3,6").split(",")]
REPEAT = int(os.environ.get("PGTVIEWS_BENCH_FLEET_REPEAT", "1" if QUICK else "3"))
ROWS = int(os.environ.get("PGTVIEWS_BENCH_FLEET_ROWS", "10000"))
CALLBACKS = os.path.join(common.REPO, "bench", "callback_plugins")


def host_reports(root):
    """{host: {window_ms, phases: {phase: duration_ms}}} from the run's per-host report JSON."""
    out = {}
    for path in glob.glob(os.path.join(root, "reports", "*", "hosts", "*.json")):
        if os.sep + "fleet" + os.sep in path:
            continue
        with open(path) as fh:
            rec = json.load(fh)
        host = os.path.basename(path)[:-len(".json")]
        dbs = rec.get("databases") or {}
        entry = {"status": rec.get("status"), "databases": {}}
        for db, d in dbs.items():
            phases = {}
            for p in d.get("phases") or []:
                if isinstance(p, dict) and p.get("duration_ms") is not None:
                    phases[p.get("phase") or p.get("name")] = p["duration_ms"]
            entry["databases"][db] = {"write_blocked_window_ms": d.get("write_blocked_window_ms"), "phases_ms": phases}
        out[host] = entry
    return out


def machine_busy_s():
    """Seconds of CPU the whole machine has spent busy since boot (all cores; /proc/stat)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)   # idle + iowait
    return (sum(ticks[:8]) - idle) / float(os.sysconf("SC_CLK_TCK"))


def children_cpu_s():
    """User + system CPU seconds of this process's waited-for children (ansible-playbook and its forks)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def one_run(hosts, rehearse=True):
    names = ["db%d" % (i + 1) for i in range(hosts)]
    root = make_base_dir("bench-fleet-")
    fleet = Fleet(root, common.STANDIN, names=names)
    try:
        t = time.monotonic()
        fleet.up(databases=())
        for name in names:
            common.load(fleet.cluster(name), "app", ROWS)
        setup_s = round(time.monotonic() - t, 1)
        phases_path = os.path.join(root, "phases.json")
        env = {"ANSIBLE_CALLBACK_PLUGINS": CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "bench_phases",
               "PGTVIEWS_BENCH_PHASES": phases_path, "ANSIBLE_FORKS": str(max(5, hosts))}
        args = [] if rehearse else ["-e", "tviews_rehearse=false"]
        cmd, penv = fleet.playbook_command("migrate", *args, env=env, waves=("100%",))
        t, busy, own = time.monotonic(), machine_busy_s(), children_cpu_s()
        proc = subprocess.run(cmd, env=penv, capture_output=True, text=True, check=False)
        wall_s = round(time.monotonic() - t, 2)
        busy, own = machine_busy_s() - busy, children_cpu_s() - own
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-40:])
            raise SystemExit("migrate failed on a fleet of %d (rc %d):\n%s\n%s" % (hosts, proc.returncode, tail, proc.stderr[-2000:]))
        with open(phases_path) as fh:
            timing = json.load(fh)
        host_phases = dict((h, p) for h, p in timing["phases"].items() if h in names)
        row = {"hosts": hosts, "rehearse": rehearse, "rows_per_host": ROWS, "setup_s": setup_s, "wall_s": wall_s,
               "callback_wall_s": timing["wall_s"], "tasks_per_host": len([t for t in timing["tasks"] if t["host"] == names[0]]),
               "phases_s": host_phases, "localhost_phases_s": timing["phases"].get("localhost"),
               "recap": recap(proc.stdout), "reports": host_reports(root),
               # db1's tasks, slowest first: where one host's time goes.
               "db1_tasks": sorted(([t["phase"], t["task"], t["status"], t["seconds"]] for t in timing["tasks"]
                                    if t["host"] == names[0]), key=lambda t: -t[3]),
               # CPU: ansible-playbook and everything it ran (modules, psql), and the whole machine
               # (the servers too) as a share of what its cores could give in the run's wall time.
               "ansible_cpu_s": round(own, 1), "machine_busy_s": round(busy, 1),
               "machine_busy_share": round(busy / (wall_s * (os.cpu_count() or 1)), 2)}
        print("fleet of %d%s: migrate %.1f s (setup %.0f s; CPU: ansible %.1f s, machine busy %.0f%%); %s" % (
            hosts, "" if rehearse else " (no rehearsal)", wall_s, setup_s, own, row["machine_busy_share"] * 100,
            ", ".join("%s %.1f" % (k, v) for k, v in sorted(host_phases[names[0]].items(), key=lambda kv: -kv[1]))),
            flush=True)
        return row
    finally:
        fleet.down()


def medians(results):
    """Per fleet (hosts, rehearsal): the median wall time and db1's median time by phase."""
    med = []
    kinds = sorted(set((r["hosts"], r["rehearse"]) for r in results), key=lambda k: (not k[1], k[0]))
    for hosts, rehearse in kinds:
        rows = [r for r in results if r["hosts"] == hosts and r["rehearse"] == rehearse]
        phases = {}
        for r in rows:
            for p, s in r["phases_s"]["db1"].items():
                phases.setdefault(p, []).append(s)
        wall = common.median([r["wall_s"] for r in rows])
        m = {"hosts": hosts, "rehearse": rehearse, "runs": len(rows), "wall_s": wall,
             "db1_phases_s": dict((p, round(common.median(v), 2)) for p, v in sorted(phases.items())),
             "db1_window_ms": common.median([r["reports"].get("db1", {}).get("databases", {}).get("app", {})
                                             .get("write_blocked_window_ms") for r in rows])}
        for key in ("ansible_cpu_s", "machine_busy_share"):
            m[key] = common.median([r.get(key) for r in rows if r.get(key) is not None])
        # What no task of db1 accounts for: ansible-playbook's start, the plan, other hosts' turns.
        m["db1_outside_tasks_s"] = round(wall - sum(m["db1_phases_s"].values()), 2)
        med.append(m)
    return med


def main():
    started = time.time()
    results = []
    out = common.result_path("fleet")
    machine = common.machine()
    for i in range(REPEAT):
        for hosts in FLEETS:
            results.append(one_run(hosts))
            common.write_result("fleet", {"bench": "fleet", "partial": True, "machine": machine, "results": results}, out)
        if not QUICK:
            results.append(one_run(1, rehearse=False))
    med = medians(results)
    doc = {"bench": "fleet", "server": "PostgreSQL 15, stand-in pg_tviews 0.1.0 -> 0.2.0", "fleets": FLEETS,
           "repeat": REPEAT, "rows_per_host": ROWS,
           "seconds": round(time.time() - started), "medians": med, "results": results}
    doc["machine"] = machine
    common.write_result("fleet", doc, out)
    one = ([m["wall_s"] for m in med if m["hosts"] == 1 and m["rehearse"]] or [med[0]["wall_s"]])[0]
    print("\n| hosts | rehearsal | migrate wall s | / one host |")
    print("|---:|---|---:|---:|")
    for m in med:
        print("| %d | %s | %.1f | %.2f |" % (m["hosts"], "on" if m["rehearse"] else "off", m["wall_s"], m["wall_s"] / one))
    print("\nresults: %s (%d s)" % (out, doc["seconds"]))


if __name__ == "__main__":
    main()
