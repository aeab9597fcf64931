# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One verified backup of one database (docs/backup.md), in this order:

1. Pre-checks, before anything is written: pg_tviews installed, a primary, pg_dump at least
   the server's major (pg_restore at least pg_dump's), free space at the destination (and,
   for a test restore, on the server when its data directory is visible here).
2. Under the database's lock, a new 0700 directory.
3. One REPEATABLE READ snapshot, exported: the manifest (catalog, row counts, checksums) is read
   in it, then pg_dump --format=directory dumps it, and the CSV, the expected table of contents
   and the source row counts are read in it too. Manifest, dump and test restore describe the
   same data however the application writes meanwhile, so a restored copy (rehearsal, complete
   rollback) is checked against the manifest exactly. The manifest is also stored in the
   database (pgtviews_ops.manifests, created before the snapshot) after the snapshot was taken,
   so the dump carries the store with the earlier manifests but not this one.
4. pg_restore --list must list every TVIEW and base table; optionally a test restore into a
   scratch database with equal row counts, dropped afterwards in every case.
5. The record, last, atomically, 0600. Then retention.

Any failure after step 2 removes the backup directory: there is never a record without a
verified dump, and never a success without a record."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import platform
import shutil
import time

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connect, fetch_all, fetch_value
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import base_tables, tviews
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_private
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import layout
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as rec
from ansible_collections.pgtviews.ops.plugins.module_utils.host import sealed as sealed_doc
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import retention
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import space
from ansible_collections.pgtviews.ops.plugins.module_utils.host import disk
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import verify
from ansible_collections.pgtviews.ops.plugins.module_utils.backup.metadata_csv import render as render_csv
from ansible_collections.pgtviews.ops.plugins.module_utils.backup.progress import Progress
from ansible_collections.pgtviews.ops.plugins.module_utils.host.clients import conninfo, find_tools, last_lines, run_client


class BackupError(Exception):
    """A backup that must not be reported as a success; the message is one line, no secret."""


def one_line(e):
    return ' '.join(str(e).split())


def _iso(now):
    return now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def find_reusable(params, facts):
    """(record, path, rejections): the first earlier backup in ``reuse`` that still stands for
    this migration (same database and target, extension version unchanged, files intact)."""
    rejections = []
    if params['force']:
        return None, None, rejections
    for path in params['reuse'] or []:
        if not path:
            continue
        try:
            record = rec.load(path)
        except rec.RecordError as e:
            rejections.append({'record': path, 'reason': one_line(e)})
            continue
        why = rec.reusable(record, facts['database'], params['target_version'], facts['extversion'],
                           params['test_restore'])
        if why is None:
            return record, path, rejections
        rejections.append({'record': path, 'reason': why})
    return None, None, rejections


def check_space(conn, params, facts, db_dir, db_size, warnings):
    """Free space at the destination, and for a test restore on the server's data directory
    (when it is visible from here; counted together when both are one filesystem)."""
    factor = params['space_factor']
    checks = {'destination': None, 'server': None}
    server_dir = None
    if params['test_restore']:
        import psycopg2
        try:
            server_dir = fetch_value(conn, "SELECT current_setting('data_directory')")
        except psycopg2.Error:
            server_dir = None
        if not server_dir or not os.path.isdir(server_dir):
            warnings.append("cannot see the server's data directory from here: free space for the test restore "
                            "(about the database size, %s) was not checked" % disk.human(db_size))
            server_dir = None
    if server_dir and os.stat(disk.existing_ancestor(db_dir)).st_dev == os.stat(server_dir).st_dev:
        checks['destination'] = space.check(db_dir, db_size, factor + 1.0, what='backup and its test restore')
        checks['server'] = checks['destination']
        return checks
    checks['destination'] = space.check(db_dir, db_size, factor)
    if server_dir:
        checks['server'] = space.check(server_dir, db_size, 1.0, what='test restore')
    return checks


def dump_argv(tools, params, dump_path, snapshot=None):
    argv = [tools['pg_dump']['path'], '--format=directory', '--jobs=%d' % params['jobs'],
            '--compress=%d' % params['compress'], '--file=' + dump_path, '--no-password']
    if snapshot:
        argv.append('--snapshot=' + snapshot)
    if params['lock_wait_timeout'] > 0:
        argv.append('--lock-wait-timeout=%d' % params['lock_wait_timeout'])
    argv.append('--dbname=' + conninfo(params, params['login_db']))
    return argv


def run(params, check_mode=False):
    progress = Progress(None if check_mode else params.get('progress_file'), params['login_db'])
    progress.update('checking')
    try:
        return _run(params, check_mode, progress)
    finally:
        progress.remove()


