#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_swap
short_description: Move one database to another pg_tviews version in a single transaction
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Takes the database in I(login_db) from its installed pg_tviews version to I(version) in one
    transaction on a fresh connection. Either the database is on the new version with every TVIEW
    registered, triggered and verified, or it is exactly as it was.
  - "Steps inside the transaction: refuse when prepared transactions are open in the database; lock
    every base and C(tv_) table EXCLUSIVE (writes wait, reads go on), then every base table ACCESS
    EXCLUSIVE (and every C(tv_) table too when rebuilding), in a fixed order, so writers wait instead
    of failing and a writer's trigger that reads another of these tables cannot deadlock with it; record
    the old catalog (and, when rebuilding, the row counts); set aside the objects outside the extension
    that depend on extension members (and, when rebuilding, on TVIEW objects); drop the old base-table
    triggers and the non-member helper C(tview_trigger_handler()); C(DROP EXTENSION) and C(CREATE
    EXTENSION ... VERSION); re-register (I(tview_mode=adopt), or I(tview_mode=register) going back to
    0.1) or rebuild (I(tview_mode=rebuild)) every TVIEW in dependency order, restoring extra indexes,
    grants, comments and owners of rebuilt relations; recreate the dependents with their grants and
    comments; verify (every TVIEW registered, a trigger on its base tables; kept tables the same
    storage and untouched, rebuilt ones with their row counts and C(id) values); COMMIT; then, for kept
    tables, every C(tv_) compared with its C(v_) in one snapshot."
  - With an update path (I(strategy=auto) or C(update)) it runs C(ALTER EXTENSION UPDATE) instead,
    in the same guarded transaction.
  - Safety. The whole change is one transaction; any error, a lock timeout, or a lost connection
    rolls it back and the error names the step and the TVIEW. The only lasting effects on failure
    are the waits of other sessions (bounded by I(lock_timeout) per attempt) and, if
    I(terminate_other_sessions) is on, the terminated sessions. I(rehearse) takes the same locks
    for the same short time and then rolls back.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  version:
    description:
      - The pg_tviews version to move to, for example C(0.2.0) or, for a rollback, C(0.1.0). It must
        be installed on the server (see the install role).
    type: str
    required: true
  strategy:
    description:
      - C(auto) uses C(ALTER EXTENSION UPDATE) when the server has an update path, else C(swap).
      - C(update) requires an update path. C(swap) always drops and recreates the extension.
    type: str
    choices: [ auto, update, swap ]
    default: auto
  tview_mode:
    description:
      - C(adopt) keeps the C(tv_) tables and their data and re-registers them with the new version
        (metadata only; needs a version that can adopt, such as 0.2).
      - C(rebuild) drops each TVIEW and creates it again from its recorded definition through the new
        version's API, rematerialising it (the only way into 0.1, whose convert function freezes data).
      - C(register) keeps the C(tv_) tables and writes the target version's own catalog for them (metadata
        rows, base-table triggers, its trigger helper) from a manifest captured on that version (the
        rollback to 0.1 without rematerialising). The manifest is I(manifest) when that file exists, else
        the newest fitting one stored in the database; it must name the same TVIEWs, tables, views, view
        definitions and base tables as the live ones.
      - C(auto) adopts where the target version can adopt, registers where it can register and a
        manifest allows it, and rebuilds otherwise. The result's C(mode) says which one ran and
        C(mode_reason) why.
      - The default stays C(adopt), so that asking a version that cannot adopt to adopt keeps failing
        at the plan, before anything changes, as it always has.
      - With C(adopt) and C(register) nothing in the write-blocked window scans a C(tv_) table. The
        catalog proves each one is the same table with the same storage (OID, relfilenode, columns) and
        that the swap wrote none of its rows; the content (every C(tv_) equal to its C(v_), row counts) is
        checked after COMMIT in one REPEATABLE READ snapshot, and a difference fails the task although
        the swap committed (C(content_check)).
    type: str
    choices: [ adopt, rebuild, register, auto ]
    default: adopt
  manifest:
    description:
      - Path of the migration manifest on the managed node. When the file is absent it is captured
        there first (see M(pgtviews.ops.tviews_manifest)). When omitted, no manifest is written.
    type: path
  lock_timeout:
    description:
      - Milliseconds one attempt may spend taking all its locks before it gives up, rolls back and
        lets the application go on. Application statements on the TVIEW tables queue behind a
        waiting lock, so this is also the longest a failed attempt makes them wait.
    type: int
    default: 100
  lock_retries:
    description:
      - Further attempts after a lock timeout or a deadlock, with exponential backoff (0.2 s doubling,
        at most 5 s).
    type: int
    default: 20
  statement_timeout:
    description:
      - Milliseconds any one statement of the swap may run; 0 means no limit.
    type: int
    default: 0
  terminate_other_sessions:
    description:
      - Terminate the other sessions connected to the database before each attempt. Off by default;
        writers otherwise simply wait for the swap.
    type: bool
    default: false
  keep_dependents:
    description:
      - Recreate objects outside the extension that depend on TVIEW objects when rebuilding. When off,
        a rebuild that would have to drop such objects is refused.
    type: bool
    default: true
  repair_stale_rows:
    description:
      - Before the swap, delete the C(tv_) rows whose key the C(v_) view no longer has. pg_tviews 0.1 leaves
        such a row on every DELETE of a base row (its refresh finds no view row and stops), so a 0.1 database
        collects them; adopting and registering keep rows as they are, so without this they stay after the
        migration too. Each TVIEW in its own short transaction that writers do not wait for. Counted per
        TVIEW in C(stale_rows_repaired).
      - Destructive but reversible, the rows are in the pre-migration backup. In check mode and when
        rehearsing, the rows are only counted.
    type: bool
    default: false
  prebuild:
    description:
      - With I(tview_mode=rebuild) (asked for, or chosen by C(auto)), build each TVIEW's new table before
        taking the write locks, writes flowing, in one REPEATABLE READ snapshot, in the private schema
        C(_pgtviews_ops_prebuilt) (a table of the old C(tv_) table's shape, filled from the C(v_) view, its
        indexes built after the rows); check there that it has the rows a rebuild keeps, with the same C(id)
        values. Under the locks, a TVIEW none of whose tables (those its view reads, and its old C(tv_)
        table) changed since that snapshot gets the built table, moved into its schema and adopted (0.2)
        or registered from the manifest (0.1); the others are rebuilt under the locks as without this.
        The window then costs a scan of those tables instead of rematerialising every row.
      - Needs a target that adopts, or registers with a usable manifest, and a view that reads no C(tv_)
        table; otherwise every TVIEW is rebuilt under the locks. Needs disk for a second copy of the
        tables while it runs. Safe, the only writes are to our own schema (marked by its comment; one we
        did not make is never touched), which is dropped after the swap and by the next run if one was killed.
    type: bool
    default: true
  rehearse:
    description:
      - Run the whole transaction for real, every statement and every verification, then roll it
        back. Proof on production data that the swap would succeed, and a measured window, with
        nothing changed. It takes the same locks for the same short time.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Returns the exact statements the swap would run (C(plan), and the whole transaction as C(script)) without
      running them.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_manifest
  - module: pgtviews.ops.tviews_info
