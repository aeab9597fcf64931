"""Helpers for the gate tests: a streaming standby of a harness cluster, and a fingerprint of
a database that proves a gate changed nothing."""

import os
import subprocess

from tests.harness.pg import Cluster, _chown_to_owner, _run_as_owner, free_port


def make_standby(primary, base_dir, name="standby"):
    """A started hot standby of ``primary`` (pg_basebackup -R over the primary's socket)."""
    standby = Cluster(primary.install, base_dir, name=name, port=free_port())
    os.makedirs(standby.socket_dir, exist_ok=True)
    for p in (standby.root, standby.socket_dir):
        os.chmod(p, 0o755)
        _chown_to_owner(p)
    subprocess.run(_run_as_owner() + [
        os.path.join(primary.install.bindir, "pg_basebackup"), "-h", primary.socket_dir, "-p", str(primary.port),
        "-U", primary.user, "-D", standby.datadir, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"],
        check=True, capture_output=True, text=True)
    # The copied postgresql.auto.conf has the primary's port and socket; later lines win.
    with open(os.path.join(standby.datadir, "postgresql.auto.conf"), "a") as fh:
        fh.write("port = %d\nunix_socket_directories = '%s'\nhot_standby = on\n" % (standby.port, standby.socket_dir))
    standby.start()
    standby.wait_ready()
    return standby


def fingerprint(cluster, db):
    """Everything a gate must not change: the extension, every relation, trigger and function,
    every row (timestamps included) of every table, and whether pg_tviews exists in postgres."""
    rows = cluster.execute("""
        SELECT (SELECT string_agg(extname || ':' || extversion, ',' ORDER BY extname) FROM pg_extension),
               (SELECT md5(string_agg(format('%s.%s:%s', n.nspname, c.relname, c.relkind), ',' ORDER BY 1))
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')),
               (SELECT md5(string_agg(tgname::text || tgenabled::text, ',' ORDER BY tgname)) FROM pg_trigger WHERE NOT tgisinternal),
               (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))""", db)[0]
    tables = cluster.execute("""
        SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         ORDER BY 1""", db)
    content = {}
    for (t,) in tables:
        content[t] = cluster.execute("SELECT count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) "
                                     "FROM %s x" % t, db)[0]
    in_postgres = cluster.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_tviews'")[0][0]
    return {"catalog": rows, "content": content, "pg_tviews_in_postgres": in_postgres}


def by_name(result, name, database=None):
    """The checks called ``name`` (of ``database`` when given)."""
    return [c for c in result["checks"] if c["name"] == name and (database is None or c.get("database") == database)]


def status_of(result, name, database=None):
    found = by_name(result, name, database)
    assert found, "no check %s in %s" % (name, [c["name"] for c in result["checks"]])
    order = ["fail", "warn", "pass", "skip"]
    return sorted((c["status"] for c in found), key=order.index)[0]
