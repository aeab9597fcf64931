"""Version knowledge lives in the adapters (issue 16): outside catalog/v01.py, catalog/v02.py and
the version table, no code in plugins/ names pg_tviews' trigger, helper, index or metadata
names. Documentation strings may; the code-scan rules may (they describe application code)."""

import ast
import glob
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
NAMES = ("tview_trigger_handler", "trg_tview_", "idx_tv_", "pg_tview_meta", "pg_tviews_metadata")
ALLOWED = ("plugins/module_utils/catalog/v01.py", "plugins/module_utils/catalog/v02.py",
           "plugins/module_utils/catalog/versions.py")
DOC_STRINGS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def documentation(tree):
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr):
            docs.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) in DOC_STRINGS for t in node.targets):
            docs.add(id(node.value))
    return docs


def test_only_the_adapters_name_version_specific_objects():
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True)):
        rel = os.path.relpath(path, ROOT)
        if rel in ALLOWED or rel.startswith("plugins/module_utils/scan/"):
            continue
        with open(path) as fh:
            tree = ast.parse(fh.read())
        docs = documentation(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                found += ["%s:%d %s" % (rel, node.lineno, n) for n in NAMES if n in node.value]
    assert found == []
