# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proof that a dump is usable: its table of contents (``pg_restore --list``) names every
TVIEW and every base table with its data, and, optionally, a test restore into a scratch
database whose row counts equal the source's at the dump's snapshot.

Extension member tables are not compared: pg_dump writes their rows only when the extension
registers them with pg_extension_config_dump, and pg_tviews does not (reference §1.2), so the
restored pg_tview_meta is empty by design. The manifest beside the dump carries that metadata."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import os
import re

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import connect, fetch_all, fetch_one
from ansible_collections.pgtviews.ops.plugins.module_utils.host.clients import conninfo, last_lines, run_client

SCRATCH_PREFIX = 'pgtviews_verify_'
MEMBER_REASON = ('extension member table: pg_dump carries its rows only if the extension calls '
                 'pg_extension_config_dump, which pg_tviews does not; the manifest carries them')

_TABLES_SQL = r"""
SELECT n.nspname AS schema, c.relname AS name, format('%I.%I', n.nspname, c.relname) AS qualified,
       EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS member
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_(toast|temp_)'
 ORDER BY 1, 2
"""


class VerifyError(Exception):
    pass


def _sanitize(text, want_hyphen=False):
    """What pg_restore --list prints for a name (newlines become spaces, empty becomes '-')."""
    text = (text or '').replace('\r', ' ').replace('\n', ' ')
    return '-' if want_hyphen and not text else text


def expected_entries(conn, records, base_table_names):
    """TOC entries the dump must have: the extension; per TVIEW its tv_ table with data and
    its v_ view; per base table the table and (for plain tables) its data."""
    entries = [('EXTENSION', '', 'pg_tviews')]
    for r in records:
        if r.get('table'):
            entries.append(('TABLE', r['schema'], r['table']))
            entries.append(('TABLE DATA', r['schema'], r['table']))
        if r.get('view'):
            entries.append(('VIEW', r['view_schema'], r['view']))
    if base_table_names:
        rows = fetch_all(conn, """
            SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = ANY(%s::regclass[]) ORDER BY 1, 2""", (list(base_table_names),))
        for row in rows:
            entries.append(('TABLE', row['schema'], row['name']))
            if row['relkind'] == 'r':
                entries.append(('TABLE DATA', row['schema'], row['name']))
    return entries


def missing_entries(listing, entries):
    """Entries of ``entries`` that the ``pg_restore --list`` text does not have. A TOC line is
    '<id>; <catalog oid> <oid> <kind> <schema> <name> <owner>'; names are matched exactly."""
    lines = [ln for ln in listing.splitlines() if ln and not ln.startswith(';')]
    missing = []
    for kind, schema, name in entries:
        pattern = re.compile(r'^\d+; \d+ \d+ %s %s %s( |$)' % (
            re.escape(kind), re.escape(_sanitize(schema, True)), re.escape(_sanitize(name))))
        if not any(pattern.match(ln) for ln in lines):
            missing.append('%s %s.%s' % (kind, schema or '-', name) if schema else '%s %s' % (kind, name))
    return missing


def toc_entry_count(listing):
    return len([ln for ln in listing.splitlines() if ln and not ln.startswith(';')])


def check_listing(tools, params, dump_path, entries):
    """Run pg_restore --list; fail unless it succeeds and lists every expected entry."""
    rc, out, err, seconds = run_client([tools['pg_restore']['path'], '--list', dump_path], params)
    if rc != 0:
        raise VerifyError("pg_restore --list %s failed (exit %d): %s" % (dump_path, rc, last_lines(err) or 'no message'))
    missing = missing_entries(out, entries)
    if missing:
        raise VerifyError("the dump in %s lacks %d expected entr%s, first: %s"
                          % (dump_path, len(missing), 'y' if len(missing) == 1 else 'ies', missing[0]))
    return {'entries': toc_entry_count(out), 'checked': len(entries), 'seconds': round(seconds, 3)}


def tables(conn):
    """(tables pg_dump carries rows of, extension member tables) as lists of row dicts."""
    rows = fetch_all(conn, _TABLES_SQL)
    return [r for r in rows if not r['member']], [r for r in rows if r['member']]


def count_rows(conn, table_rows):
    from psycopg2 import sql
    counts = {}
    with conn.cursor() as cur:
        for t in table_rows:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t['schema'], t['name'])))
            counts[t['qualified']] = cur.fetchone()[0]
    return counts


