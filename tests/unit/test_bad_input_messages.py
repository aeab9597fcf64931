"""The wording of bad-input messages (issue 17): one sentence that names the input and says what to
do, never a Python repr. The end-to-end cases are tests/faults/test_bad_input.py."""

import os

import pytest

from ansible_collections.pgtviews.ops.plugins.filter.tviews_inputs import tviews_input_problems
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import version_problem
from ansible_collections.pgtviews.ops.plugins.module_utils.connection import clear_argument_error, connect_hint
from ansible_collections.pgtviews.ops.plugins.module_utils.host.disk import file_in_the_way

GOOD = {"tviews_version": "0.2.0", "tviews_rollback_version": "0.1.0", "tviews_databases": [],
        "tviews_state_file": "/var/lib/pgtviews/state.json", "tviews_backup_root": "/var/backups/pgtviews"}


def no_repr(text):
    return not any(r in text for r in ("['", "{'", "u'", "<class", "Traceback", "\n"))


@pytest.mark.parametrize("value,words", [
    ("0.9.9", ("tviews_version is 0.9.9", "does not know", "set tviews_version")),
    (["0.2.0"], ("tviews_version must be one pg_tviews version", "a list (0.2.0)", "correct tviews_version")),
    ({"v": 1}, ("a mapping",)),
    ("", ("is not one", "empty")),
    ("0.1.x", ('"0.1.x"',)),
])
def test_versions(value, words):
    msg = version_problem(value, "tviews_version")
    assert all(w in msg for w in words) and no_repr(msg), msg


def test_known_versions_pass():
    for v in ("0.1.0", "0.1.1", "0.2.0", "0.2.3"):
        assert version_problem(v, "version") is None


def test_shared_inputs():
    assert tviews_input_problems(GOOD) == []
    for change, words in ((dict(tviews_databases="app"), "tviews_databases must be a list"),
                          (dict(tviews_databases=["app", ""]), "one of its items is empty"),
                          (dict(tviews_state_file="state.json"), "tviews_state_file must be an absolute path"),
                          (dict(tviews_rollback_version="0.9"), "tviews_rollback_version is 0.9")):
        problems = tviews_input_problems(dict(GOOD, **change))
        assert len(problems) == 1 and words in problems[0] and no_repr(problems[0]), problems


def test_argument_type_errors_are_one_sentence():
    msg = clear_argument_error("""argument 'lock_timeout' is of type str and we were unable to convert to int: "'soon'" """
                               """cannot be converted to an int""")
    assert msg.startswith("option lock_timeout must be a whole number") and "correct lock_timeout" in msg and no_repr(msg)
    assert clear_argument_error("something else") == "something else"


def test_connection_hints():
    assert "check the database name" in connect_hint('FATAL: database "x" does not exist')
    assert "login_password" in connect_hint('FATAL: password authentication failed for user "u"')
    assert connect_hint("could not connect to server") == ""


def test_file_in_the_way(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert file_in_the_way(str(f)) == str(f)
    assert file_in_the_way(str(f / "a" / "b")) == str(f)
    assert file_in_the_way(str(tmp_path / "new" / "dir")) is None
    assert file_in_the_way(os.path.dirname(str(f))) is None
