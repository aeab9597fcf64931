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
