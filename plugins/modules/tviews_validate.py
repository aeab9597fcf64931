#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_validate
short_description: Prove a pg_tviews migration worked, database by database
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - After a swap, checks every pg_tviews database of the server (or those in I(databases)) on fresh
    connections and returns every check with its status (C(pass), C(warn), C(fail) or C(skip)) and a
    one-line reason. It never fails on a failing check; the C(validate) role fails the host with all
    reasons listed.
  - "Checks per database: C(extension_version) (extversion and library at I(version));
    C(health) (C(pg_tviews_health_check())); C(consistency) (tv_ tables, v_ views and base-table triggers
    of every TVIEW: what the health check cannot see); C(readable) (every tv_ table and v_ view);
    C(manifest) (the catalog against the manifest captured before the swap: registration, definitions,
    indexes, grants, comments, dependents; not data, which the application has changed since);
    C(write_path) (an UPDATE of the base row with the smallest fan-out reaches the tv_ row, in a
    rolled-back transaction); C(refresh) (a refresh of sampled primary keys through the installed API,
    rolled back, leaves tv_ equal to v_); C(refresh_timing) (against the preflight baseline); and last
    C(drift) (every tv_ equal to its v_, EXCEPT both ways, all TVIEWs in one REPEATABLE READ snapshot,
    after everything above ran)."
  - Safety, with the application running. Reads, plus the write-path test and the refreshes, each inside
    a short transaction that is always rolled back (their locks on the touched rows and, for a
    full-refresh timing, on the whole tv_ table, are held only for that transaction; each waits at most
    I(lock_timeout) for a lock, and a deadlock rolls back our session, never the application's). A
    busy row is given up and retried, then reported as a warning. Nothing is committed. C(manifest)
    and a full C(drift) read every row of every TVIEW.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  version:
    description:
      - The pg_tviews version every database should now be at.
    type: str
    required: true
  databases:
    description:
      - Databases to validate. Empty means every database on the server that has pg_tviews.
    type: list
    elements: str
    default: []
  manifests:
    description:
      - Manifest file on the managed node per database (captured before the swap). A database without
        an entry is verified against the newest manifest stored in it (C(pgtviews_ops.manifests)), if any.
    type: dict
    default: {}
  manifest_allow:
    description:
      - Catalog differences from the manifest that do not fail, as for M(pgtviews.ops.tview_manifest)
        I(allow) (kinds such as C(index), or C(kind:object)). Data is never compared with the manifest
        here, so writes of the application need no entry.
    type: list
    elements: str
    default: []
  baseline:
    description:
      - The preflight refresh baseline (the C(baseline) list of M(pgtviews.ops.tviews_preflight)), each
        item with database, tview, kind, primary_keys and duration_ms.
    type: list
    elements: dict
    default: []
  drift_sample:
    description:
      - Row budget of the drift check for huge TVIEWs. C(0) compares every row (default); otherwise each
        tv_ is compared with its v_ on its this many smallest primary keys.
    type: int
    default: 0
  refresh_sample:
    description:
      - Primary keys per TVIEW to refresh through the new API (when the baseline has no keys for it).
    type: int
    default: 10
  timing_max_ratio:
    description:
      - A TVIEW fails C(refresh_timing) when its refresh is slower than this multiple of its baseline ...
    type: float
    default: 3.0
  timing_min_ms:
    description:
      - "... and slower by more than this many milliseconds (smaller differences are noise)."
    type: float
    default: 50.0
  timing_runs:
    description:
      - Measurements per TVIEW; the fastest counts.
    type: int
    default: 3
  write_test:
    description:
      - Run the write-path test (rolled back).
    type: bool
    default: true
  lock_timeout:
    description:
      - Milliseconds the write-path test and each refresh wait for a lock. Application statements queue
        behind a waiting lock, so keep it short; a busy row is retried on another row or later, then reported.
    type: int
    default: 50
  overrides:
    description:
      - Explicit exceptions, as for M(pgtviews.ops.tviews_preflight) I(overrides) (check name or
        C(name:database) to a dict with C(status) C(warn) or C(skip) and a required C(reason)).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Runs exactly as without check mode; it commits nothing either way.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_preflight
  - module: pgtviews.ops.tview_manifest
'''

EXAMPLES = r'''
- name: Validate after the swap, comparing with the preflight baseline
  pgtviews.ops.tviews_validate:
    version: 0.2.0
    manifests: {app: /var/backups/pgtviews/app/manifest.json}
    baseline: "{{ tviews_preflight.baseline }}"
  register: validated
'''

RETURN = r'''
checks:
  description: Every check with name, status, one-line reason, database, details, and C(overridden) when an
    override applied.
  returned: always
  type: list
  elements: dict
summary:
  description: Overall status (fail when any check fails), counts per status, the failing and warning reasons.
  returned: always
  type: dict
databases:
  description: The validated databases with extversion, library_version, api_generation and tviews.
  returned: always
  type: list
  elements: dict
checksums:
  description: Per database and TVIEW, the content checksum and row count in the manifest (before) and now (after).
  returned: always
  type: list
  elements: dict
timings:
  description: Refresh timings measured now (database, tview, kind, primary_keys, duration_ms, error).
  returned: always
  type: list
  elements: dict
target_version:
  description: The version validated against.
  returned: always
  type: str
started_at:
  description: UTC start time (ISO 8601).
  returned: always
  type: str
finished_at:
  description: UTC end time (ISO 8601).
  returned: always
  type: str
duration_ms:
  description: How long the validation took.
  returned: always
  type: float
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, connection_argument_spec, describe, ensure_psycopg2, libpq_params)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import connectable_databases, detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import core as gates
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import catalog as gates_catalog
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import probe as gates_probe
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import server as gates_server
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import timing as gates_timing
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import writepath as gates_writepath
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import SKIP, check