def _run(p, check_mode, progress):
    t0 = time.time()
    warnings = []
    db = p['login_db']
    conn = connect(p)
    try:
        facts = detect(conn)
        if not facts['installed']:
            raise BackupError("pg_tviews is not installed in database %s: nothing to back up for a migration" % db)
        if not facts['is_primary']:
            raise BackupError("database %s is on a standby (in recovery): back it up on the primary" % db)
        db_size = fetch_value(conn, "SELECT pg_database_size(current_database())")
        host_label = p['host_label'] or platform.node() or 'localhost'
        dest = os.path.abspath(p['dest'])
        db_dir = layout.database_dir(dest, host_label, db)
        result = {'changed': False, 'reused': False, 'database': db, 'database_dir': db_dir,
                  'extversion': facts['extversion'], 'library_version': facts['library_version'],
                  'database_size': db_size, 'warnings': warnings}

        found, found_path, rejections = find_reusable(p, facts)
        result['reuse_rejected'] = rejections
        if found is not None:
            return _reuse(p, check_mode, result, found, found_path, db_dir)

        tools = find_tools(facts['server_major'], p['pg_bin_dir'])
        result['tools'] = {'pg_dump': dict(tools['pg_dump']), 'pg_restore': dict(tools['pg_restore'])}
        result['space'] = check_space(conn, p, facts, db_dir, db_size, warnings)
        if p['test_restore']:
            leftovers = [r['datname'] for r in fetch_all(conn, "SELECT datname FROM pg_database WHERE datname LIKE %s "
                                                               "ORDER BY 1", (verify.SCRATCH_PREFIX.replace('_', '\\_') + '%',))]
            if leftovers:
                warnings.append("scratch databases left by an interrupted test restore: %s; drop them when no backup "
                                "is running" % ', '.join(leftovers))

        if check_mode:
            planned = layout.planned_backup_dir(db_dir)
            decision = retention.plan(db_dir, planned, p['keep'], p['protect'])
            result.update(changed=True, directory=planned, dump=os.path.join(planned, layout.DUMP_DIR),
                          command=dump_argv(tools, p, os.path.join(planned, layout.DUMP_DIR), '<snapshot>'),
                          test_restore=p['test_restore'], would_remove=decision['remove'] + decision['partial'])
            return result

        try:
            layout.make_dirs(db_dir)
        except layout.LayoutError as e:
            raise BackupError(one_line(e))
        lock = layout.DatabaseLock(db_dir, db, wait=p.get('wait_for_running', 0),
                                   on_wait=lambda: progress.update('waiting for another backup'))
        with lock:
            if lock.contended:
                warnings.append("waited %s s for another backup of database %s to finish (one an interrupted run "
                                "left running, or a concurrent run)" % (lock.waited, db))
            now = datetime.datetime.utcnow()
            backup_dir = layout.new_backup_dir(db_dir, now)
            try:
                record, record_path = _backup(p, conn, facts, tools, backup_dir, now, host_label, db_size, progress,
                                              result, t0)
            except Exception as e:
                raise BackupError(_failure_message(db, e, backup_dir))
            progress.update('retention')
            decision = retention.plan(db_dir, backup_dir, p['keep'], p['protect'])
            removed, errors = retention.apply(decision)
            for err in errors:
                warnings.append("retention could not remove %s" % err)
            if decision['invalid']:
                warnings.append("left alone (record unreadable or modified): %s" % ', '.join(decision['invalid']))
        result.update(_summary(record, record_path), changed=True, removed=removed)
        return result
    finally:
        conn.close()


def _failure_message(db, error, backup_dir):
    msg = "backup of database %s failed: %s" % (db, one_line(error))
    try:
        shutil.rmtree(backup_dir)
        return msg + "; no record was written and %s was removed" % backup_dir
    except OSError as e:
        return msg + ("; no record was written; %s could not be removed (%s): without a record it is not a "
                      "backup, and the next run removes it" % (backup_dir, getattr(e, 'strerror', None) or e))


def _reuse(p, check_mode, result, record, record_path, db_dir):
    decision = retention.plan(db_dir, record['directory'], p['keep'], p['protect'])
    result.update(_summary(record, record_path), reused=True)
    todo = decision['remove'] + decision['partial']
    if check_mode:
        result.update(changed=bool(todo), would_remove=todo)
        return result
    if not todo:
        result['removed'] = []
        return result
    with layout.DatabaseLock(db_dir, p['login_db'], wait=p.get('wait_for_running', 0)):
        decision = retention.plan(db_dir, record['directory'], p['keep'], p['protect'])
        removed, errors = retention.apply(decision)
    result['warnings'].extend("retention could not remove %s" % e for e in errors)
    result.update(changed=bool(removed), removed=removed)
    return result


def _summary(record, record_path):
    return {'directory': record['directory'], 'record': record_path, 'manifest': record['manifest']['path'],
            'csv': record['csv']['path'], 'dump': record['dump']['path'], 'bytes': record['dump']['bytes'],
            'created': record['created'], 'durations': record['durations'], 'verification': record['verification'],
            'state_data': rec.state_data(record, record_path)}


