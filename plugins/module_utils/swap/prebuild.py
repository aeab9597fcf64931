# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rebuild's new tables, built before the write locks where the data allows.

Rematerialising a TVIEW under the locks costs reading its view and writing every row and index
(about 40 s for 1M rows on the bench machine, writers waiting all along). When the target version
can take over a live table (0.2 adopts it; 0.1 registers it from a manifest), each TVIEW's new
table is built beforehand instead, writes flowing: in one REPEATABLE READ snapshot, a table of the
old tv_ table's shape in the private schema ``_pgtviews_ops_prebuilt``, filled from the v_ view,
its indexes built after the rows, then ANALYZE. The snapshot also records a fingerprint of every
table the view reads and of the old tv_ table.

Under the locks the swap takes the fingerprints again. A TVIEW none of whose tables changed since
the snapshot gets the built table (the old one is dropped, the new one moved into its schema and
registered); one whose tables changed is rebuilt under the locks as before. Nothing here touches
an application table: the only writes are in our own schema, which is marked by its comment,
dropped after the swap, and dropped by the next run if a run was killed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_all, fetch_one
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog import objects

SCHEMA = '_pgtviews_ops_prebuilt'
MARK = 'pgtviews.ops: tables of a rebuild built before the write locks; dropped after the swap'

# Every table a view reads, through other views, with the views it reads on the way.
_READS_SQL = """
WITH RECURSIVE reads(oid, kind) AS (
    SELECT %s::regclass::oid, 'v'::"char"
  UNION
    SELECT d.refobjid, rc.relkind
      FROM reads r
      JOIN pg_rewrite rw ON rw.ev_class = r.oid AND r.kind = 'v'
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> rw.ev_class
      JOIN pg_class rc ON rc.oid = d.refobjid
)
SELECT format('%%I.%%I', n.nspname, c.relname) AS name, c.relkind::text AS kind
  FROM reads r JOIN pg_class c ON c.oid = r.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY 1"""

_INDEXES_SQL = """
SELECT format('%%I', ic.relname) AS name, con.conname, pg_get_constraintdef(con.oid) AS condef,
       pg_get_indexdef(i.indexrelid) AS indexdef, i.indisunique AS is_unique
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
 WHERE i.indrelid = %s::regclass
 ORDER BY i.indisprimary DESC, ic.relname"""


def _sql():
    from psycopg2 import sql
    return sql


def eligible(ctx, can_take_over):
    """(the TVIEWs whose table can be built before the locks, {entity: why not} for the others).
    It can when the target takes over a live table (``can_take_over``), the TVIEW has its table,
    view and key, and its view reads no tv_ table (it would go on reading the old one)."""
    tv = set(ctx['lock_tv'])
    ok, why = [], {}
    for r in ctx['records']:
        e = r['entity']
        if not can_take_over:
            why[e] = ctx.get('take_over_problem') or 'the target can neither adopt nor register a table'
        elif not (r.get('qualified_table') and r.get('qualified_view') and r.get('pk_column')):
            why[e] = 'it lacks its tv_ table, v_ view or key'
        elif set(r.get('view_reads') or []) & tv:
            why[e] = 'its view reads a tv_ table'
        else:
            ok.append(e)
    return ok, why


def fingerprint_sql(tables):
    """One statement: per table, its row count and an order-free sum of a hash of each row
    version's identity (table, ctid, xmin). A row inserted, updated or deleted changes it (a row
    version never changes in place; a new one has a new ctid or xmin); the same value means the
    same row versions, so the same content, but for a 64-bit hash collision. A rewrite (VACUUM
    FULL, CLUSTER) moves every ctid: it reads as changed, and the TVIEW is rebuilt under the locks."""
    sql = _sql()
    parts = [sql.SQL("SELECT {name} AS name, count(*) AS n, coalesce(sum(hashtextextended("
                     "t.tableoid::text || ':' || t.ctid::text || ':' || t.xmin::text, 0)::numeric), 0)::text AS h "
                     "FROM {rel} AS t").format(name=sql.Literal(name), rel=sql.SQL(name)) for name in sorted(tables)]
    return sql.SQL(' UNION ALL ').join(parts)


def fingerprints(conn, tables):
    if not tables:
        return {}
    return dict((r['name'], (r['n'], r['h'])) for r in fetch_all(conn, fingerprint_sql(tables)))


def drop(conn):
    """Drop our schema when it is there and ours (its comment). Returns True if it was there."""
    row = fetch_one(conn, "SELECT obj_description(n.oid, 'pg_namespace') AS mark FROM pg_namespace n WHERE n.nspname = %s",
                    (SCHEMA,))
    if row is None:
        return False
    if row['mark'] != MARK:
        raise PrebuildError("schema %s exists and was not made by pgtviews.ops (its comment differs); "
                            "rename it or turn prebuild off" % SCHEMA)
    sql = _sql()
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
    return True


class PrebuildError(Exception):
    pass


def error_text(e):
    """A database error (or any exception) as one line of its message."""
    return ' '.join(str(getattr(e, 'pgerror', None) or e).split())


