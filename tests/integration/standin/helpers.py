"""Helpers for the stand-in acceptance tests (tests/integration/standin).

Most tests run inside one transaction on a per-module database that holds the
FraiseQL fixture (tests/fixtures/pg_tviews/schema/fraiseql.sql) and roll it
back at the end, so they share a cluster and a database but not state.
"""

import itertools
import os

import psycopg2
import psycopg2.extras

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURE_DIR = os.path.join(REPO, "tests", "fixtures", "pg_tviews")
FRAISEQL_SQL = os.path.join(FIXTURE_DIR, "schema", "fraiseql.sql")

# TVIEW entity -> (schema, row count) created by schema/fraiseql.sql
FIXTURE_TVIEWS = {
    "user": ("public", 4),
    "post": ("public", 4),
    "comment": ("public", 5),
    "user_card": ("public", 4),
    "Kunde": ("Sales Dept", 2),
    "Bücher": ("Sales Dept", 3),
    "Bestellung O'Brien": ("Sales Dept", 2),
}

_names = itertools.count(1)


def unique_name(prefix="db"):
    return "%s_%d_%d" % (prefix, os.getpid(), next(_names))


def fixture_sql():
    with open(FRAISEQL_SQL, encoding="utf-8") as fh:
        return fh.read()


def make_fixture_db(cluster, version=None, name=None, load_fixture=True):
    """Create a database, the extension (optionally a given VERSION) and the
    FraiseQL fixture; return the database name."""
    dbname = cluster.createdb(name or unique_name("fx"))
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            if version:
                cur.execute("CREATE EXTENSION pg_tviews VERSION %s", (version,))
            else:
                cur.execute("CREATE EXTENSION pg_tviews")
            if load_fixture:
                cur.execute(fixture_sql())
    finally:
        conn.close()
    return dbname


class DB(object):
    """A connection with small query helpers.  In a transaction (autocommit
    off) unless created otherwise; `error()` runs a statement in a savepoint
    and returns the exception it must raise."""

    def __init__(self, conn):
        self.conn = conn

    def q(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def one(self, sql, params=None):
        rows = self.q(sql, params)
        assert rows is not None and len(rows) == 1, "expected one row, got %r" % (rows,)
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def col(self, sql, params=None):
        return [r[0] for r in self.q(sql, params)]

    def dicts(self, sql, params=None):
        with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return [dict(r) for r in cur.fetchall()]

    def error(self, sql, params=None):
        """Run sql expecting an error; return the psycopg2 exception."""
        intx = not self.conn.autocommit
        if intx:
            self.q("SAVEPOINT expect_error")
        try:
            self.q(sql, params)
        except psycopg2.Error as exc:
            if intx:
                self.q("ROLLBACK TO SAVEPOINT expect_error")
            return exc
        raise AssertionError("statement did not fail: %s" % sql)

    def close(self):
        self.conn.close()


def tx(cluster, dbname):
    """A DB in one transaction (rolled back by the caller)."""
    return DB(cluster.connect(dbname, autocommit=False))


def rows_equal_view(db, schema, entity):
    """tv_<entity> holds exactly the rows of v_<entity> (compared on v_'s columns)."""
    cols = db.col(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = format('%%I.%%I', %s::text, %s::text)::regclass"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (schema, "v_" + entity))
    collist = ", ".join('"%s"' % c.replace('"', '""') for c in cols)
    tv = '"%s"."%s"' % (schema.replace('"', '""'), ("tv_" + entity).replace('"', '""'))
    v = '"%s"."%s"' % (schema.replace('"', '""'), ("v_" + entity).replace('"', '""'))
    diff = db.one("SELECT count(*) FROM ((SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s)"
                  " UNION ALL (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s)) d"
                  % (collist, tv, collist, v, collist, v, collist, tv))
    return diff == 0


def members(db):
    """pg_describe_object() of every extension member (pg_depend deptype 'e')."""
    return set(db.col(
        "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d"
        " JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass"
        " WHERE e.extname = 'pg_tviews' AND d.deptype = 'e'"))


def columns(db, qualified):
    """[(name, type, not_null, default)] of a relation, in order."""
    return db.q(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid)"
        " FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (qualified,))


def functions(db, schema="public", like="%"):
    """{name(identity args): (result, strict, language)} for functions in schema."""
    rows = db.q(
        "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ')', pg_get_function_result(p.oid),"
        " p.proisstrict, l.lanname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname = %s AND p.proname LIKE %s", (schema, like))
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def triggers(db, qualified):
    """{trigger name: definition} of the user triggers on a table."""
    return dict(db.q("SELECT tgname::text, pg_get_triggerdef(oid) FROM pg_trigger"
                     " WHERE tgrelid = %s::regclass AND NOT tgisinternal", (qualified,)))


JSONB_DELTA_DIR = os.path.join(REPO, "tests", "fixtures", "jsonb_delta")


def install_jsonb_delta(extdir):
    """Copy the jsonb_delta stand-in (SQL only) into a server's extension directory."""
    import shutil
    for name in ("jsonb_delta.control", "jsonb_delta--0.1.0.sql"):
        shutil.copyfile(os.path.join(JSONB_DELTA_DIR, name), os.path.join(extdir, name))
