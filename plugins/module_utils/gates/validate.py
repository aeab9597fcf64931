# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation after a swap: every gate of each pg_tviews database on fresh sessions (no library
or cache state from before the swap), judged by the rules in catalog.py and timing.py. The
write-path test and the refreshes run in transactions that are always rolled back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults
from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, describe, libpq_params)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect, discover
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import catalog as gates_catalog
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import probe as gates_probe
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import server as gates_server
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import timing as gates_timing
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import writepath as gates_writepath
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import SKIP, check

CHECKS = ('reachable', 'extension_version', 'health', 'consistency', 'readable', 'drift', 'manifest', 'write_path',
          'refresh', 'refresh_timing')


def verify_manifest(module, conn, db):
    """(check, checksums): the database against its manifest, as tviews_manifest state=verified."""
    p = module.params
    path = (p['manifests'] or {}).get(db)
    checksums = []
    try:
        if path:
            expected, source = mf.load_file(path), path
        else:
            with conn.cursor() as cur:
                expected = mf.load_stored(cur)
            source = 'stored in %s.%s' % (mf.STORE_SCHEMA, mf.STORE_TABLE) if expected else None
        actual = mf.build(snapshot(conn, ('catalog', 'data')))
        before = dict((t['entity'], t) for t in (expected or {}).get('tviews', []))
        for t in actual['tviews']:
            b = before.get(t['entity']) or {}
            checksums.append({'database': db, 'tview': t['entity'], 'table': t['qualified_table'],
                              'before': b.get('checksum'), 'after': t['checksum'],
                              'row_count_before': b.get('row_count'), 'row_count_after': t['row_count'],
                              'equal': b.get('checksum') == t['checksum'] if b else None})
        if expected is None:
            return gates_catalog.manifest(db, None, [], []), checksums
        if expected['database'] != db:
            return gates_catalog.manifest(db, source, [], [], error='the manifest describes database %s' % expected['database']), checksums
        # Catalog only: the application has written since the capture (data: the drift check).
        diffs = mf.compare(expected, actual, data=False)
        return gates_catalog.manifest(db, source + '; catalog, not data', diffs,
                                      mf.filter_allowed(diffs, p['manifest_allow'])), checksums
    except (mf.ManifestError, IOError, OSError) as e:
        return gates_catalog.manifest(db, path, [], [], error=to_native(e)), checksums


def refresh_and_time(module, conn, adapter, records, db):
    """(refresh results, timings): sampled row refreshes through the installed API and the
    refreshes of the same kind as the baseline, each in a rolled-back transaction."""
    p = module.params
    base = [b for b in p['baseline'] if b.get('database') == db]
    by_tview = dict(((b['tview'], b.get('kind')), b) for b in base)
    results, timings = [], []
    for r in records:
        if not (r.get('qualified_table') and r.get('qualified_view')):
            continue
        if adapter.supports_row_refresh:
            b = by_tview.get((r['entity'], gates_timing.ROWS))
            keys = [int(k) for k in b['primary_keys']] if b and b.get('primary_keys') else \
                gates_timing.sample_keys(conn, r, p['refresh_sample'])
            if keys:
                # Several runs (the fastest counts) only where a baseline is compared with; without one
                # (0.1 has no row refresh to time) one run proves the refresh works and reports its time.
                item = gates_timing.measure(conn, adapter, r, gates_timing.ROWS, keys, p['timing_runs'] if b else 1,
                                            p['lock_timeout'], check_drift=True)
                item['database'] = db
                results.append(item)
                timings.append(item)
        if (r['entity'], gates_timing.FULL) in by_tview:
            item = gates_timing.measure(conn, adapter, r, gates_timing.FULL, [], p['timing_runs'], p['lock_timeout'])
            item['database'] = db
            timings.append(item)
    return results, timings


def validate_database(module, db):
    p = module.params
    checks, checksums, timings = [], [], []
    faults.point('validate', db)
    conn = connect(p, db)  # a new session: no pg_tviews library or cache state from before the swap
    try:
        facts = detect(conn)
        info = {'name': db, 'extversion': facts['extversion'], 'library_version': facts['library_version'],
                'api_generation': facts['api_generation'], 'tviews': 0}
        checks.append(gates_catalog.extension_after(db, facts, p['version']))
        if not facts['installed'] or facts['library_version'] is None:
            checks.append(gates_catalog.health(db, [], callable_=False))
            return checks, info, checksums, timings
        adapter = adapter_for(conn, facts)
        records, dummy = adapter.records()
        info['tviews'] = len(records)
        checks.append(gates_catalog.health(db, objects.health_check(conn, facts['schema'])))
        checks.append(gates_catalog.consistency(db, records, objects.tview_triggers(conn)))
        checks.append(gates_catalog.readable(db, gates_probe.read_all(conn, records)))
        manifest_check, checksums = verify_manifest(module, conn, db)
        checks.append(manifest_check)
    finally:
        conn.close()
    if not facts['is_primary']:
        for name in ('write_path', 'refresh', 'refresh_timing'):
            checks.append(check(name, SKIP, 'standby (read-only): validated on its primary', db))
    else:
        conn = connect(p, db)  # the write-path test and the refreshes get their own fresh session
        try:
            if p['write_test']:
                checks.append(gates_catalog.write_path(db, gates_writepath.run(conn, records, p['lock_timeout'])))
            else:
                checks.append(check('write_path', SKIP, 'disabled (write_test: false)', db))
            results, timings = refresh_and_time(module, conn, adapter, records, db)
            checks.append(gates_catalog.refresh(db, results, adapter.generation))
            checks.append(gates_timing.compare(db, [b for b in p['baseline'] if b.get('database') == db], timings,
                                               p['timing_max_ratio'], p['timing_min_ms']))
        finally:
            conn.close()
    # Last, after everything validate itself ran beside the application: every tv_ against its
    # v_ in one snapshot, where the application's own committed writes are whole on both sides.
    conn = connect(p, db, autocommit=False)
    try:
        conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
        results = gates_probe.drift_all(conn, records, p['drift_sample'])
        checks.append(gates_catalog.drift(db, results, p['drift_sample'], after_swap=True))
    finally:
        conn.rollback()
        conn.close()
    return checks, info, checksums, timings


def run_checks(module):
    p = module.params
    result = {'checks': [], 'databases': [], 'checksums': [], 'timings': []}
    where = describe(libpq_params(p))
    try:
        conn = connect(p)
    except DatabaseConnectionError as e:
        result['checks'].append(gates_server.reachable(str(e), where))
        return result
    try:
        result['checks'].append(gates_server.reachable(None, where))
        found = discover(p, conn, p['databases'])
    finally:
        conn.close()
    for db, error in found['unreachable']:
        result['checks'].append(check('extension_version', 'fail', 'cannot check this database: %s' % error, db))
    if not p['databases'] and not found['targets']:
        result['checks'].append(check('extension_version', 'fail', 'no database on this server has pg_tviews installed'))
    for db in found['missing']:
        result['checks'].append(check('extension_version', 'fail', 'database does not exist or does not allow connections', db))
    for db in found['targets']:
        try:
            checks, info, checksums, timings = validate_database(module, db)
        except DatabaseConnectionError as e:
            result['checks'].append(check('extension_version', 'fail', 'cannot validate this database: %s' % e, db))
            continue
        result['checks'].extend(checks)
        result['databases'].append(info)
        result['checksums'].extend(checksums)
        result['timings'].extend(timings)
    return result
