# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-transaction swap of a database from one pg_tviews version to another.

Everything happens in a single transaction on a fresh connection: lock (writers wait, they
do not fail), record the old catalog, remove the old triggers and helpers, set dependents
aside, DROP/CREATE EXTENSION (or ALTER EXTENSION UPDATE), re-register or rebuild every
TVIEW in dependency order, put dependents back, verify, COMMIT. Any error rolls the whole
transaction back, so the database is exactly as it was. ``rehearse`` runs all of it and
rolls back on purpose."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import DEADLOCK_TIMEOUT_MS, fetch_all, fetch_one
from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import detect as detect_mod
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import EXTENSION
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import ADAPTERS, adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import attach_details, base_tables
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import generation_of, parse_version
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import prebuild


class SwapError(Exception):
    """A failed step; the transaction has been rolled back (``committed`` False), or, for the
    content check after COMMIT, the swap committed and ``result`` and ``differences`` say what
    it found."""

    committed = False

    def __init__(self, step, cause, tview=None):
        self.step, self.cause, self.tview = step, cause, tview
        where = "step '%s'" % step + (" for TVIEW '%s'" % tview if tview else '')
        Exception.__init__(self, "%s failed: %s" % (where, ' '.join(str(cause).split())))


class ContentCheckError(SwapError):
    """The swap committed, and the content check in one snapshot after COMMIT found a TVIEW
    whose tv_ table differs from its v_ view (or is not there)."""

    committed = True

    def __init__(self, differences, result):
        self.differences, self.result = differences, result
        SwapError.__init__(self, 'content check', '; '.join(
            "%s: %s" % (d['tview'], d['problem']) for d in differences))


class LockTimeout(Exception):
    pass


class Plan(object):
    """Statements of one swap, built from the catalog before anything runs: check mode
    shows them, the executor runs them."""

    def __init__(self):
        self.steps = []   # (step name, tview or None, sql text or Composable, params)

    def add(self, step, statement, params=None, tview=None):
        self.steps.append((step, tview, statement, params))

    def render(self, conn):
        out = []
        for step, tview, statement, params in self.steps:
            text = statement if isinstance(statement, str) else statement.as_string(conn)
            with conn.cursor() as cur:
                text = cur.mogrify(text, params).decode('utf-8') if params else text
            out.append({'step': step, 'tview': tview, 'sql': text})
        return out


def _sql():
    from psycopg2 import sql
    return sql


def is_done(facts, target, records, triggers):
    """On the target version with every TVIEW present and triggered: nothing to do."""
    if not facts['installed'] or parse_version(facts['extversion']) != parse_version(target):
        return False
    triggered = set(t['table'] for t in triggers)
    for r in records:
        if not r['qualified_table'] or not r['qualified_view']:
            return False
        if r['dependencies'] and not any(d in triggered for d in r['dependencies']):
            return False
    return True


def choose_strategy(strategy, facts, target):
    can_update = target in facts['update_paths']
    if strategy == 'auto':
        return 'update' if can_update else 'swap'
    if strategy == 'update' and not can_update:
        raise SwapError('plan', "no update path from %s to %s on this server (use strategy swap)" % (facts['extversion'], target))
    return strategy


def lock_targets(records, triggers):
    """(tables to lock exclusively, tv_ tables) in a fixed order, so two runs never deadlock."""
    tv = sorted(r['qualified_table'] for r in records if r['qualified_table'])
    base = set(base_tables(records)) | set(t['table'] for t in triggers)
    return sorted(base - set(tv)), tv


def extension_dependent_ddl(conn):
    """The extension's dependents the swap sets aside and puts back (those with DDL; the
    preflight gate 'dependents' fails on the others before anything changes)."""
    return [d for d in objects.extension_dependents(conn) if d['ddl']]


PRIVILEGES = ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN')


def _relation(schema, name):
    """A relation name composed with identifier quoting, never pasted from text (a manifest
    is a file on the host: its names are data, not SQL)."""
    return _sql().Identifier(schema, name)


def _restore_statements(plan, obj_kind, qualified, details, tview):
    """Grants, comment and owner of a relation recreated by a rebuild. ``qualified`` is a
    Composable naming it."""
    sql = _sql()
    if not details:
        return
    schema_name = qualified
    for g in details['grants']:
        if g['privilege'] not in PRIVILEGES:
            raise SwapError('plan', "unknown privilege %r in the recorded grants" % g['privilege'], tview)
        grantee = sql.SQL('PUBLIC') if g['grantee'] == 'PUBLIC' else sql.Identifier(g['grantee'])
        plan.add('restore grant', sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(g['privilege']), schema_name, grantee,
            sql.SQL(' WITH GRANT OPTION') if g['grantable'] else sql.SQL('')), tview=tview)
    if details['comment'] is not None:
        plan.add('restore comment', sql.SQL("COMMENT ON {} {} IS {}").format(
            sql.SQL(obj_kind), schema_name, sql.Literal(details['comment'])), tview=tview)