'''

EXAMPLES = r'''
- name: Swap app to 0.2.0, keeping the tv_ tables
  pgtviews.ops.tviews_swap:
    login_db: app
    version: 0.2.0
    manifest: /var/backups/pgtviews/app/manifest.json

- name: Prove it would work, with the real window, and change nothing
  pgtviews.ops.tviews_swap:
    login_db: app
    version: 0.2.0
    rehearse: true

- name: Roll back to 0.1.0 (0.1 cannot adopt, so TVIEWs are rebuilt)
  pgtviews.ops.tviews_swap:
    login_db: app
    version: 0.1.0
    tview_mode: auto   # rebuild: 0.1 cannot adopt
'''

RETURN = r'''
from_version:
  description: C(extversion) before.
  returned: always
  type: str
to_version:
  description: The target version.
  returned: always
  type: str
strategy:
  description: C(update) or C(swap) as used; null when nothing had to be done.
  returned: always
  type: str
mode:
  description: The TVIEW mode used with C(swap) (C(adopt), C(register) or C(rebuild)).
  returned: always
  type: str
mode_reason:
  description: Why that mode ran (with I(tview_mode=auto), why a registration fell back to a rebuild).
  returned: when there was something to do with C(swap)
  type: str
content_check:
  description: >-
    With C(adopt) or C(register), the check after COMMIT in one snapshot; C(ok), and C(differences) (per
    TVIEW, rows only in C(tv_) and only in C(v_)), and C(stale_rows) (per TVIEW, rows kept whose key the view no
    longer has, which pg_tviews 0.1 left and which are not a difference). When not ok the task fails, but the swap
    has committed; see the operator guide, "The swap transaction".
  returned: when the swap ran and kept the tables
  type: dict
