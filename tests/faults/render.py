"""Render docs/reliability.md's two tables from the rows the last `make faults` recorded
(tests/faults/conftest.py). Usage: python tests/faults/render.py [results dir] [output]."""

import datetime
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TEMPLATE = os.path.join(HERE, "reliability.md.in")
BEGIN, END = "<!-- fault table -->", "<!-- bad-input table -->"


def cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(results, kind):
    out = []
    for path in sorted(glob.glob(os.path.join(results, "%s-*.json" % kind))):
        with open(path) as fh:
            out.append(json.load(fh))
    return sorted(out, key=lambda r: (len(str(r["key"])), str(r["key"])))


def fault_table(results):
    lines = ["| # | fault | when | state after the fault | re-run | rows lost |", "|---|---|---|---|---|---|"]
    for r in rows(results, "fault"):
        lines.append("| %s |" % " | ".join(cell(r[c]) for c in ("key", "fault", "when", "after", "rerun", "rows_lost")))
    return lines


def bad_input_table(results):
    lines = ["| # | bad input | given to | what it says | changed |", "|---|---|---|---|---|"]
    for r in rows(results, "bad-input"):
        lines.append("| %s |" % " | ".join(cell(r[c]) for c in ("key", "input", "where", "message", "changed")))
    return lines


def main(results=None, output=None):
    results = results or os.path.join(REPO, "build", "faults", "results")
    output = output or os.path.join(REPO, "docs", "reliability.md")
    with open(TEMPLATE) as fh:
        text = fh.read()
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    text = text.replace("@GENERATED@", stamp)
    text = text.replace("@FAULTS@", "\n".join(fault_table(results)))
    text = text.replace("@BAD_INPUTS@", "\n".join(bad_input_table(results)))
    with open(output, "w") as fh:
        fh.write(text)
    print("wrote %s (%d faults, %d bad inputs)" % (output, len(rows(results, "fault")), len(rows(results, "bad-input"))))


if __name__ == "__main__":
    main(*sys.argv[1:3])
