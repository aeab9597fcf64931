"""tviews_code_scan fix against real servers: the SQL fixture's original statements on the
0.1.0 stand-in, every rewritten statement on the 0.2.0 stand-in.

What 0.1 can and cannot show: pg_tviews_refresh_one/_batch/_all/_cascade never existed in
real 0.1 (reference §5.1 #3'), only in the runbook. So on 0.1.0 the statements that use
real 0.1 functions must run, and those that use the runbook's inventions must fail with
undefined_function; after the rewrite every statement must run on 0.2.0. The application
strings are run the way their drivers send them: psycopg2 interpolating on the client,
and (for Go, Java, JS, Ruby, Rust) a server-side prepared statement whose parameters
PostgreSQL has to type itself."""

import os
import re
import shutil

import psycopg2
import pytest
from pglast.parser import split as split_sql

from tests.harness.modules import run_module
from tests.integration.standin.helpers import make_fixture_db
from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import Skipped, read_source, walk
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.srclex import lex_source

TREE = scan_testlib.FIXTURE_TREE

# Outcome of each statement of db/refresh_jobs.sql as written, on 0.1.0.
ORIGINAL_ON_01 = [
    ("SELECT pg_tviews_refresh('post')", None),
    ("SELECT pg_tviews_refresh(entity => 'post')", None),
    ("SELECT pg_tviews_refresh_one('public.tv_post', 1)", '42883'),
    ("SELECT public.pg_tviews_refresh_batch('tv_post', ARRAY[1, 2]::bigint[])", '42883'),
    ("SELECT pg_tviews_refresh_all('public.tv_%')", '42883'),
    ("SELECT pg_tviews_refresh_cascade(", '42883'),
    ("SELECT 'pg_tviews_refresh_one is gone in 0.2'", None),
    ("DO $$", None),
    ("CREATE OR REPLACE FUNCTION app_refresh_post", None),
    ("SELECT app_refresh_post(2)", '42883'),      # its body calls pg_tviews_refresh_one
]


@pytest.fixture(scope='module')
def db01(pg_cluster):
    return pg_cluster, make_fixture_db(pg_cluster)


@pytest.fixture(scope='module')
def db02(pg02_cluster):
    return pg02_cluster, make_fixture_db(pg02_cluster)


@pytest.fixture
def tree(tmp_path):
    dest = str(tmp_path / 'tree')
    shutil.copytree(TREE, dest, symlinks=True)
    return dest


def statements(path):
    with open(path, encoding='utf-8') as fh:
        return [s.strip() for s in split_sql(fh.read())]


def run(cluster, dbname, sql, params=None):
    """None when ``sql`` runs, else its SQLSTATE. Each statement gets its own connection."""
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        return None
    except psycopg2.Error as exc:
        return exc.pgcode
    finally:
        conn.close()


def strip_comments(stmt):
    return '\n'.join(line for line in stmt.splitlines() if not line.lstrip().startswith('--')).strip()


def test_original_statements_on_010(db01):
    cluster, dbname = db01
    assert cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", dbname) == [('0.1.0',)]
    stmts = statements(os.path.join(TREE, 'db', 'refresh_jobs.sql'))
    assert len(stmts) == len(ORIGINAL_ON_01)
    for stmt, (prefix, expected) in zip(stmts, ORIGINAL_ON_01):
        assert strip_comments(stmt).startswith(prefix)
        assert run(cluster, dbname, stmt) == expected, stmt


def test_01_forms_do_not_run_on_020(db02):
    cluster, dbname = db02
    assert run(cluster, dbname, "SELECT pg_tviews_refresh('post')") == '22000'            # TVIEW not found: post
    assert run(cluster, dbname, "SELECT pg_tviews_refresh(entity => 'post')") == '42883'


def test_rewritten_statements_run_on_020_and_refresh(tree, db02):
    cluster, dbname = db02
    result = run_module('tviews_code_scan', dict(paths=[os.path.join(tree, 'db', 'refresh_jobs.sql')], fix=True))
    assert result['changed'] is True and result['counts']['fixed'] == 9
    assert result['findings'] and all(f['fixed'] for f in result['findings'])
    stmts = statements(os.path.join(tree, 'db', 'refresh_jobs.sql'))
    assert len(stmts) == len(ORIGINAL_ON_01)
    assert not any(re.search(r'pg_tviews_refresh_(one|batch|all|cascade)\s*\(', strip_comments(s)) for s in stmts)
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE public.tv_post SET data = '{}'::jsonb WHERE pk_post IN (1, 2)")
    finally:
        conn.close()
    for stmt in stmts:
        assert run(cluster, dbname, stmt) is None, stmt
    stale = cluster.execute("SELECT count(*) FROM public.tv_post t JOIN public.v_post v USING (pk_post) "
                            "WHERE t.data IS DISTINCT FROM v.data", dbname)
    assert stale == [(0,)]
    again = run_module('tviews_code_scan', dict(paths=[os.path.join(tree, 'db', 'refresh_jobs.sql')], fix=True))
    assert again['changed'] is False and again['findings'] == []


