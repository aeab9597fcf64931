"""`make demo`: a disposable three-server fleet on this machine, migrated in two waves.

    python scripts/demo.py up|migrate|rollback|summary|clean
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.harness.fleet import Fleet, recap  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.environ.get("PGTVIEWS_DEMO_DIR", os.path.join(REPO, "demo", "run"))
STANDIN = os.path.join(REPO, "build", "standin")


def fleet():
    return Fleet(ROOT, STANDIN)


def run(name, *args):
    f = fleet()
    proc = f.playbook(name, *args)
    log = os.path.join(ROOT, "%s.log" % name)
    with open(log, "w") as fh:
        fh.write(proc.stdout + proc.stderr)
    print("\n".join(proc.stdout.splitlines()[-12:]))
    print("full log: %s" % log)
    return proc


def summary():
    f = fleet()
    print("\n%-6s %-8s %-10s %-14s %s" % ("host", "port", "database", "pg_tviews", "TVIEWs"))
    for name in f.names:
        c = f.cluster(name)
        for db in json.load(open(f.state_path))["databases"]:
            row = c.execute("SELECT extversion, (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'tv\\_%%') "
                            "FROM pg_extension WHERE extname = 'pg_tviews'", db)
            print("%-6s %-8s %-10s %-14s %s" % (name, c.port, db, row[0][0] if row else "-", row[0][1] if row else "-"))
    reports = os.path.join(ROOT, "reports")
    htmls = sorted(os.path.join(d, f_) for d, dummy, fs in os.walk(reports) for f_ in fs if f_.endswith(".html"))
    if htmls:
        print("\nreport: %s" % htmls[-1])


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "up"
    if cmd == "up":
        f = fleet()
        if os.path.exists(f.state_path):
            print("fleet already up in %s (make demo-clean to start over)" % ROOT)
        else:
            f.up()
            print("fleet of %d servers up in %s, inventory %s" % (len(f.names), ROOT, f.inventory))
    elif cmd in ("migrate", "rollback"):
        # a rollback names its hosts: the demo rolls back the whole demo fleet
        proc = run(cmd, *(["-e", "tviews_target_hosts=all"] if cmd == "rollback" else []))
        summary()
        if cmd == "migrate":
            print("\nroll back with: make demo-rollback   clean up with: make demo-clean")
        failed = [h for h, c in recap(proc.stdout).items() if c.get("failed") or c.get("unreachable")]
        return 1 if proc.returncode or failed else 0
    elif cmd == "summary":
        summary()
    elif cmd == "clean":
        fleet().down()
        print("removed %s" % ROOT)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
