"""Bad input (issue 17): each wrong value, given to a module run directly, to a role or to one of the
playbooks migrate, rollback and install, against a real one-server fleet. Each must fail with one
sentence that names the input and says what to do, and change nothing: the databases (their list,
extversion, relations and row counts), the roles, the state file's bytes, the backup root, the
manifests and the installed extension files are compared before and after. A test records its row
(docs/reliability.md) only after its assertions held."""

import json
import os
import re
import shutil
import subprocess

import pytest
from psycopg2 import sql

from tests.harness.fleet import Fleet, recap
from tests.harness.modules import REPO, ansible_env, conn_args, run_module
from tests.harness.pg import make_base_dir

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = 'sh"op; DROP TABLE tb_user; --'
OPERATOR = "tviews operator"               # a password-authenticated superuser (over TCP: scram)


@pytest.fixture(scope="module")
def marker(fleet):
    """A file that exists only if some shell interpreted a password given below."""
    return os.path.join(fleet.root, "shell-ran")


@pytest.fixture(scope="module")
def password(fleet):
    """The operator's password: quotes, a semicolon, a command substitution, a space."""
    return "p'a;s$(touch %s)\"w d" % os.path.join(fleet.root, "shell-ran")


@pytest.fixture(scope="module")
def fleet(standin_build):
    root = make_base_dir("fleet-bad-input-")
    f = Fleet(root, os.path.dirname(standin_build["0.2.0"]["artifact"]), names=("db1",)).up(databases=("app", "shop"))
    try:
        c = f.cluster("db1")
        pw = "p'a;s$(touch %s)\"w d" % os.path.join(f.root, "shell-ran")
        c.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN PASSWORD {}").format(sql.Identifier(OPERATOR), sql.Literal(pw)))
        # Manifests to hand in: shop's (another database) and a tampered copy of app's.
        os.makedirs(os.path.join(f.root, "given"))
        for db in ("app", "shop"):
            r = run_module("tviews_manifest", dict(conn_args(c, db), state="captured", store_in_database=False,
                                                   path=os.path.join(f.root, "given", "%s-manifest.json" % db)))
            assert not r.get("failed"), r
        with open(os.path.join(f.root, "given", "app-manifest.json")) as fh:
            doc = json.load(fh)
        doc["tviews"][0]["row_count"] += 1
        with open(os.path.join(f.root, "given", "app-tampered.json"), "w") as fh:
            json.dump(doc, fh)
        art = os.path.join(f.standin_dir, "pg_tviews-v0.2.0-pg15.tar.gz")
        with open(art, "rb") as src, open(os.path.join(f.root, "given", "truncated.tar.gz"), "wb") as dst:
            dst.write(src.read()[:4000])
        with open(os.path.join(f.root, "given", "a-file"), "w") as fh:
            fh.write("not a directory\n")
        yield f
    finally:
        f.down()


def given(fleet, name):
    return os.path.join(fleet.root, "given", name)


# --------------------------------------------------------------------------- what must not change

def listing(path):
    """{relative path: (kind, size)} under ``path``; None when it does not exist."""
    if not os.path.lexists(path):
        return None
    if not os.path.isdir(path):
        return {"": ("file", os.path.getsize(path))}
    out = {}
    for top, dirs, files in os.walk(path):
        for d in dirs:
            out[os.path.relpath(os.path.join(top, d), path)] = ("dir", 0)
        for name in files:
            p = os.path.join(top, name)
            out[os.path.relpath(p, path)] = ("file", os.path.getsize(p))
    return out


