# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API generation 0.1: the real upstream catalog (reference §1-§2).

Metadata in ``<ext schema>.pg_tview_meta`` (no refresh facts); base-table triggers call a
non-member ``tview_trigger_handler()``; ``pg_tviews_refresh(entity)`` takes a bare entity
and rebuilds the whole TVIEW; ``pg_tviews_convert_existing_table`` freezes data, so 0.1
can never adopt an existing table (TVIEWs are rebuilt from their definitions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.adapter import CatalogAdapter


class AdapterV01(CatalogAdapter):
    generation = '0.1'
    can_adopt = False
    supports_row_refresh = False
    # 0.1.x updates to a later 0.1.x (ALTER EXTENSION UPDATE); going back to 0.1 from 0.2 is a
    # rollback from the manifest, not a migration preflight admits.
    migrates_from = ('0.1',)
    trigger_prefix = 'trg_tview_'
    index_prefix = 'idx_tv_'
    helper_functions = ('tview_trigger_handler',)

    def meta_relation(self):
        from psycopg2 import sql
        return sql.Identifier(self.ext_schema, 'pg_tview_meta')

    def extra_columns(self):
        from psycopg2 import sql
        return sql.SQL("NULL::text AS refresh_policy, NULL::text AS last_refreshed, "
                       "NULL::float8 AS last_refresh_duration_ms, NULL::text AS last_error")

    def refresh_statement(self, record, primary_keys=None, cascade=False):
        """0.1 can only rebuild a whole TVIEW, by bare entity; keys and cascade are not
        expressible (the caller reports that it did a full refresh)."""
        from psycopg2 import sql
        return (sql.SQL("SELECT {}.pg_tviews_refresh({})").format(sql.Identifier(self.ext_schema), sql.Placeholder()),
                (record['entity'],))

    # --- registration: take over live tv_ tables (a rollback from 0.2 without rematerialising) -----
    # 0.1 itself cannot adopt a table (its convert function freezes data), but its catalog is plain
    # tables and triggers, so the rollback writes that catalog for the kept tables from a manifest
    # captured on 0.1: the pg_tview_meta row, the row triggers and the audit row, as
    # pg_tviews_create writes them, and its trigger helper as 0.1 itself creates it.
    can_register = True
    # upstream src/dependency/graph.rs reads only the top view; src/refresh/main.rs apply_patch
    finds_tables_through_views = False
    patches_with_jsonb_delta = True
    # A throwaway TVIEW made and dropped through 0.1's own API inside the swap's transaction (nobody
    # else ever sees it), only so that 0.1 creates tview_trigger_handler() exactly as it does (its
    # body differs between builds); its audit rows are removed with it.
    PROBE = '_pgtviews_ops_probe'

    def register_helper_statements(self):
        from psycopg2 import sql
        ext = sql.Identifier(self.ext_schema)
        probe = '%s.%s' % (sql.Identifier(self.ext_schema).as_string(self.conn), self.PROBE)
        select = "SELECT 1::bigint AS pk_%s, gen_random_uuid() AS id, '{}'::jsonb AS data" % self.PROBE
        return [
            (sql.SQL("SELECT {}.pg_tviews_create({}, {})").format(ext, sql.Placeholder(), sql.Placeholder()), (probe, select)),
            (sql.SQL("SELECT {}.pg_tviews_drop({})").format(ext, sql.Placeholder()), (probe,)),
            (sql.SQL("DELETE FROM {} WHERE entity = {}").format(
                sql.Identifier(self.ext_schema, 'pg_tview_audit_log'), sql.Placeholder()), (self.PROBE,)),
        ]

    def register_statements(self, record):
        """The catalog pg_tviews_create writes for TVIEW ``record`` (whose v_ view and tv_ table
        exist): the meta row (OIDs of the live relations, the rest as recorded on 0.1 in the
        manifest, dependencies in their recorded order), a row trigger on each dependency, the
        audit row. ``record`` carries the manifest's fields and ``trigger_tables`` [(schema, table)]."""
        from psycopg2 import sql
        ext = sql.Identifier(self.ext_schema)
        meta = sql.SQL("""
INSERT INTO {meta} (entity, view_oid, table_oid, definition, dependencies, fk_columns, uuid_fk_columns,
                    dependency_types, dependency_paths, array_match_keys)
SELECT {e}, {v}::regclass, {t}::regclass, {d},
       ARRAY(SELECT u.rel::regclass::oid FROM unnest({deps}::text[]) WITH ORDINALITY AS u(rel, i) ORDER BY u.i),
       {fk}::text[], {ufk}::text[], {dt}::text[], {dp}::text[], {mk}::text[]""").format(
            meta=sql.Identifier(self.ext_schema, 'pg_tview_meta'), e=sql.Placeholder('e'), v=sql.Placeholder('v'),
            t=sql.Placeholder('t'), d=sql.Placeholder('d'), deps=sql.Placeholder('deps'), fk=sql.Placeholder('fk'),
            ufk=sql.Placeholder('ufk'), dt=sql.Placeholder('dt'), dp=sql.Placeholder('dp'), mk=sql.Placeholder('mk'))
        out = [(meta, {'e': record['entity'], 'v': record['qualified_view'], 't': record['qualified_table'],
                       'd': record['definition'], 'deps': list(record['dependencies'] or []),
                       'fk': list(record['fk_columns'] or []),
                       'ufk': list(record['uuid_fk_columns'] or []), 'dt': list(record['dependency_types'] or []),
                       'dp': list(record['dependency_paths'] or []), 'mk': list(record['array_match_keys'] or [])})]
        for schema, table in record['trigger_tables']:
            out.append((sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW "
                                "EXECUTE FUNCTION {}.tview_trigger_handler({})").format(
                sql.Identifier('%s%s_on_%s' % (self.trigger_prefix, record['entity'], table)),
                sql.Identifier(schema, table), ext, sql.Literal(record['entity'])), None))
        out.append((sql.SQL("INSERT INTO {} (operation, entity, details) VALUES ('CREATE', {}, "
                            "jsonb_build_object('definition', {}::text, 'version', {}.pg_tviews_version()))").format(
            sql.Identifier(self.ext_schema, 'pg_tview_audit_log'), sql.Placeholder(), sql.Placeholder(), ext),
            (record['entity'], record['definition'])))
        return out