def plan_set_aside(plan, deps):
    sql = _sql()
    for d in sorted(deps, key=lambda d: -d['depth']):
        plan.add('set dependent aside', sql.SQL(d['drop']), tview=d['name'])


def plan_drop_triggers(plan, triggers):
    sql = _sql()
    for t in triggers:
        plan.add('drop old trigger', sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(t['name']), sql.SQL(t['table'])))


def plan_drop_tviews(plan, by_entity, order, moved_in=()):
    """Drop tv_ tables and v_ views, dependents of others first (reverse dependency order). A TVIEW
    whose new table was built before the locks keeps its view (the new table is registered with it)."""
    sql = _sql()
    for entity in reversed(order):
        r = by_entity[entity]
        if r['qualified_table']:
            plan.add('drop TVIEW table', sql.SQL("DROP TABLE {}").format(_relation(r['schema'], r['table'])), tview=entity)
        if r['qualified_view'] and entity not in moved_in:
            plan.add('drop TVIEW view', sql.SQL("DROP VIEW {}").format(
                _relation(r.get('view_schema') or r['schema'], r['view'])), tview=entity)


def plan_rebuild(conn, plan, adapter, by_entity, order, moved_in=(), doc=None):
    """Create each TVIEW from its recorded definition through ``adapter``'s API, in dependency
    order, then put back extra indexes, owner, grants and comments. A TVIEW in ``moved_in`` gets
    the table built before the locks instead: moved into its schema (its indexes came with it) and
    adopted, or registered from manifest ``doc``. Returns what registering expects (see plan_register)."""
    sql = _sql()
    ext_schema = sql.Identifier(adapter.ext_schema)
    expected = {}
    if moved_in and not adapter.can_adopt:
        for statement, params in adapter.register_helper_statements():
            plan.add('register helper', statement, params)
    recorded = dict((t['entity'], t) for t in (doc or {}).get('tviews', []))
    for entity in order:
        r = by_entity[entity]
        if entity in moved_in:
            plan.add('move in the prebuilt table', sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(prebuild.SCHEMA, r['table']), sql.Identifier(r['schema'])), tview=entity)
            if adapter.can_adopt:
                stmt, params = adapter.adopt_statement(r)
                plan.add('adopt TVIEW', stmt, params, tview=entity)
            else:
                expected[entity] = _register_one(conn, plan, adapter, r, recorded[entity])
            if r['table_details']:
                target_rel = _relation(r['schema'], r['table'])
                if r['table_details']['owner']:
                    plan.add('restore owner', sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                        target_rel, sql.Identifier(r['table_details']['owner'])), tview=entity)
                _restore_statements(plan, 'TABLE', target_rel, r['table_details'], entity)
            continue
        # pg_tviews_create builds in current_schema(): point it at the TVIEW's schema.
        plan.add('set schema', sql.SQL("SET LOCAL search_path TO {}, {}").format(sql.Identifier(r['schema']), ext_schema),
                 tview=entity)
        stmt, params = adapter.create_statement(r)
        plan.add('rebuild TVIEW', stmt, params, tview=entity)
        for rel, kind in ((r['table_details'], 'TABLE'), (r['view_details'], 'VIEW')):
            if not rel:
                continue
            target_rel = (_relation(r['schema'], r['table']) if kind == 'TABLE'
                          else _relation(r.get('view_schema') or r['schema'], r['view']))
            for idx in rel['indexes']:
                if not idx.get('primary') and not idx['name'].startswith(adapter.index_prefix):
                    plan.add('restore index', sql.SQL(idx['definition']), tview=entity)
            if rel['owner']:
                plan.add('restore owner', sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                    target_rel, sql.Identifier(rel['owner'])), tview=entity)
            _restore_statements(plan, kind, target_rel, rel, entity)
    plan.add('reset schema', sql.SQL("SET LOCAL search_path TO DEFAULT"))
    return expected


def plan_restore_dependents(plan, deps):
    sql = _sql()
    for d in sorted(deps, key=lambda d: d['depth']):
        plan.add('restore dependent', sql.SQL(d['ddl']), tview=d['name'])
        if d['type'] == 'view':
            if d['owner']:
                plan.add('restore dependent owner', sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                    sql.SQL(d['name']), sql.Identifier(d['owner'])), tview=d['name'])
            # Dependents' names and DDL come from the server's own catalog functions (format('%I'), pg_get_*def).
            _restore_statements(plan, 'MATERIALIZED VIEW' if d['kind'] == 'materialized view' else 'VIEW', sql.SQL(d['name']),
                                {'grants': d['grants'], 'comment': d['comment']}, d['name'])


