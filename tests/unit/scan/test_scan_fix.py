"""fix: the mechanical rewrites, their guards, idempotence, and that files keep their
encoding and line endings."""

import os
import shutil

import pytest

from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan import finder as scan_finder
from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import DEFAULT_EXCLUDE, read_source
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.finder import scan_text
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.fix import NO_PARSER, fix_text
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import RULES
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.tree import run_scan

REFRESH_JOBS_FIXED = """\
-- Nightly refresh job for the post TVIEW, written against the 0.1 API as the
-- runbook describes it. pg_tviews_refresh_one('tv_post', 0) in this comment
-- is not a call; /* pg_tviews_refresh_batch('tv_post', ARRAY[0]) */ neither.

SELECT pg_tviews_refresh(tview_name => 'tv_post');
SELECT pg_tviews_refresh(tview_name => 'tv_post');
SELECT pg_tviews_refresh(tview_name => 'public.tv_post', primary_keys => ARRAY[1]::bigint[]);
SELECT public.pg_tviews_refresh(tview_name => 'tv_post', primary_keys => ARRAY[1, 2]::bigint[]);
SELECT pg_tviews_refresh(tview_name => 'public.tv_%');
SELECT pg_tviews_refresh(tview_name => 'tv_post'  /* the entity's TVIEW */, cascade => true);
SELECT 'pg_tviews_refresh_one is gone in 0.2' AS note, length('pg_tview_meta') AS n;

DO $$
BEGIN
    PERFORM pg_tviews_refresh(tview_name => 'tv_post');
    RAISE NOTICE 'refreshed post, without pg_tviews_refresh_one';
END
$$;

CREATE OR REPLACE FUNCTION app_refresh_post(pk bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- one row, then its dependants
    PERFORM pg_tviews_refresh(tview_name => 'tv_post', primary_keys => ARRAY[pk]::bigint[]);
    PERFORM pg_tviews_refresh(tview_name => 'tv_post', cascade => true);
END
$fn$;

SELECT app_refresh_post(2);
"""


@pytest.fixture
def tree(tmp_path):
    dest = tmp_path / 'tree'
    shutil.copytree(scan_testlib.FIXTURE_TREE, str(dest), symlinks=True)
    return str(dest)


def write(path, data):
    with open(path, 'wb') as fh:
        fh.write(data)


def snapshot(root):
    out = {}
    for dirpath, dummy, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as fh:
                out[os.path.relpath(path, root)] = fh.read()
    return out


def fix(text, language='sql'):
    return fix_text(text, language, RULES)


def test_fix_rewrites_the_tree_and_a_second_fix_changes_nothing(tree):
    before = snapshot(tree)
    first = run_scan([tree], RULES, exclude=DEFAULT_EXCLUDE, fix=True, write=write)
    assert sorted(os.path.relpath(p, tree) for p in first['changed_files']) == [
        'app/go/refresh.go', 'app/java/TviewRepository.java', 'app/js/refresh.js', 'app/python/tviews_repo.py',
        'app/ruby/refresh.rb', 'db/refresh_jobs.sql', 'db/release_psql.sql',
        'rust/src/lib.rs']
    assert first['counts']['fixed'] == 21
    assert first['counts']['autofixable'] == 22
    assert [(os.path.relpath(r['path'], tree), r['reason'].split(':')[0]) for r in first['fix_refused']] == [
        ('db/broken.sql', 'the file does not parse, so a rewrite could not be checked')]
    with open(os.path.join(tree, 'db', 'refresh_jobs.sql')) as fh:
        assert fh.read() == REFRESH_JOBS_FIXED
    after = snapshot(tree)
    assert after['db/broken.sql'] == before['db/broken.sql']
    assert after['db/monitoring.sql'] == before['db/monitoring.sql']
    assert sorted(k for k in after if after[k] != before[k]) == sorted(
        os.path.relpath(p, tree) for p in first['changed_files'])

    second = run_scan([tree], RULES, exclude=DEFAULT_EXCLUDE, fix=True, write=write)
    assert second['changed_files'] == [] and second['diff'] == ''
    assert snapshot(tree) == after
    left = [(os.path.relpath(f['path'], tree), f['line'], f['rule']) for f in second['findings'] if f['autofixable']]
    assert left == [('db/broken.sql', 2, 'sql-refresh-one')]
    assert second['counts']['total'] == first['counts']['total'] - 21


def test_check_mode_computes_the_diff_and_writes_nothing(tree):
    before = snapshot(tree)
    result = run_scan([os.path.join(tree, 'db')], RULES, fix=True, write=None)
    assert snapshot(tree) == before
    assert result['counts']['fixed'] == 10
    path = os.path.join(tree, 'db', 'release_psql.sql')
    assert result['diff'].endswith(
        '--- %s\n+++ %s\n@@ -1,4 +1,4 @@\n \\set ON_ERROR_STOP on\n \\echo refreshing post\n'
        "-SELECT pg_tviews_refresh_cascade('tv_post');\n"
        "+SELECT pg_tviews_refresh(tview_name => 'tv_post', cascade => true);\n \\i other.sql\n" % (path, path))


