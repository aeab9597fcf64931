# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a directory-format pg_dump into a new side database at a chosen pg_tviews version,
recreate its TVIEWs from the manifest, verify it, and switch databases by renaming (the
database rolled back is never dropped; only a side copy this code made is)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import subprocess

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connect, fetch_value, libpq_params
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import EXTENSION
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults
from ansible_collections.pgtviews.ops.plugins.module_utils.host.clients import ClientToolError, find_client
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import recreate


# A side database this code makes carries a comment saying whether its restore finished, so a
# run that was killed half-way is told from a finished copy and from a database someone else made.
MARK_RESTORING = 'pgtviews.ops: restore in progress, from '
MARK_RESTORED = 'pgtviews.ops: restored and recreated, from '


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
        try:
            # Found where the backup finds its pg_dump and pg_restore, in the same order.
            pg_restore = find_client('pg_restore', major, pg_bin_dir)
        except ClientToolError as e:
            raise RestoreError(str(e))
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))
        mark(admin, dbname, MARK_RESTORING + dump_dir)
    finally:
        admin.close()
    faults.point('restore', 'created', dbname)
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


def mark(conn, dbname, text):
    from psycopg2 import sql
    with conn.cursor() as cur:
        cur.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(dbname), sql.Literal(text)))
    if not conn.autocommit:
        conn.commit()


def marker(conn, dbname):
    """The comment of database ``dbname`` ('' when it has none)."""
    return fetch_value(conn, "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                             "WHERE datname = %s", (dbname,)) or ''


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
        # The restored copy carries our restore mark; once in place it takes the database's own comment.
        comment = fetch_value(admin, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                              (dbname,))
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
            cur.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(dbname), sql.Literal(comment)))
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


def dump_dir_of(path):
    sub = os.path.join(path, 'dump')
    return sub if os.path.isfile(os.path.join(sub, 'toc.dat')) else path


def verify_side(params, side, doc):
    conn = connect(params, side)
    try:
        diffs = mf.compare(doc, mf.build(snapshot(conn, ('catalog', 'data'))))
    finally:
        conn.close()
    if diffs:
        raise RestoreError("restored database %s differs from the manifest: %s of %s (and %d more); left in place for "
                           "inspection (state=absent drops it)" % (side, diffs[0]['kind'], diffs[0]['object'], len(diffs) - 1))


def check_inputs(params, side):
    """Refuse inputs that name the wrong thing, before anything is touched."""
    names = [params['database'], side] + ([params['failed_name']] if params['failed_name'] else [])
    if len(set(names)) != len(names):
        raise RestoreError("database, side_database and failed_name must be three different names (got %s)"
                           % ', '.join(names))
    if params['state'] == 'present' and not os.path.isfile(os.path.join(dump_dir_of(params['backup_dir']), 'toc.dat')):
        raise RestoreError("%s holds no directory-format pg_dump (no toc.dat in it or in its dump/)" % params['backup_dir'])


def check_backup(params, doc):
    """The backup must be of this database and, when a record is given, unchanged since it was taken."""
    if doc.get('database') != params['database']:
        raise RestoreError("the manifest %s is of database %s, not %s" % (params['manifest'], doc.get('database'), params['database']))
    if params['record']:
        record = backup_record.load(params['record'])
        if record.get('database') != params['database']:
            raise RestoreError("the backup record %s is of database %s, not %s"
                               % (params['record'], record.get('database'), params['database']))
        issues = backup_record.problems(record)
        if issues:
            raise RestoreError("the backup cannot be trusted: %s" % '; '.join(issues))


def drop_side(params, side, check_mode):
    if side == params['database']:
        raise RestoreError("refusing to drop %s: it is the database itself, not a side copy" % side)
    if check_mode:
        admin = connect(params, 'postgres' if params.get('login_db') == side else None)
        try:
            return database_exists(admin, side)
        finally:
            admin.close()
    return drop_database(params, side)


def restore_side(params, side, doc, version):
    """Restore into the new database ``side`` and recreate its TVIEWs from the manifest."""
    restore_into(params, dump_dir_of(params['backup_dir']), side, version, params['jobs'], params['pg_bin_dir'])
    # A copy without its TVIEWs is of no use, and a re-run must start clean.
    with discarded_on_failure(params, side):
        conn = connect(params, side)
        try:
            plan, ctx = recreate.build_plan(conn, doc)
            recreated = recreate.execute(conn, plan, ctx, check_data=True)
            mark(conn, side, MARK_RESTORED + params['backup_dir'])
            return recreated
        finally:
            conn.close()


def failure_message(params, side, error):
    """The module's failure message, worded for what the side database is for."""
    if params['purpose'] == 'rehearsal':
        if params['state'] == 'absent':
            return "dropping the rehearsal copy %s of %s failed: %s" % (side, params['database'], error)
        return "rehearsal of %s on a restored copy failed: %s" % (params['database'], error)
    return "complete rollback of %s: %s" % (params['database'], error)


def run(p, result, check_mode=False):
    """The restore module's states, start to end, recorded in ``result`` as they happen (a
    failure, raised for the caller to word with failure_message, leaves what was done there)."""
    side = result['side_database']
    check_inputs(p, side)
    if p['state'] == 'absent':
        result['changed'] = drop_side(p, side, check_mode)
        return
    doc = mf.load_file(p['manifest'])
    check_backup(p, doc)
    version = p['version'] or doc['extension']['extversion']
    admin = connect(p)
    try:
        if not fetch_value(admin, "SELECT count(*) FROM pg_available_extension_versions WHERE name = %s AND version = %s",
                           (EXTENSION, version)):
            raise RestoreError("pg_tviews %s is not installed on this server: install it first (pgtviews.ops.install)" % version)
        side_exists = database_exists(admin, side)
        already_switched = not side_exists and database_exists(admin, p['failed_name'] or '') \
            and database_exists(admin, p['database'])
        side_marker = marker(admin, side) if side_exists else ''
    finally:
        admin.close()
    if already_switched:
        return
    if side_exists:
        side_exists = not _drop_leftover(p, side, side_marker, result, check_mode)
    if not side_exists:
        if check_mode:
            result['changed'] = True
            return
        result['recreated'] = restore_side(p, side, doc, version)
        result['restored'] = result['changed'] = True
    verify_side(p, side, doc)
    faults.point('restore', 'verified', side)
    if p['switch']:
        if not check_mode:
            faults.point('restore', 'switch', p['database'])
            switch(p, p['database'], side, p['failed_name'])
            result['switched'] = True
        result['changed'] = True


def _drop_leftover(p, side, side_marker, result, check_mode):
    """An existing side database: drop it when an interrupted run of ours left it unfinished, or
    when it is a rehearsal copy (disposable, and it may already have been swapped). Returns True
    when it was (or, in check mode, would be) dropped. A database without our mark is refused."""
    unfinished = side_marker.startswith(MARK_RESTORING)
    ours = unfinished or side_marker.startswith(MARK_RESTORED)
    if not ours and p['purpose'] == 'rehearsal':
        raise RestoreError("database %s exists and was not made by pgtviews.ops (it has no restore mark): rename or "
                           "drop it, then run again" % side)
    if not (unfinished or p['purpose'] == 'rehearsal'):
        return False  # a finished rollback copy, verified below against the manifest
    why = "its restore was interrupted" if unfinished else "a rehearsal copy left by an interrupted run"
    result.setdefault('cleaned_up', []).append("dropped %s (%s)" % (side, why))
    if not check_mode:
        drop_database(p, side)
    result['changed'] = True
    return True


def side_name(p):
    return p['side_database'] or '%s_rollback' % p['database']