def registration_problem(conn, doc, records, new_cls):
    """Why the TVIEWs in ``records`` (live, read from the installed catalog) cannot be registered
    with generation ``new_cls`` from manifest ``doc``; None when they can: the manifest was
    captured on that generation from this database, names the same TVIEWs with the same tables,
    views and keys, each view still has its recorded definition, and its recorded base tables exist."""
    ext = doc.get('extension') or {}
    if ext.get('api_generation') != new_cls.generation:
        return "the manifest of %s describes pg_tviews %s, not a %s catalog" % (
            doc.get('captured_at'), ext.get('extversion'), new_cls.generation)
    if doc.get('database') != conn.info.dbname:
        return "the manifest describes database %s" % doc.get('database')
    recorded = dict((t['entity'], t) for t in doc['tviews'])
    live = dict((r['entity'], r) for r in records)
    if set(recorded) != set(live):
        return "its TVIEWs differ from the live ones (only in the manifest: %s; only live: %s)" % (
            ', '.join(sorted(set(recorded) - set(live))) or '-', ', '.join(sorted(set(live) - set(recorded))) or '-')
    for e in sorted(live):
        r, m = live[e], recorded[e]
        for key in ('qualified_table', 'qualified_view', 'pk_column', 'view_definition'):
            if r.get(key) != m.get(key):
                return "TVIEW %s: %s differs from the manifest's" % (e, key.replace('_', ' '))
        deps = m.get('dependencies') or []
        if len(objects.relation_parts(conn, deps)) != len(set(deps)):
            return "TVIEW %s: a base table the manifest records is gone" % e
    return None


def choose_manifest(conn, records, manifests, new_cls):
    """(manifest or None, reason): the first of ``manifests`` the live TVIEWs can be registered from."""
    problems = []
    for doc in manifests:
        problem = registration_problem(conn, doc, records, new_cls)
        if problem is None:
            return doc, "registered from the manifest captured %s (digest %s)" % (doc.get('captured_at'), doc.get('digest'))
        problems.append(problem)
    if not problems:
        return None, "no manifest of a %s catalog is available (none given, none stored in the database)" % new_cls.generation
    return None, "no manifest allows it: %s" % problems[0]


def plan_register(conn, plan, new, by_entity, order, doc):
    """Write the target generation's catalog for the live TVIEWs from manifest ``doc``."""
    recorded = dict((t['entity'], t) for t in doc['tviews'])
    for statement, params in new.register_helper_statements():
        plan.add('register helper', statement, params)
    return dict((entity, _register_one(conn, plan, new, by_entity[entity], recorded[entity])) for entity in order)


def _register_one(conn, plan, new, live, recorded):
    """Register one TVIEW (``live``: its record) from its manifest entry; returns the catalog
    fields verify_inside expects to find."""
    r = dict(live)
    for key in ('definition', 'dependencies', 'fk_columns', 'uuid_fk_columns', 'dependency_types', 'dependency_paths',
                'array_match_keys'):
        r[key] = recorded.get(key)
    r['trigger_tables'] = [(schema, rel) for dummy, schema, rel in objects.relation_parts(conn, r['dependencies'])]
    for statement, params in new.register_statements(r):
        plan.add('register TVIEW', statement, params, tview=r['entity'])
    keys = ('definition', 'fk_columns', 'uuid_fk_columns', 'dependency_types', 'dependency_paths',
            'array_match_keys', 'dependencies')
    return dict((k, r[k]) for k in keys)


def drifted(conn, records):
    """The TVIEWs whose tv_ table differs from its v_ view now (each one statement, before any lock)."""
    out = []
    for r in records:
        if r.get('qualified_table') and r.get('qualified_view'):
            d = objects.drift(conn, r, classify=True)
            if d['only_in_tv'] or d['only_in_view']:
                out.append('%s (%d row(s) only in %s%s, %d only in %s)' % (
                    r['entity'], d['only_in_tv'], r['qualified_table'],
                    ', %d of them with a key the view no longer has' % d['stale'] if d['stale'] else '',
                    d['only_in_view'], r['qualified_view']))
    return out


def repair_stale_rows(conn, records, lock_timeout_ms, count_only=False):
    """Delete the tv_ rows whose key the v_ view no longer has (pg_tviews 0.1 leaves one on every
    DELETE: its refresh finds no v_ row and stops), before the swap. Each TVIEW in its own short
    transaction: ROW EXCLUSIVE on the tv_ table, which no application statement conflicts with,
    and row locks only on rows no writer touches (their base rows are gone); lock_timeout and a
    short deadlock_timeout make this session, never a writer, the one that gives way. Reversible:
    the pre-migration backup holds the rows. ``count_only`` (check mode, rehearsal) deletes nothing.
    Returns [{tview, table, rows, statement}] for the TVIEWs that had such rows."""
    out = []
    conn.rollback()
    autocommit, conn.autocommit = conn.autocommit, False  # the settings below are per transaction
    try:
        for r in records:
            item = _repair_one(conn, r, lock_timeout_ms, count_only)
            if item:
                out.append(item)
    finally:
        conn.autocommit = autocommit
    return out