def file_bytes(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        return fh.read()


def world(fleet):
    """Everything a bad input must leave as it was."""
    c = fleet.cluster("db1")
    host = os.path.join(fleet.root, "db1")
    dbs = [r[0] for r in c.execute("SELECT datname FROM pg_database ORDER BY 1")]
    out = {"databases": dbs, "roles": c.execute("SELECT rolname, rolsuper FROM pg_roles ORDER BY 1")}
    for db in dbs:
        if db.startswith("template"):
            continue
        conn = c.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'")
                ext = cur.fetchall()
                cur.execute("SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2")
                rels = cur.fetchall()
                counts = {}
                for schema, name, kind in rels:
                    if kind == "r":
                        cur.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
                        counts["%s.%s" % (schema, name)] = cur.fetchone()[0]
                cur.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1")
                triggers = cur.fetchall()
        finally:
            conn.close()
        out[db] = {"extversion": ext, "relations": rels, "rows": counts, "triggers": triggers}
    inst = fleet.install("db1")
    out["state"] = file_bytes(os.path.join(host, "state", "state.json"))
    for name in ("backups", "manifests", "stash", "receipts"):
        out[name] = listing(os.path.join(host, name))
    out["extension files"] = (sorted(os.listdir(inst.extdir)), sorted(f for f in os.listdir(inst.pkglibdir) if "tviews" in f))
    return out


def assert_unchanged(before, after):
    assert after.keys() == before.keys(), (before.keys(), after.keys())
    for k in before:
        assert after[k] == before[k], "%s changed:\nbefore %r\nafter  %r" % (k, before[k], after[k])


# --------------------------------------------------------------------------- the message

REPR = ("Traceback", "u'", "{'", "['", "<class", "b'", "\\n")


def assert_clear(msg, *words):
    """One line, no Python repr or traceback, and every key word (case-insensitive) in it."""
    assert msg, "no message"
    assert "\n" not in msg.strip(), msg
    for r in REPR:
        assert r not in msg, "%r in %s" % (r, msg)
    for w in words:
        assert w.lower() in msg.lower(), "%r not in %s" % (w, msg)
    return " ".join(msg.split())


def module_failed(result, *words):
    assert result.get("failed") is True, result
    assert "Traceback" not in result.get("_stderr", "") and "exception" not in result, result
    return assert_clear(result.get("msg"), *words)


FATAL = re.compile(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})\s*$")


def fatal_messages(run):
    out = []
    for line in run.stdout.splitlines():
        m = FATAL.match(line)
        if m:
            out.append(json.loads(m.group(1)).get("msg", ""))
    return out


def playbook_failed(run, *words, which=0):
    """The first failure's message (the cause; ``which=-1``: the last, where a rescue words the
    cause); the run failed, without a traceback anywhere."""
    assert run.returncode != 0, run.stdout[-3000:]
    assert recap(run.stdout).get("db1", {}).get("failed", 0) >= 1, run.stdout[-3000:]
    assert "Traceback" not in run.stdout + run.stderr, run.stdout[-3000:] + run.stderr[-3000:]
    msgs = fatal_messages(run)
    assert msgs, run.stdout[-3000:]
    return assert_clear(msgs[which], *words)


def play(fleet, name, extra=None, host=None, waves=(1, "100%"), args=()):
    fleet.write_inventory(extra_vars=extra, host_overrides={"db1": host} if host else None)
    try:
        return fleet.playbook(name, *args, waves=waves)
    finally:
        fleet.write_inventory()


def role(fleet, name, extra=None, host=None):
    """ansible-playbook tests/faults/role.yml with the role ``name``."""
    fleet.write_inventory(extra_vars=dict(extra or {}, tviews_faults_role=name), host_overrides={"db1": host} if host else None)
    try:
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", fleet.inventory, os.path.join(HERE, "role.yml")]
        return subprocess.run(cmd, env=ansible_env(fleet.root), capture_output=True, text=True, check=False)
    finally:
        fleet.write_inventory()


@pytest.fixture
def before(fleet):
    return world(fleet)


def record(rec, key, input, where, message):
    rec.row(key, input=input, where=where, message=message, changed="nothing")


# --------------------------------------------------------------------------- modules run directly

def test_unknown_version_to_the_swap_module(fleet, before, bad_input_record):
    r = run_module("tviews_swap", dict(conn_args(fleet.cluster("db1"), "app"), version="0.9.9"))
    msg = module_failed(r, "version is 0.9.9", "does not know", "set version to")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "01", "version: 0.9.9 (unknown)", "module tviews_swap", msg)


def test_a_word_where_a_number_goes(fleet, before, bad_input_record):
    r = run_module("tviews_swap", dict(conn_args(fleet.cluster("db1"), "app"), version="0.2.0", lock_timeout="soon"))
    msg = module_failed(r, "lock_timeout", "whole number", "correct lock_timeout")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "02", "lock_timeout: soon (wrong type)", "module tviews_swap", msg)