def _index_statements(conn, r):
    """The statements that give the built table the old table's indexes and key, under the same
    names (an index name is unique per schema: the old ones are gone when the table moves)."""
    sql = _sql()
    new = sql.Identifier(SCHEMA, r['table']).as_string(conn)
    # pg_get_indexdef names the table qualified, or bare when it is on the search_path.
    names = (r['qualified_table'], sql.Identifier(r['table']).as_string(conn))
    out = []
    for idx in fetch_all(conn, _INDEXES_SQL, (r['qualified_table'],)):
        if idx['conname']:
            out.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(new), sql.Identifier(idx['conname']), sql.SQL(idx['condef'])))
            continue
        head = 'CREATE %sINDEX %s ON ' % ('UNIQUE ' if idx['is_unique'] else '', idx['name'])
        rest = idx['indexdef'][len(head):] if idx['indexdef'].startswith(head) else ''
        name = [n for n in names if rest.startswith(n + ' USING ')]
        if not name:
            raise PrebuildError("index %s has a definition it cannot be built from (%s)" % (idx['name'], idx['indexdef']))
        out.append(sql.SQL(head + new + rest[len(name[0]):]))
    return out


def _view_problem(conn, r, ext_schema):
    """Why TVIEW ``r``'s view is not what pg_tviews creates from its recorded definition (a rebuild
    recreates the view from the definition; a table built from the live view would not be what
    the rebuild makes), or None. Compared as PostgreSQL deparses both, in this session."""
    sql = _sql()
    probe = sql.Identifier('_pgtviews_ops_definition')
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT pgtviews_definition")
        try:
            # As the rebuild runs pg_tviews_create: in the TVIEW's schema, the extension's behind it.
            cur.execute("SELECT set_config('search_path', %s, true)", ('%s, %s' % (
                sql.Identifier(r['schema']).as_string(conn), sql.Identifier(ext_schema).as_string(conn)),))
            # The definition is pg_tviews' own catalog text, the statement a rebuild runs anyway.
            cur.execute(sql.SQL("CREATE TEMPORARY VIEW {} AS {}").format(probe, sql.SQL(r['definition'])))
            cur.execute(sql.SQL("SELECT pg_get_viewdef({}::regclass, true) = pg_get_viewdef({}::regclass, true)").format(
                sql.Literal('pg_temp.' + probe.as_string(conn)), sql.Literal(r['qualified_view'])))
            same = cur.fetchone()[0]
        except Exception as e:  # psycopg2.Error: the definition does not even make a view here
            cur.execute("ROLLBACK TO SAVEPOINT pgtviews_definition")
            return 'its recorded definition does not make a view (%s)' % error_text(e)
        cur.execute("ROLLBACK TO SAVEPOINT pgtviews_definition")
    return None if same else 'its view differs from its recorded definition (a rebuild recreates it from the definition)'


def build_statements(conn, r):
    """The statements that build TVIEW ``r``'s new table in our schema."""
    sql = _sql()
    new = sql.Identifier(SCHEMA, r['table'])
    columns, dummy = objects.table_columns(conn, r['schema'], r['table'])
    view_columns, dummy = objects.table_columns(conn, r['view_schema'], r['view'])
    cols = sql.SQL(', ').join(sql.Identifier(c) for c in columns if c in set(view_columns))
    out = [sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE "
                   "INCLUDING COMMENTS)").format(new, sql.Identifier(r['schema'], r['table'])),
           sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM {}").format(
               new, sql.Identifier(r['view_schema'], r['view']), cols=cols)]
    return out + _index_statements(conn, r) + [sql.SQL("ANALYZE {}").format(new)]


def build(conn, ctx, entities, lock_timeout_ms=100):
    """Build the new tables of ``entities`` before the locks, in one REPEATABLE READ snapshot, and
    check each against its old table there (the rows a rebuild keeps, with the same ids). Returns
    {built: {entity: {table, rows, fingerprint}}, skipped: {entity: why}, before: {table: fingerprint},
    reads: {entity: [tables]}, build_ms}. The application's writes are not held: reads take
    ACCESS SHARE, and the only writes are to tables nobody else knows of."""
    import psycopg2
    sql = _sql()
    t0 = time.monotonic()
    by_entity = dict((r['entity'], r) for r in ctx['records'])
    conn.rollback()
    autocommit, conn.autocommit = conn.autocommit, False
    out = {'built': {}, 'skipped': {}, 'before': {}, 'reads': {}}
    try:
        drop(conn)
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            # Our reads wait on nobody but DDL; a DDL of the application waits on us for at most this.
            cur.execute("SELECT set_config('lock_timeout', %s, true)", ('%dms' % lock_timeout_ms,))
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
            cur.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(SCHEMA), sql.Literal(MARK)))
        tables = set()
        for e in entities:
            r = by_entity[e]
            reads = [x['name'] for x in fetch_all(conn, _READS_SQL, (r['qualified_view'],)) if x['kind'] in ('r', 'p', 'm', 'f')]
            if set(reads) & set(ctx['lock_tv']):
                out['skipped'][e] = 'its view reads a tv_ table (through other views)'
                continue
            problem = _view_problem(conn, r, ctx['facts']['schema'])
            if problem:
                out['skipped'][e] = problem
                continue
            out['reads'][e] = reads
            tables.update(reads + [r['qualified_table']])
        out['before'] = fingerprints(conn, tables)
        for e in sorted(out['reads']):
            r = by_entity[e]
            try:
                with conn.cursor() as cur:
                    cur.execute("SAVEPOINT pgtviews_prebuild")
                    for statement in build_statements(conn, r):
                        cur.execute(statement)
                problem = _compare(conn, r)
            except (psycopg2.Error, PrebuildError) as e_:
                with conn.cursor() as cur:
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_prebuild")
                out['skipped'][e] = 'it could not be built: %s' % error_text(e_)
                continue
            if problem:
                with conn.cursor() as cur:
                    cur.execute("ROLLBACK TO SAVEPOINT pgtviews_prebuild")
                out['skipped'][e] = problem
                continue
            table = fetch_one(conn, "SELECT format('%%I.%%I', %s::text, %s::text) AS t", (SCHEMA, r['table']))['t']
            out['built'][e] = {'table': table, 'rows': fetch_one(conn, objects.row_count_sql(SCHEMA, r['table']))['n'],
                               'fingerprint': objects.relation_fingerprints(conn, [table])[table]}
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = autocommit
    out['build_ms'] = round((time.monotonic() - t0) * 1000, 1)
    return out