stale_rows_repaired:
  description: >-
    With I(repair_stale_rows), per TVIEW that had rows whose key its view no longer has, the rows deleted before
    the swap (counted only, in check mode and when rehearsing) and the DELETE statement.
  returned: when I(repair_stale_rows) is set and there was something to do
  type: list
  elements: dict
  sample: [{tview: comment, table: public.tv_comment, rows: 3, statement: "DELETE FROM ..."}]
content_check_ms:
  description: Time the content check took (after COMMIT, so writers were not waiting).
  returned: when the swap ran and kept the tables
  type: float
plan:
  description: The statements of the swap in order, each with its step and TVIEW.
  returned: always
  type: list
  elements: dict
script:
  description: >-
    In check mode, the whole transaction as the SQL that would run, one statement per item, in order: BEGIN, the
    prepared-transaction check and the session settings, every LOCK, the counts taken under the locks, the plan, the
    verification and COMMIT (ROLLBACK when rehearsing).
  returned: in check mode, when there is something to do
  type: list
  elements: str
tviews:
  description: >-
    Per TVIEW, its table and row counts before and after (rebuild: both under the locks; adopt and register: no
    count in the window, C(rows_after) from the content check after COMMIT, and the kept C(relfilenode)).
  returned: when the swap ran
  type: list
  elements: dict
lock_wait_ms:
  description: Time spent acquiring the locks in the successful attempt.
  returned: when the swap ran
  type: float
window_ms:
  description: Write-blocked window, from the first LOCK of the successful attempt to the end of COMMIT
    (or ROLLBACK when rehearsing); the longest an application statement on a TVIEW table waited for it.
  returned: when the swap ran
  type: float
lock_attempts:
  description: Attempts needed to take the locks.
  returned: when the swap ran
  type: int
started_at:
  description: UTC time (ISO 8601) the swap's own session started.
  returned: when the swap ran
  type: str