def test_a_database_that_does_not_exist(fleet, before, bad_input_record):
    r = run_module("tviews_info", conn_args(fleet.cluster("db1"), "nope"))
    msg = module_failed(r, 'database "nope" does not exist', "check the database name")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "03", "login_db: nope (no such database)", "module tviews_info", msg)


def test_a_hostile_database_name(fleet, before, bad_input_record):
    r = run_module("tviews_swap", dict(conn_args(fleet.cluster("db1"), HOSTILE), version="0.2.0"))
    msg = module_failed(r, HOSTILE, "does not exist", "check the database name")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "04", "login_db: %s (quotes, semicolon, spaces)" % HOSTILE, "module tviews_swap", msg)


def test_a_manifest_from_another_database(fleet, before, bad_input_record):
    path = given(fleet, "shop-manifest.json")
    r = run_module("tviews_manifest", dict(conn_args(fleet.cluster("db1"), "app"), state="verified", path=path))
    msg = module_failed(r, path, "describes database shop, not app", "give the manifest captured from app")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "05", "path: the manifest of database shop", "module tviews_manifest (verified, on app)", msg)


def test_a_tampered_manifest(fleet, before, bad_input_record):
    path = given(fleet, "app-tampered.json")
    r = run_module("tviews_manifest", dict(conn_args(fleet.cluster("db1"), "app"), state="verified", path=path))
    msg = module_failed(r, path, "modified after it was written", "give the manifest as pgtviews.ops wrote it")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "06", "path: app's manifest with one row count edited", "module tviews_manifest (verified)", msg)


def test_a_backup_destination_that_is_a_file(fleet, before, bad_input_record):
    path = given(fleet, "a-file")
    r = run_module("tviews_backup", dict(conn_args(fleet.cluster("db1"), "app"), dest=path, host_label="db1",
                                         pg_bin_dir=fleet.install("db1").bindir))
    msg = module_failed(r, "dest %s is a file" % path, "point dest")
    assert_unchanged(before, world(fleet))
    assert listing(path) == {"": ("file", len("not a directory\n"))}
    record(bad_input_record, "07", "dest: a file", "module tviews_backup", msg)


def test_a_truncated_artifact_to_the_module(fleet, before, bad_input_record):
    path = given(fleet, "truncated.tar.gz")
    host = os.path.join(fleet.root, "db1")
    r = run_module("tviews_extension_files", dict(conn_args(fleet.cluster("db1"), "postgres"), version="0.2.0", src=path,
                                                  pg_config=fleet.install("db1").pg_config,
                                                  stash_dir=os.path.join(host, "stash"), work_dir=os.path.join(host, "work")))
    msg = module_failed(r, path, "cut short or damaged", "fetch the package again")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "08", "src: a release artifact cut short", "module tviews_extension_files", msg)


def test_a_wrong_password_with_shell_metacharacters(fleet, before, marker, bad_input_record):
    wrong = "w'r;o$(touch %s)\"ng pw" % marker
    c = fleet.cluster("db1")
    r = run_module("tviews_backup", dict(login_host=c.host, login_port=c.port, login_user=OPERATOR, login_password=wrong,
                                         login_db="app", dest=os.path.join(fleet.root, "db1", "backups"), host_label="db1",
                                         pg_bin_dir=fleet.install("db1").bindir))
    msg = module_failed(r, "password authentication failed", OPERATOR, "check login_user and login_password")
    assert wrong not in json.dumps(r) and "touch" not in msg
    assert not os.path.exists(marker)
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "09", "login_password: a wrong one with quotes, ; and $(...)", "module tviews_backup", msg)


# --------------------------------------------------------------------------- roles

def test_a_checksum_that_is_not_a_sha256(fleet, before, bad_input_record):
    run = role(fleet, "install", {"tviews_install_checksum": "abc123"})
    msg = playbook_failed(run, "tviews_install_checksum abc123 is not a sha256", "give")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "10", "tviews_install_checksum: abc123", "role install", msg)