def _repair_one(conn, r, lock_timeout_ms, count_only):
    import psycopg2
    if not (r.get('qualified_table') and r.get('qualified_view') and r.get('pk_column')):
        return None
    statement = objects.stale_rows_sql(r, delete=True)
    try:
        with conn.cursor() as cur:
            cur.execute(SETTINGS_SQL, ('%dms' % lock_timeout_ms, '0', '%dms' % DEADLOCK_TIMEOUT_MS))
            if count_only:
                n = objects.stale_rows(conn, r)
            else:
                cur.execute(statement)
                n = cur.rowcount
        if count_only:
            conn.rollback()
        else:
            conn.commit()
    except psycopg2.Error as e:
        conn.rollback()
        raise SwapError('repair', "could not delete the stale rows of %s: %s"
                        % (r['qualified_table'], ' '.join(str(e.pgerror or e).split())), r['entity'])
    if not n:
        return None
    return {'tview': r['entity'], 'table': r['qualified_table'], 'rows': n, 'statement': statement.as_string(conn)}


def build_plan(conn, target, strategy, tview_mode, keep_dependents=True, require_available=True, manifests=()):
    """Read the catalog (read-only) and return (plan, context) for the swap of one database.
    ``require_available`` off (check mode before the install phase ran) plans a swap to a
    version the server does not offer yet, and says so in ctx['warnings']. ``manifests``:
    candidates (newest first) to register the TVIEWs from, for a generation that registers."""
    sql = _sql()
    facts = detect_mod.detect(conn)
    if not facts['installed']:
        raise SwapError('plan', "pg_tviews is not installed in database %s" % facts['database'])
    warnings = []
    if target not in facts['available_versions'] and not require_available:
        warnings.append("pg_tviews %s is not installed on this server yet; the plan assumes the install phase runs first" % target)
    elif target not in facts['available_versions']:
        raise SwapError('plan', "pg_tviews %s is not installed on this server (available: %s); run the install role first"
                        % (target, ', '.join(facts['available_versions']) or 'none'))
    old = adapter_for(conn, facts)
    records, order = old.records()
    attach_details(conn, records)
    triggers = objects.tview_triggers(conn)
    ctx = {'facts': facts, 'records': records, 'order': order, 'triggers': triggers, 'warnings': warnings,
           'from_version': facts['extversion'], 'to_version': target,
           'done': is_done(facts, target, records, triggers)}
    plan = Plan()
    if ctx['done']:
        ctx.update(strategy=None, mode=None)
        return plan, ctx
    strategy = choose_strategy(strategy, facts, target)
    new_cls = ADAPTERS[generation_of(target)]
    asked, reason, doc = tview_mode, None, None
    if strategy == 'swap' and tview_mode in ('auto', 'register') and new_cls.can_register:
        doc, reason = choose_manifest(conn, records, manifests, new_cls)
    if tview_mode == 'auto':
        # Adopting keeps the live tv_ rows (nothing rematerialised); so does registering from a manifest
        # of the target's own catalog; otherwise the TVIEWs are rebuilt.
        if new_cls.can_adopt:
            tview_mode, reason = 'adopt', "pg_tviews %s adopts the live tables" % target
        elif doc is not None:
            # Registering keeps the tv_ rows as they are; rebuilding makes them equal to their views again.
            differing = drifted(conn, records)
            if differing:
                tview_mode, reason = 'rebuild', "rebuilt: %s differs from its view, and registering would keep that" % (
                    ', '.join(differing))
            else:
                tview_mode = 'register'
        else:
            tview_mode, reason = 'rebuild', "rebuilt: %s" % (reason or "pg_tviews %s can neither adopt nor register" % target)
    if strategy == 'swap' and tview_mode == 'adopt' and not new_cls.can_adopt:
        raise SwapError('plan', "pg_tviews %s cannot adopt existing tables (its convert function freezes data); use tview_mode rebuild"
                        % target + (" or register" if new_cls.can_register else ''))
    if strategy == 'swap' and tview_mode == 'register' and (not new_cls.can_register or doc is None):
        raise SwapError('plan', "cannot register the TVIEWs with pg_tviews %s: %s" % (
            target, reason if new_cls.can_register else "it has no registration"))
    ctx.update(strategy=strategy, mode=tview_mode if strategy == 'swap' else None,
               mode_reason=(reason or "asked for %s" % asked) if strategy == 'swap' else None)
    base, tv = lock_targets(records, triggers)
    ctx['lock_base'], ctx['lock_tv'] = base, tv
    if strategy == 'update':
        plan.add('update extension', sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(
            sql.Identifier(EXTENSION), sql.Literal(target)))
        return plan, ctx

    by_entity = dict((r['entity'], r) for r in records)
    ext_deps = extension_dependent_ddl(conn)
    tv_deps = objects.tview_dependents(conn, records) if tview_mode == 'rebuild' else []
    ctx['extension_dependents'], ctx['tview_dependents'] = ext_deps, tv_deps
    if tv_deps and not keep_dependents:
        raise SwapError('plan', "objects depend on TVIEWs (%s) and keep_dependents is off"
                        % ', '.join(d['name'] for d in tv_deps))
    if tview_mode == 'rebuild' and not new_cls.can_adopt and new_cls.can_register and doc is None:
        # A rebuild's tables can be built before the locks and registered from a manifest.
        doc, why = choose_manifest(conn, records, manifests, new_cls)
        if doc is None:
            ctx['take_over_problem'] = "pg_tviews %s cannot adopt a table, and registering is not possible: %s" % (target, why)
    ctx.update(by_entity=by_entity, helpers=objects.non_member_helpers(conn), new_cls=new_cls, doc=doc)
    ctx['can_take_over'] = new_cls.can_adopt or (new_cls.can_register and doc is not None)
    if tview_mode != 'rebuild':
        # The tables are kept: what proves, under the locks, that nothing moved (see verify_inside).
        ctx['fingerprints'] = objects.relation_fingerprints(conn, tv)
    return plan_statements(conn, ctx), ctx