finished_at:
  description: UTC time (ISO 8601) after COMMIT (or the rehearsal's ROLLBACK).
  returned: when the swap ran
  type: str
prebuilt:
  description: >-
    With I(prebuild) and a rebuild, what was built before the locks. C(moved_in) lists the TVIEWs whose built table
    was moved in (C(rows) per TVIEW), C(rebuilt_under_locks) and C(not_built) say for the others why (their tables
    changed since the snapshot; what prevented the build). C(build_ms) is the build's time (writes flowing),
    C(check_ms) the time under the locks that proved the moved-in tables current.
  returned: when the swap ran a rebuild with prebuild on
  type: dict
  sample: {moved_in: [company, dept], rows: {company: 10, dept: 100}, rebuilt_under_locks: {like: "written since it was built (public.tb_like)"},
           not_built: {}, build_ms: 41000.0, check_ms: 420.5}
rehearsed:
  description: True when the transaction was rolled back on purpose.
  returned: when the swap ran
  type: bool
manifest:
  description: Path of the manifest used, and whether it was captured now.
  returned: when I(manifest) is set
  type: dict
'''

import datetime

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import actions as manifest_actions
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError, version_problem
from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import prebuild
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import (
    ContentCheckError, SwapError, build_plan, execute, plan_statements, repair_stale_rows, script)


def utc_now():
    return datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def build_before_locks(module, conn, ctx, entities, not_built):
    """swap.prebuild.build; a failure only means every TVIEW is rebuilt under the locks."""
    import psycopg2
    try:
        built = prebuild.build(conn, ctx, entities, module.params['lock_timeout'])
    except (psycopg2.Error, prebuild.PrebuildError) as e:
        module.warn("the new tables could not be built before the locks (%s); every TVIEW is rebuilt under the locks"
                    % prebuild.error_text(e))
        return None
    built['skipped'].update(not_built)
    return built


def drop_prebuilt(module, p):
    """Drop our schema of prebuilt tables (those not moved in) on a connection of its own."""
    import psycopg2
    try:
        conn = connect(p)
        try:
            prebuild.drop(conn)
        finally:
            conn.close()
    except (psycopg2.Error, DatabaseConnectionError, prebuild.PrebuildError) as e:
        module.warn("the schema %s of tables built before the locks could not be dropped (%s); the next run drops it"
                    % (prebuild.SCHEMA, prebuild.error_text(e)))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        version=dict(type='str', required=True),
        strategy=dict(type='str', choices=['auto', 'update', 'swap'], default='auto'),
        tview_mode=dict(type='str', choices=['adopt', 'rebuild', 'register', 'auto'], default='adopt'),
        manifest=dict(type='path'),
        lock_timeout=dict(type='int', default=100),
        lock_retries=dict(type='int', default=20),
        statement_timeout=dict(type='int', default=0),
        terminate_other_sessions=dict(type='bool', default=False),
        keep_dependents=dict(type='bool', default=True),
        rehearse=dict(type='bool', default=False),
        repair_stale_rows=dict(type='bool', default=False),
        prebuild=dict(type='bool', default=True),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    p = module.params
    if version_problem(p['version'], 'version'):
        module.fail_json(msg=version_problem(p['version'], 'version'))
    result = dict(changed=False, to_version=p['version'], from_version=None, strategy=None, mode=None, plan=[])
    conn, ctx = None, {}
    try:
        conn = connect(p)

        def plan_swap():
            return build_plan(conn, p['version'], p['strategy'], p['tview_mode'], p['keep_dependents'],
                              require_available=not module.check_mode,
                              manifests=manifest_actions.candidates(conn, p['manifest']))

        plan, ctx = plan_swap()
        if p['repair_stale_rows'] and not ctx['done'] and ctx['strategy'] == 'swap':
            count_only = module.check_mode or p['rehearse']
            result['stale_rows_repaired'] = repair_stale_rows(conn, ctx['records'], p['lock_timeout'], count_only)
            if result['stale_rows_repaired'] and not count_only:
                result['changed'] = True
                if p['tview_mode'] == 'auto':
                    plan, ctx = plan_swap()  # the choice between register and rebuild saw the rows just deleted
        for warning in ctx['warnings']:
            module.warn(warning)
        result.update(from_version=ctx['from_version'], strategy=ctx['strategy'], mode=ctx['mode'],
                      mode_reason=ctx.get('mode_reason'), plan=plan.render(conn))
        if ctx['done']:
            module.exit_json(**result)
        if p['manifest']:
            result['manifest'] = manifest_actions.ensure(conn, p['manifest'], module.check_mode)
        entities, not_built = [], {}
        if p['prebuild'] and ctx['mode'] == 'rebuild':
            entities, not_built = prebuild.eligible(ctx, ctx['can_take_over'])
        if module.check_mode:
            if entities:
                # The plan as it runs when every prebuilt table is still current under the locks.
                ctx['moved_in'] = entities
                plan = plan_statements(conn, ctx, entities)
                result['plan'] = plan.render(conn)
            result.update(changed=True, script=script(conn, plan, ctx, p['lock_timeout'], p['statement_timeout'],
                                                      p['rehearse']))
            module.exit_json(**result)
        if entities:
            ctx['prebuilt'] = build_before_locks(module, conn, ctx, entities, not_built)
            faults.point('swap', 'prebuilt', p['login_db'])
        conn.close()
        result['started_at'] = utc_now()
        conn = connect(p)  # fresh session: no pg_tviews library or cache state from the reads above
        result.update(execute(conn, plan, ctx, p['version'], lock_timeout_ms=p['lock_timeout'],
                              lock_retries=p['lock_retries'], statement_timeout_ms=p['statement_timeout'],
                              rehearse=p['rehearse'], terminate_other_sessions=p['terminate_other_sessions']))
        result['finished_at'] = utc_now()
        result['changed'] = not p['rehearse']
        if ctx.get('executed_plan') is not None:
            result['plan'] = ctx['executed_plan'].render(conn)
    except ContentCheckError as e:
        result.update(e.result, changed=True, finished_at=utc_now())
        module.fail_json(msg="swap of database %s to pg_tviews %s committed, but the content check after COMMIT found "
                         "differences: %s; see the operator guide, 'The swap transaction'" % (p['login_db'], p['version'], e.cause),
                         step=e.step, **result)
    except SwapError as e:
        done = "the swap did not start" if e.step == 'repair' else "rolled back, nothing changed"
        module.fail_json(msg="swap of database %s to pg_tviews %s: %s; %s" % (p['login_db'], p['version'], to_native(e), done),
                         step=e.step, tview=e.tview, **result)
    except (DatabaseConnectionError, mf.ManifestError, UnknownGenerationError) as e:
        module.fail_json(msg=to_native(e), **result)
    finally:
        if conn is not None and not conn.closed:
            conn.close()
        if ctx.get('prebuilt'):
            drop_prebuilt(module, p)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
