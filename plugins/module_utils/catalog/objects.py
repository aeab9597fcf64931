# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalog facts that do not depend on the pg_tviews generation: indexes, grants and
comments of TVIEW relations, pg_tviews triggers on base tables, objects outside the
extension that depend on TVIEW or extension objects (with their DDL), prepared
transactions, other sessions, and row counts/checksums. Names pg_tviews gives its own
objects come from the adapters (registry)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import fetch_all, fetch_one
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import EXTENSION
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import HELPER_FUNCTIONS, TRIGGER_PATTERNS

# Timestamps pg_tviews sets on every write/refresh: not part of a TVIEW's content.
VOLATILE_TV_COLUMNS = ('created_at', 'updated_at')


def relation_details(conn, qualified_names):
    """{qualified name: {kind, indexes, grants, comment, owner}} for existing relations."""
    if not qualified_names:
        return {}
    rows = fetch_all(conn, """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name, c.relkind::text AS kind,
               pg_get_userbyid(c.relowner) AS owner,
               obj_description(c.oid, 'pg_class') AS comment,
               ARRAY(SELECT jsonb_build_object('name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid),
                                               'primary', i.indisprimary)
                       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                      WHERE i.indrelid = c.oid ORDER BY ic.relname) AS indexes,
               ARRAY(SELECT jsonb_build_object(
                               'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                               'privilege', a.privilege_type, 'grantable', a.is_grantable)
                       FROM aclexplode(c.relacl) a
                      WHERE a.grantee <> c.relowner
                      ORDER BY 1) AS grants
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s)""", (list(qualified_names),))
    return dict((r.pop('name'), r) for r in rows)


def tview_triggers(conn):
    """pg_tviews row triggers on base tables (named as the adapters say)."""
    return fetch_all(conn, """
        SELECT t.tgname AS name, format('%%I.%%I', n.nspname, c.relname) AS table,
               format('%%I.%%I', pn.nspname, p.proname) AS function,
               t.tgenabled <> 'D' AS enabled,
               EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e') AS function_is_member,
               pg_get_triggerdef(t.oid) AS definition
          FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
         WHERE NOT t.tgisinternal AND t.tgname LIKE ANY(%s)
         ORDER BY 2, 1""", (TRIGGER_PATTERNS,))


def non_member_helpers(conn):
    """Functions pg_tviews creates at run time outside the extension (the adapters'
    helper_functions): they survive DROP EXTENSION and break writes afterwards."""
    return fetch_all(conn, """
        SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS signature
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.proname = ANY(%s)
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
         ORDER BY 1""", (HELPER_FUNCTIONS,))


# Objects outside the extension depending (directly or through other such views) on a set
# of relations. Views/materialized views through pg_rewrite; constraints, triggers and
# functions through pg_depend. depth orders recreation (shallow first).
_DEPENDENTS_SQL = """
WITH RECURSIVE roots AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%(roots)s)
), views(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
      FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM roots)
       AND r.ev_class NOT IN (SELECT oid FROM roots)
    UNION
    SELECT r.ev_class, v.depth + 1
      FROM views v
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = v.oid
      JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
     WHERE r.ev_class <> v.oid AND r.ev_class NOT IN (SELECT oid FROM roots) AND v.depth < 20
)
SELECT 'view' AS type, format('%%I.%%I', n.nspname, c.relname) AS name, max(v.depth) AS depth,
       CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
       CASE c.relkind
         WHEN 'm' THEN format('CREATE MATERIALIZED VIEW %%I.%%I AS %%s', n.nspname, c.relname, pg_get_viewdef(c.oid, true))
         ELSE format('CREATE VIEW %%I.%%I AS %%s', n.nspname, c.relname, pg_get_viewdef(c.oid, true)) END AS ddl,
       format('DROP %%s %%I.%%I', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, n.nspname, c.relname) AS drop,
       pg_get_userbyid(c.relowner) AS owner,
       obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(SELECT jsonb_build_object(
                       'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                       'privilege', a.privilege_type, 'grantable', a.is_grantable)
               FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner ORDER BY 1) AS grants,
       'pg_class' AS catalog, c.oid::bigint AS oid
  FROM views v JOIN pg_class c ON c.oid = v.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid NOT IN (SELECT oid FROM roots) AND NOT (c.oid = ANY(%(exclude)s::oid[]))
 GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.relowner, c.relacl
UNION ALL
SELECT 'constraint', format('%%I ON %%I.%%I', co.conname, n.nspname, c.relname), 100, 'foreign key',
       format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s', n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid)),
       format('ALTER TABLE %%I.%%I DROP CONSTRAINT %%I', n.nspname, c.relname, co.conname),
       NULL, obj_description(co.oid, 'pg_constraint'), '{}'::jsonb[], 'pg_constraint', co.oid::bigint
  FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE co.contype = 'f' AND co.confrelid IN (SELECT oid FROM roots) AND co.conrelid NOT IN (SELECT oid FROM roots)
UNION ALL
SELECT 'trigger', format('%%I ON %%I.%%I', t.tgname, n.nspname, c.relname), 100, 'trigger',
       pg_get_triggerdef(t.oid), format('DROP TRIGGER %%I ON %%I.%%I', t.tgname, n.nspname, c.relname),
       NULL, obj_description(t.oid, 'pg_trigger'), '{}'::jsonb[], 'pg_trigger', t.oid::bigint
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT oid FROM roots) AND NOT (t.tgname LIKE ANY(%(own)s))
UNION ALL
SELECT DISTINCT 'function', format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), 50,
       'function', pg_get_functiondef(p.oid),
       format('DROP FUNCTION %%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       pg_get_userbyid(p.proowner), obj_description(p.oid, 'pg_proc'), '{}'::jsonb[], 'pg_proc', p.oid::bigint
  FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE d.deptype = 'n' AND (d.refobjid IN (SELECT oid FROM roots)
        OR d.refobjid IN (SELECT reltype FROM pg_class WHERE oid IN (SELECT oid FROM roots)))
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
 ORDER BY 3, 2
"""


