# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database probes behind the gates. Each only reads, or runs inside a transaction that is
always rolled back: EXPLAIN of every recorded TVIEW definition (read-only transaction), a
CREATE EXTENSION of the target version (rolled back), sessions holding locks on TVIEW
relations, database sizes, readability and tv_/v_ drift of every TVIEW, and which of the
extension's dependents the swap could not set aside."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, fetch_all, fetch_value)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import EXTENSION
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_class
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError


def one_line(e):
    return ' '.join(str(getattr(e, 'pgerror', None) or e).split())


def explain_definitions(conn, records, ext_schema, statement_timeout_ms=30000):
    """[{tview, error}]: EXPLAIN each recorded definition in a READ ONLY transaction with the
    search_path a rebuild uses (the TVIEW's schema, then the extension's)."""
    from psycopg2 import sql
    results = []
    with conn.cursor() as cur:
        for r in records:
            item = {'tview': r['entity'], 'error': None}
            if not (r.get('definition') or '').strip():
                item['error'] = 'no recorded definition'
                results.append(item)
                continue
            cur.execute("BEGIN READ ONLY")
            try:
                cur.execute(sql.SQL("SET LOCAL search_path TO {}, {}").format(
                    sql.Identifier(r.get('schema') or ext_schema), sql.Identifier(ext_schema)))
                cur.execute("SET LOCAL statement_timeout = %s", ('%dms' % statement_timeout_ms,))
                cur.execute(sql.SQL("EXPLAIN ") + sql.SQL(r['definition']))
            except Exception as e:
                item['error'] = one_line(e)
            finally:
                cur.execute("ROLLBACK")
            results.append(item)
    return results


def choose_probe_db(params, with_extension, all_databases, wanted=None):
    """A database without pg_tviews to probe CREATE EXTENSION in: ``wanted``, else the login
    database, else the first such database. None when every database has pg_tviews."""
    if wanted:
        return wanted
    if params.get('login_db') and params['login_db'] not in with_extension and params['login_db'] in all_databases:
        return params['login_db']
    for db in all_databases:
        if db not in with_extension:
            return db
    return None


def probe_create(params, database, target, lock_timeout_ms=2000):
    """CREATE EXTENSION pg_tviews VERSION target in ``database`` on a fresh connection, read
    pg_tviews_version() through it, ROLLBACK. {ran, database, error, library_version}."""
    from psycopg2 import sql
    out = {'ran': True, 'database': database, 'error': None, 'library_version': None}
    try:
        conn = connect(params, database)
    except DatabaseConnectionError as e:
        out['error'] = str(e)
        return out
    try:
        with conn.cursor() as cur:
            if fetch_value(conn, "SELECT count(*) FROM pg_extension WHERE extname = %s", (EXTENSION,)):
                return {'ran': False, 'database': database, 'skipped': 'pg_tviews is already installed in %s' % database}
            cur.execute("BEGIN")
            try:
                cur.execute("SET LOCAL lock_timeout = %s", ('%dms' % lock_timeout_ms,))
                cur.execute("SET LOCAL statement_timeout = '60s'")
                cur.execute(sql.SQL("CREATE EXTENSION {} VERSION {}").format(sql.Identifier(EXTENSION), sql.Literal(target)))
                cur.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                            "WHERE e.extname = %s", (EXTENSION,))
                schema = cur.fetchone()[0]
                cur.execute(sql.SQL("SELECT {}.pg_tviews_version()").format(sql.Identifier(schema)))
                out['library_version'] = cur.fetchone()[0]
            except Exception as e:
                out['error'] = one_line(e)
            finally:
                cur.execute("ROLLBACK")
    finally:
        conn.close()
    return out


def database_sizes(conn, databases):
    return dict((r['datname'], int(r['size'])) for r in fetch_all(
        conn, "SELECT datname, pg_database_size(oid) AS size FROM pg_database WHERE datname = ANY(%s)", (list(databases),)))


def lock_holders(conn, qualified_names, exclude_pids=()):
    """Other sessions holding granted locks on the given relations now: [{pid, mode}]."""
    if not qualified_names:
        return []
    return fetch_all(conn, """
        SELECT l.pid, string_agg(DISTINCT l.mode, ',' ORDER BY l.mode) AS mode
          FROM pg_locks l
          JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE l.locktype = 'relation' AND l.granted AND l.pid IS NOT NULL AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND format('%%I.%%I', n.nspname, c.relname) = ANY(%s)
           AND NOT (l.pid = ANY(%s))
         GROUP BY l.pid ORDER BY l.pid""", (list(qualified_names), [int(p) for p in exclude_pids]))


def tview_relations(records):
    """Every relation a swap locks or reads: tv_ tables, v_ views and base tables."""
    names = set()
    for r in records:
        for n in [r.get('qualified_table'), r.get('qualified_view')] + list(r.get('dependencies') or []):
            if n:
                names.add(n)
    return sorted(names)


def read_all(conn, records):
    """[{tview, error}]: one row read from each tv_ table and each v_ view."""
    from psycopg2 import sql
    results = []
    with conn.cursor() as cur:
        for r in records:
            item = {'tview': r['entity'], 'error': None}
            for kind, name in (('tv_ table', r.get('qualified_table')), ('v_ view', r.get('qualified_view'))):
                if not name:
                    item['error'] = 'its %s is missing' % kind
                    break
                try:
                    cur.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.SQL(name)))
                    cur.fetchall()
                except Exception as e:
                    item['error'] = '%s %s: %s' % (kind, name, one_line(e))
                    break
            results.append(item)
    return results


def drift_all(conn, records, sample):
    """[{tview, table, view, only_in_tv, only_in_view, stale, error}] for every TVIEW with both relations."""
    results = []
    for r in records:
        if not (r.get('qualified_table') and r.get('qualified_view')):
            continue
        item = {'tview': r['entity'], 'table': r['qualified_table'], 'view': r['qualified_view'],
                'only_in_tv': 0, 'only_in_view': 0, 'stale': 0, 'error': None}
        try:
            item.update(objects.drift(conn, r, sample or None, classify=True))
        except Exception as e:
            item['error'] = one_line(e)
        results.append(item)
    return results


def dependents(conn, adapter, target):
    """The extension's dependents (catalog.objects.extension_dependents, the set the swap uses),
    each with ``problem``: why the swap could not set it aside and put it back on ``target``,
    or None."""
    items = objects.extension_dependents(conn)
    # A view over the old generation's metadata relation cannot be put back when the target
    # keeps its metadata under another name (the adapters say where each keeps it).
    over_meta, old_meta = set(), adapter.meta_relation().as_string(conn)
    name = old_meta
    try:
        new_meta = adapter_class(target)(conn, adapter.ext_schema).meta_relation().as_string(conn)
    except (UnknownGenerationError, ValueError):
        new_meta = old_meta
    if new_meta != old_meta:
        name = fetch_value(conn, "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", (old_meta,))
        over_meta = set(d['name'] for d in objects.dependents(conn, [name])) if name else set()
        name = name or old_meta
    for d in items:
        if d['ddl'] is None:
            d['problem'] = 'depends on %s; the swap sets aside only views, foreign keys and triggers' % d['depends_on']
        elif d['name'] in over_meta:
            d['problem'] = 'reads %s, which pg_tviews %s does not have' % (name, target)
        else:
            d['problem'] = None
    return items
