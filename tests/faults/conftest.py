"""Fixtures of the fault matrix (docs/reliability.md): every test records what it saw as one JSON
file in build/faults/results/, and `make faults` renders docs/reliability.md from them
(tests/faults/render.py). A test records its row only after its assertions passed, so the table
never shows a row that did not hold."""

import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.environ.get("PGTVIEWS_FAULTS_RESULTS") or os.path.join(REPO, "build", "faults", "results")


class Recorder(object):
    def __init__(self, kind):
        self.kind = kind
        os.makedirs(RESULTS, exist_ok=True)

    def row(self, key, **columns):
        """Write the row ``key`` (its sort key in the table) with ``columns``."""
        path = os.path.join(RESULTS, "%s-%s.json" % (self.kind, key))
        with open(path, "w") as fh:
            json.dump(dict(columns, key=key, kind=self.kind), fh, indent=2, sort_keys=True)
            fh.write("\n")


@pytest.fixture(scope="session")
def fault_record():
    """Rows of the fault table: key, fault, when, state after the fault, re-run outcome, rows lost."""
    return Recorder("fault")


@pytest.fixture(scope="session")
def bad_input_record():
    """Rows of the bad-input table: key, input, where, the message given, nothing changed."""
    return Recorder("bad-input")
