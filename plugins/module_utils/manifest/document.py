# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration manifest (docs/manifest.md): a versioned JSON document captured before
anything destructive, carrying its own digest, stored on the host and inside the database
in a schema the extension does not own (so it survives DROP EXTENSION)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from ansible_collections.pgtviews.ops.plugins.module_utils.host.sealed import check, dumps, seal

KIND = 'pgtviews.ops/manifest'
SCHEMA_VERSION = 1
STORE_SCHEMA = 'pgtviews_ops'
STORE_TABLE = 'manifests'

# Fields of a TVIEW record that describe it (runtime facts such as refresh timings and
# per-generation extras are left out, so a manifest compares across versions).
TVIEW_FIELDS = ('entity', 'schema', 'table', 'view', 'qualified_table', 'qualified_view', 'definition',
                'view_definition', 'pk_column', 'fk_columns', 'uuid_fk_columns', 'dependencies', 'dependency_types',
                'dependency_paths', 'array_match_keys', 'depends_on', 'row_count', 'checksum', 'id_checksum', 'stale_rows')

DIFF_KINDS = ('missing_tview', 'extra_tview', 'definition', 'row_count', 'checksum', 'ids', 'index', 'grant',
              'comment', 'dependent', 'base_table')
# Differences in data: only meaningful against a copy of the manifest's own snapshot (a restored
# backup). On a live database the application writes after the capture, so they mean nothing
# there; what a migration could do to data is checked in the swap's window (row counts, ids) and
# by comparing every tv_ with its v_ in one snapshot.
DATA_KINDS = ('row_count', 'checksum', 'ids', 'base_table')


class ManifestError(ValueError):
    pass


def _relation_summary(details):
    if not details:
        return None
    return {'owner': details['owner'], 'comment': details['comment'],
            'indexes': details['indexes'], 'grants': details['grants']}


def build(snap, now=None):
    """A sealed manifest from a catalog snapshot gathered with the 'data' subset."""
    facts = snap['facts']
    if not facts['installed']:
        raise ManifestError("pg_tviews is not installed in database %s: nothing to capture" % snap['database'])
    tviews = []
    for r in snap['tviews']:
        item = dict((k, r.get(k)) for k in TVIEW_FIELDS)
        item['table_details'] = _relation_summary(r.get('table_details'))
        item['view_details'] = _relation_summary(r.get('view_details'))
        tviews.append(item)
    doc = {
        'kind': KIND,
        'schema_version': SCHEMA_VERSION,
        'captured_at': (now or datetime.datetime.utcnow()).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'database': snap['database'],
        'server_version': facts['server_version'],
        'extension': {'extversion': facts['extversion'], 'library_version': facts['library_version'],
                      'schema': facts['schema'], 'api_generation': facts['api_generation']},
        'order': snap['order'],
        'tviews': tviews,
        'base_tables': snap['base_tables'],
        'dependents': [dict((k, d[k]) for k in ('type', 'name', 'depth', 'kind', 'ddl', 'drop', 'owner', 'comment', 'grants'))
                       for d in snap['dependents']],
        'triggers': [dict((k, t[k]) for k in ('name', 'table')) for t in snap['triggers']],
    }
    return seal(doc)


