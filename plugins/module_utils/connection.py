# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections shared by every module: one argument spec (community.postgresql's option
names), one way to connect, and errors that name host, port, database and user but
never the password."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    import psycopg2
    import psycopg2.errors
    import psycopg2.extras
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import missing_required_lib


# Every session we open gives way to the application (docs/operator-guide.md, "Migrating with the
# application running"): it never waits in a lock queue (where application statements would queue
# behind it) for longer than LOCK_TIMEOUT_MS, it detects a deadlock long before an application session
# with the default 1 s would, so it is the one rolled back, and no statement runs unbounded. Steps
# that must wait longer (the swap's lock round) set their own values for their transaction.
LOCK_TIMEOUT_MS = 50
DEADLOCK_TIMEOUT_MS = 20
STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
SESSION_SETTINGS = (('lock_timeout', '%dms' % LOCK_TIMEOUT_MS),
                    ('statement_timeout', '%dms' % STATEMENT_TIMEOUT_MS),
                    ('deadlock_timeout', '%dms' % DEADLOCK_TIMEOUT_MS))


class DatabaseConnectionError(Exception):
    """Raised when a connection cannot be made; the message carries no secret."""


def connection_argument_spec():
    return dict(
        login_user=dict(type='str', default='postgres', aliases=['login']),
        login_password=dict(type='str', default='', no_log=True),
        login_host=dict(type='str', default='', aliases=['host']),
        login_unix_socket=dict(type='str', default='', aliases=['unix_socket']),
        login_port=dict(type='int', default=5432, aliases=['port']),
        login_db=dict(type='str', default='postgres', aliases=['db']),
        ssl_mode=dict(type='str', default='prefer',
                      choices=['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
        ca_cert=dict(type='str', aliases=['ssl_rootcert']),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path'),
        connect_timeout=dict(type='int', default=10),
        connect_params=dict(type='dict', default={}),
    )


def ensure_psycopg2(module):
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib('psycopg2'), exception=PSYCOPG2_IMPORT_ERROR)


def libpq_params(params, dbname=None):
    """Map module options to psycopg2.connect() keyword arguments."""
    kw = {
        'host': params.get('login_host') or params.get('login_unix_socket') or None,
        'port': params.get('login_port'),
        'user': params.get('login_user'),
        'password': params.get('login_password') or None,
        'dbname': dbname or params.get('login_db'),
        'sslmode': params.get('ssl_mode'),
        'sslrootcert': params.get('ca_cert'),
        'sslcert': params.get('ssl_cert'),
        'sslkey': params.get('ssl_key'),
        'connect_timeout': params.get('connect_timeout'),
        'application_name': 'pgtviews.ops',
    }
    kw.update(params.get('connect_params') or {})
    return dict((k, v) for k, v in kw.items() if v is not None and v != '')


def describe(kw):
    """host:port/db as user, for messages. Never includes the password."""
    return "%s:%s/%s as %s" % (kw.get('host') or 'local socket', kw.get('port', 5432),
                               kw.get('dbname'), kw.get('user'))


def connect(params, dbname=None, autocommit=True):
    """Open a new connection (always new: per-backend caches of pg_tviews go stale
    across a version change, so no connection is reused across phases)."""
    kw = libpq_params(params, dbname)
    try:
        conn = psycopg2.connect(**kw)
    except psycopg2.Error as e:
        msg = str(e).strip()
        secret = kw.get('password')
        if secret:
            msg = msg.replace(secret, '********')
        raise DatabaseConnectionError("cannot connect to %s: %s" % (describe(kw), ' '.join(msg.split()) or 'unknown error'))
    conn.autocommit = True
    apply_session_settings(conn)
    conn.autocommit = autocommit
    return conn


def apply_session_settings(conn):
    """SESSION_SETTINGS on an autocommit connection. deadlock_timeout needs superuser (or SET
    privilege on it); without it the session keeps the server's value."""
    with conn.cursor() as cur:
        for name, value in SESSION_SETTINGS:
            try:
                cur.execute("SELECT set_config(%s, %s, false)", (name, value))
            except psycopg2.errors.InsufficientPrivilege:
                pass  # documented in docs/troubleshooting.md: grant SET on deadlock_timeout


def dict_cursor(conn):
    return conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)


def fetch_all(conn, query, params=None):
    """Rows as plain dicts."""
    with dict_cursor(conn) as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def fetch_one(conn, query, params=None):
    rows = fetch_all(conn, query, params)
    return rows[0] if rows else None


def fetch_value(conn, query, params=None):
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
        return row[0] if row else None
