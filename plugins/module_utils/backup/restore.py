# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a directory-format pg_dump into a new database at a chosen pg_tviews version,
and switch databases by renaming (nothing is ever dropped)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import subprocess

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connect, fetch_value, libpq_params

EXTENSION = 'pg_tviews'


class RestoreError(Exception):
    pass


def libpq_env(params):
    """Environment for libpq clients; the password travels here, never on a command line."""
    kw = libpq_params(params)
    env = dict(os.environ)
    for key, var in (('host', 'PGHOST'), ('port', 'PGPORT'), ('user', 'PGUSER'), ('password', 'PGPASSWORD'),
                     ('sslmode', 'PGSSLMODE'), ('sslrootcert', 'PGSSLROOTCERT'), ('sslcert', 'PGSSLCERT'),
                     ('sslkey', 'PGSSLKEY'), ('connect_timeout', 'PGCONNECT_TIMEOUT')):
        if kw.get(key) not in (None, ''):
            env[var] = str(kw[key])
    return env


def find_client(name, pg_bin_dir, server_major):
    for d in [pg_bin_dir] if pg_bin_dir else ['/usr/lib/postgresql/%s/bin' % server_major] + os.environ.get('PATH', '').split(os.pathsep):
        path = os.path.join(d, name)
        if d and os.access(path, os.X_OK):
            return path
    raise RestoreError("%s not found (looked in %s)" % (name, pg_bin_dir or '/usr/lib/postgresql/%s/bin and PATH' % server_major))


def database_exists(conn, name):
    return bool(fetch_value(conn, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)))


def restore_into(params, dump_dir, dbname, version, jobs=2, pg_bin_dir=None):
    """Create ``dbname``, create pg_tviews at ``version`` in it, and restore everything else
    from the dump (the dump's own CREATE EXTENSION would take the server's default version)."""
    from psycopg2 import sql
    if not os.path.isfile(os.path.join(dump_dir, 'toc.dat')):
        raise RestoreError("%s is not a directory-format pg_dump (no toc.dat)" % dump_dir)
    admin = connect(params)
    try:
        major = int(fetch_value(admin, "SELECT current_setting('server_version_num')::int / 10000"))
        if database_exists(admin, dbname):
            raise RestoreError("database %s already exists; refusing to restore over it" % dbname)
        pg_restore = find_client('pg_restore', pg_bin_dir, major)
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))
    finally:
        admin.close()
    # The database is new, made by this call, and holds nothing the backup does not: a failure
    # drops it so that a re-run starts clean instead of verifying a half-restored copy.
    with discarded_on_failure(params, dbname):
        _fill(params, dump_dir, dbname, version, jobs, pg_restore)


@contextlib.contextmanager
def discarded_on_failure(params, name):
    """Drop the database ``name``, which the caller has just made, when the block fails. The
    block's error is the one raised; a failed drop is added to it."""
    try:
        yield
    except Exception as e:
        try:
            drop_database(params, name)
        except Exception as cleanup:
            raise RestoreError("%s; %s, made for it, could not be dropped (%s): drop it with state=absent" % (e, name, cleanup))
        raise


def _fill(params, dump_dir, dbname, version, jobs, pg_restore):
    from psycopg2 import sql
    conn = connect(params, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE EXTENSION {} VERSION {}").format(sql.Identifier(EXTENSION), sql.Literal(version)))
    finally:
        conn.close()
    env = libpq_env(params)
    listing = subprocess.run([pg_restore, '--list', dump_dir], env=env, capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise RestoreError("pg_restore --list %s failed: %s" % (dump_dir, ' '.join(listing.stderr.split())))
    keep = [line for line in listing.stdout.splitlines()
            if not (' EXTENSION ' in line and line.rstrip().endswith(' ' + EXTENSION))
            and not (' COMMENT ' in line and 'EXTENSION %s ' % EXTENSION in line)]
    list_file = os.path.join(os.path.dirname(os.path.abspath(dump_dir)), '.restore-%s.list' % os.getpid())
    try:
        with open(list_file, 'w') as fh:
            fh.write('\n'.join(keep) + '\n')
        proc = subprocess.run([pg_restore, '--exit-on-error', '--jobs', str(jobs), '--use-list', list_file,
                               '--dbname', dbname, dump_dir], env=env, capture_output=True, text=True, check=False)
    finally:
        if os.path.exists(list_file):
            os.unlink(list_file)
    if proc.returncode != 0:
        raise RestoreError("pg_restore into %s failed: %s" % (dbname, ' '.join(proc.stderr.split())[:500]))


def drop_database(params, name):
    """Drop ``name`` (ending its sessions). Callers guarantee it is a side copy, never the database
    being rolled back. Returns False when it does not exist."""
    from psycopg2 import sql
    admin = connect(params, 'postgres' if params.get('login_db') == name else None)
    try:
        if not database_exists(admin, name):
            return False
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        return True
    finally:
        admin.close()


def switch(params, dbname, side, failed_name):
    """Terminate sessions of ``dbname``, rename it to ``failed_name`` and ``side`` to ``dbname``.
    Both renames run in one transaction: either both happen or neither."""
    from psycopg2 import sql
    admin = connect(params, 'postgres' if params.get('login_db') in (dbname, side) else None)
    try:
        for name in (dbname, side):
            if not database_exists(admin, name):
                raise RestoreError("database %s does not exist" % name)
        if database_exists(admin, failed_name):
            raise RestoreError("database %s already exists" % failed_name)
        admin.autocommit = False
        with admin.cursor() as cur:
            # New connections are refused while we rename; the old ones are ended.
            cur.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(dbname)))
            admin.commit()
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (%s, %s) "
                        "AND pid <> pg_backend_pid()", (dbname, side))
            admin.commit()
            cur.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(dbname), sql.Identifier(failed_name)))
            cur.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(side), sql.Identifier(dbname)))
            cur.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(failed_name)))
            admin.commit()
    except Exception:
        if not admin.closed:
            admin.rollback()
            admin.autocommit = True
            with admin.cursor() as cur:
                if database_exists(admin, dbname):
                    cur.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(dbname)))
        raise
    finally:
        admin.close()