def dependents(conn, roots, exclude_oids=()):
    """Objects outside the extension that depend on the given relations, with the DDL to
    recreate and drop them. ``exclude_oids``: relations not to report (other TVIEWs' views)."""
    if not roots:
        return []
    return fetch_all(conn, _DEPENDENTS_SQL, {'roots': list(roots), 'exclude': list(exclude_oids), 'own': TRIGGER_PATTERNS})


def tview_dependents(conn, records):
    """Dependents of TVIEW objects (tv_ tables, v_ views), excluding the TVIEWs themselves."""
    roots = [r['qualified_table'] for r in records if r['qualified_table']]
    roots += [r['qualified_view'] for r in records if r['qualified_view']]
    own = fetch_all(conn, """
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s)""", (roots,))
    return dependents(conn, roots, [r['oid'] for r in own])


# Triggers outside the extension calling one of its functions (pg_tviews' own excluded).
_MEMBER_FUNCTION_TRIGGERS_SQL = """
SELECT 'trigger' AS type, format('%%I ON %%I.%%I', t.tgname, n.nspname, c.relname) AS name, 200 AS depth,
       'trigger' AS kind, pg_get_triggerdef(t.oid) AS ddl,
       format('DROP TRIGGER %%I ON %%I.%%I', t.tgname, n.nspname, c.relname) AS drop,
       NULL AS owner, obj_description(t.oid, 'pg_trigger') AS comment, '{}'::jsonb[] AS grants,
       'pg_trigger' AS catalog, t.oid::bigint AS oid
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = t.tgfoid AND d.deptype = 'e'
                  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %(ext)s)
 WHERE NOT t.tgisinternal AND NOT (t.tgname LIKE ANY(%(own)s))
"""

