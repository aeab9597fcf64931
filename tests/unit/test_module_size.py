"""Modules stay thin (issue 16): no file under plugins/modules/ has more than 150 lines outside
its DOCUMENTATION, EXAMPLES and RETURN strings; argspec, check mode, one call into
module_utils, exit/fail. Orchestration and SQL live in module_utils packages."""

import ast
import glob
import os

import pytest

MODULES = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "modules")
LIMIT = 150
DOC_STRINGS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def code_lines(path):
    with open(path) as fh:
        source = fh.read()
    doc = 0
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) in DOC_STRINGS for t in node.targets):
            doc += node.end_lineno - node.lineno + 1
    return len(source.splitlines()) - doc


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(MODULES, "*.py"))), ids=os.path.basename)
def test_module_is_thin(path):
    assert code_lines(path) <= LIMIT, "%s: %d lines outside its documentation strings" % (path, code_lines(path))


def test_modules_are_measured():
    assert len(glob.glob(os.path.join(MODULES, "*.py"))) >= 13
