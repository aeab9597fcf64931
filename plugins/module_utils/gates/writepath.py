# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The write-path test: inside a transaction that is always rolled back, UPDATE one row of a
TVIEW's own base table (the table whose primary key is the TVIEW's pk_ column) and check
that the tv_ row changed and now equals its v_ row, which proves the base-table trigger and
the refresh behind it work on the installed version.

It runs beside the application, so it takes as little as it can: the row is the one with the
smallest fan-out (fewest rows of other TVIEWs that carry its key in an fk_ column, among a
bounded sample), the transaction waits at most ``lock_timeout_ms`` for a lock and runs at most
STATEMENT_TIMEOUT_MS per statement, and the session's short deadlock_timeout makes it, never the
application, the victim of a deadlock. A busy row (lock timeout, deadlock, cancel) is given up
at once and the next candidate tried; when every candidate is busy the result is ``busy``, a
warning, not a failure.

The value changed is a text column of the base row with a marker appended; columns are tried
in order (each under a savepoint) until one shows up in the view. Other triggers on the base
table fire too and are rolled back with everything else; side effects outside the database
(dblink, external notifications sent by triggers) are not covered by the rollback."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_all
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects

MARKER = ' [pgtviews.ops write-path test]'
TEXT_TYPES = ('text', 'character varying', 'character')
# Rows of the TVIEW considered when looking for the smallest fan-out, and rows tried.
SAMPLE_ROWS = 1000
CANDIDATES = 3
STATEMENT_TIMEOUT_MS = 500
BUSY_SQLSTATES = ('55P03', '40P01', '57014', '40001')   # lock timeout, deadlock, cancel, serialization


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


def fan_out_dependents(record, records):
    """(schema, table, fk column) of each other TVIEW that carries this TVIEW's key in an fk_
    column: those rows are refreshed too when the base row changes."""
    fk = 'fk_' + record['entity']
    return [(r['schema'], r['table'], fk) for r in records
            if r is not record and r.get('table') and fk in (r.get('fk_columns') or [])]


def candidate_keys(conn, record, records, n=CANDIDATES, sample=SAMPLE_ROWS):
    """Up to ``n`` primary keys of the TVIEW, fewest dependent rows first (ties: smallest key),
    among its ``sample`` smallest keys. One pass over each dependent tv_ table, read only."""
    from psycopg2 import sql
    pk = sql.Identifier(record['pk_column'])
    refs = [sql.SQL("SELECT {fk} AS k FROM {rel} WHERE {fk} IN (SELECT k FROM cand)").format(
        fk=sql.Identifier(fk), rel=sql.Identifier(schema, table)) for schema, table, fk in fan_out_dependents(record, records)]
    refs_sql = sql.SQL(" UNION ALL ").join(refs) if refs else sql.SQL("SELECT NULL::bigint AS k WHERE false")
    # keys the view still has: a stale row 0.1 left behind a delete has no base row to write
    query = sql.SQL("WITH cand AS (SELECT t.{pk} AS k FROM {tv} ORDER BY t.{pk} LIMIT {sample}), refs AS ({refs}) "
                    "SELECT cand.k, count(refs.k) AS fan_out FROM cand LEFT JOIN refs ON refs.k = cand.k "
                    "GROUP BY cand.k ORDER BY 2, 1 LIMIT {n}").format(
        pk=pk, tv=objects.tv_rows_from(record['schema'], record['table'], record if record.get('qualified_view') else None),
        sample=sql.Literal(int(sample)), refs=refs_sql,
        n=sql.Literal(int(n)))
    with conn.cursor() as cur:
        cur.execute(query)
        return [(row[0], row[1]) for row in cur.fetchall()]


def _row_text(cur, sql, rel, cols, pk_column, pk):
    cur.execute(sql.SQL("SELECT ROW({c})::text FROM {rel} WHERE {pk} = %s").format(
        c=sql.SQL(', ').join(sql.Identifier(c) for c in cols), rel=rel, pk=sql.Identifier(pk_column)), (pk,))
    row = cur.fetchone()
    return row[0] if row else None