def _compare(conn, r):
    """Why the built table is not what a rebuild would make of the old one (the rows whose key the
    view has, with the same ids), or None."""
    live = objects.row_count_sql(r['schema'], r['table'], r)
    new = objects.row_count_sql(SCHEMA, r['table'])
    before, after = fetch_one(conn, live)['n'], fetch_one(conn, new)['n']
    if before != after:
        return 'a rebuild would change its row count from %s to %s' % (before, after)
    if fetch_one(conn, objects.id_checksum_sql(r['schema'], r['table'], r['pk_column'], r))['c'] != \
            fetch_one(conn, objects.id_checksum_sql(SCHEMA, r['table'], r['pk_column']))['c']:
        return 'a rebuild would change its id values'
    return None


def usable(conn, ctx):
    """Under the locks: the TVIEWs whose built table can be moved in (nothing it was built from
    changed since; every TVIEW view its view reads is moved in too, as its view is kept), and
    {entity: why not} for the others that were built."""
    pre = ctx['prebuilt']
    now = fingerprints(conn, pre['before'].keys())
    changed = set(t for t, f in pre['before'].items() if now.get(t) != f)
    by_entity = dict((r['entity'], r) for r in ctx['records'])
    view_of = dict((r['qualified_view'], r['entity']) for r in ctx['records'] if r.get('qualified_view'))
    why = {}
    ok = set()
    for e in pre['built']:
        moved = sorted(set(pre['reads'][e] + [by_entity[e]['qualified_table']]) & changed)
        if moved:
            why[e] = 'written since it was built (%s)' % ', '.join(moved)
        else:
            ok.add(e)
    again = True
    while again:
        again = False
        for e in sorted(ok):
            behind = [view_of[v] for v in by_entity[e].get('view_reads') or [] if v in view_of and view_of[v] not in ok]
            if behind:
                ok.discard(e)
                why[e] = 'its view reads the view of %s, which is rebuilt' % ', '.join(sorted(behind))
                again = True
    return sorted(ok), why


def summary(ctx):
    """What the prebuild did, for the module's result and the report."""
    pre = ctx.get('prebuilt')
    if not pre:
        return None
    moved = ctx.get('moved_in') or []
    return {'moved_in': moved, 'rows': dict((e, pre['built'][e]['rows']) for e in moved),
            'rebuilt_under_locks': dict(pre.get('rebuilt') or {}), 'not_built': dict(pre['skipped']),
            'build_ms': pre.get('build_ms'), 'check_ms': pre.get('check_ms')}


def script_lines(conn, ctx, entities, text):
    """Check mode: (the statements build() would run for ``entities``, the fingerprint statement
    run again under the locks), as SQL text."""
    sql = _sql()
    by_entity = dict((r['entity'], r) for r in ctx['records'])
    tables = set()
    for e in entities:
        r = by_entity[e]
        tables.update([x['name'] for x in fetch_all(conn, _READS_SQL, (r['qualified_view'],)) if x['kind'] in ('r', 'p', 'm', 'f')]
                      + [r['qualified_table']])
    fingerprint = text(fingerprint_sql(tables))
    lines = ['-- before the locks, writes flowing: the new tables of %s, built in one snapshot' % ', '.join(entities),
             'BEGIN ISOLATION LEVEL REPEATABLE READ;',
             text(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA))),
             fingerprint + '  -- every table the views read, and the old tv_ tables']
    for e in entities:
        r = by_entity[e]
        try:
            lines += [text(s) for s in build_statements(conn, r)]
        except PrebuildError as err:
            lines.append('-- %s: not built (%s); rebuilt under the locks' % (e, err))
        lines.append('-- %s: the new table must have the rows a rebuild keeps, with the same ids (else it is rebuilt)' % e)
    lines += ['COMMIT;']
    return lines, fingerprint