def scratch_name(dbname, token=None):
    """A scratch database name (<= 63 bytes) that says what it is and whose it is."""
    token = token or binascii.hexlify(os.urandom(4)).decode('ascii')
    room = 63 - len(SCRATCH_PREFIX) - len(token) - 1
    head = dbname.encode('utf-8')[:room].decode('utf-8', 'ignore')
    return '%s%s_%s' % (SCRATCH_PREFIX, head, token)


def _create_statement(conn, name):
    """CREATE DATABASE for the scratch copy with the source's encoding and locale."""
    from psycopg2 import sql
    src = fetch_one(conn, "SELECT to_jsonb(d) AS j, pg_encoding_to_char(d.encoding) AS encoding "
                          "FROM pg_database d WHERE d.datname = current_database()")
    j = src['j']
    parts = [sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
        sql.Identifier(name), sql.Literal(src['encoding']), sql.Literal(j['datcollate']), sql.Literal(j['datctype']))]
    provider = j.get('datlocprovider')
    if provider == 'i':
        parts.append(sql.SQL("LOCALE_PROVIDER icu ICU_LOCALE {}").format(
            sql.Literal(j.get('daticulocale') or j.get('datlocale'))))
    elif provider == 'b':
        parts.append(sql.SQL("LOCALE_PROVIDER builtin BUILTIN_LOCALE {}").format(sql.Literal(j.get('datlocale'))))
    return sql.SQL(' ').join(parts)


def drop_scratch(params, name, server_major):
    from psycopg2 import sql
    conn = connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(
                sql.Identifier(name), sql.SQL(" WITH (FORCE)") if server_major >= 13 else sql.SQL("")))
    finally:
        conn.close()


def test_restore(params, tools, dump_path, source_counts, members, jobs, server_major, superuser, on_tick=None):
    """Restore the dump into a scratch database, compare the row count of every table with
    ``source_counts`` (taken at the dump's snapshot) and drop the scratch database, also when
    anything fails. Raises VerifyError on a failed restore or any difference."""
    name = scratch_name(params['login_db'])
    result = {'performed': True, 'scratch_database': name, 'tables': len(source_counts), 'mismatches': [],
              'not_compared': [{'table': m['qualified'], 'reason': MEMBER_REASON} for m in members],
              'options': [] if superuser else ['--no-owner', '--no-acl']}
    created = False
    error = None
    try:
        conn = connect(params)
        try:
            with conn.cursor() as cur:
                cur.execute(_create_statement(conn, name))
            created = True
        finally:
            conn.close()
        argv = [tools['pg_restore']['path'], '--dbname=' + conninfo(params, name), '--jobs=%d' % jobs,
                '--exit-on-error', '--no-password'] + result['options'] + [dump_path]
        rc, dummy, err, seconds = run_client(argv, params, on_tick=on_tick)
        result['seconds'] = round(seconds, 3)
        if rc != 0:
            raise VerifyError("test restore into scratch database %s failed (pg_restore exit %d): %s"
                              % (name, rc, last_lines(err) or 'no message'))
        sconn = connect(params, dbname=name)
        try:
            restored_tables = tables(sconn)[0]
            restored = count_rows(sconn, restored_tables)
        finally:
            sconn.close()
        for table, count in sorted(source_counts.items()):
            if restored.get(table) != count:
                result['mismatches'].append({'table': table, 'source': count, 'restored': restored.get(table)})
        for table in sorted(set(restored) - set(source_counts)):
            result['mismatches'].append({'table': table, 'source': None, 'restored': restored[table]})
        result['compared'] = [{'table': t, 'rows': c} for t, c in sorted(source_counts.items())]
        if result['mismatches']:
            first = result['mismatches'][0]
            raise VerifyError("test restore of %s: %d table(s) differ from the source, first %s: %s rows in the source, %s restored"
                              % (params['login_db'], len(result['mismatches']), first['table'],
                                 'no' if first['source'] is None else first['source'],
                                 'none' if first['restored'] is None else first['restored']))
    except Exception as e:
        error = e
        raise
    finally:
        if created:
            try:
                drop_scratch(params, name, server_major)
            except Exception as e:  # the error that stopped us matters more; report both
                note = "; the scratch database %s could not be dropped: %s" % (name, ' '.join(str(e).split()))
                if error is not None:
                    raise VerifyError(str(error) + note)
                raise VerifyError(note[2:])
    return result
