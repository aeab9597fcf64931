"""Checks the molecule scenarios run against the containerised PostgreSQL servers, from the
controller, over 127.0.0.1 (every container shares the host's network; each server has its own
port). Used by the testinfra tests (import) and by prepare playbooks (command line):

    python pgcheck.py snapshot PORT OUT.json [DB]     write the data snapshot of DB (default app)
    python pgcheck.py wait-replay PRIMARY STANDBY     wait until STANDBY has replayed PRIMARY's WAL

The snapshot is independent of the collection: per tb_/tv_ table of the application (extension
members and the tviews/pgtviews_ops schemas left out) its row count and an md5 of its rows, with
the tv_ bookkeeping columns created_at/updated_at left out (a rebuilt TVIEW gets new timestamps).
"""

import json
import os
import sys
import time

import psycopg2
from psycopg2 import sql

# The test password of the postgres role (molecule_pg_password in the scenarios' inventories).
PASSWORD = os.environ.get("MOLECULE_PG_PASSWORD", "pgtv-mol-5d1f")
APP_DB = "app"
SKIP_SCHEMAS = ("pg_catalog", "information_schema", "tviews", "pgtviews_ops")
TIMESTAMP_COLUMNS = ("created_at", "updated_at")


def connect(port, dbname=APP_DB, autocommit=True):
    conn = psycopg2.connect(host="127.0.0.1", port=int(port), user="postgres", password=PASSWORD,
                            dbname=dbname, connect_timeout=10, application_name="molecule-verify")
    conn.autocommit = autocommit
    return conn


def query(conn, text, args=None):
    with conn.cursor() as cur:
        cur.execute(text, args)
        return cur.fetchall() if cur.description else []


def scalar(conn, text, args=None):
    rows = query(conn, text, args)
    return rows[0][0] if rows else None


def extversion(conn):
    return scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'")


def in_recovery(conn):
    return scalar(conn, "SELECT pg_is_in_recovery()")


def app_tables(conn):
    """[(schema, table)] of the application's tb_ and tv_ tables."""
    return query(conn, """
        SELECT n.nspname, c.relname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND (c.relname LIKE 'tb\\_%%' OR c.relname LIKE 'tv\\_%%')
           AND n.nspname <> ALL (%s) AND n.nspname NOT LIKE 'pg\\_%%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY 1, 2""", (list(SKIP_SCHEMAS),))


COLUMNS = """SELECT a.attname FROM pg_attribute a
                WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum"""


def columns(conn, schema, relation):
    return [r[0] for r in query(conn, COLUMNS, (sql.Identifier(schema, relation).as_string(conn),))]


def table_digest(conn, schema, table):
    cols = columns(conn, schema, table)
    if table.startswith("tv_"):
        cols = [c for c in cols if c not in TIMESTAMP_COLUMNS]
    q = sql.SQL("SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                "FROM (SELECT {} FROM {}) r").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(schema, table))
    count, digest = query(conn, q)[0]
    return {"rows": count, "md5": digest}


def snapshot(conn):
    return dict(("%s.%s" % (s, t), table_digest(conn, s, t)) for s, t in app_tables(conn))


def tview_entities(conn):
    """Entities registered with the installed API generation (0.1: public.pg_tview_meta,
    0.2: tviews.tview_meta)."""
    for rel in ("tviews.tview_meta", "public.pg_tview_meta"):
        if scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (rel,)):
            return sorted(r[0] for r in query(conn, "SELECT entity FROM " + rel))
    return []


def tview_equals_view(conn, schema, entity):
    """True when tv_<entity> holds exactly the rows of v_<entity> (timestamps left out)."""
    tv, v = sql.Identifier(schema, "tv_" + entity), sql.Identifier(schema, "v_" + entity)
    cols = columns(conn, schema, "v_" + entity)
    collist = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    q = sql.SQL("SELECT count(*) FROM ((SELECT {c} FROM {tv} EXCEPT ALL SELECT {c} FROM {v}) UNION ALL "
                "(SELECT {c} FROM {v} EXCEPT ALL SELECT {c} FROM {tv})) d").format(c=collist, tv=tv, v=v)
    return scalar(conn, q) == 0


# The app schema's TVIEWs (tests/fixtures/schemas/app.sql), as (schema, entity).
APP_TVIEWS = (("public", "user"), ("public", "post"), ("public", "comment"), ("Sales Dept", "Bücher"))


def tviews_out_of_step(conn):
    """The app's TVIEWs whose rows are not their view's; empty when all are in step."""
    return ["%s.tv_%s" % (schema, entity) for schema, entity in APP_TVIEWS if not tview_equals_view(conn, schema, entity)]


def write_propagates(conn):
    """Insert a user and rename another in one transaction, look at tv_user and at tv_post (which
    reads v_user: the rename has to cascade), then roll back. Returns a dict of what was seen."""
    was = conn.autocommit
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tb_user VALUES (900001, md5('probe')::uuid, 'probe', 'probe@example.com')")
            cur.execute("SELECT count(*) FROM tv_user WHERE pk_user = 900001")
            inserted = cur.fetchone()[0] == 1
            cur.execute("UPDATE tb_user SET name = 'renamed by molecule' WHERE pk_user = 1")
            cur.execute("SELECT count(*), count(*) FILTER (WHERE data->'author'->>'name' = 'renamed by molecule') "
                        "FROM tv_post WHERE fk_user = 1")
            posts, renamed = cur.fetchone()
        return {"insert": inserted, "cascade": posts > 0 and posts == renamed, "posts": posts, "renamed": renamed}
    finally:
        conn.rollback()
        conn.autocommit = was


def wait_replay(primary_port, standby_port, timeout=60):
    """Wait until the standby has replayed everything the primary has written so far."""
    with connect(primary_port, "postgres") as p:
        target = scalar(p, "SELECT pg_current_wal_lsn()::text")
    deadline = time.time() + timeout
    while True:
        with connect(standby_port, "postgres") as s:
            if scalar(s, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)):
                return target
        if time.time() > deadline:
            raise AssertionError("standby on %s did not replay up to %s in %ss" % (standby_port, target, timeout))
        time.sleep(0.5)


def main(argv):
    if len(argv) >= 3 and argv[0] == "snapshot":
        port, out = argv[1], argv[2]
        db = argv[3] if len(argv) > 3 else APP_DB
        conn = connect(port, db)
        doc = {"extversion": extversion(conn), "tables": snapshot(conn)}
        conn.close()
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
        print("%d tables, pg_tviews %s" % (len(doc["tables"]), doc["extversion"]))
        return 0
    if len(argv) == 3 and argv[0] == "wait-replay":
        print(wait_replay(argv[1], argv[2]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