def test_psql_script_rewrite_runs_through_psql_on_020(tree, db02):
    cluster, dbname = db02
    path = os.path.join(tree, 'db', 'release_psql.sql')
    result = run_module('tviews_code_scan', dict(paths=[path], fix=True))
    assert result['changed'] is True
    with open(path) as fh:
        script = fh.read()
    assert "\nSELECT pg_tviews_refresh(tview_name => 'tv_post', cascade => true);\n" in script
    # psql runs it, meta-commands and all (the \i target is not part of the fixture)
    cluster.psql(dbname, input=script.replace('\\i other.sql\n', ''))


_PLACEHOLDER = re.compile(r'%\((\w+)\)s|%s|\?|(?<![:\w]):(\w+)|\$(\d+)')


def as_prepared(sql):
    """The string with its host placeholders (%s, %(name)s, ?, :name) numbered $1..$n as
    a server-side prepared statement has them, and the number of parameters."""
    names = []

    def number(m):
        if m.group(3):
            return m.group(0)
        key = m.group(1) or m.group(2)
        if key is None or key not in names:
            names.append(key)
            return '$%d' % len(names)
        return '$%d' % (names.index(key) + 1)
    out = _PLACEHOLDER.sub(number, sql)
    return out, max([0] + [int(n) for n in re.findall(r'\$(\d+)', out)])


def values_for(sql, count):
    """Arguments for the numbered parameters of a rewritten call."""
    values = []
    for n in range(1, count + 1):
        if re.search(r'tview_name => \$%d\b' % n, sql):
            values.append('tv_post')
        elif re.search(r'ARRAY\[\$%d\]' % n, sql):
            values.append(1)
        elif re.search(r'primary_keys => \$%d\b' % n, sql):
            values.append('{1,2}')
        else:
            raise AssertionError('no value for $%d in %s' % (n, sql))
    return values


def rewritten_strings(root):
    """Every string literal of the application fixtures that holds a rewritten call."""
    found = []
    for path, dummy in walk([root]):
        try:
            source = read_source(path)
        except Skipped:
            continue        # the binary bundle
        for lit in lex_source(source.text, source.language)[0]:
            body = source.text[lit.start:lit.end]
            if 'pg_tviews_refresh(' in body:
                found.append((os.path.relpath(path, root), body))
    return found


def test_rewritten_application_statements_run_on_020(tree, db02):
    cluster, dbname = db02
    result = run_module('tviews_code_scan', dict(paths=[os.path.join(tree, 'app'), os.path.join(tree, 'rust')],
                                                 fix=True))
    assert result['counts']['fixed'] == 11
    strings = rewritten_strings(tree)
    assert sorted(set(p for p, dummy in strings)) == [
        'app/go/refresh.go', 'app/java/TviewRepository.java', 'app/js/refresh.js', 'app/python/tviews_repo.py',
        'app/ruby/refresh.rb', 'rust/src/lib.rs']
    assert len(strings) == 11
    for path, body in strings:
        sql, count = as_prepared(body)
        conn = cluster.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute('PREPARE scan_stmt AS ' + sql)
                cur.execute('EXECUTE scan_stmt' + ('(%s)' % ', '.join(['%s'] * count) if count else ''),
                            values_for(sql, count))
        except psycopg2.Error as exc:
            pytest.fail('%s: %s: %s' % (path, sql, exc))
        finally:
            conn.close()


def test_rewritten_python_constants_run_through_psycopg2_on_020(tree, db02):
    cluster, dbname = db02
    path = os.path.join(tree, 'app', 'python', 'tviews_repo.py')
    run_module('tviews_code_scan', dict(paths=[path], fix=True))
    namespace = {}
    with open(path) as fh:
        source = fh.read()
    exec(compile(source, path, 'exec'), namespace)
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(namespace['REFRESH_ONE'], ('tv_post', 1))
            cur.execute(namespace['REFRESH_BATCH'], {'tview': 'public.tv_post', 'pks': [1, 2]})
            cur.execute(namespace['REFRESH_ENTITY'])
            namespace['cascade'](cur, 'tv_post')
    finally:
        conn.close()
