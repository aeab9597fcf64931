# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh timing: measure a TVIEW refresh inside a transaction that is always rolled back
(so nothing changes, not even updated_at or regenerated ids), and compare timings after the
migration with the baseline captured before it.

Cost: a row refresh (0.2 API) locks and rewrites only the sampled rows; a full refresh (the
only refresh 0.1 has) TRUNCATEs the tv_ table, so it holds an ACCESS EXCLUSIVE lock on it,
blocking readers, for as long as the rebuild takes, and it is O(rows). Each measurement waits
at most ``lock_timeout_ms`` for its locks, so it never queues behind a long transaction (and
the application never queues behind it for longer); a row refresh runs at most
ROW_STATEMENT_TIMEOUT_MS. A measurement that meets busy rows (lock timeout, deadlock, which
the session's short deadlock_timeout makes ours to lose) gives way and tries again, up to
BUSY_TRIES times, then reports ``busy`` instead of an error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import FAIL, PASS, SKIP, WARN, check
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects

ROWS, FULL = 'rows', 'full'
ROW_STATEMENT_TIMEOUT_MS = 1000
BUSY_TRIES = 4
BUSY_SQLSTATES = ('55P03', '40P01', '57014', '40001')   # lock timeout, deadlock, cancel, serialization


def sample_keys(conn, record, n):
    """The ``n`` smallest primary keys of a TVIEW (the same rows objects.drift samples)."""
    from psycopg2 import sql
    if not record.get('pk_column') or not record.get('qualified_table') or n <= 0:
        return []
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT {pk} FROM {tv} ORDER BY {pk} LIMIT {n}").format(
            pk=sql.Identifier(record['pk_column']), tv=sql.Identifier(record['schema'], record['table']),
            n=sql.Literal(int(n))))
        return [int(r[0]) for r in cur.fetchall()]


def _one_error(e):
    return ' '.join(str(getattr(e, 'pgerror', None) or e).split())


def measure(conn, adapter, record, kind, keys, runs=1, lock_timeout_ms=50, statement_timeout_ms=None, check_drift=False,
            sleep=time.sleep):
    """Run the refresh ``runs`` times, each in its own rolled-back transaction on ``conn``
    (autocommit). Returns {tview, table, kind, primary_keys, duration_ms (fastest run),
    runs_ms, error, busy (why it gave way, or None), drift (rows differing inside the
    transaction after the refresh)}. ``statement_timeout_ms`` None: ROW_STATEMENT_TIMEOUT_MS
    for a row refresh, the session's limit for a full one."""
    item = {'tview': record['entity'], 'table': record['qualified_table'], 'kind': kind,
            'primary_keys': list(keys) if kind == ROWS else [], 'duration_ms': None, 'runs_ms': [], 'error': None,
            'busy': None}
    if check_drift:
        item['drift'] = None
    if statement_timeout_ms is None and kind == ROWS:
        statement_timeout_ms = ROW_STATEMENT_TIMEOUT_MS
    stmt, params = adapter.refresh_statement(record, keys if kind == ROWS else None, False)
    tries = 0
    with conn.cursor() as cur:
        while len(item['runs_ms']) < max(1, runs):
            gave_way = False
            # One snapshot for the refresh and the drift check after it: in READ COMMITTED a row the
            # application changes in between would look like drift; here it is a serialization
            # failure, and the measurement gives way and tries again.
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", ('%dms' % lock_timeout_ms,))
                if statement_timeout_ms is not None:
                    cur.execute("SELECT set_config('statement_timeout', %s, true)", ('%dms' % statement_timeout_ms,))
                start = time.monotonic()
                cur.execute(stmt, params)
                item['runs_ms'].append(round((time.monotonic() - start) * 1000, 3))
                if check_drift and item['drift'] is None:
                    # rows whose key is gone (0.1 never deletes them) are not the refresh's doing
                    d = objects.drift(conn, record, len(keys) if kind == ROWS and keys else None, classify=True)
                    item['drift'] = d['only_in_tv'] - d['stale'] + d['only_in_view']
            except Exception as e:  # any database error is the result, not a crash
                if getattr(e, 'pgcode', None) in BUSY_SQLSTATES:
                    tries += 1
                    gave_way = True
                    item['busy'] = _one_error(e)
                else:
                    item['error'] = _one_error(e)
            finally:
                cur.execute("ROLLBACK")
            if item['error'] or tries >= BUSY_TRIES:
                break
            if gave_way:
                sleep(0.1 * tries)
    if item['runs_ms']:
        item['busy'] = None
    if item['runs_ms']:
        item['duration_ms'] = min(item['runs_ms'])
    return item


def baseline(conn, adapter, records, sample, full, runs=3, lock_timeout_ms=50):
    """Per TVIEW: a row refresh of ``sample`` keys when the API can refresh rows, else a full
    refresh only when ``full``. Returns (items, note)."""
    items = []
    if not adapter.supports_row_refresh and not full:
        return items, ('pg_tviews %s cannot refresh single rows; no baseline (set the full-refresh baseline option to '
                       'measure full refreshes, at the cost described in docs/gates.md)' % adapter.generation)
    for r in records:
        if not r.get('qualified_table') or not r.get('qualified_view'):
            continue
        if adapter.supports_row_refresh and not full:
            keys = sample_keys(conn, r, sample)
            if not keys:
                continue
            items.append(measure(conn, adapter, r, ROWS, keys, runs, lock_timeout_ms))
        else:
            items.append(measure(conn, adapter, r, FULL, [], runs, lock_timeout_ms))
    return items, None


def compare(database, before, after, max_ratio, min_ms):
    """Timing check: a TVIEW fails when it got slower than ``max_ratio`` x its baseline and
    the difference is over ``min_ms`` (below that, timings are noise)."""
    if not before:
        return check('refresh_timing', SKIP, 'no baseline from preflight for this database', database)
    now = dict(((a['tview'], a['kind']), a) for a in after)
    slow, compared, missing = [], [], []
    rows = []
    for b in before:
        a = now.get((b['tview'], b['kind']))
        if b.get('duration_ms') is None:
            continue
        if a is None or a.get('duration_ms') is None:
            missing.append('%s (%s)' % (b['tview'], (a or {}).get('error') or 'not measured'))
            continue
        ratio = a['duration_ms'] / max(b['duration_ms'], 0.001)
        row = {'tview': b['tview'], 'kind': b['kind'], 'before_ms': b['duration_ms'], 'after_ms': a['duration_ms'],
               'ratio': round(ratio, 2)}
        rows.append(row)
        compared.append(b['tview'])
        if ratio > max_ratio and a['duration_ms'] - b['duration_ms'] > min_ms:
            slow.append('%s %s refresh %.1f ms -> %.1f ms (x%.1f)' % (b['tview'], b['kind'], b['duration_ms'], a['duration_ms'], ratio))
    if slow:
        return check('refresh_timing', FAIL, '%d TVIEW(s) refresh slower than %sx the baseline: %s' % (
            len(slow), max_ratio, '; '.join(slow)), database, timings=rows)
    if missing:
        return check('refresh_timing', WARN, 'compared %d TVIEW(s); no timing after the migration for %s' % (
            len(compared), ', '.join(missing)), database, timings=rows)
    if not compared:
        return check('refresh_timing', SKIP, 'the baseline has no timings', database)
    return check('refresh_timing', PASS, '%d TVIEW(s) refresh within %sx of the baseline (or within %s ms)' % (
        len(compared), max_ratio, min_ms), database, timings=rows)
