# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""States real 0.1 databases carry because of how upstream pg_tviews 0.1 behaves (issue 20):
TVIEWs without triggers (their SELECT reads only views, which 0.1 does not look through),
metadata left behind by a DROP TABLE in a session without the library's hook, plain tables
named tv_* from a CREATE TABLE ... AS in such a session, and jsonb_delta switching 0.1's
writes to smart patches. Each is found read-only and reported with what it means before and
after the migration and what to do; orphaned metadata is removed only on request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import ADAPTERS, trigger_of
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import FAIL, PASS, SKIP, WARN, check

# The relations a view reads, through plain views (what 0.2 follows; 0.1 reads only the top view).
_VIEW_TABLES_SQL = """
WITH RECURSIVE reads(relid) AS (
    SELECT %s::regclass::oid
    UNION
    SELECT d.refobjid
      FROM reads r
      JOIN pg_catalog.pg_class rc ON rc.oid = r.relid AND rc.relkind = 'v'
      JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = r.relid
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid
                                 AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> r.relid
)
SELECT format('%%I.%%I', n.nspname, c.relname), c.relkind::text
  FROM reads r JOIN pg_catalog.pg_class c ON c.oid = r.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.relid <> %s::regclass::oid
 ORDER BY 1"""

_TV_TABLES_SQL = """
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname LIKE 'tv\\_%' AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY 1"""


def _rows(conn, query, params=None):
    cur = conn.cursor()
    try:
        cur.execute(query, params)
        return cur.fetchall()
    finally:
        cur.close()


def _end(conn):
    """Close the read transaction the queries opened (psycopg2 opens one implicitly)."""
    if not conn.autocommit:
        conn.rollback()


