# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything known about one database, gathered once: detection facts, TVIEW records
through the generation's adapter, and the generation-independent objects around them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import detect as detect_mod
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for

SUBSETS = ('catalog', 'data')


def tviews(conn, facts):
    """(adapter, records, order) for an installed extension."""
    adapter = adapter_for(conn, facts)
    records, order = adapter.records()
    return adapter, records, order


def attach_details(conn, records):
    """Add indexes, grants, comment and owner of each record's tv_ table and v_ view."""
    names = [n for r in records for n in (r['qualified_table'], r['qualified_view']) if n]
    details = objects.relation_details(conn, names)
    for r in records:
        r['table_details'] = details.get(r['qualified_table'])
        r['view_details'] = details.get(r['qualified_view'])


def base_tables(records):
    """Qualified names of every base relation TVIEWs read, other TVIEWs' tables excluded."""
    own = set(r['qualified_table'] for r in records)
    names = set()
    for r in records:
        names.update(d for d in r['dependencies'] if d not in own)
    return sorted(names)


def snapshot(conn, gather_subset=('catalog',)):
    facts = detect_mod.detect(conn)
    result = {'database': facts['database'], 'facts': facts, 'tviews': [], 'order': [],
              'triggers': [], 'dependents': [], 'extension_dependents': [], 'non_member_helpers': [],
              'health_check': [], 'prepared_transactions': objects.prepared_transactions(conn),
              'sessions': objects.other_sessions(conn), 'base_tables': {}}
    if not facts['installed']:
        return result
    adapter, records, order = tviews(conn, facts)
    attach_details(conn, records)
    result.update(tviews=records, order=order, triggers=objects.tview_triggers(conn),
                  dependents=objects.tview_dependents(conn, records),
                  extension_dependents=objects.extension_dependents(conn),
                  non_member_helpers=objects.non_member_helpers(conn))
    if facts['library_version'] is not None:
        result['health_check'] = objects.health_check(conn, facts['schema'])
    if 'data' in gather_subset:
        add_content_stats(conn, result)
    return result


def add_tview_stats(conn, records):
    """Row count, content checksum (timestamps left out) and id checksum of each tv_ table, over
    the rows a rebuild reproduces; ``stale_rows``: the others, rows whose key the view no longer
    has (pg_tviews 0.1 leaves one on every DELETE), which a rebuild drops."""
    for r in records:
        if r['table']:
            stale = objects.stale_rows(conn, r) if r.get('qualified_view') else 0
            live = r if stale else None
            stats = objects.content_stats(conn, r['schema'], r['table'], objects.VOLATILE_TV_COLUMNS, live=live)
            r['row_count'], r['checksum'], r['stale_rows'] = stats['row_count'], stats['checksum'], stale
            r['id_checksum'] = objects.id_checksum(conn, r['schema'], r['table'], r['pk_column'], live) if r['pk_column'] else None


def add_content_stats(conn, result):
    """Row counts and checksums of every tv_ table and base table. O(data)."""
    add_tview_stats(conn, result['tviews'])
    for qualified in base_tables(result['tviews']):
        schema, table = split_qualified(conn, qualified)
        result['base_tables'][qualified] = objects.content_stats(conn, schema, table)


def split_qualified(conn, qualified):
    """Back from format('%I.%I') text to (schema, name), by asking the server."""
    from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_one
    row = fetch_one(conn, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE c.oid = %s::regclass", (qualified,))
    return row['nspname'], row['relname']


def gather(params, databases=None, all_databases=False, gather_subset=('catalog',)):
    """{database: snapshot} of ``databases`` (default: the login database), or with
    ``all_databases`` of every database with pg_tviews installed (detect.discover)."""
    from ansible_collections.pgtviews.ops.plugins.module_utils.connection import DatabaseConnectionError, connect
    if all_databases:
        conn = connect(params)
        try:
            found = detect_mod.discover(params, conn)
        finally:
            conn.close()
        for dummy, error in found['unreachable']:
            raise DatabaseConnectionError(error)
        names = found['targets']
    else:
        names = databases or [params['login_db']]
    out = {}
    for name in names:
        conn = connect(params, name)
        try:
            out[name] = snapshot(conn, gather_subset)
        finally:
            conn.close()
    return out
