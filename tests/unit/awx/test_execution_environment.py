"""execution-environment.yml through ansible-builder itself: `create` writes the build context
(no image is built here: no registry is reachable), and what it wrote installs this collection
with its dependencies, pinned like the tests, and no Python package the controller does not need."""

import fnmatch
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.harness.modules import REPO, ansible_env

BIN = os.path.dirname(sys.executable)


def _pins():
    with open(os.path.join(REPO, "requirements-dev.txt"), encoding="utf-8") as fh:
        return dict(line.strip().split("==") for line in fh if "==" in line and not line.startswith("#"))


def _galaxy():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The EE file beside a build/ with a freshly built collection tarball, as after `make build`."""
    top = tmp_path_factory.mktemp("ee")
    env = ansible_env(str(top))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(top / "build"),
                    REPO], check=True, capture_output=True, env=env)
    shutil.copy(os.path.join(REPO, "execution-environment.yml"), str(top))
    proc = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "--file", str(top / "execution-environment.yml"),
                           "--context", str(top / "context"), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No matches" not in proc.stdout + proc.stderr
    return top


def _containerfile(context):
    return (context / "context" / "Containerfile").read_text()


def test_context_carries_the_collection_tarball(context):
    version = _galaxy()["version"]
    tarball = context / "context" / "_build" / "pgtviews" / ("pgtviews-ops-%s.tar.gz" % version)
    assert tarball.read_bytes() == (context / "build" / tarball.name).read_bytes()


def test_core_and_runner_are_pinned_like_the_tests(context):
    pins = _pins()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==%s"' % (
        pins["ansible-core"], pins["ansible-runner"]) in _containerfile(context)


def test_base_image_brings_python_3_11(context):
    text = _containerfile(context)
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in text
    assert 'ARG PYCMD="/usr/bin/python3.11"' in text and 'ARG PYPKG="python3.11"' in text


def test_galaxy_stage_installs_the_collection_offline_and_nothing_else(context):
    """The collection depends on no other collection: the one install step is offline, and fails the
    build rather than fetch anything."""
    assert _galaxy()["dependencies"] == {}
    text = _containerfile(context)
    assert "FROM base AS galaxy" not in text
    final_stage = text.split("FROM base AS final", 1)[1]
    steps = [line for line in final_stage.splitlines() if "ansible-galaxy collection install" in line]
    assert len(steps) == 1, steps
    assert "--offline" in steps[0] and "/tmp/pgtviews/pgtviews-ops-*.tar.gz" in steps[0]
    assert "COPY _build/pgtviews/ /tmp/pgtviews/" in final_stage
    assert not (context / "context" / "_build" / "requirements.yml").exists()


@pytest.fixture(scope="module")
def installed(context):
    """The collection step of the galaxy stage, run here with its paths mapped into the context, into
    an empty collections path (no other collection is needed)."""
    collections = context / "collections"
    collections.mkdir()
    (step,) = [line for line in _containerfile(context).splitlines() if "--offline" in line]
    command = step[len("RUN "):].replace("/usr/share/ansible/collections", str(collections)).replace(
        "/tmp/pgtviews/", str(context / "context" / "_build" / "pgtviews") + "/").split(" && rm ")[0]
    env = ansible_env(str(context), ANSIBLE_COLLECTIONS_PATH=str(collections), PATH=BIN + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return collections


def test_galaxy_install_step_works_here(installed):
    with open(str(installed / "ansible_collections" / "pgtviews" / "ops" / "MANIFEST.json"), encoding="utf-8") as fh:
        assert json.load(fh)["collection_info"]["version"] == _galaxy()["version"]


def test_builder_stage_adds_no_python_package(context, installed):
    """ansible-builder's own introspection over the installed collections: nothing to pip-install
    (psycopg2 belongs on the managed hosts), with no exclusion list to keep it so."""
    script = str(context / "context" / "_build" / "scripts" / "introspect.py")
    out = subprocess.run([sys.executable, script, "introspect", str(installed)],
                         check=True, capture_output=True, text=True).stdout
    assert not (yaml.safe_load(out) or {}).get("python"), out


def test_ee_file_names_what_make_build_writes():
    with open(os.path.join(REPO, "execution-environment.yml"), encoding="utf-8") as fh:
        ee = yaml.safe_load(fh)
    (src,) = [f["src"] for f in ee["additional_build_files"]]
    assert fnmatch.fnmatch("build/pgtviews-ops-%s.tar.gz" % _galaxy()["version"], src)
