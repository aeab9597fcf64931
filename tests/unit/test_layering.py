"""The layering of plugins/module_utils (DESIGN.md, issue 16): each layer imports only from the
layers below it (or from its own package), never upwards and never in a circle.

    concern packages   gates/ backup/ install/ report/ scan/   (never one another)
    swap/, manifest/   (never one another)
    catalog/
    connection.py, host/
"""

import ast
import glob
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "module_utils")
PREFIX = "ansible_collections.pgtviews.ops.plugins.module_utils."
LAYER = {"connection": 0, "host": 0, "catalog": 1, "swap": 2, "manifest": 2,
         "gates": 3, "backup": 3, "install": 3, "report": 3, "scan": 3}


def package_of(path):
    rel = os.path.relpath(path, ROOT)
    return rel.split(os.sep)[0].replace(".py", "")


def imports(path):
    with open(path) as fh:
        tree = ast.parse(fh.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            yield node.module[len(PREFIX):].split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == PREFIX.rstrip("."):
            for alias in node.names:
                yield alias.name, node.lineno


def test_every_package_has_a_layer():
    assert sorted(set(package_of(p) for p in glob.glob(os.path.join(ROOT, "*")) if not p.endswith("__pycache__"))) \
        == sorted(LAYER)


def test_no_upward_or_sideways_imports():
    wrong = []
    for path in glob.glob(os.path.join(ROOT, "**", "*.py"), recursive=True):
        own = package_of(path)
        for other, line in imports(path):
            if other != own and LAYER[other] >= LAYER[own] and not (LAYER[own] == 0 and other == "connection"):
                wrong.append("%s:%d imports %s" % (os.path.relpath(path, ROOT), line, other))
    assert wrong == []
