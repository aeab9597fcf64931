# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The write-path test: inside a transaction that is always rolled back, UPDATE one row of a
TVIEW's own base table (the table whose primary key is the TVIEW's pk_ column) and check
that the tv_ row changed and now equals its v_ row, which proves the base-table trigger and
the refresh behind it work on the installed version.

The value changed is a text column of the base row with a marker appended; columns are tried
in order (each under a savepoint) until one shows up in the view. Other triggers on the base
table fire too and are rolled back with everything else; side effects outside the database
(dblink, external notifications sent by triggers) are not covered by the rollback."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_all
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects

MARKER = ' [pgtviews.ops write-path test]'
TEXT_TYPES = ('text', 'character varying', 'character')


def own_base_table(conn, record, tviews_tables):
    """(schema, table) of the base table keyed like the TVIEW (same pk column), or None."""
    for qualified in record.get('dependencies') or []:
        if qualified in tviews_tables:
            continue
        row = fetch_all(conn, "SELECT n.nspname, c.relname, c.relkind::text AS kind FROM pg_class c "
                              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass", (qualified,))
        if not row or row[0]['kind'] not in ('r', 'p'):
            continue
        dummy, pk = objects.table_columns(conn, row[0]['nspname'], row[0]['relname'])
        if pk == [record['pk_column']]:
            return row[0]['nspname'], row[0]['relname']
    return None


def text_columns(conn, schema, table, exclude):
    return [r['attname'] for r in fetch_all(conn, """
        SELECT a.attname::text AS attname FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
           AND format_type(a.atttypid, NULL) = ANY(%s)
         ORDER BY a.attnum""", (schema, table, list(TEXT_TYPES))) if r['attname'] not in exclude]


def _row_text(cur, sql, rel, cols, pk_column, pk):
    cur.execute(sql.SQL("SELECT ROW({c})::text FROM {rel} WHERE {pk} = %s").format(
        c=sql.SQL(', ').join(sql.Identifier(c) for c in cols), rel=rel, pk=sql.Identifier(pk_column)), (pk,))
    row = cur.fetchone()
    return row[0] if row else None


def test_tview(conn, record, base, lock_timeout_ms=2000):
    """One TVIEW on ``conn`` (autocommit; the test opens and always rolls back its own
    transaction). Returns {tview, base_table, column, status: pass|fail|untestable, detail}."""
    from psycopg2 import sql
    schema, table = base
    result = {'tview': record['entity'], 'base_table': '%s.%s' % (schema, table), 'column': None,
              'status': 'untestable', 'detail': None}
    view_cols, dummy = objects.table_columns(conn, record['view_schema'], record['view'])
    pk_col = record['pk_column']
    tv = sql.Identifier(record['schema'], record['table'])
    v = sql.Identifier(record['view_schema'], record['view'])
    base_rel = sql.Identifier(schema, table)
    candidates = text_columns(conn, schema, table, (pk_col, 'id'))
    if not candidates:
        result['detail'] = 'its base table %s.%s has no text column to change' % (schema, table)
        return result
    errors = []
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute("SET LOCAL lock_timeout = %s", ('%dms' % lock_timeout_ms,))
            cur.execute(sql.SQL("SELECT {pk} FROM {tv} ORDER BY {pk} LIMIT 1").format(pk=sql.Identifier(pk_col), tv=tv))
            row = cur.fetchone()
            if row is None:
                result['detail'] = 'its tv_ table is empty'
                return result
            pk = row[0]
            before = _row_text(cur, sql, tv, view_cols, pk_col, pk)
            for col in candidates:
                cur.execute("SAVEPOINT pgtviews_write_test")
                try:
                    cur.execute(sql.SQL("UPDATE {rel} SET {c} = {c} || %s WHERE {pk} = %s").format(
                        rel=base_rel, c=sql.Identifier(col), pk=sql.Identifier(pk_col)), (MARKER, pk))
                    after = _row_text(cur, sql, tv, view_cols, pk_col, pk)
                    view_after = _row_text(cur, sql, v, view_cols, pk_col, pk)
                except Exception as e:
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_write_test")
                    errors.append('%s: %s' % (col, ' '.join(str(getattr(e, 'pgerror', None) or e).split())))
                    continue
                if view_after == before:
                    # This column does not show in the view: try the next one.
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_write_test")
                    continue
                result['column'] = col
                if after == view_after:
                    result.update(status='pass', detail='UPDATE of %s.%s (pk %s) reached the tv_ row' % (table, col, pk))
                elif after == before:
                    result.update(status='fail', detail='UPDATE of %s.%s (pk %s) changed the view but not the tv_ row'
                                  % (table, col, pk))
                else:
                    result.update(status='fail', detail='after an UPDATE of %s.%s (pk %s) the tv_ row differs from its view'
                                  % (table, col, pk))
                return result
            result['detail'] = ('no text column of %s.%s shows in the view' % (schema, table)) + (
                ' (errors: %s)' % '; '.join(errors) if errors else '')
            if errors and len(errors) == len(candidates):
                result.update(status='fail', detail='every UPDATE of %s.%s failed: %s' % (schema, table, '; '.join(errors)))
            return result
        finally:
            cur.execute("ROLLBACK")


def run(conn, records, lock_timeout_ms=2000, only=None):
    """Test every TVIEW (or those named in ``only``) that has its own base table."""
    tables = set(r['qualified_table'] for r in records if r.get('qualified_table'))
    results = []
    for r in records:
        if only and r['entity'] not in only and r.get('qualified_table') not in only:
            continue
        if not (r.get('pk_column') and r.get('qualified_table') and r.get('qualified_view')):
            continue
        base = own_base_table(conn, r, tables)
        if base is None:
            continue
        try:
            results.append(test_tview(conn, r, base, lock_timeout_ms))
        except Exception as e:
            results.append({'tview': r['entity'], 'base_table': '%s.%s' % base, 'column': None, 'status': 'fail',
                            'detail': ' '.join(str(getattr(e, 'pgerror', None) or e).split())})
    return results
