# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API generation 0.2: the planned API (reference §5, DESIGN.md).

Metadata in ``tviews.tview_meta`` (a ``pg_`` schema name is reserved) with refresh facts;
the unified ``pg_tviews_refresh(tview_name => …, primary_keys => …, cascade => …)``;
``pg_tviews_convert_existing_table`` adopts a live ``tv_`` table without rematerialising it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.adapter import CatalogAdapter

INTERNAL_SCHEMA = 'tviews'


class AdapterV02(CatalogAdapter):
    generation = '0.2'
    can_adopt = True
    supports_row_refresh = True
    migrates_from = ('0.1',)   # no update path: a swap (DROP/CREATE EXTENSION) in one transaction
    trigger_prefix = 'trg_tview_'
    index_prefix = 'idx_tv_'
    helper_functions = ()      # its trigger handler is a member of the extension

    def meta_relation(self):
        from psycopg2 import sql
        return sql.Identifier(INTERNAL_SCHEMA, 'tview_meta')

    def extra_columns(self):
        from psycopg2 import sql
        return sql.SQL("m.refresh_policy, "
                       "to_char(m.last_refreshed AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_refreshed, "
                       "m.last_refresh_duration_ms, m.last_error")

    def refresh_statement(self, record, primary_keys=None, cascade=False):
        from psycopg2 import sql
        return (sql.SQL("SELECT {}.pg_tviews_refresh(tview_name => {}, primary_keys => {}::bigint[], cascade => {})").format(
            sql.Identifier(self.ext_schema), sql.Placeholder(), sql.Placeholder(), sql.Placeholder()),
            (record['qualified_table'], list(primary_keys) if primary_keys else None, bool(cascade)))

    def adopt_statement(self, record):
        from psycopg2 import sql
        return (sql.SQL("SELECT {}.pg_tviews_convert_existing_table({})").format(
            sql.Identifier(self.ext_schema), sql.Placeholder()), (record['qualified_table'],))