# Everything outside the extension with a normal dependency on a member: DROP EXTENSION
# (without CASCADE) fails on each. A view is reported as itself, not as its rewrite rule.
_DIRECT_DEPENDENTS_SQL = """
WITH direct_members AS (
    SELECT classid, objid FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = %(ext)s)
), member_rels AS (SELECT objid AS oid FROM direct_members WHERE classid = 'pg_class'::regclass),
-- a member relation's row type goes with it (a function taking that row type depends on the type)
members AS (
    SELECT classid, objid FROM direct_members
    UNION SELECT 'pg_type'::regclass, reltype FROM pg_class WHERE oid IN (SELECT oid FROM member_rels) AND reltype <> 0
), deps AS (
    SELECT DISTINCT
           CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'pg_class'::regclass ELSE d.classid END AS classid,
           CASE WHEN d.classid = 'pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_rewrite WHERE oid = d.objid)
                ELSE d.objid END AS objid,
           pg_describe_object(d.refclassid, d.refobjid, 0) AS depends_on
      FROM members m
      JOIN pg_depend d ON d.refclassid = m.classid AND d.refobjid = m.objid AND d.deptype = 'n'
     WHERE NOT EXISTS (SELECT 1 FROM members x WHERE x.classid = d.classid AND x.objid = d.objid)
       -- parts of member relations (their view rules, column defaults, constraints) are not outside it
       AND NOT (d.classid = 'pg_rewrite'::regclass
                AND (SELECT ev_class FROM pg_rewrite WHERE oid = d.objid) IN (SELECT oid FROM member_rels))
       AND NOT (d.classid = 'pg_attrdef'::regclass
                AND (SELECT adrelid FROM pg_attrdef WHERE oid = d.objid) IN (SELECT oid FROM member_rels))
       AND NOT (d.classid = 'pg_constraint'::regclass
                AND (SELECT conrelid FROM pg_constraint WHERE oid = d.objid) IN (SELECT oid FROM member_rels))
       AND NOT (d.classid = 'pg_trigger'::regclass
                AND (SELECT tgname FROM pg_trigger WHERE oid = d.objid) LIKE ANY(%(own)s))
)
SELECT classid::regclass::text AS catalog, objid::bigint AS oid, pg_describe_object(classid, objid, 0) AS object,
       string_agg(depends_on, ', ' ORDER BY depends_on) AS depends_on
  FROM deps GROUP BY classid, objid ORDER BY 3
"""


_TYPES = {'pg_class': 'relation', 'pg_proc': 'function', 'pg_attrdef': 'default', 'pg_trigger': 'trigger',
          'pg_constraint': 'constraint', 'pg_type': 'type'}


def member_relations(conn, extname=EXTENSION):
    """Qualified names of the extension's own tables, views and materialized views."""
    return [r['name'] for r in fetch_all(conn, """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name
          FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s) AND c.relkind IN ('r', 'v', 'm')
         ORDER BY 1""", (extname,))]


def extension_dependents(conn, extname=EXTENSION):
    """The one definition of the objects outside the extension that depend on it (DROP
    EXTENSION fails on each): [{type, name, depth, kind, ddl, drop, owner, comment, grants,
    catalog, oid, object, depends_on}]. What the swap sets aside and puts back has ``ddl``
    and ``drop``: views and materialized views over member relations (and views over those),
    foreign keys to member tables, triggers calling member functions. Anything else (a
    function, a column default, a view calling a member function...) has ``ddl`` None: the
    swap cannot set it aside, and preflight fails on it."""
    settable = [d for d in dependents(conn, member_relations(conn, extname)) if d['type'] in ('view', 'constraint')]
    settable += fetch_all(conn, _MEMBER_FUNCTION_TRIGGERS_SQL, {'ext': extname, 'own': TRIGGER_PATTERNS})
    direct = dict(((r['catalog'], r['oid']), r) for r in fetch_all(
        conn, _DIRECT_DEPENDENTS_SQL, {'ext': extname, 'own': TRIGGER_PATTERNS}))
    out = []
    for d in settable:
        r = direct.pop((d['catalog'], d['oid']), None)
        out.append(dict(d, object=r['object'] if r else '%s %s' % (d['kind'], d['name']),
                        depends_on=r['depends_on'] if r else 'a view over the extension'))
    for r in sorted(direct.values(), key=lambda r: r['object']):
        out.append({'type': _TYPES.get(r['catalog'], r['catalog']), 'name': r['object'],
                    'depth': 0, 'kind': r['object'].split(' ', 1)[0], 'ddl': None, 'drop': None, 'owner': None,
                    'comment': None, 'grants': [], 'catalog': r['catalog'], 'oid': r['oid'], 'object': r['object'],
                    'depends_on': r['depends_on']})
    return out


def health_check(conn, ext_schema):
    from psycopg2 import sql
    return fetch_all(conn, sql.SQL("SELECT status, component, message, severity FROM {}.pg_tviews_health_check()").format(
        sql.Identifier(ext_schema)))


def prepared_transactions(conn):
    return fetch_all(conn, """
        SELECT gid, owner, database, to_char(prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS prepared,
               round(extract(epoch FROM now() - prepared))::int AS age_seconds,
               database = current_database() AS this_database
          FROM pg_prepared_xacts ORDER BY prepared""")


