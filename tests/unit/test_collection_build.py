"""The collection tarball carries the collection, not the development tree."""

import os
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_excludes_tests_and_dev_files(tmp_path):
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--force", "--output-path", str(tmp_path), REPO],
                   check=True, capture_output=True, env=dict(os.environ, ANSIBLE_HOME=str(tmp_path / "home")))
    (tarball,) = [p for p in os.listdir(tmp_path) if p.endswith(".tar.gz")]
    with tarfile.open(os.path.join(tmp_path, tarball)) as tf:
        top = set(n.split("/")[0] for n in tf.getnames())
    assert {"plugins", "roles", "playbooks", "meta", "docs", "README.md", "CHANGELOG.md", "MANIFEST.json"} <= top
    for dev in ("tests", "molecule", "scripts", "bench", ".venv", ".cache", ".build", "build", "Makefile",
                ".ci", ".pytest_cache", "requirements-dev.txt", "demo", "awx", "execution-environment.yml"):
        assert dev not in top, dev