def test_application_code_rewrites_stay_inside_their_literal(tree):
    run_scan([os.path.join(tree, 'app')], RULES, fix=True, write=write)
    with open(os.path.join(tree, 'app', 'python', 'tviews_repo.py')) as fh:
        text = fh.read()
    assert 'REFRESH_ONE = "SELECT pg_tviews_refresh(tview_name => %s, primary_keys => ARRAY[%s]::bigint[])"' in text
    assert "REFRESH_BATCH = 'SELECT pg_tviews_refresh(tview_name => %(tview)s, primary_keys => %(pks)s)'" in text
    assert 'REFRESH_ENTITY = "SELECT pg_tviews_refresh(tview_name => \'tv_post\')"' in text
    assert "cur.execute(r'SELECT pg_tviews_refresh(tview_name => %s, cascade => true)', (tview,))" in text
    assert 'cur.execute(f"SELECT pg_tviews_refresh_all(\'{schema}.%\')")' in text       # f-string: untouched
    assert 'The old code called SELECT pg_tviews_refresh_one(%s, %s) here' in text     # docstring: untouched
    compile(text, 'tviews_repo.py', 'exec')
    with open(os.path.join(tree, 'app', 'js', 'refresh.js')) as fh:
        js = fh.read()
    assert "db.raw('select pg_tviews_refresh(tview_name => ?, primary_keys => ARRAY[?]::bigint[])'" in js
    assert 'db.raw(`SELECT pg_tviews_refresh_batch(${tview}, ?)`' in js
    with open(os.path.join(tree, 'app', 'ruby', 'refresh.rb')) as fh:
        ruby = fh.read()
    assert "SELECT pg_tviews_refresh_one('tv_post', #{id.to_i})" in ruby
    assert "execute(%q(SELECT pg_tviews_refresh(tview_name => 'tv_post')))" in ruby


def test_latin1_file_keeps_its_encoding(tmp_path):
    path = str(tmp_path / 'latin1_job.rb')
    write(path, scan_testlib.LATIN1_JOB)
    run_scan([path], RULES, fix=True, write=write)
    with open(path, 'rb') as fh:
        data = fh.read()
    assert data.splitlines()[1] == b'# R\xe9sum\xe9 of the nightly job'
    assert data.splitlines()[2] == (b'QUERY = "SELECT \'caf\xe9\', '
                                    b'pg_tviews_refresh(tview_name => \'tv_post\', cascade => true)"')


@pytest.mark.parametrize('encoding, bom', [('utf-8', b''), ('utf-8', b'\xef\xbb\xbf'), ('utf-16-le', b'\xff\xfe')])
def test_rewrite_keeps_bom_encoding_and_crlf(tmp_path, encoding, bom):
    path = str(tmp_path / 'job.sql')
    text = u"-- r\u00e9sum\u00e9\r\nSELECT pg_tviews_refresh_all('public.%');\r\nSELECT 1;\r\n"
    write(path, bom + text.encode(encoding))
    result = run_scan([path], RULES, fix=True, write=write)
    assert [(f['line'], f['column'], f['fixed']) for f in result['findings']] == [(2, 8, True)]
    with open(path, 'rb') as fh:
        data = fh.read()
    assert data == bom + text.replace("pg_tviews_refresh_all('public.%')",
                                      "pg_tviews_refresh(tview_name => 'public.%')").encode(encoding)
    assert read_source(path).encoding == encoding


def test_unparseable_file_is_never_rewritten():
    text = "SELECT pg_tviews_refresh_one('tv_post', 3) x y z;\n"
    result = fix(text)
    assert result.new_text == text and not result.changed
    assert result.refused.startswith('the file does not parse')
    assert '(line 1, column 46)' in result.refused


def test_a_rewrite_that_would_not_parse_is_refused(monkeypatch):
    monkeypatch.setattr(scan_finder, 'rewrite_call', lambda rule_id, call, text: ('pg_tviews_refresh(tview_name => ', None))
    text = "SELECT pg_tviews_refresh_one('tv_post', 1);\nSELECT 2;\n"
    result = fix(text)
    assert result.new_text == text and not result.changed
    assert result.refused.startswith('the rewritten file would not parse: syntax error')


def test_a_rewrite_that_breaks_a_plpgsql_body_is_refused(monkeypatch):
    monkeypatch.setattr(scan_finder, 'rewrite_call', lambda rule_id, call, text: ('pg_tviews_refresh(1 +)', None))
    text = "DO $$ BEGIN PERFORM pg_tviews_refresh_one('tv_post', 1); END $$;\n"
    assert scan_pglast.validate(text) is None
    result = fix(text)
    assert result.new_text == text
    assert result.refused.startswith('the rewritten file would not parse: PL/pgSQL: syntax error')


def test_a_rewrite_that_does_not_settle_is_refused(monkeypatch):
    monkeypatch.setattr(scan_finder, 'rewrite_call',
                        lambda rule_id, call, text: ("pg_tviews_refresh_all('public.%')", None))
    text = "SELECT pg_tviews_refresh_all('public.%');\n"
    result = fix(text)
    assert result.new_text == text
    assert result.refused == 'the rewrite did not settle (a second pass would change it again)'