def other_sessions(conn):
    return fetch_all(conn, """
        SELECT pid, usename AS user, application_name, state, client_addr::text AS client_addr,
               round(extract(epoch FROM now() - xact_start))::int AS transaction_age_seconds,
               wait_event_type
          FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
         ORDER BY pid""")


def table_columns(conn, schema, table):
    """(all columns in order, primary-key columns in key order) of a relation."""
    row = fetch_one(conn, """
        SELECT ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped
                      ORDER BY attnum) AS columns,
               ARRAY(SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord) AS pk
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %s AND c.relname = %s""", (schema, table))
    if row is None:
        return None, None
    return list(row['columns']), list(row['pk'])


def tv_rows_from(schema, table, live=None):
    """FROM a table (alias t); with ``live`` (a TVIEW record) only the rows whose key its v_ view
    still has: the rows a rebuild reproduces (a rebuild drops the stale rows 0.1 leaves)."""
    from psycopg2 import sql
    rel = sql.SQL("{} AS t").format(sql.Identifier(schema, table))
    if not (live and live.get('pk_column') and live.get('view')):
        return rel
    return sql.SQL("{rel} WHERE EXISTS (SELECT 1 FROM {v} AS v WHERE v.{pk} = t.{pk})").format(
        rel=rel, v=sql.Identifier(live['view_schema'], live['view']), pk=sql.Identifier(live['pk_column']))


def content_stats(conn, schema, table, exclude_columns=(), live=None):
    """Row count and a deterministic checksum (rows ordered by primary key, or by the
    whole row without one) of a table's content, leaving out ``exclude_columns``; with ``live``,
    of the rows whose key that TVIEW's view still has (see _from)."""
    from psycopg2 import sql
    columns, pk = table_columns(conn, schema, table)
    if columns is None:
        return None
    cols = [c for c in columns if c not in exclude_columns]
    row_expr = sql.SQL("ROW({})::text").format(sql.SQL(', ').join(sql.SQL('t.{}').format(sql.Identifier(c)) for c in cols))
    order = sql.SQL(', ').join(sql.SQL('t.{}').format(sql.Identifier(c)) for c in pk) if pk else row_expr
    query = sql.SQL("SELECT count(*) AS row_count, md5(coalesce(string_agg({row}, E'\\n' ORDER BY {order}), '')) AS checksum "
                    "FROM {rel}").format(row=row_expr, order=order, rel=tv_rows_from(schema, table, live))
    return fetch_one(conn, query)


def row_count_sql(schema, table, live=None):
    from psycopg2 import sql
    return sql.SQL("SELECT count(*) AS n FROM {}").format(tv_rows_from(schema, table, live))


def row_count(conn, schema, table):
    return fetch_one(conn, row_count_sql(schema, table))['n']


def id_checksum_sql(schema, table, pk_column, live=None):
    from psycopg2 import sql
    return sql.SQL("SELECT md5(coalesce(string_agg(t.{pk}::text || ':' || t.id::text, ',' ORDER BY t.{pk}), '')) AS c "
                   "FROM {rel}").format(pk=sql.Identifier(pk_column), rel=tv_rows_from(schema, table, live))


def id_checksum(conn, schema, table, pk_column, live=None):
    """Checksum of (pk, id) pairs: proves public ids survived a rebuild."""
    return fetch_one(conn, id_checksum_sql(schema, table, pk_column, live))['c']


def drift(conn, record, sample=None, classify=False):
    """Rows where a TVIEW's tv_ table and its v_ view disagree (EXCEPT both ways over the
    view's columns; tv_'s own timestamps are not in the view). ``sample`` limits the check
    to that many primary keys (the smallest), for very large TVIEWs. ``classify`` adds
    ``stale``: how many of the rows only in tv_ have a key v_ no longer has (see stale_rows)."""
    from psycopg2 import sql
    view_cols, dummy = table_columns(conn, record['view_schema'], record['view'])
    cols = sql.SQL(', ').join(sql.Identifier(c) for c in view_cols)
    tv = sql.Identifier(record['schema'], record['table'])
    v = sql.Identifier(record['view_schema'], record['view'])
    where = sql.SQL('')
    if sample and record['pk_column']:
        where = sql.SQL(" WHERE {pk} IN (SELECT {pk} FROM {tv} ORDER BY {pk} LIMIT {n})").format(
            pk=sql.Identifier(record['pk_column']), tv=tv, n=sql.Literal(int(sample)))
    # one statement, so one snapshot: the stale rows are counted among the same rows
    stale = sql.SQL(", ({})").format(stale_rows_sql(record, sample)) if classify and record.get('pk_column') else sql.SQL('')
    query = sql.SQL("SELECT (SELECT count(*) FROM (SELECT {c} FROM {tv}{w} EXCEPT ALL SELECT {c} FROM {v}{w}) a), "
                    "(SELECT count(*) FROM (SELECT {c} FROM {v}{w} EXCEPT ALL SELECT {c} FROM {tv}{w}) b){s}").format(
        c=cols, tv=tv, v=v, w=where, s=stale)
    with conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    out = {'only_in_tv': row[0], 'only_in_view': row[1]}
    if classify:
        out['stale'] = row[2] if len(row) > 2 else 0
    return out