def plan_statements(conn, ctx, moved_in=()):
    """The swap's statements from what build_plan read. ``moved_in`` (rebuild only): TVIEWs whose
    new table was built before the locks (swap.prebuild) and is moved in instead of rebuilt."""
    sql = _sql()
    plan = Plan()
    mode, by_entity, order = ctx['mode'], ctx['by_entity'], ctx['order']
    deps = ctx['extension_dependents'] + ctx['tview_dependents']
    # Dependents go first (deepest first) and come back last (shallowest first).
    plan_set_aside(plan, deps)
    plan_drop_triggers(plan, ctx['triggers'])
    for h in ctx['helpers']:
        plan.add('drop old helper', sql.SQL("DROP FUNCTION {}").format(sql.SQL(h['signature'])))
    if mode == 'rebuild':
        plan_drop_tviews(plan, by_entity, order, moved_in)
    plan.add('drop extension', sql.SQL("DROP EXTENSION {}").format(sql.Identifier(EXTENSION)))
    plan.add('create extension', sql.SQL("CREATE EXTENSION {} WITH SCHEMA {} VERSION {}").format(
        sql.Identifier(EXTENSION), sql.Identifier(ctx['facts']['schema']), sql.Literal(ctx['to_version'])))
    new = ctx['new_cls'](conn, ctx['facts']['schema'])
    if mode == 'adopt':
        for entity in order:
            stmt, params = new.adopt_statement(by_entity[entity])
            plan.add('adopt TVIEW', stmt, params, tview=entity)
    elif mode == 'register':
        ctx['registered'] = plan_register(conn, plan, new, by_entity, order, ctx['doc'])
    else:
        ctx['registered'] = plan_rebuild(conn, plan, new, by_entity, order, moved_in, ctx.get('doc'))
    plan_restore_dependents(plan, deps)
    return plan


def lock_statements(ctx, mode):
    """Every lock in a fixed order, in two rounds. First EXCLUSIVE on every table (base, then tv_):
    writes stop, reads go on, so a writer's trigger that reads another of these tables (a cascade
    through a view) never waits on us while we wait on its write. Then ACCESS EXCLUSIVE on the
    base tables (their triggers are replaced) and, when rebuilt, on the tv_ tables; no write is in
    flight by then, only reads, which do not wait on each other."""
    sql = _sql()
    exclusive = ctx['lock_base'] + ctx['lock_tv']
    access_exclusive = ctx['lock_base'] + (ctx['lock_tv'] if mode == 'rebuild' else [])
    return [sql.SQL("LOCK TABLE {} IN {} MODE").format(sql.SQL(name), sql.SQL(lock_mode))
            for names, lock_mode in ((exclusive, 'EXCLUSIVE'), (access_exclusive, 'ACCESS EXCLUSIVE')) for name in names]


def _lock(cur, ctx, mode):
    for statement in lock_statements(ctx, mode):
        cur.execute(statement)


PREPARED_SQL = "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"
SETTINGS_SQL = ("SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true), "
                "set_config('deadlock_timeout', %s, true)")
STATEMENT_TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, true)"


def keeps_tables(ctx):
    """True when the swap keeps every tv_ table as it is (adopt, register): then nothing in the
    window scans one; the catalog proves they did not move, and their content is checked in
    one snapshot after COMMIT (content_check)."""
    return ctx.get('mode') in ('adopt', 'register')


def count_statements(ctx):
    """(record, row count SQL, id checksum SQL or None) per TVIEW: run under the locks before the
    plan, and again inside verify_inside after it. None when the tables are kept."""
    out = []
    if keeps_tables(ctx):
        return out
    for r in ctx['records']:
        if r['qualified_table'] and r['entity'] not in (ctx.get('moved_in') or ()):
            # Only the rows whose key the view still has: a rebuild drops the stale rows pg_tviews
            # 0.1 leaves behind deletes (objects.stale_rows), and reproduces every other one.
            live = r if r.get('qualified_view') else None
            ids = (objects.id_checksum_sql(r['schema'], r['table'], r['pk_column'], live)
                   if ctx['mode'] == 'rebuild' and r['pk_column'] else None)
            out.append((r, objects.row_count_sql(r['schema'], r['table'], live), ids))
    return out