CHECKS = ('reachable', 'extension_version', 'health', 'consistency', 'readable', 'drift', 'manifest', 'write_path',
          'refresh', 'refresh_timing')


def verify_manifest(module, conn, db):
    """(check, checksums): the database against its manifest, as tview_manifest state=verified."""
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
                item = gates_timing.measure(conn, adapter, r, gates_timing.ROWS, keys, p['timing_runs'], p['lock_timeout'],
                                            check_drift=True)
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
        checks.append(gates_catalog.drift(db, gates_probe.drift_all(conn, records, p['drift_sample']), p['drift_sample']))
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
        all_dbs = connectable_databases(conn)
    finally:
        conn.close()
    if p['databases']:
        dbs = p['databases']
    else:
        dbs = []
        for db in all_dbs:
            try:
                c = connect(p, db)
            except DatabaseConnectionError as e:
                result['checks'].append(check('extension_version', 'fail', 'cannot check this database: %s' % e, db))
                continue
            try:
                if detect(c)['installed']:
                    dbs.append(db)
            finally:
                c.close()
        if not dbs:
            result['checks'].append(check('extension_version', 'fail', 'no database on this server has pg_tviews installed'))
    for db in dbs:
        if db not in all_dbs:
            result['checks'].append(check('extension_version', 'fail', 'database does not exist or does not allow connections', db))
            continue
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


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        version=dict(type='str', required=True),
        databases=dict(type='list', elements='str', default=[]),
        manifests=dict(type='dict', default={}),
        manifest_allow=dict(type='list', elements='str', default=[]),
        baseline=dict(type='list', elements='dict', default=[]),
        drift_sample=dict(type='int', default=0),
        refresh_sample=dict(type='int', default=10),
        timing_max_ratio=dict(type='float', default=3.0),
        timing_min_ms=dict(type='float', default=50.0),
        timing_runs=dict(type='int', default=3),
        write_test=dict(type='bool', default=True),
        lock_timeout=dict(type='int', default=50),
        overrides=dict(type='dict', default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    gates.run_gate_module(module, CHECKS, run_checks, 'validation')


if __name__ == '__main__':
    main()