def stale_rows_sql(record, sample=None, delete=False):
    """tv_ rows whose key v_ no longer has: what pg_tviews 0.1 leaves when a base row is
    deleted (its refresh finds no v_ row and returns; it never deletes a tv_ row). Counted,
    or with ``delete`` deleted (returning nothing)."""
    from psycopg2 import sql
    tv = sql.Identifier(record['schema'], record['table'])
    where = sql.SQL("NOT EXISTS (SELECT 1 FROM {v} AS v WHERE v.{pk} = t.{pk})").format(
        v=sql.Identifier(record['view_schema'], record['view']), pk=sql.Identifier(record['pk_column']))
    if sample:
        where = sql.SQL("{w} AND t.{pk} IN (SELECT {pk} FROM {tv} ORDER BY {pk} LIMIT {n})").format(
            w=where, pk=sql.Identifier(record['pk_column']), tv=tv, n=sql.Literal(int(sample)))
    if delete:
        return sql.SQL("DELETE FROM {tv} AS t WHERE {w}").format(tv=tv, w=where)
    return sql.SQL("SELECT count(*) FROM {tv} AS t WHERE {w}").format(tv=tv, w=where)


def stale_rows(conn, record, sample=None):
    """How many tv_ rows have a key v_ no longer has (0 without a primary key column)."""
    if not record.get('pk_column'):
        return 0
    return fetch_one(conn, stale_rows_sql(record, sample))['count']


def delete_stale_rows(conn, record):
    """Delete the tv_ rows whose key v_ no longer has; returns how many."""
    if not record.get('pk_column'):
        return 0
    with conn.cursor() as cur:
        cur.execute(stale_rows_sql(record, delete=True))
        return cur.rowcount


def relation_fingerprints(conn, qualified_names):
    """{qualified name: {oid, relfilenode, kind, columns}}: what identifies a table's storage
    and shape, from the catalog alone (no table scan). A TRUNCATE, a rewrite (VACUUM FULL,
    CLUSTER, ALTER ... TYPE) or a DROP and CREATE changes it; a column added or dropped too."""
    if not qualified_names:
        return {}
    rows = fetch_all(conn, """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name, c.oid::bigint AS oid,
               c.relfilenode::bigint AS relfilenode, c.relkind::text AS kind,
               md5(coalesce((SELECT string_agg(format('%%s %%s %%s', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                                                      a.attnotnull), ', ' ORDER BY a.attnum)
                               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')) AS columns
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s)""", (list(qualified_names),))
    return dict((r.pop('name'), r) for r in rows)


def xact_row_changes_sql(qualified_names):
    """Rows inserted, updated or deleted in each table by the current transaction (the
    statistics counters of this backend: no scan)."""
    from psycopg2 import sql
    return (sql.SQL("""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
               pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
               + pg_stat_get_xact_tuples_deleted(c.oid) AS changed
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s)"""), (list(qualified_names),))


def xact_row_changes(conn, qualified_names):
    query, params = xact_row_changes_sql(qualified_names)
    return dict((r['name'], r['changed']) for r in fetch_all(conn, query, params))


def relation_parts(conn, qualified_names):
    """[(qualified name, schema, name)] of existing relations, ordered by OID (the order in
    which pg_tviews walks a TVIEW's dependencies)."""
    if not qualified_names:
        return []
    rows = fetch_all(conn, """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name, n.nspname AS schema, c.relname AS rel
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s) ORDER BY c.oid""", (list(qualified_names),))
    return [(r['name'], r['schema'], r['rel']) for r in rows]
