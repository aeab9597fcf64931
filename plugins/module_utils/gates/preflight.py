# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: every gate of one server and each of its pg_tviews databases, gathered on fresh
sessions and judged by the rules in server.py, catalog.py and timing.py. Reads only, or runs
inside transactions that are always rolled back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, describe, libpq_params)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect, discover
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import catalog as gates_catalog
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import core as gates
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import legacy as gates_legacy
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import probe as gates_probe
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import server as gates_server
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import timing as gates_timing
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import SKIP, check
from ansible_collections.pgtviews.ops.plugins.module_utils.host import clients, disk

CHECKS = ('reachable', 'server_version', 'privileges', 'primary', 'extension_version', 'target_available', 'health',
          'consistency', 'dependents', 'drift', 'definitions', 'prepared_transactions', 'long_transactions', 'sessions',
          'backup_space', 'pg_dump', 'code_scan', 'maintenance_window', 'baseline', 'orphaned_metadata', 'frozen_tviews',
          'unregistered_tables', 'jsonb_delta')


def legacy_checks(p, conn, adapter, records, db, checks, check_mode):
    """The states upstream 0.1 leaves in real databases (gates/legacy.py). Orphaned metadata is
    removed only when ``clean_orphaned_metadata`` asks (not in check mode); the records are then
    read again. Returns the records the other checks should judge."""
    states = gates_legacy.find(conn, records, adapter.generation, objects.tview_triggers(conn))
    cleaned = None
    if states['orphans'] and p['clean_orphaned_metadata'] and not check_mode:
        cleaned = gates_legacy.clean_orphans(conn, adapter.ext_schema, states['orphans'], p['lock_timeout'])
        records, dummy = adapter.records()
    checks.append(gates_legacy.orphaned_metadata(db, states['orphans'], p['clean_orphaned_metadata'], cleaned, check_mode))
    checks.append(gates_legacy.frozen_tviews(db, states['frozen'], p['version']))
    checks.append(gates_legacy.unregistered_tables(db, states['unregistered']))
    checks.append(gates_legacy.jsonb_delta(db, states['jsonb_delta'], p['version']))
    return records, bool(cleaned and any(not c['error'] for c in cleaned))


def check_database(p, db, explicit, own_pids, check_mode=False):
    """(checks, database facts, baseline items) of one database, on fresh connections."""
    checks, baseline = [], []
    conn = connect(p, db)
    own_pids.append(conn.get_backend_pid())
    try:
        facts = detect(conn)
        info = {'name': db, 'extversion': facts['extversion'], 'library_version': facts['library_version'],
                'api_generation': facts['api_generation'], 'tviews': 0, 'done': False}
        if not facts['installed']:
            if explicit:
                checks.append(gates_catalog.extension_before(db, facts, p['version']))
            return checks, info, baseline
        ext_check = gates_catalog.extension_before(db, facts, p['version'])
        checks.append(ext_check)
        info['done'] = bool((ext_check.get('details') or {}).get('done'))
        sessions = [s for s in objects.other_sessions(conn) if s['pid'] not in own_pids]
        checks.append(gates_server.long_transactions(db, sessions, p['max_transaction_age']))
        if facts['library_version'] is None:
            checks.append(gates_catalog.health(db, [], callable_=False))
            checks.append(gates_server.sessions(db, sessions, []))
            return checks, info, baseline
        adapter = adapter_for(conn, facts)
        records, dummy = adapter.records()
        if not info['done']:
            records, info['cleaned'] = legacy_checks(p, conn, adapter, records, db, checks, check_mode)
        info['tviews'] = len(records)
        # a TVIEW whose table is gone is judged by orphaned_metadata, not by the checks below
        live = [r for r in records if r.get('qualified_table')]
        holders = gates_probe.lock_holders(conn, gates_probe.tview_relations(records), own_pids)
        checks.append(gates_server.sessions(db, sessions, holders))
        checks.append(gates_catalog.health(db, objects.health_check(conn, facts['schema']),
                                           orphans_reported=not info['done']))
        checks.append(gates_catalog.consistency(db, records, objects.tview_triggers(conn), missing_tables_reported=not info['done']))
        if not info['done']:
            checks.append(gates_catalog.dependents(db, gates_probe.dependents(conn, adapter, p['version']), p['version']))
        checks.append(gates_catalog.drift(db, gates_probe.drift_all(conn, live, p['drift_sample']), p['drift_sample'],
                                          after_swap=info['done']))
        if p['explain_definitions']:
            checks.append(gates_catalog.definitions(db, gates_probe.explain_definitions(conn, live, facts['schema'])))
        else:
            checks.append(check('definitions', SKIP, 'disabled (explain_definitions: false)', db))
        if p['baseline'] and facts['is_primary'] and not info['done']:
            baseline = baseline_items(p, conn, adapter, live, db, checks)
        return checks, info, baseline
    finally:
        conn.close()


