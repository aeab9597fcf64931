"""The custom credential type: accepted by AWX's rules, and what it injects, rendered the way AWX
renders it, is a tviews_connection that the modules' connection options accept."""

import os

import jinja2
import pytest
import yaml
from jinja2 import sandbox
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connection_argument_spec
from tests.harness.modules import REPO
from tests.unit.awx.awx_files import AWX, TEMPLATES
from tests.unit.awx.awx_rules import credential_type_problems

PATH = os.path.join(AWX, "credential_types", "pgtviews_postgresql.yml")


def credential_type():
    with open(PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def render(node, namespace, undefined=jinja2.Undefined):
    """AWX's build_extra_vars: every string of the injector rendered in a sandbox with the inputs."""
    env = sandbox.ImmutableSandboxedEnvironment(undefined=undefined)
    if isinstance(node, dict):
        return {render(k, namespace, undefined): render(v, namespace, undefined) for k, v in node.items()}
    return env.from_string(node).render(**namespace)


def injected(inputs):
    # AWX leaves an input that is unset or empty out of the namespace.
    return render(credential_type()["injectors"]["extra_vars"], {k: v for k, v in inputs.items() if v != ""})


def test_credential_type_passes_awx_checks():
    assert credential_type_problems(credential_type()) == []


def test_injectors_only_use_defined_inputs():
    # AWX renders every injector with each defined input set to EXAMPLE and strict undefined on save.
    fields = [f["id"] for f in credential_type()["inputs"]["fields"]]
    render(credential_type()["injectors"], dict((f, "EXAMPLE") for f in fields), jinja2.StrictUndefined)


def test_password_is_a_secret_input_and_only_lands_in_login_password():
    (password,) = [f for f in credential_type()["inputs"]["fields"] if f["id"] == "password"]
    assert password["secret"] is True and "default" not in password
    conn = injected({"username": "migrator", "password": "s3cr=t {{ x }}"})["tviews_connection"]
    assert [k for k, v in conn.items() if "s3cr=t" in v] == ["login_password"]


@pytest.mark.parametrize("inputs,expected", [
    ({"username": "migrator", "password": "pw", "host": "127.0.0.1", "port": "6432", "database": "ops",
      "ssl_mode": "require"},
     {"login_user": "migrator", "login_password": "pw", "login_host": "127.0.0.1", "login_port": 6432,
      "login_db": "ops", "ssl_mode": "require", "login_unix_socket": ""}),
    # Only the required input: the Unix socket, no password, the defaults of the collection.
    ({"username": "postgres"},
     {"login_user": "postgres", "login_password": "", "login_host": "", "login_port": 5432,
      "login_db": "postgres", "ssl_mode": "prefer", "login_unix_socket": ""}),
    ({"username": "postgres", "unix_socket": "/var/run/postgresql", "port": ""},
     {"login_user": "postgres", "login_password": "", "login_host": "", "login_port": 5432,
      "login_db": "postgres", "ssl_mode": "prefer", "login_unix_socket": "/var/run/postgresql"}),
])
def test_injected_connection_is_accepted_by_the_modules(inputs, expected):
    conn = injected(inputs)["tviews_connection"]
    result = ArgumentSpecValidator(connection_argument_spec()).validate(conn)
    assert result.error_messages == []
    assert {k: result.validated_parameters[k] for k in expected} == expected


def test_every_choice_of_ssl_mode_is_one_the_modules_accept():
    (field,) = [f for f in credential_type()["inputs"]["fields"] if f["id"] == "ssl_mode"]
    assert sorted(field["choices"]) == sorted(connection_argument_spec()["ssl_mode"]["choices"])


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_collection_playbooks_hand_tviews_connection_to_the_modules(name):
    with open(os.path.join(REPO, "playbooks", name + ".yml"), encoding="utf-8") as fh:
        text = fh.read()
    assert 'group/pgtviews.ops.all: "{{ tviews_connection | default({}) }}"' in text