def test_a_wrong_checksum(fleet, before, bad_input_record):
    wrong = "sha256:" + "0" * 64
    run = role(fleet, "install", {"tviews_install_checksum": wrong})
    msg = playbook_failed(run, "checksum mismatch", "tviews_install_src", "0" * 64, "fetch the package again")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "11", "tviews_install_checksum: sha256 of another file", "role install", msg)


def test_a_hostile_database_name_to_preflight(fleet, before, bad_input_record):
    run = role(fleet, "preflight", {"tviews_databases": [HOSTILE], "tviews_preflight_target_installed": False})
    msg = playbook_failed(run, "database %s does not exist" % HOSTILE, "correct its name in tviews_databases")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "12", "tviews_databases: [%s]" % HOSTILE, "role preflight", msg)


def test_a_backup_root_that_is_a_file_to_the_backup_role(fleet, before, bad_input_record):
    path = given(fleet, "a-file")
    run = role(fleet, "backup", host={"tviews_backup_root": path})
    msg = playbook_failed(run, path, "is a file", "tviews_backup_root")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "13", "tviews_backup_root: a file", "role backup", msg)


# --------------------------------------------------------------------------- playbooks

def test_unknown_version_to_migrate(fleet, before, bad_input_record):
    run = play(fleet, "migrate", {"tviews_version": "0.9.9"})
    msg = playbook_failed(run, "tviews_version is 0.9.9", "does not know", "set tviews_version to")
    assert "Migrate the primaries" not in run.stdout.split("PLAY RECAP")[0]
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "14", "tviews_version: 0.9.9", "playbook migrate", msg)


def test_a_version_given_as_a_list(fleet, before, bad_input_record):
    run = play(fleet, "migrate", {"tviews_version": ["0.2.0"]})
    msg = playbook_failed(run, "tviews_version must be one pg_tviews version", "correct tviews_version")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "15", "tviews_version: [0.2.0] (a list)", "playbook migrate", msg)


def test_databases_given_as_text(fleet, before, bad_input_record):
    run = play(fleet, "migrate", {"tviews_databases": "app"})
    msg = playbook_failed(run, "tviews_databases must be a list", "write it as a YAML list")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "16", "tviews_databases: app (text, not a list)", "playbook migrate", msg)


def test_a_database_that_does_not_exist_to_migrate(fleet, before, bad_input_record):
    run = play(fleet, "migrate", {"tviews_databases": ["nope"]})
    msg = playbook_failed(run, "database nope does not exist", "correct its name in tviews_databases")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "17", "tviews_databases: [nope]", "playbook migrate", msg)


def test_a_hostile_database_name_to_migrate(fleet, before, bad_input_record):
    run = play(fleet, "migrate", {"tviews_databases": ["app", HOSTILE]})
    msg = playbook_failed(run, "database %s does not exist" % HOSTILE, "tviews_databases")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "18", "tviews_databases: [app, %s]" % HOSTILE, "playbook migrate", msg)


def test_a_backup_root_that_is_a_file(fleet, before, bad_input_record):
    path = given(fleet, "a-file")
    run = play(fleet, "migrate", host={"tviews_backup_root": path})
    msg = playbook_failed(run, "tviews_backup_root %s is a file" % path, "point tviews_backup_root at a directory")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "19", "tviews_backup_root: a file", "playbook migrate", msg)


def test_a_wave_list_that_cannot_be_cut(fleet, before, bad_input_record):
    run = play(fleet, "migrate", waves=None, args=("-e", json.dumps({"tviews_waves": ["half"]})))
    msg = playbook_failed(run, "The rollout plan cannot be honoured", "tviews_waves", "half", "not a batch size",
                          "give a whole number or a percentage", which=-1)
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "20", "tviews_waves: [half]", "playbook migrate", msg)


