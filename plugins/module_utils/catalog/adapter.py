# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface every API generation's adapter implements, and the part of reading
TVIEW records that is the same for all generations (resolving OIDs to names, the
TVIEW-to-TVIEW dependency graph). What differs lives in v01.py / v02.py only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_all
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.order import dependency_order

# Resolves the OIDs a metadata table stores to names (OIDs mean nothing once objects are
# recreated or restored). {meta} and {extra} are filled by the adapter with sql.SQL.
_RECORDS_SQL = """
SELECT m.entity,
       tn.nspname AS schema, t.relname AS table, vn.nspname AS view_schema, v.relname AS view,
       CASE WHEN t.oid IS NOT NULL THEN format('%I.%I', tn.nspname, t.relname) END AS qualified_table,
       CASE WHEN v.oid IS NOT NULL THEN format('%I.%I', vn.nspname, v.relname) END AS qualified_view,
       m.definition,
       CASE WHEN v.oid IS NOT NULL THEN pg_get_viewdef(v.oid, true) END AS view_definition,
       (SELECT a.attname FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = t.oid AND i.indisprimary) AS pk_column,
       m.fk_columns, m.uuid_fk_columns, m.dependency_types, m.dependency_paths, m.array_match_keys,
       ARRAY(SELECT format('%I.%I', dn.nspname, dc.relname)
               FROM unnest(m.dependencies) WITH ORDINALITY AS d(oid, i)
               JOIN pg_class dc ON dc.oid = d.oid
               JOIN pg_namespace dn ON dn.oid = dc.relnamespace
              ORDER BY d.i) AS dependencies,
       cardinality(m.dependencies) AS dependency_count,
       ARRAY(SELECT DISTINCT format('%I.%I', rn.nspname, rc.relname)
               FROM pg_rewrite r
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
               JOIN pg_class rc ON rc.oid = d.refobjid
               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE r.ev_class = v.oid) AS view_reads,
       to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
       {extra}
  FROM {meta} m
  LEFT JOIN pg_class t ON t.oid = m.table_oid
  LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
  LEFT JOIN pg_class v ON v.oid = m.view_oid
  LEFT JOIN pg_namespace vn ON vn.oid = v.relnamespace
 ORDER BY m.entity
"""


class CatalogAdapter(object):
    """Base class: subclasses set ``generation`` and implement the hooks below."""

    generation = None
    can_adopt = False              # can take over a live tv_ table without rematerialising it
    can_register = False           # can have its catalog written for live tv_ tables from a manifest of its own
    finds_tables_through_views = True  # a TVIEW reading only views still gets the base tables behind them
    patches_with_jsonb_delta = False   # refreshes with jsonb_delta's smart patches when that is installed
    supports_row_refresh = False   # can refresh chosen primary keys
    migrates_from = ()             # generations a database may be migrated to this one from
    trigger_prefix = None          # pg_tviews' own base-table triggers: <prefix><entity>_on_<table>
    index_prefix = None            # indexes pg_tviews_create makes on a tv_ table
    helper_functions = ()          # functions it creates outside the extension (they survive DROP EXTENSION)

    def __init__(self, conn, ext_schema):
        self.conn = conn
        self.ext_schema = ext_schema

    # --- hooks (generation specific) ---------------------------------------------------
    def meta_relation(self):
        """sql.Composable naming the metadata table."""
        raise NotImplementedError

    def extra_columns(self):
        """sql.Composable: extra select-list items; must end without a trailing comma."""
        raise NotImplementedError

    def create_statement(self, record):
        """Create a TVIEW from its recorded definition. Both generations keep
        pg_tviews_create(name, select); the entity comes from the SELECT's pk_ column."""
        from psycopg2 import sql
        return (sql.SQL("SELECT {}.pg_tviews_create({}, {})").format(
            sql.Identifier(self.ext_schema), sql.Placeholder(), sql.Placeholder()), (record['entity'], record['definition']))

    # --- shared --------------------------------------------------------------------------
    def records(self):
        """Normalised TVIEW records, each with ``depends_on`` (entities), and the
        dependency order (create in this order, drop in reverse)."""
        from psycopg2 import sql
        query = sql.SQL(_RECORDS_SQL).format(meta=self.meta_relation(), extra=self.extra_columns())
        rows = fetch_all(self.conn, query)
        by_table, by_view = {}, {}
        for r in rows:
            r['generation'] = self.generation
            by_table[r['qualified_table']] = r['entity']
            by_view[r['qualified_view']] = r['entity']
        entities = set(r['entity'] for r in rows)
        graph = {}
        for r in rows:
            deps = set()
            for rel in list(r['dependencies']) + list(r['view_reads']):
                other = by_table.get(rel) or by_view.get(rel)
                if other:
                    deps.add(other)
            for fk in r['fk_columns'] or []:
                # fk_<x> lineage: x's TVIEW is refreshed first, so it is created first.
                if fk.startswith('fk_') and fk[3:] in entities:
                    deps.add(fk[3:])
            deps.discard(r['entity'])
            r['depends_on'] = sorted(deps)
            graph[r['entity']] = deps
        order = dependency_order(graph)
        return rows, order
