#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_preflight
short_description: Machine-checked gates before a pg_tviews 0.1 to 0.2 migration
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Checks one server and every pg_tviews database on it (or those in I(databases)) against the
    runbook's prerequisites and returns every check with its status (C(pass), C(warn), C(fail) or
    C(skip)) and a one-line reason. It never fails on a failing check; the C(preflight) role fails
    the host with all reasons listed.
  - "Checks: C(reachable); C(server_version) (supported major); C(privileges) (superuser, which
    DROP/CREATE EXTENSION needs); C(primary) (a standby fails); C(extension_version) per database
    (a version the target migrates from passes, already at the target passes as done); C(target_available) (the target version is
    installed, and a C(CREATE EXTENSION) of it in a database without pg_tviews works and reports the
    right library, rolled back); C(health) (C(pg_tviews_health_check())); C(consistency) (what the
    health check cannot see: tv_ tables, v_ views and base-table triggers of every TVIEW, orphaned
    pg_tviews triggers); C(dependents) (every object outside pg_tviews that depends on it is one the
    swap sets aside and puts back; a function, a column default, a view calling a member function or a
    view over a metadata table the target does not have fails, named, with what to do); C(drift) (each tv_ equal to its v_, EXCEPT both ways, sampled or full);
    C(definitions) (every recorded definition still plans with C(EXPLAIN)); C(prepared_transactions);
    C(long_transactions); C(sessions) (counted, and whether they hold locks the swap would wait for);
    C(backup_space); C(pg_dump) (the pg_dump the backup will run, found the way the backup finds it,
    its major at least the server's); C(code_scan); C(maintenance_window)."
  - It also measures a refresh-timing C(baseline) per TVIEW that the validate role compares with after
    the migration (see I(baseline)).
  - Safety. Everything is read-only or runs in a transaction that is always rolled back (the
    C(CREATE EXTENSION) probe, the baseline refreshes). A full-refresh baseline holds an ACCESS
    EXCLUSIVE lock on each tv_ table while it runs; every probe waits at most I(lock_timeout) for a lock.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  version:
    description:
      - The pg_tviews version the migration moves to, for example C(0.2.0).
    type: str
    required: true
  databases:
    description:
      - Databases to check. Empty means every database on the server that has pg_tviews installed.
      - A database named here without pg_tviews fails C(extension_version).
    type: list
    elements: str
    default: []
  supported_majors:
    description:
      - PostgreSQL major versions pg_tviews supports (upstream builds 13 to 18).
    type: list
    elements: int
    default: [13, 14, 15, 16, 17, 18]
  drift_sample:
    description:
      - Compare each tv_ with its v_ on this many smallest primary keys; C(0) compares every row
        (reads every row of every TVIEW).
    type: int
    default: 1000
  clean_orphaned_metadata:
    description:
      - Remove the leftovers of TVIEWs whose C(tv_) table is gone (metadata row, C(v_) view, triggers), with
        the installed C(pg_tviews_drop), one transaction each, before the other checks. Such leftovers come from a
        C(DROP TABLE tv_x) in a session that had not loaded the pg_tviews library. Off by default, the check
        C(orphaned_metadata) then fails and names them. Not in check mode. The only change a preflight makes.
    type: bool
    default: false
  explain_definitions:
    description:
      - EXPLAIN every recorded TVIEW definition, so a rebuild cannot fail in the window on a definition
        that no longer plans against today's tables.
    type: bool
    default: true
  probe_create:
    description:
      - Prove the target version is creatable with C(CREATE EXTENSION pg_tviews VERSION ...) in a
        database without pg_tviews, inside a transaction that is rolled back. Skipped on a standby or
        without superuser.
    type: bool
    default: true
  target_installed:
    description:
      - Whether the target version must already be installed on the server (preflight after the install
        role). When false, a target that is not installed yet makes C(target_available) a warning (the install
        phase adds it) instead of a failure.
    type: bool
    default: true
  probe_db:
    description:
      - The database for the C(CREATE EXTENSION) probe. Default is the login database when it has no
        pg_tviews, else the first database without it.
    type: str
  max_transaction_age:
    description:
      - Seconds a transaction in a checked database may have been open before C(long_transactions) fails.
    type: int
    default: 300
  backup_root:
    description:
      - Directory on the managed node the backup is written to (the backup role's C(tviews_backup_root)).
        It need not exist yet; free space is measured on the file system it will be on.
    type: path
    default: /var/backups/pgtviews
  backup_space_factor:
    description:
      - Free space needed at I(backup_root) as a multiple of the total size of the checked databases
        (the backup role's C(tviews_backup_space_factor)).
    type: float
    default: 1.0
  pg_bin_dir:
    description:
      - Directory with the pg_dump and pg_restore the backup will run (the backup's I(pg_bin_dir)).
        Empty looks where the backup looks, in the same order - C(pg_config --bindir), the directory
        of C(pg_dump) on C(PATH), C(/usr/lib/postgresql/<major>/bin), C(/usr/pgsql-<major>/bin) -
        and judges the first pg_dump there that is not older than the server.
    type: path
  pg_dump:
    description:
      - A pg_dump to check; its directory is used as I(pg_bin_dir) (it must hold pg_restore too, as
        the backup needs both). Mutually exclusive with I(pg_bin_dir).
    type: path
  code_scan:
    description:
      - The code scan report (the JSON the C(pgtviews.ops.scan) playbook writes, or any dict with
        C(counts) per severity). Omit when there is none.
    type: dict
  code_scan_source:
    description:
      - Where the code scan report came from, for the reason text.
    type: str
    default: code scan report
  code_scan_fail_on:
    description:
      - C(never) makes findings a warning; C(error), C(warning) or C(info) fail on findings of that
        severity or worse.
    type: str
    choices: [never, error, warning, info]
    default: never
  code_scan_required:
    description:
      - Fail C(code_scan) when there is no report (otherwise it is skipped).
    type: bool
    default: false
  maintenance_windows:
    description:
      - Windows the migration may run in; C(maintenance_window) fails outside all of them and is skipped
        when the list is empty. Each is a dict with C(start) and C(end) (C(HH:MM)), optional C(days)
        (C(mon) ... C(sun), the days a window starts on; default every day), optional C(timezone)
        (C(UTC), an offset such as C(+02:00), or an IANA name on Python 3.9+) and optional C(name).
        A window whose end is not after its start runs past midnight.
    type: list
    elements: dict
    default: []
  baseline:
    description:
      - Measure the refresh time of every TVIEW for the validate role's timing comparison. That is a refresh
        of I(baseline_sample) primary keys when the installed API can refresh rows (0.2), otherwise a full
        refresh only when I(baseline_full) is set. Always inside a rolled-back transaction. Primary only.
    type: bool
    default: true
  baseline_sample:
    description:
      - Primary keys per TVIEW for a row-refresh baseline.
    type: int
    default: 10
  baseline_full:
    description:
      - With an API that cannot refresh rows (0.1), measure a full refresh of each TVIEW. Costly - it
        rebuilds each tv_ table and holds an ACCESS EXCLUSIVE lock on it, blocking readers, while it runs
        (then rolls back).
    type: bool
    default: false
  baseline_runs:
    description:
      - Measurements per TVIEW; the fastest counts.
    type: int
    default: 3
  lock_timeout:
    description:
      - Milliseconds any probe or baseline refresh waits for a lock before giving up (application
        statements queue behind a waiting lock, so keep it short).
    type: int
    default: 50
  overrides:
    description:
      - Explicit exceptions. Keys are check names, or C(name:database) for one database; values are dicts
        with C(status) (C(warn) or C(skip)) and a required C(reason). Only a failing or warning check is
        changed; the original status and the reason stay in the result.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Runs exactly as without check mode; it changes nothing either way.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_validate
'''

EXAMPLES = r'''
- name: Gate a host before the swap
  pgtviews.ops.tviews_preflight:
    version: 0.2.0
    backup_root: /var/backups/pgtviews
    maintenance_windows:
      - {days: [sat, sun], start: "22:00", end: "04:00", timezone: Europe/Berlin}
    overrides:
      sessions: {status: warn, reason: "CHG-1234: reporting sessions are known and harmless"}
  register: preflight
'''

RETURN = r'''
checks:
  description: Every check with name, status (pass, warn, fail, skip), one-line reason, database (for
    per-database checks), details, and C(overridden) when an override applied.
  returned: always
  type: list
  elements: dict
  sample: [{name: drift, status: fail, database: app, reason: "1 TVIEW(s) out of sync with their view ..."}]
summary:
  description: Overall status (fail when any check fails), counts per status, the failing and warning reasons.
  returned: always
  type: dict
baseline:
  description: Refresh timings per database and TVIEW (database, tview, table, kind rows or full,
    primary_keys, duration_ms of the fastest run, runs_ms, error).
  returned: always
  type: list
  elements: dict
databases:
  description: The checked databases with extversion, library_version, api_generation, tviews and done
    (already at the target).
  returned: always
  type: list
  elements: dict
server:
  description: Server facts (server_version, server_major, is_primary, is_superuser).
  returned: when reachable
  type: dict
target_version:
  description: The target version checked against.
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
  description: How long the checks took.
  returned: always
  type: float
'''


from ansible_collections.pgtviews.ops.plugins.module_utils.connection import TviewsModule, connection_argument_spec, ensure_psycopg2
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import preflight as gate_run
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import run_gate_module


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        version=dict(type='str', required=True),
        databases=dict(type='list', elements='str', default=[]),
        supported_majors=dict(type='list', elements='int', default=[13, 14, 15, 16, 17, 18]),
        drift_sample=dict(type='int', default=1000),
        explain_definitions=dict(type='bool', default=True),
        clean_orphaned_metadata=dict(type='bool', default=False),
        probe_create=dict(type='bool', default=True),
        target_installed=dict(type='bool', default=True),
        probe_db=dict(type='str'),
        max_transaction_age=dict(type='int', default=300),
        backup_root=dict(type='path', default='/var/backups/pgtviews'),
        backup_space_factor=dict(type='float', default=1.0),
        pg_dump=dict(type='path'),
        pg_bin_dir=dict(type='path'),
        code_scan=dict(type='dict'),
        code_scan_source=dict(type='str', default='code scan report'),
        code_scan_fail_on=dict(type='str', choices=['never', 'error', 'warning', 'info'], default='never'),
        code_scan_required=dict(type='bool', default=False),
        maintenance_windows=dict(type='list', elements='dict', default=[]),
        baseline=dict(type='bool', default=True),
        baseline_sample=dict(type='int', default=10),
        baseline_full=dict(type='bool', default=False),
        baseline_runs=dict(type='int', default=3),
        lock_timeout=dict(type='int', default=50),
        overrides=dict(type='dict', default={}),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True,
                          mutually_exclusive=[('pg_dump', 'pg_bin_dir')])
    ensure_psycopg2(module)
    run_gate_module(module, gate_run.CHECKS, gate_run.run_checks, 'preflight')


if __name__ == '__main__':
    main()