def test_a_password_with_shell_metacharacters(fleet, password, marker, bad_input_record):
    c = fleet.cluster("db1")
    # The right password reaches pg_dump (through the environment) and no shell reads it.
    dest = given(fleet, "operator-backup")
    r = run_module("tviews_backup", dict(login_host=c.host, login_port=c.port, login_user=OPERATOR, login_password=password,
                                         login_db="app", dest=dest, host_label="db1", pg_bin_dir=fleet.install("db1").bindir))
    assert not r.get("failed"), r.get("msg")
    assert not os.path.exists(marker) and password not in json.dumps(r)
    for top, dummy, files in os.walk(dest):
        for name in files:
            with open(os.path.join(top, name), "rb") as fh:
                assert password.encode() not in fh.read(), os.path.join(top, name)
    # A wrong one, with the same metacharacters, stops migrate before anything changes.
    before = world(fleet)
    wrong = "w'r;o$(touch %s)\"ng pw" % marker
    conn = {"login_host": c.host, "login_port": c.port, "login_user": OPERATOR, "login_password": wrong}
    run = play(fleet, "migrate", host={"tviews_connection": conn})
    msg = playbook_failed(run, "password authentication failed", OPERATOR, "check login_user and login_password")
    assert wrong not in run.stdout + run.stderr and password not in run.stdout + run.stderr
    assert not os.path.exists(marker)
    for top, dummy, files in os.walk(fleet.root):
        for name in files:
            if name.endswith((".json", ".md", ".html", ".csv")):
                with open(os.path.join(top, name), "rb") as fh:
                    data = fh.read()
                assert wrong.encode() not in data and password.encode() not in data, os.path.join(top, name)
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "21", "login_password: a wrong one with quotes, ; $(...) and a space (the right one, "
           "as metacharacter-laden, backs up fine)", "playbook migrate", msg)


def test_a_missing_artifact(fleet, before, bad_input_record):
    path = given(fleet, "pg_tviews-v0.2.0-pg15-missing.tar.gz")
    run = play(fleet, "install", {"tviews_install_src": path}, args=("-e", "tviews_become=false"))
    msg = playbook_failed(run, "tviews_install_src %s does not exist" % path, "point tviews_install_src at")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "22", "tviews_install_src: a file that is not there", "playbook install", msg)


def test_a_truncated_artifact(fleet, before, bad_input_record):
    run = play(fleet, "install", {"tviews_install_src": given(fleet, "truncated.tar.gz")}, args=("-e", "tviews_become=false"))
    msg = playbook_failed(run, "truncated.tar.gz is cut short or damaged", "fetch the package again")
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "23", "tviews_install_src: a release artifact cut short", "playbook install", msg)


def test_a_rollback_version_that_is_not_a_version(fleet, before, bad_input_record):
    run = play(fleet, "rollback", {"tviews_rollback_version": "0.1.x"}, waves=None, args=("-e", "tviews_target_hosts=db1"))
    msg = playbook_failed(run, "tviews_rollback_version must be one pg_tviews version such as 0.1.0", '"0.1.x"')
    assert_unchanged(before, world(fleet))
    record(bad_input_record, "24", "tviews_rollback_version: 0.1.x", "playbook rollback", msg)


def test_a_state_file_from_another_host(fleet, bad_input_record):
    c = fleet.cluster("db1")
    host = os.path.join(fleet.root, "db1")
    state = os.path.join(host, "state", "state.json")
    # db9's state file, as its backup role writes it: a real backup of app, taken as host db9 under db9's root.
    r = run_module("tviews_backup", dict(conn_args(c, "app"), dest=os.path.join(fleet.root, "db9", "backups"),
                                         host_label="db9", pg_bin_dir=fleet.install("db1").bindir))
    assert not r.get("failed"), r.get("msg")
    r = run_module("tviews_state", dict(path=state, database="app", phase="backup", data=r["state_data"], host="db9"))
    assert not r.get("failed"), r.get("msg")
    before = world(fleet)
    try:
        run = play(fleet, "rollback", {"tviews_rollback_mode": "complete"}, waves=None, args=("-e", "tviews_target_hosts=db1"))
        msg = playbook_failed(run, state, "db9", "db1")
        assert_unchanged(before, world(fleet))
        record(bad_input_record, "25", "tviews_state_file: the state file of host db9", "playbook rollback", msg)
    finally:
        for db in set(world(fleet)["databases"]) - set(before["databases"]):
            c.dropdb(db)
        shutil.rmtree(os.path.join(host, "state"), ignore_errors=True)