def load(text, source='manifest'):
    """Parse and check a manifest: its kind, schema version and digest."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ManifestError("%s is not valid JSON: %s" % (source, e))
    return check(doc, KIND, SCHEMA_VERSION, source, ManifestError, 'manifest')


def _index_set(details):
    return set((i['name'], i['definition']) for i in (details or {}).get('indexes') or [])


def _grant_set(details):
    return set((g['grantee'], g['privilege'], g['grantable']) for g in (details or {}).get('grants') or [])


def compare(expected, actual, data=True):
    """Every difference between a manifest and a live manifest-shaped document, as a list of
    {kind, object, expected, actual}. Kinds are DIFF_KINDS; without ``data``, DATA_KINDS are
    left out (a live database the application writes to)."""
    diffs = []

    def add(kind, obj, exp, act):
        diffs.append({'kind': kind, 'object': obj, 'expected': exp, 'actual': act})

    exp_tv = dict((t['entity'], t) for t in expected['tviews'])
    act_tv = dict((t['entity'], t) for t in actual['tviews'])
    for name in sorted(set(exp_tv) - set(act_tv)):
        add('missing_tview', name, exp_tv[name]['qualified_table'], None)
    for name in sorted(set(act_tv) - set(exp_tv)):
        add('extra_tview', name, None, act_tv[name]['qualified_table'])
    for name in sorted(set(exp_tv) & set(act_tv)):
        e, a = exp_tv[name], act_tv[name]
        if e['view_definition'] != a['view_definition']:
            add('definition', name, e['view_definition'], a['view_definition'])
        for key, kind in (('row_count', 'row_count'), ('checksum', 'checksum'), ('id_checksum', 'ids')):
            if e.get(key) is not None and e.get(key) != a.get(key):
                add(kind, name, e.get(key), a.get(key))
        for rel in ('table_details', 'view_details'):
            what = '%s %s' % (name, 'table' if rel == 'table_details' else 'view')
            for idx in sorted(_index_set(e[rel]) ^ _index_set(a[rel])):
                add('index', what, idx[1] if idx in _index_set(e[rel]) else None, idx[1] if idx in _index_set(a[rel]) else None)
            for g in sorted(_grant_set(e[rel]) ^ _grant_set(a[rel])):
                add('grant', what, list(g) if g in _grant_set(e[rel]) else None, list(g) if g in _grant_set(a[rel]) else None)
            if (e[rel] or {}).get('comment') != (a[rel] or {}).get('comment'):
                add('comment', what, (e[rel] or {}).get('comment'), (a[rel] or {}).get('comment'))
    exp_dep = dict((d['name'], d) for d in expected['dependents'])
    act_dep = dict((d['name'], d) for d in actual['dependents'])
    for name in sorted(set(exp_dep) | set(act_dep)):
        e, a = exp_dep.get(name), act_dep.get(name)
        if e is None or a is None or (e['ddl'], e['comment'], e['grants']) != (a['ddl'], a['comment'], a['grants']):
            add('dependent', name, e and e['ddl'], a and a['ddl'])
    # Base tables are compared where both sides recorded them: which relations count as a TVIEW's
    # base tables depends on the API generation (0.1 does not look through views, 0.2 does), so a
    # table recorded on one side only is not a change of its data.
    for name in sorted(set(expected['base_tables']) & set(actual['base_tables'])):
        e, a = expected['base_tables'][name], actual['base_tables'][name]
        if e != a:
            add('base_table', name, e, a)
    if not data:
        diffs = [d for d in diffs if d['kind'] not in DATA_KINDS]
    return diffs


def filter_allowed(diffs, allow):
    """Differences not covered by ``allow`` (kinds, or 'kind:object')."""
    allow = set(allow or [])
    return [d for d in diffs if d['kind'] not in allow and '%s:%s' % (d['kind'], d['object']) not in allow]


def ensure_store(cur):
    """Create the in-database store (idempotent). Returns True when it created something."""
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ('%s.%s' % (STORE_SCHEMA, STORE_TABLE),))
    if cur.fetchone()[0]:
        return False
    from psycopg2 import sql
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STORE_SCHEMA)))
    cur.execute(sql.SQL("COMMENT ON SCHEMA {} IS %s").format(sql.Identifier(STORE_SCHEMA)),
                ('pgtviews.ops migration records; not part of pg_tviews, survives DROP EXTENSION',))
    cur.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
        id bigserial PRIMARY KEY,
        captured_at timestamptz NOT NULL DEFAULT now(),
        digest text NOT NULL,
        extversion text,
        document text NOT NULL)""").format(sql.Identifier(STORE_SCHEMA, STORE_TABLE)))
    cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(STORE_SCHEMA)))
    return True


def store(cur, document):
    from psycopg2 import sql
    cur.execute(sql.SQL("INSERT INTO {} (digest, extversion, document) VALUES (%s, %s, %s) RETURNING id").format(
        sql.Identifier(STORE_SCHEMA, STORE_TABLE)),
        (document['digest'], document['extension']['extversion'], dumps(document)))
    return cur.fetchone()[0]


def load_stored(cur, digest=None):
    """The newest stored manifest (or the one with ``digest``), checked; None if none."""
    from psycopg2 import sql
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ('%s.%s' % (STORE_SCHEMA, STORE_TABLE),))
    if not cur.fetchone()[0]:
        return None
    query = sql.SQL("SELECT document FROM {} {} ORDER BY id DESC LIMIT 1").format(
        sql.Identifier(STORE_SCHEMA, STORE_TABLE), sql.SQL("WHERE digest = %s") if digest else sql.SQL(""))
    cur.execute(query, (digest,) if digest else None)
    row = cur.fetchone()
    return load(row[0], 'the manifest stored in %s.%s' % (STORE_SCHEMA, STORE_TABLE)) if row else None


def stored(cur, limit=20):
    """The valid manifests stored in the database, newest first (of the ``limit`` newest)."""
    from psycopg2 import sql
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ('%s.%s' % (STORE_SCHEMA, STORE_TABLE),))
    if not cur.fetchone()[0]:
        return []
    cur.execute(sql.SQL("SELECT document FROM {} ORDER BY id DESC LIMIT %s").format(
        sql.Identifier(STORE_SCHEMA, STORE_TABLE)), (int(limit),))
    out = []
    for row in cur.fetchall():
        try:
            out.append(load(row[0], 'a manifest stored in %s.%s' % (STORE_SCHEMA, STORE_TABLE)))
        except ManifestError:
            continue   # a damaged one is no candidate; the others still are
    return out


def capture(conn, path, store_in_database=True, dry_run=False, read_conn=None):
    """Build the manifest of the connected database and write it to ``path`` (0600), and
    store it in the database first in the same transaction, committed only once the file
    is written. ``read_conn`` (default ``conn``) is the session the manifest is read in: the
    backup passes the one holding the snapshot pg_dump dumps, so both describe the same data.
    Returns (document, stored id or None)."""
    from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
    from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_private
    doc = build(snapshot(read_conn or conn, ('catalog', 'data')))
    if dry_run:
        return doc, None
    stored_id = None
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        if store_in_database:
            with conn.cursor() as cur:
                ensure_store(cur)
                stored_id = store(cur, doc)
        write_private(path, dumps(doc))
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.autocommit = autocommit
    return doc, stored_id


def load_file(path):
    try:
        with open(path, 'rb') as fh:
            text = fh.read().decode('utf-8')
    except (IOError, OSError, UnicodeDecodeError) as e:
        raise ManifestError("cannot read manifest %s: %s" % (path, e))
    return load(text, path)