def script(conn, plan, ctx, lock_timeout_ms=100, statement_timeout_ms=0, rehearse=False):
    """The whole transaction as the SQL that runs, in order, for check mode: BEGIN, the checks and
    settings, every LOCK, the counts taken under the locks, the plan, the verification, COMMIT."""
    def text(statement, params=None):
        s = statement if isinstance(statement, str) else statement.as_string(conn)
        with conn.cursor() as cur:
            return (cur.mogrify(s, params).decode('utf-8') if params else s).strip() + ';'
    moved = ctx.get('moved_in') or []
    lines, fingerprint = prebuild.script_lines(conn, ctx, moved, text) if moved else ([], None)
    lines += ['BEGIN;', text(PREPARED_SQL) + '  -- must be 0',
              text(SETTINGS_SQL, ('%dms' % lock_timeout_ms, '%dms' % lock_timeout_ms, '%dms' % DEADLOCK_TIMEOUT_MS))]
    lines += [text(s) for s in lock_statements(ctx, ctx['mode'])]
    lines.append(text(STATEMENT_TIMEOUT_SQL, ('%dms' % statement_timeout_ms,)))
    if moved:
        lines.append(fingerprint + '  -- again: a TVIEW whose tables changed since is rebuilt below instead of moved in')
    counts = count_statements(ctx)
    for dummy, rows, ids in counts:
        lines += [text(rows)] + ([text(ids)] if ids is not None else [])
    lines += [text(step['sql']) if not step['sql'].rstrip().endswith(';') else step['sql'] for step in plan.render(conn)]
    lines.append('-- verify: the extension is at %s, every TVIEW registered with it and triggered (catalog reads)'
                 % ctx['to_version'])
    for dummy, rows, ids in counts:
        lines += [text(rows) + '  -- unchanged'] + ([text(ids) + '  -- unchanged'] if ids is not None else [])
    if keeps_tables(ctx):
        lines.append('-- verify: every tv_ table has the OID, relfilenode and columns read when planning (catalog reads)')
        query, params = objects.xact_row_changes_sql(ctx['lock_tv'])
        lines.append(text(query, params) + '  -- all 0')
    if moved:
        lines.append('-- verify: every table moved in is the one built (OID, relfilenode, columns) and no row of it was written')
    lines.append('ROLLBACK;  -- a rehearsal' if rehearse else 'COMMIT;')
    if moved:
        lines.append(text(_sql().SQL("DROP SCHEMA {} CASCADE").format(_sql().Identifier(prebuild.SCHEMA)))
                     + '  -- what was not moved in')
    if keeps_tables(ctx) and not rehearse:
        lines += ['-- after COMMIT, writers going again: the content check, in one snapshot',
                  'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
                  '-- per TVIEW: SELECT count(*) FROM tv_; tv_ EXCEPT ALL v_ and v_ EXCEPT ALL tv_ over the view\'s columns (both 0)',
                  'ROLLBACK;']
    return lines


def verify_inside(conn, ctx, target):
    """Checks run inside the transaction before COMMIT. Returns per-TVIEW outcomes."""
    facts = detect_mod.detect(conn)
    if parse_version(facts['extversion']) != parse_version(target):
        raise SwapError('verify', "extension is at %s, not %s" % (facts['extversion'], target))
    new_records, dummy = adapter_for(conn, facts).records()
    new_by_entity = dict((r['entity'], r) for r in new_records)
    triggered = {}
    for t in objects.tview_triggers(conn):
        triggered.setdefault(t['table'], []).append(t['name'])
    outcomes = []
    kept = keeps_tables(ctx)
    moved = set(ctx.get('moved_in') or ())
    kept_tables = ctx['lock_tv'] if kept else [r['qualified_table'] for r in ctx['records'] if r['entity'] in moved]
    if kept_tables:
        now = objects.relation_fingerprints(conn, kept_tables)
        query, params = objects.xact_row_changes_sql(kept_tables)
        changed = dict((r['name'], r['changed']) for r in fetch_all(conn, query, params))
    for old in ctx['records']:
        e = old['entity']
        new = new_by_entity.get(e)
        if new is None or not new['qualified_table'] or not new['qualified_view']:
            raise SwapError('verify', "TVIEW is not registered with %s" % target, e)
        if new['dependencies'] and not any(triggered.get(d) for d in new['dependencies']):
            raise SwapError('verify', "no pg_tviews trigger on any of its base tables", e)
        if kept:
            outcomes.append(_verify_kept(ctx, old, new, now, changed))
            continue
        if e in moved:
            rows = ctx['prebuilt']['built'][e]['rows']
            outcomes.append(dict(_verify_kept(ctx, old, new, now, changed), rows_before=rows, rows_after=rows, prebuilt=True))
            continue
        before = old.get('row_count')
        after = objects.row_count(conn, new['schema'], new['table'])
        if before is not None and after != before:
            raise SwapError('verify', "tv_ row count changed from %s to %s" % (before, after), e)
        if old.get('id_checksum') is not None and new['pk_column']:
            ids = objects.id_checksum(conn, new['schema'], new['table'], new['pk_column'])
            if ids != old['id_checksum']:
                raise SwapError('verify', "id values changed (public ids must survive)", e)
        outcomes.append({'tview': e, 'table': new['qualified_table'], 'rows_before': before, 'rows_after': after})
    return outcomes