def find(conn, records, generation, triggers):
    """Read-only: {frozen, orphans, unregistered, jsonb_delta} of one database. ``triggers``: the
    pg_tviews triggers (catalog.objects.tview_triggers)."""
    states = {'frozen': [], 'orphans': [], 'unregistered': [], 'jsonb_delta': None}
    adapter = ADAPTERS[generation]
    try:
        for r in records:
            if not r.get('qualified_table'):
                # the table is gone: its name as create made it, in the schema of its v_ view
                table = ('%s.tv_%s' % (r['view_schema'], r['entity'])) if r.get('view_schema') else 'tv_' + r['entity']
                states['orphans'].append({'entity': r['entity'], 'table': table, 'view': r.get('qualified_view'),
                                          'triggers': ['%s on %s' % (t['name'], t['table']) for t in triggers
                                                       if trigger_of(t['name'], r['entity'])]})
            elif not adapter.finds_tables_through_views and not r.get('dependencies') and r.get('qualified_view'):
                reads = _rows(conn, _VIEW_TABLES_SQL, (r['qualified_view'], r['qualified_view']))
                states['frozen'].append({'entity': r['entity'], 'table': r['qualified_table'],
                                         'views': [n for n, k in reads if k == 'v'],
                                         'tables': [n for n, k in reads if k in ('r', 'm', 'p')]})
        known = set(r['qualified_table'] for r in records if r.get('qualified_table'))
        states['unregistered'] = [t for (t,) in _rows(conn, _TV_TABLES_SQL) if t not in known]
        ext = _rows(conn, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'jsonb_delta'")
        if ext and adapter.patches_with_jsonb_delta:
            live = [r for r in records if r.get('qualified_table')]
            states['jsonb_delta'] = {
                'version': ext[0][0],
                'patched': sorted(r['entity'] for r in live if r.get('dependency_types')),
                'array': sorted(r['entity'] for r in live if 'array' in (r.get('dependency_types') or []))}
    finally:
        _end(conn)
    return states


def clean_orphans(conn, ext_schema, orphans, lock_timeout_ms):
    """Remove each orphan's leftovers (v_ view, triggers, metadata row, with an audit DROP row)
    through the installed pg_tviews_drop, one transaction each. Returns [{entity, error}]."""
    from psycopg2 import sql
    done = []
    was_autocommit = conn.autocommit
    conn.autocommit = False
    try:
        for o in orphans:
            cur = conn.cursor()
            try:
                cur.execute("SET LOCAL lock_timeout = %s", ('%dms' % max(int(lock_timeout_ms), 1),))
                cur.execute(sql.SQL("SELECT {}.pg_tviews_drop(%s)").format(sql.Identifier(ext_schema)), (o['entity'],))
                conn.commit()
                done.append({'entity': o['entity'], 'error': None})
            except Exception as e:  # reported per entity; the others are still tried
                conn.rollback()
                done.append({'entity': o['entity'], 'error': ' '.join(str(e).split())})
            finally:
                cur.close()
    finally:
        conn.autocommit = was_autocommit
    return done


def _some(items, n=5):
    items = list(items)
    more = len(items) - n
    return '; '.join(items[:n]) + (' and %d more' % more if more > 0 else '')


def orphaned_metadata(database, orphans, clean, cleaned=None, check_mode=False):
    if not orphans:
        return check('orphaned_metadata', PASS, 'every registered TVIEW has its tv_ table', database)

    def left(o):
        parts = []
        if o['view']:
            parts.append('its view %s' % o['view'])
        if o['triggers']:
            parts.append('%d trigger(s) (%s)' % (len(o['triggers']), ', '.join(o['triggers'])))
        return "'%s' (table %s gone%s)" % (o['entity'], o['table'], '; left: ' + ' and '.join(parts) if parts else '')

    what = _some(left(o) for o in orphans)
    entities = [o['entity'] for o in orphans]
    if clean and check_mode:
        return check('orphaned_metadata', WARN, 'would remove the leftovers of %d TVIEW(s) whose table is gone, as '
                     'tviews_preflight_clean_orphaned_metadata asks (not in check mode): %s' % (len(orphans), what),
                     database, entities=entities)
    if clean and cleaned is not None:
        failed = [c for c in cleaned if c['error']]
        if failed:
            names = ', '.join("'%s'" % c['entity'] for c in failed)
            errors = _some('%s: %s' % (c['entity'], c['error']) for c in failed)
            return check('orphaned_metadata', FAIL, 'could not remove the leftovers of %s with pg_tviews_drop: %s. Fix the '
                         'cause (for example drop what depends on the v_ view) and run preflight again' % (names, errors),
                         database, entities=entities)
        return check('orphaned_metadata', PASS, 'removed the leftovers of %d TVIEW(s) whose table was gone with '
                     'pg_tviews_drop (view, triggers, metadata row; an audit DROP row each), as '
                     'tviews_preflight_clean_orphaned_metadata asked: %s' % (len(orphans), what), database,
                     entities=entities, cleaned=True)
    return check('orphaned_metadata', FAIL, 'pg_tviews still registers %d TVIEW(s) whose tv_ table is gone: %s. A DROP '
                 'TABLE in a session that had not loaded the pg_tviews library is not routed to pg_tviews_drop, so the '
                 'metadata row, view and triggers stay; the migration would recreate these TVIEWs from their definitions. '
                 "Remove the leftovers with SELECT pg_tviews_drop('<entity>'), or set "
                 'tviews_preflight_clean_orphaned_metadata: true to have preflight do that; to keep such a TVIEW, '
                 'remove the leftovers and create it again with pg_tviews_create' % (len(orphans), what), database, entities=entities)


def frozen_tviews(database, frozen, target):
    if not frozen:
        return check('frozen_tviews', PASS, 'every TVIEW has base tables with pg_tviews triggers', database)

    def one(f):
        reads = ', '.join(f['views']) or 'no table'
        if f['tables']:
            after = ('after the migration to %s it will be: %s follows views and puts triggers on %s; a rollback into '
                     '0.1 makes it frozen again' % (target, target, ', '.join(f['tables'])))
        else:
            after = 'after the migration it will stay so: no table is found behind its views either'
        return ("%s has no triggers under 0.1 (its SELECT reads only views: %s, and pg_tviews 0.1 does not look through "
                "views for base tables), so writes do not reach it and it is not kept up to date today (only "
                "pg_tviews_refresh('%s') updates it); %s" % (f['table'], reads, f['entity'], after))

    return check('frozen_tviews', WARN, '%s. Nothing to do unless the application relies on these staying as they are; '
                 'the drift check shows whether they are behind their views now' % _some(one(f) for f in frozen),
                 database, tviews=[f['entity'] for f in frozen])


def unregistered_tables(database, tables):
    if not tables:
        return check('unregistered_tables', PASS, 'no plain table named tv_* outside pg_tviews', database)
    return check('unregistered_tables', WARN, '%s %s named like a TVIEW but pg_tviews does not know %s (a CREATE TABLE '
                 'tv_x AS SELECT in a session that had not loaded the pg_tviews library stays a plain table): nothing '
                 'keeps %s up to date today, and the migration leaves %s as %s, so nothing will afterwards either. To '
                 'make one a TVIEW, drop it and create it with pg_tviews_create after the migration'
                 % (_some(tables), 'is a plain table' if len(tables) == 1 else 'are plain tables',
                    'it' if len(tables) == 1 else 'them', 'it' if len(tables) == 1 else 'them',
                    'it' if len(tables) == 1 else 'they', 'it is' if len(tables) == 1 else 'they are'),
                 database, tables=tables)


def jsonb_delta(database, state, target):
    if state is None:
        return check('jsonb_delta', SKIP, 'jsonb_delta is not installed, or the installed pg_tviews does not use it',
                     database)
    if not state['patched']:
        return check('jsonb_delta', PASS, 'jsonb_delta %s is installed, but no TVIEW has dependency metadata, so '
                     'pg_tviews 0.1 upserts rows as it does without it' % state['version'], database)
    text = ('jsonb_delta %s is installed, so pg_tviews 0.1 refreshes the rows of %d TVIEW(s) with dependency metadata '
            '(%s) by patching their data with jsonb_smart_patch_* instead of upserting them: a write changes only data '
            'at the dependency paths and never adds a row missing from tv_'
            % (state['version'], len(state['patched']), _some(state['patched'], 8)))
    if state['array']:
        text += (', and a write fails for TVIEWs with array dependencies (%s), because pg_tviews calls '
                 'jsonb_smart_patch_array with arguments jsonb_delta does not have' % ', '.join(state['array']))
    text += ('. Those tv_ tables may differ from their views today (see drift; pg_tviews_refresh repairs them). pg_tviews '
             '%s does not use jsonb_delta: after the migration every write upserts the whole row; a rollback into 0.1 '
             'brings the patching back. jsonb_delta itself is left installed' % target)
    return check('jsonb_delta', WARN, text, database, tviews=state['patched'], array=state['array'])
