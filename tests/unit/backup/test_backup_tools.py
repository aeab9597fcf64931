"""Client programs: version parsing and choice, connection strings without the password."""

import os
import stat

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.host import clients as bt


def fake_bin(tmp_path, dump_version="15.4", restore_version=None):
    d = tmp_path / ("bin-%s" % dump_version)
    d.mkdir()
    for name, version in (("pg_dump", dump_version), ("pg_restore", restore_version or dump_version)):
        p = d / name
        p.write_text("#!/bin/sh\necho '%s (PostgreSQL) %s (Debian %s-1)'\n" % (name, version, version))
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return str(d)


@pytest.mark.parametrize("text, major", [
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-1.pgdg120+1)", 15),
    ("pg_dump (PostgreSQL) 16.2", 16),
    ("pg_restore (PostgreSQL) 9.6.24", 9),
    ("pg_dump (PostgreSQL) 17devel", 17),
])
def test_parse_version(text, major):
    assert bt.parse_version(text)[0] == major


def test_parse_version_refuses_garbage():
    with pytest.raises(bt.ClientToolError, match="cannot read a PostgreSQL version"):
        bt.parse_version("command not found")


def test_conninfo_quotes_and_leaves_out_the_password():
    params = dict(login_host="db.example", login_port=5433, login_user="o'neil", login_password="s3cr'et\\pw",
                  login_db="ignored", login_unix_socket="", ssl_mode="require", ca_cert=None, ssl_cert=None,
                  ssl_key=None, connect_timeout=5, connect_params={"options": "-c search_path=a\\b"})
    ci = bt.conninfo(params, 'Bk "App" Ä db')
    assert "s3cr" not in ci and "password" not in ci
    assert "dbname='Bk \"App\" Ä db'" in ci
    assert "user='o\\'neil'" in ci
    assert "options='-c search_path=a\\\\b'" in ci
    assert "host='db.example'" in ci and "port='5433'" in ci and "sslmode='require'" in ci


def test_password_only_in_the_environment():
    env = bt.client_env({"login_password": "pw1"}, base={"PATH": "/bin"})
    assert env == {"PATH": "/bin", "PGPASSWORD": "pw1"}
    assert bt.client_env({"login_password": ""}, base={"PATH": "/bin"}) == {"PATH": "/bin"}
    assert bt.scrub("failed for pw1 here", {"login_password": "pw1"}) == "failed for ******** here"


def test_find_tools_explicit_dir(tmp_path):
    tools = bt.find_tools(15, fake_bin(tmp_path, "16.1"))
    assert tools["pg_dump"]["major"] == 16 and tools["pg_restore"]["path"].endswith("/pg_restore")


def test_find_tools_refuses_an_older_pg_dump(tmp_path):
    with pytest.raises(bt.ClientToolError, match=r"pg_dump 14\.9 .* is older than the server \(PostgreSQL 15\)"):
        bt.find_tools(15, fake_bin(tmp_path, "14.9"))


def test_find_tools_refuses_pg_restore_older_than_pg_dump(tmp_path):
    with pytest.raises(bt.ClientToolError, match="pg_restore 15.1 .* is older than pg_dump 16.0"):
        bt.find_tools(15, fake_bin(tmp_path, "16.0", "15.1"))


def test_find_tools_missing(tmp_path):
    with pytest.raises(bt.ClientToolError, match="no executable pg_dump in"):
        bt.find_tools(15, str(tmp_path))


def test_candidate_dirs_order():
    class Out(object):
        stdout = "/opt/pg/16/bin\n"

    dirs = bt.candidate_bin_dirs(15, which=lambda n: {"pg_config": "/usr/bin/pg_config", "pg_dump": "/usr/bin/pg_dump"}[n],
                                 run=lambda *a, **k: Out())
    assert dirs == ["/opt/pg/16/bin", "/usr/bin", "/usr/lib/postgresql/15/bin", "/usr/pgsql-15/bin"]


def test_run_client_ticks_and_private_files(tmp_path):
    ticks = []
    target = tmp_path / "out.txt"
    rc, out, err, seconds = bt.run_client(["/bin/sh", "-c", "echo hi; echo oops >&2; echo x > %s; sleep 0.5" % target],
                                          {"login_password": "pw"}, on_tick=ticks.append, tick_seconds=0.1)
    assert (rc, out, err.strip()) == (0, "hi\n", "oops")
    assert ticks and seconds >= 0.5
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