def _verify_kept(ctx, old, new, now, changed):
    """A kept tv_ table, under the locks, with catalog reads only: the same table (OID), the same
    storage (relfilenode: no TRUNCATE or rewrite) and columns as when the plan was read, no row
    written by this transaction (the locks keep everyone else out), and, when registered, the
    catalog rows as the manifest records them."""
    e, name = old['entity'], old['qualified_table']
    before = ctx['fingerprints'].get(name)
    if before is None or new['qualified_table'] != name:
        raise SwapError('verify', "its tv_ table is not the one the plan read (%s)" % name, e)
    for key, what in (('oid', 'was dropped and created again'), ('relfilenode', 'was truncated or rewritten'),
                      ('columns', 'has other columns'), ('kind', 'is no longer the same kind of relation')):
        if now.get(name, {}).get(key) != before[key]:
            raise SwapError('verify', "%s %s since the plan was read" % (name, what), e)
    if changed.get(name):
        raise SwapError('verify', "%s rows of %s were written inside the swap" % (changed[name], name), e)
    expected = (ctx.get('registered') or {}).get(e) or {}
    for key in sorted(expected):
        got, want = new[key], expected[key]
        if key == 'dependencies':
            got, want = sorted(got or []), sorted(want or [])
        elif isinstance(want, (list, tuple)) or want is None:
            got, want = list(got or []), list(want or [])
        if got != want:
            raise SwapError('verify', "registered %s differs from the manifest's" % key.replace('_', ' '), e)
    return {'tview': e, 'table': name, 'relfilenode': before['relfilenode'], 'rows_before': None, 'rows_after': None}


def content_check(conn, ctx):
    """After COMMIT, in one REPEATABLE READ snapshot (writers going again, out of the window): each
    kept TVIEW's tv_ table equals its v_ view (EXCEPT ALL both ways over the view's columns), and
    its row count. Returns (outcomes by entity, differences)."""
    conn.rollback()
    conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
    try:
        facts = detect_mod.detect(conn)
        records = dict((r['entity'], r) for r in adapter_for(conn, facts).records()[0])
        outcomes, differences = {}, []
        for old in ctx['records']:
            r = records.get(old['entity'])
            if r is None or not r['qualified_table'] or not r['qualified_view']:
                differences.append({'tview': old['entity'], 'problem': 'not registered after COMMIT'})
                continue
            d = objects.drift(conn, r, classify=True)
            outcomes[old['entity']] = dict(d, rows=objects.row_count(conn, r['schema'], r['table']))
            # Rows whose key the view no longer has are what pg_tviews 0.1 leaves on DELETE; the
            # swap keeps rows as they were and never makes one (see gates.catalog.drift).
            if d['only_in_tv'] - d['stale'] or d['only_in_view']:
                problem = "%d row(s) only in %s, %d only in %s" % (d['only_in_tv'] - d['stale'], r['qualified_table'],
                                                                   d['only_in_view'], r['qualified_view'])
                differences.append(dict(d, tview=old['entity'], table=r['qualified_table'], problem=problem))
    finally:
        conn.rollback()
        conn.set_session(isolation_level='DEFAULT', readonly='DEFAULT')
    return outcomes, differences


def count_before(conn, ctx):
    """Under the locks: tv_ row counts, and (rebuild only: adopting leaves rows untouched) the
    id checksums. Full content checksums are left to manifest verification after COMMIT, so
    the write-blocked window does not grow with a checksum of every row."""
    for r in ctx['records']:
        r['row_count'] = r['id_checksum'] = None
    for r, rows, ids in count_statements(ctx):
        r['row_count'] = fetch_one(conn, rows)['n']
        r['id_checksum'] = fetch_one(conn, ids)['c'] if ids is not None else None


def _check_content(conn, ctx, result):
    """The content check after COMMIT (see content_check); differences fail the swap, which has
    committed: ContentCheckError carries the result."""
    import psycopg2
    t0 = time.monotonic()
    try:
        outcomes, differences = content_check(conn, ctx)
    except psycopg2.Error as e:
        outcomes, differences = {}, [{'tview': None, 'problem': "the check could not run: %s" % ' '.join(
            str(e.pgerror or e).split())}]
    result['content_check_ms'] = round((time.monotonic() - t0) * 1000, 1)
    for t in result.get('tviews', []):
        t['rows_after'] = outcomes.get(t['tview'], {}).get('rows')
    result['content_check'] = {'ok': not differences, 'differences': differences,
                               'stale_rows': dict((e, o['stale']) for e, o in sorted(outcomes.items()) if o.get('stale'))}
    if differences:
        raise ContentCheckError(differences, result)


