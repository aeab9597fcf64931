# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections shared by every module: one argument spec (community.postgresql's option
names), one way to connect, and errors that name host, port, database and user but
never the password."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib


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


# What to do about the connection errors a wrong input causes (libpq's text, as psycopg2 gives it).
_CONNECT_HINTS = (
    ('does not exist', '; check the database name: it must name an existing database on this server '
                       '(login_db, or tviews_databases in a playbook), and nothing was changed'),
    ('password authentication failed', '; check login_user and login_password (tviews_connection in a playbook), '
                                       'and nothing was changed'),
    ('no password supplied', '; set login_password (tviews_connection in a playbook), and nothing was changed'),
)


def connect_hint(msg):
    """'; what to do' for a connection error caused by a wrong input, else ''."""
    for needle, hint in _CONNECT_HINTS:
        if needle in msg:
            return hint
    return ''


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
        msg = ' '.join(msg.split()) or 'unknown error'
        raise DatabaseConnectionError("cannot connect to %s: %s%s" % (describe(kw), msg, connect_hint(msg)))
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


# Ansible's own wording of a value it cannot convert, and what each type asks for.
_ARG_TYPE_RE = re.compile(r"^argument '(?P<name>[^']+)' is of type (?P<given>.+?)(?: found in '(?P<where>[^']*)'\.)?"
                          r" and we were unable to convert to (?P<want>\w+)")
_TYPE_WORDS = {'int': 'a whole number', 'float': 'a number', 'bool': 'true or false', 'list': 'a list',
               'dict': 'a mapping', 'str': 'a string', 'path': 'a path', 'raw': 'a value', 'bytes': 'a size',
               'bits': 'a size', 'jsonarg': 'JSON', 'json': 'JSON'}


def clear_argument_error(msg):
    """Ansible's "argument 'x' is of type str and we were unable to convert to int: <repr>" as one
    sentence that names the option and says what to give; other messages unchanged."""
    m = _ARG_TYPE_RE.match(msg or '')
    if not m:
        return msg
    name = m.group('name') if not m.group('where') else '%s.%s' % (m.group('where'), m.group('name'))
    want = m.group('want')
    return ('option %s must be %s, and the value given is not: correct %s in the task or the inventory; nothing '
            'was changed' % (name, _TYPE_WORDS.get(want, 'of type ' + want), name))


class TviewsModule(AnsibleModule):
    """AnsibleModule whose argument errors are one sentence with what to do (clear_argument_error)."""

    def fail_json(self, msg=None, **kwargs):
        super(TviewsModule, self).fail_json(msg=clear_argument_error(msg), **kwargs)
