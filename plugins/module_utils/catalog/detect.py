# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is installed in one database: server facts, the extension's two version
strings, what the server could install, and the API generation in use."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, fetch_all, fetch_one, fetch_value)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import generation_of

EXTENSION = 'pg_tviews'


def server_facts(conn):
    row = fetch_one(conn, """
        SELECT current_setting('server_version') AS server_version,
               current_setting('server_version_num')::int AS server_version_num,
               NOT pg_is_in_recovery() AS is_primary,
               current_database() AS database,
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser""")
    row['server_major'] = row['server_version_num'] // 10000
    return row


def extension_facts(conn):
    """Installed and installable versions. ``pg_tviews_version()`` is read only when the
    extension is installed (and through its own schema, never via search_path)."""
    ext = fetch_one(conn, """
        SELECT e.extversion, n.nspname AS schema
          FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = %s""", (EXTENSION,))
    avail = fetch_one(conn, "SELECT default_version FROM pg_available_extensions WHERE name = %s", (EXTENSION,))
    versions = [r['version'] for r in fetch_all(
        conn, "SELECT version FROM pg_available_extension_versions WHERE name = %s ORDER BY version", (EXTENSION,))]
    facts = {
        'installed': ext is not None,
        'extversion': ext['extversion'] if ext else None,
        'schema': ext['schema'] if ext else None,
        'library_version': None,
        'default_version': avail['default_version'] if avail else None,
        'available_versions': versions,
        'update_paths': {},
        'api_generation': None,
    }
    if ext:
        facts['library_version'] = _library_version(conn, ext['schema'])
        facts['update_paths'] = dict(
            (r['target'], r['path']) for r in fetch_all(conn, """
                SELECT target, path FROM pg_extension_update_paths(%s)
                 WHERE source = %s AND path IS NOT NULL""", (EXTENSION, ext['extversion'])))
        facts['api_generation'] = generation_of(ext['extversion'])
    return facts


def _library_version(conn, schema):
    """None when the library cannot be called (missing or wrong .so): callers report it."""
    import psycopg2
    from psycopg2 import sql
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT {}.pg_tviews_version()").format(sql.Identifier(schema)))
            return cur.fetchone()[0]
    except psycopg2.Error:
        if not conn.autocommit:
            conn.rollback()
        return None


def detect(conn):
    facts = server_facts(conn)
    facts.update(extension_facts(conn))
    return facts


def connectable_databases(conn):
    """Databases on the server that allow connections (pg_tviews is checked per database
    by the caller: pg_extension is per database)."""
    return [r['datname'] for r in fetch_all(
        conn, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")]


def discover(params, conn, wanted=None):
    """The one database discovery: {connectable, targets, missing, unreachable}. ``connectable``:
    every database that allows connections (``conn`` is any session on the server);
    ``targets``: ``wanted`` as given when it names some, else every database with pg_tviews
    installed, each looked at in a session of its own (pg_extension is per database);
    ``missing``: wanted databases that do not exist or refuse connections; ``unreachable``:
    [(database, error)] of databases that could not be looked at."""
    connectable = connectable_databases(conn)
    out = {'connectable': connectable, 'targets': [], 'missing': [], 'unreachable': []}
    if wanted:
        out['targets'] = [d for d in wanted if d in connectable]
        out['missing'] = [d for d in wanted if d not in connectable]
        return out
    for db in connectable:
        try:
            other = connect(params, db)
        except DatabaseConnectionError as e:
            out['unreachable'].append((db, str(e)))
            continue
        try:
            if fetch_value(other, "SELECT count(*) FROM pg_extension WHERE extname = %s", (EXTENSION,)):
                out['targets'].append(db)
        finally:
            other.close()
    return out