def _move_in_plan(conn, ctx):
    """Under the locks: which prebuilt tables can be moved in (swap.prebuild.usable), and the plan
    that moves those in and rebuilds the others."""
    t0 = time.monotonic()
    moved, why = prebuild.usable(conn, ctx)
    ctx['moved_in'], ctx['prebuilt']['rebuilt'] = moved, why
    ctx['fingerprints'] = dict((ctx['by_entity'][e]['qualified_table'], ctx['prebuilt']['built'][e]['fingerprint'])
                               for e in moved)
    plan = ctx['executed_plan'] = plan_statements(conn, ctx, moved)
    ctx['prebuilt']['check_ms'] = round((time.monotonic() - t0) * 1000, 1)
    return plan


def other_session_pids(conn):
    return [r['pid'] for r in objects.other_sessions(conn)]


def execute(conn, plan, ctx, target, lock_timeout_ms=100, lock_retries=20, statement_timeout_ms=0,
            rehearse=False, terminate_other_sessions=False, sleep=time.sleep):
    """Run the plan in one transaction. Each attempt may spend at most ``lock_timeout_ms`` taking
    all its locks (application statements queue behind a waiting LOCK, so that is also the
    longest a failed attempt makes them wait); after a lock timeout or a deadlock the attempt is
    rolled back, the application goes on, and the next attempt follows a backoff.
    ``window_ms`` runs from the first LOCK of the attempt that succeeded to the end of COMMIT:
    the time writers on the TVIEW tables were blocked. Returns a result dict; raises SwapError
    (after ROLLBACK) on any failure."""
    import psycopg2
    import psycopg2.errors
    conn.autocommit = False
    attempts = 0
    result = {'lock_attempts': 0, 'terminated_sessions': []}
    while True:
        attempts += 1
        result['lock_attempts'] = attempts
        if terminate_other_sessions:
            pids = other_session_pids(conn)
            with conn.cursor() as cur:
                for pid in pids:
                    cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            conn.commit()
            result['terminated_sessions'].extend(pids)
        cur = conn.cursor()
        try:
            cur.execute(PREPARED_SQL)
            if cur.fetchone()[0]:
                raise SwapError('prepared transactions', "prepared transactions are open in this database; "
                                "resolve them (COMMIT/ROLLBACK PREPARED) before the swap")
            # The lock round as a whole is bounded by statement_timeout as well, so a round that
            # waits a little on each of many tables still ends within the budget. A short
            # deadlock_timeout makes this session, never a writer, the one a deadlock rolls back.
            cur.execute(SETTINGS_SQL, ('%dms' % lock_timeout_ms, '%dms' % lock_timeout_ms, '%dms' % DEADLOCK_TIMEOUT_MS))
            t_lock = time.monotonic()
            try:
                _lock(cur, ctx, ctx['mode'])
            except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected, psycopg2.errors.QueryCanceled) as e:
                conn.rollback()
                result.setdefault('failed_attempts_ms', []).append(round((time.monotonic() - t_lock) * 1000, 1))
                if attempts > lock_retries:
                    raise SwapError('lock', "could not take the locks of the TVIEW tables within %d ms in %d attempts "
                                    "(the last one: %s); the application kept running and nothing was changed"
                                    % (lock_timeout_ms, attempts, ' '.join(str(e.pgerror or e).split())))
                faults.point('swap', 'lock-retry', attempts)
                sleep(min(0.2 * (2 ** (attempts - 1)), 5.0))
                continue
            t_locked = time.monotonic()
            result['lock_wait_ms'] = round((t_locked - t_lock) * 1000, 1)
            cur.execute(STATEMENT_TIMEOUT_SQL, ('%dms' % statement_timeout_ms,))
            if (ctx.get('prebuilt') or {}).get('built'):
                plan = _move_in_plan(conn, ctx)
            count_before(conn, ctx)
            step = tview = None
            try:
                for step, tview, statement, params in plan.steps:
                    faults.point('swap', step, tview)
                    cur.execute(statement, params)
                step, tview = 'verify', None
                result['tviews'] = verify_inside(conn, ctx, target)
            except SwapError:
                raise
            except psycopg2.Error as e:
                raise SwapError(step, e.pgerror or e, tview)
            t_end = time.monotonic()
            if rehearse:
                conn.rollback()
            else:
                conn.commit()
            t_done = time.monotonic()
            if not rehearse:
                faults.point('swap', 'committed', conn.info.dbname)
            result['window_ms'] = round((t_done - t_lock) * 1000, 1)
            result['statements_ms'] = round((t_end - t_locked) * 1000, 1)
            result['rehearsed'] = rehearse
            if ctx.get('prebuilt'):
                result['prebuilt'] = prebuild.summary(ctx)
            if keeps_tables(ctx) and not rehearse:
                _check_content(conn, ctx, result)
            return result
        except Exception:
            try:
                conn.rollback()
            except psycopg2.Error:
                pass  # the backend is gone: PostgreSQL has rolled back already
            raise
        finally:
            cur.close()