def test_without_pglast_nothing_is_rewritten_but_everything_is_found(monkeypatch, tree):
    monkeypatch.setattr(scan_pglast, 'HAS_PGLAST', False)
    before = snapshot(tree)
    result = run_scan([tree], RULES, exclude=DEFAULT_EXCLUDE, fix=True, write=write)
    assert snapshot(tree) == before
    assert result['changed_files'] == [] and result['counts']['fixed'] == 0
    assert result['counts']['autofixable'] == 22
    assert set(r['reason'] for r in result['fix_refused']) == {NO_PARSER}
    assert all(f['note'] == NO_PARSER for f in result['findings'] if f['autofixable'])


@pytest.mark.parametrize('sql, note', [
    ("SELECT pg_tviews_refresh_one('tv_post', -- the row\n 1);", 'a -- comment inside the call'),
    ("SELECT pg_tviews_refresh_one('tv_post');", 'expected 2 argument(s), found 1'),
    ("SELECT pg_tviews_refresh_batch(entity => 'tv_post', pks => ARRAY[1]);", 'named arguments'),
    ("SELECT pg_tviews_refresh_all(VARIADIC ARRAY['a']);", 'VARIADIC argument'),
    ("SELECT pg_tviews_refresh('public.post');", 'the literal is not a bare 0.1 entity name'),
    ("SELECT pg_tviews_refresh(E'post');", 'the entity is not a string literal: prefix it with tv_ by hand'),
    ("SELECT pg_tviews_refresh(lower('POST'));", 'the entity is not a string literal: prefix it with tv_ by hand'),
])
def test_calls_that_are_not_rewritten_mechanically(sql, note):
    hits = scan_text(sql, 'sql', RULES).hits
    assert [(h.fix, h.reason) for h in hits] == [(None, note)]
    assert fix(sql).new_text == sql


@pytest.mark.parametrize('sql', [
    "SELECT pg_tviews_refresh(tview_name => 'tv_post');",
    "SELECT pg_tviews_refresh('tv_post', ARRAY[1]);",
    "SELECT pg_tviews_refresh();",
    "CREATE FUNCTION pg_tviews_refresh_one(e text, pk bigint) RETURNS void LANGUAGE sql AS 'SELECT 1';",
    "DROP FUNCTION IF EXISTS pg_tviews_refresh_batch(text, bigint[]);",
    "GRANT EXECUTE ON FUNCTION pg_tviews_debug_queue() TO app;",
    "SELECT x.pg_tviews_refresh_one FROM t AS x;",
])
def test_definitions_and_new_api_calls_are_not_findings(sql, monkeypatch):
    assert scan_text(sql, 'sql', RULES).hits == []
    monkeypatch.setattr(scan_pglast, 'HAS_PGLAST', False)
    assert scan_text(sql, 'sql', RULES).hits == []


def test_the_parser_is_more_precise_than_the_tokens(monkeypatch):
    sql = 'SELECT 1 AS pg_tview_meta;'
    assert scan_text(sql, 'sql', RULES).hits == []
    monkeypatch.setattr(scan_pglast, 'HAS_PGLAST', False)
    assert [h.rule.id for h in scan_text(sql, 'sql', RULES).hits] == ['sql-internal-table']


def test_sql_language_function_bodies_are_parsed_and_rewritten():
    sql = ("CREATE FUNCTION refresh_posts() RETURNS void LANGUAGE sql\n"
           "AS $body$ SELECT pg_tviews_refresh_cascade('tv_post') $body$;\n")
    hits = scan_text(sql, 'sql', RULES).hits
    assert [(h.context, h.fix is not None) for h in hits] == [('sql-body', True)]
    assert fix(sql).new_text == sql.replace("pg_tviews_refresh_cascade('tv_post')",
                                            "pg_tviews_refresh(tview_name => 'tv_post', cascade => true)")


def test_bodies_in_other_languages_are_strings():
    sql = ("CREATE FUNCTION f() RETURNS void LANGUAGE plpython3u\n"
           "AS $py$ plpy.execute(\"SELECT pg_tviews_refresh_one('tv_post', 1)\") $py$;\n")
    hits = scan_text(sql, 'sql', RULES).hits
    assert [(h.rule.id, h.context, h.fix) for h in hits] == [('sql-refresh-one', 'string', None)]


def test_app_call_that_does_not_parse_on_its_own_is_left_alone():
    text = 'q = "SELECT pg_tviews_refresh_one($tview, 1)"\n'
    result = fix(text, 'python')
    assert result.new_text == text and not result.changed
    assert list(result.skipped.values()) == ['the call does not parse as SQL on its own']


def test_app_call_with_escapes_is_not_rewritten():
    text = "q = 'SELECT pg_tviews_refresh(\\'post\\')'\n"
    hits = scan_text(text, 'python', RULES).hits
    assert [(h.rule.id, h.fix) for h in hits] == [('sql-refresh-entity', None)]