def _set_lock_timeout(conn, ms):
    if ms > 0:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, false)", ('%dms' % ms,))


def _backup(p, conn, facts, tools, backup_dir, now, host_label, db_size, progress, result, t0):
    """Steps 2-5 inside ``backup_dir``; returns (record, record path). Raises on any failure."""
    durations = {}
    dump_path = os.path.join(backup_dir, layout.DUMP_DIR)
    manifest_path = os.path.join(backup_dir, layout.MANIFEST)
    csv_path = os.path.join(backup_dir, layout.CSV)
    record_path = os.path.join(backup_dir, layout.RECORD)
    _set_lock_timeout(conn, p['lock_wait_timeout'])
    # The store exists before the snapshot, so every dump carries it (with the earlier manifests).
    with conn.cursor() as cur:
        mf.ensure_store(cur)

    sconn = connect(p, autocommit=False)
    try:
        sconn.set_session(isolation_level='REPEATABLE READ', readonly=True)
        _set_lock_timeout(sconn, p['lock_wait_timeout'])
        with sconn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot_id = cur.fetchone()[0]

        progress.update('manifest', directory=backup_dir)
        t = time.time()
        try:
            manifest, stored_id = mf.capture(conn, manifest_path, store_in_database=True, read_conn=sconn)
        except Exception as e:
            raise BackupError("manifest capture: %s" % one_line(e))
        durations['manifest'] = round(time.time() - t, 3)
        records = tviews(sconn, facts)[1]

        progress.update('dump', nbytes=0)
        argv = dump_argv(tools, p, dump_path, snapshot_id)
        rc, dummy, err, seconds = run_client(argv, p, on_tick=lambda s: progress.update(nbytes=layout.tree_size(dump_path)[0]),
                                             tick_seconds=1.0)
        durations['dump'] = round(seconds, 3)
        if rc != 0:
            raise BackupError("pg_dump failed (exit %d): %s" % (rc, last_lines(err) or 'no message'))
        dump_bytes, dump_files = layout.tree_size(dump_path)
        progress.update('verify', nbytes=dump_bytes)

        write_private(csv_path, render_csv(records, facts['library_version'], facts['extversion']))
        entries = verify.expected_entries(sconn, records, base_tables(records))
        source_counts, members = None, []
        if p['test_restore']:
            dumped, members = verify.tables(sconn)
            source_counts = verify.count_rows(sconn, dumped)
        sconn.rollback()
    finally:
        sconn.close()

    t = time.time()
    listing = verify.check_listing(tools, p, dump_path, entries)
    durations['verify'] = round(time.time() - t, 3)

    restore = {'performed': False}
    durations['test_restore'] = None
    if p['test_restore']:
        progress.update('test restore')
        t = time.time()
        restore = verify.test_restore(p, tools, dump_path, source_counts, members, p['jobs'], facts['server_major'],
                                      bool(facts.get('is_superuser')), on_tick=lambda s: progress.update())
        durations['test_restore'] = round(time.time() - t, 3)

    progress.update('record')
    files = dict((n, os.path.getsize(os.path.join(dump_path, n))) for n in sorted(os.listdir(dump_path)))
    manifest_facts = rec.file_facts(manifest_path)
    manifest_facts.update(digest=manifest['digest'], stored_id=stored_id, tviews=len(manifest['tviews']))
    csv_facts = rec.file_facts(csv_path)
    csv_facts['rows'] = len(records)
    record = {
        'database': facts['database'], 'host': host_label, 'created': _iso(now), 'target_version': p['target_version'],
        'directory': backup_dir, 'database_size': db_size,
        'server': {'version': facts['server_version'], 'major': facts['server_major']},
        'extension': {'extversion': facts['extversion'], 'library_version': facts['library_version'],
                      'api_generation': facts['api_generation'], 'schema': facts['schema']},
        'dump': {'path': dump_path, 'format': 'directory', 'jobs': p['jobs'], 'compress': p['compress'],
                 'bytes': dump_bytes, 'file_count': dump_files, 'files': files,
                 'toc_sha256': rec.sha256_file(os.path.join(dump_path, 'toc.dat'))},
        'manifest': manifest_facts, 'csv': csv_facts,
        'verification': {'list': listing, 'test_restore': restore},
        'durations': durations,
        'tools': {'pg_dump': {'path': tools['pg_dump']['path'], 'version': tools['pg_dump']['version']},
                  'pg_restore': {'path': tools['pg_restore']['path'], 'version': tools['pg_restore']['version']}},
        'space': result.get('space'),
    }
    durations['total'] = round(time.time() - t0, 3)
    sealed = rec.seal(record)
    write_private(record_path, sealed_doc.dumps(sealed))
    return sealed, record_path
