# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recreate TVIEWs from a manifest outside the swap: after a pg_dump restore (which brings
back tv_/v_ objects and triggers but none of pg_tviews' metadata rows), or for chosen TVIEWs.
Leftover objects are dropped and each TVIEW is created again through the installed API, in
dependency order, in one transaction, then checked against the manifest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_value
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import detect as detect_mod
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for, trigger_of
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import transaction as swap


def _exists(conn, qualified):
    return bool(qualified) and fetch_value(conn, "SELECT to_regclass(%s) IS NOT NULL", (qualified,))


def build_plan(conn, document, only=None):
    """(plan, context). Entities already registered with live objects are left alone."""
    facts = detect_mod.detect(conn)
    adapter = adapter_for(conn, facts)
    live, dummy = adapter.records()
    registered = set(r['entity'] for r in live if r['qualified_table'] and r['qualified_view'])
    wanted = [t for t in document['tviews'] if (not only or t['entity'] in only) and t['entity'] not in registered]
    if only:
        unknown = sorted(set(only) - set(t['entity'] for t in document['tviews']))
        if unknown:
            raise swap.SwapError('plan', "not in the manifest: %s" % ', '.join(unknown))
    order = [e for e in document['order'] if e in set(t['entity'] for t in wanted)]
    ctx = {'facts': facts, 'wanted': wanted, 'order': order, 'done': not wanted, 'skipped': sorted(registered)}
    plan = swap.Plan()
    if not wanted:
        return plan, ctx
    leftovers = {}
    for t in wanted:
        leftovers[t['entity']] = dict(t, qualified_table=t['qualified_table'] if _exists(conn, t['qualified_table']) else None,
                                      qualified_view=t['qualified_view'] if _exists(conn, t['qualified_view']) else None)
    roots = [n for r in leftovers.values() for n in (r['qualified_table'], r['qualified_view']) if n]
    own = [n for t in document['tviews'] for n in (t['qualified_table'], t['qualified_view'])]
    deps = [d for d in objects.dependents(conn, roots) if d['name'] not in own]
    names = set(t['entity'] for t in wanted)
    stale = [t for t in objects.tview_triggers(conn)
             if any(trigger_of(t['name'], e) for e in names)]
    ctx['dependents'], ctx['stale_triggers'] = deps, stale
    swap.plan_set_aside(plan, deps)
    swap.plan_drop_triggers(plan, stale)
    swap.plan_drop_tviews(plan, leftovers, order)
    swap.plan_rebuild(conn, plan, adapter, dict((t['entity'], t) for t in wanted), order)
    swap.plan_restore_dependents(plan, deps)
    return plan, ctx


def execute(conn, plan, ctx, check_data=True):
    """Run the plan in one transaction; compare row counts and ids with the manifest before
    COMMIT (``check_data``). Any failure rolls back."""
    import psycopg2
    conn.autocommit = False
    step = tview = None
    outcomes = []
    try:
        with conn.cursor() as cur:
            for step, tview, statement, params in plan.steps:
                cur.execute(statement, params)
        step = 'verify'
        for t in ctx['wanted']:
            tview = t['entity']
            stats = objects.content_stats(conn, t['schema'], t['table'], objects.VOLATILE_TV_COLUMNS)
            ids = objects.id_checksum(conn, t['schema'], t['table'], t['pk_column']) if t.get('pk_column') else None
            if check_data and t.get('row_count') is not None and stats['row_count'] != t['row_count']:
                raise swap.SwapError('verify', "%s rows, the manifest has %s" % (stats['row_count'], t['row_count']), tview)
            if check_data and t.get('id_checksum') and ids != t['id_checksum']:
                raise swap.SwapError('verify', "id values differ from the manifest", tview)
            outcomes.append({'tview': tview, 'table': t['qualified_table'], 'rows': stats['row_count']})
        conn.commit()
        return outcomes
    except swap.SwapError:
        conn.rollback()
        raise
    except psycopg2.Error as e:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass
        raise swap.SwapError(step, e.pgerror or e, tview)