def baseline_items(p, conn, adapter, records, db, checks):
    """Refresh timings before the migration (rolled back), and the baseline check about them."""
    items, note = gates_timing.baseline(conn, adapter, records, p['baseline_sample'], p['baseline_full'],
                                        p['baseline_runs'], p['lock_timeout'])
    for item in items:
        item['database'] = db
    errors = [i for i in items if i['error']]
    if note:
        checks.append(check('baseline', SKIP, note, db))
    elif errors:
        checks.append(check('baseline', 'warn', 'refresh baseline not measured for %s' % '; '.join(
            '%s: %s' % (i['tview'], i['error']) for i in errors[:5]), db))
    else:
        checks.append(check('baseline', 'pass', 'refresh baseline of %d TVIEW(s) (%s refresh, fastest of %d, rolled back)'
                            % (len(items), items[0]['kind'] if items else 'no', p['baseline_runs']), db))
    return items


def pg_dump_check(p, server_major):
    """The pg_dump the backup will run (host.clients.find_tools from the same inputs), judged."""
    bin_dir = os.path.dirname(p['pg_dump']) if p['pg_dump'] else p['pg_bin_dir']
    try:
        tool = clients.find_tools(server_major, bin_dir)['pg_dump']
    except clients.ClientToolError as e:
        return gates_server.pg_dump(None, None, server_major, error=str(e))
    return gates_server.pg_dump(tool['path'], 'pg_dump (PostgreSQL) %s' % tool['version'], server_major)


def backup_space_check(p, sizes):
    in_the_way = disk.file_in_the_way(p['backup_root'])
    if in_the_way:
        return gates_server.backup_root_not_a_directory(p['backup_root'], in_the_way)
    measured = disk.existing_ancestor(p['backup_root'])
    where = measured if measured == p['backup_root'] else '%s (on %s)' % (p['backup_root'], measured)
    try:
        return gates_server.backup_space(where, disk.free_bytes(measured), sizes, p['backup_space_factor'])
    except OSError as e:
        return gates_server.backup_space(p['backup_root'], 0, sizes, p['backup_space_factor'], error=str(e))


def probe(p, facts, with_ext, all_dbs):
    """A rolled-back CREATE EXTENSION of the target in a database without pg_tviews, when it can run."""
    if not p['probe_create']:
        return None
    if not facts['is_primary']:
        return {'ran': False, 'skipped': 'standby (read-only)'}
    if not facts['is_superuser']:
        return {'ran': False, 'skipped': 'not superuser'}
    if p['version'] not in facts['available_versions']:
        return None
    probe_db = gates_probe.choose_probe_db(p, with_ext, all_dbs, p['probe_db'])
    return (gates_probe.probe_create(p, probe_db, p['version'], p['lock_timeout']) if probe_db
            else {'ran': False, 'skipped': 'every database has pg_tviews'})


def run_checks(module):
    p = module.params
    result = {'checks': [], 'baseline': [], 'databases': [], 'changed': False}
    checks = result['checks']
    where = describe(libpq_params(p))
    try:
        conn = connect(p)
    except DatabaseConnectionError as e:
        checks.append(gates_server.reachable(str(e), where))
        return result
    own_pids = [conn.get_backend_pid()]
    try:
        checks.append(gates_server.reachable(None, where))
        facts = detect(conn)
        result['server'] = dict((k, facts[k]) for k in ('server_version', 'server_major', 'is_primary', 'is_superuser'))
        checks.append(gates_server.server_version(facts, p['supported_majors']))
        checks.append(gates_server.privileges(facts, p['login_user']))
        checks.append(gates_server.primary(facts))
        found = discover(p, conn, p['databases'])
        explicit = bool(p['databases'])
        for db in found['missing']:
            checks.append(check('extension_version', 'fail', 'database %s does not exist or does not allow connections: '
                                'correct its name in tviews_databases (the databases option), or leave that empty for '
                                'every database with pg_tviews' % db, db, input='tviews_databases'))
        for db, error in found['unreachable']:
            checks.append(check('extension_version', 'fail', 'cannot check this database: %s' % error, db))
        with_ext = []
        for db in found['targets']:
            try:
                db_checks, info, baseline = check_database(p, db, explicit, own_pids, module.check_mode)
            except DatabaseConnectionError as e:
                checks.append(check('extension_version', 'fail', 'cannot check this database: %s' % e, db))
                continue
            checks.extend(db_checks)
            result['baseline'].extend(baseline)
            result['changed'] = result['changed'] or bool(info.pop('cleaned', False))
            if info['extversion'] is not None:
                result['databases'].append(info)
                with_ext.append(db)
        if not with_ext and not explicit:
            checks.append(check('extension_version', 'fail', 'no database on this server has pg_tviews installed'))
        checks.append(gates_server.prepared_transactions(objects.prepared_transactions(conn), with_ext))
        checks.append(gates_server.target_available(p['version'], facts['available_versions'],
                                                    probe(p, facts, with_ext, found['connectable']), p['target_installed']))
        checks.append(backup_space_check(p, gates_probe.database_sizes(conn, with_ext)))
        checks.append(pg_dump_check(p, facts['server_major']))
    finally:
        conn.close()
    checks.append(gates_server.code_scan(p['code_scan'], p['code_scan_source'], p['code_scan_fail_on'],
                                         p['code_scan_required']))
    checks.append(gates_server.maintenance_window(p['maintenance_windows'], gates.utc_now()))
    return result
