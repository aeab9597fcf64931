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
      - Catalog differences from the manifest that do not fail, as for M(pgtviews.ops.tviews_manifest)
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
      - Measurements per TVIEW where a baseline is compared with; the fastest counts. A row refresh without
        a baseline (0.1 has no row refresh, so a migration from 0.1 has none) is run once.
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
  - module: pgtviews.ops.tviews_manifest
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


from ansible_collections.pgtviews.ops.plugins.module_utils.connection import TviewsModule, connection_argument_spec, ensure_psycopg2
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import validate as gate_run
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import run_gate_module


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
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    run_gate_module(module, gate_run.CHECKS, gate_run.run_checks, 'validation')


if __name__ == '__main__':
    main()