def _busy(e):
    return getattr(e, 'pgcode', None) in BUSY_SQLSTATES


def _one_line(e):
    return ' '.join(str(getattr(e, 'pgerror', None) or e).split())


def test_tview(conn, record, base, lock_timeout_ms=50, records=(), sleep=time.sleep):
    """One TVIEW on ``conn`` (autocommit; each try opens and always rolls back its own
    transaction). Returns {tview, base_table, column, primary_key, fan_out, status:
    pass|fail|untestable|busy, detail}."""
    schema, table = base
    result = {'tview': record['entity'], 'base_table': '%s.%s' % (schema, table), 'column': None,
              'primary_key': None, 'fan_out': None, 'status': 'untestable', 'detail': None}
    candidates = text_columns(conn, schema, table, (record['pk_column'], 'id'))
    if not candidates:
        result['detail'] = 'its base table %s.%s has no text column to change' % (schema, table)
        return result
    keys = candidate_keys(conn, record, list(records) or [record])
    if not keys:
        result['detail'] = 'its tv_ table is empty'
        return result
    busy = []
    for pk, fan_out in keys:
        result.update(primary_key=pk, fan_out=fan_out)
        try:
            return _try_row(conn, record, base, candidates, pk, lock_timeout_ms, result)
        except Exception as e:  # a busy row is skipped; anything else is the result
            if not _busy(e):
                raise
            busy.append('pk %s: %s' % (pk, _one_line(e)))
            sleep(0.05)
    result.update(status='busy', detail='every row tried was busy with the application (%s); the test gave way'
                  % '; '.join(busy))
    return result


def _try_row(conn, record, base, candidates, pk, lock_timeout_ms, result):
    from psycopg2 import sql
    schema, table = base
    view_cols, dummy = objects.table_columns(conn, record['view_schema'], record['view'])
    pk_col = record['pk_column']
    tv = sql.Identifier(record['schema'], record['table'])
    v = sql.Identifier(record['view_schema'], record['view'])
    base_rel = sql.Identifier(schema, table)
    errors = []
    with conn.cursor() as cur:
        # One snapshot for the whole test: the tv_ row the trigger wrote and the view it is compared
        # with must not see the application's commits in between (a rename committed between the two
        # reads made a correct write path look broken). A row the application changes meanwhile
        # raises a serialization failure: busy, and the test tries another row.
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            cur.execute("SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                        ('%dms' % lock_timeout_ms, '%dms' % STATEMENT_TIMEOUT_MS))
            before = _row_text(cur, sql, tv, view_cols, pk_col, pk)
            for col in candidates:
                cur.execute("SAVEPOINT pgtviews_write_test")
                try:
                    cur.execute(sql.SQL("UPDATE {rel} SET {c} = {c} || %s WHERE {pk} = %s").format(
                        rel=base_rel, c=sql.Identifier(col), pk=sql.Identifier(pk_col)), (MARKER, pk))
                    after = _row_text(cur, sql, tv, view_cols, pk_col, pk)
                    view_after = _row_text(cur, sql, v, view_cols, pk_col, pk)
                except Exception as e:
                    if _busy(e):
                        raise
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_write_test")
                    errors.append('%s: %s' % (col, _one_line(e)))
                    continue
                if view_after == before:
                    # This column does not show in the view: try the next one.
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_write_test")
                    continue
                result['column'] = col
                if after == view_after:
                    result.update(status='pass', detail='UPDATE of %s.%s (pk %s, %d dependent row(s)) reached the tv_ row'
                                  % (table, col, pk, result['fan_out'] or 0))
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


def run(conn, records, lock_timeout_ms=50, only=None):
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
            results.append(test_tview(conn, r, base, lock_timeout_ms, records))
        except Exception as e:
            results.append({'tview': r['entity'], 'base_table': '%s.%s' % base, 'column': None, 'status': 'fail',
                            'detail': ' '.join(str(getattr(e, 'pgerror', None) or e).split())})
    return results
