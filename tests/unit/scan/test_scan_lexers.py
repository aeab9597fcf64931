"""The two lexers: SQL (checked against libpg_query's own scanner) and application
source (comments and string literals per language)."""

import glob
import os

import pytest
from pglast import parser as pglast_parser

from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.sqllex import (
    name_of, plain_literal_value, string_body, tokenize)
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.srclex import language_for, lex_source

SQL_FIXTURES = sorted(glob.glob(os.path.join(scan_testlib.FIXTURE_TREE, 'db', '*.sql')))


def kinds(sql):
    return [(t.kind, t.text) for t in tokenize(sql)]


@pytest.mark.parametrize('path', SQL_FIXTURES, ids=os.path.basename)
def test_token_spans_match_libpg_query(path):
    with open(path) as fh:
        text = fh.read()
    mine = [(t.start, t.end) for t in tokenize(text) if t.kind != 'meta']
    masked = list(text)
    for t in tokenize(text):
        if t.kind == 'meta':          # psql lines: not SQL, blanked for libpg_query
            masked[t.start:t.end] = ' ' * (t.end - t.start)
    theirs = [(t.start, t.end + 1) for t in pglast_parser.scan(''.join(masked))]
    assert mine == theirs


def test_sql_token_kinds():
    sql = (u"SELECT E'a\\'b', U&'x', 'it''s', $$ body 'q' $$, $f$ $$ $f$, \"Mixed \"\"Q\"\"\", $1, 1.5e3, "
           u"x::int, a => b, /* c /* nested */ c */ -- tail\n\\set x 1\n")
    assert kinds(sql) == [
        ('ident', 'SELECT'), ('estring', "E'a\\'b'"), ('punct', ','), ('estring', "U&'x'"), ('punct', ','),
        ('string', "'it''s'"), ('punct', ','), ('dollar', "$$ body 'q' $$"), ('punct', ','),
        ('dollar', '$f$ $$ $f$'), ('punct', ','), ('qident', '"Mixed ""Q"""'), ('punct', ','),
        ('param', '$1'), ('punct', ','), ('number', '1.5e3'), ('punct', ','), ('ident', 'x'), ('op', '::'),
        ('ident', 'int'), ('punct', ','), ('ident', 'a'), ('op', '=>'), ('ident', 'b'), ('punct', ','),
        ('comment', '/* c /* nested */ c */'), ('comment', '-- tail'), ('meta', '\\set x 1')]


def test_sql_token_helpers():
    toks = list(tokenize(u"PG_TVIEWS_Refresh \"Pg_Tview_Meta\" 'po''st' $t$ab$t$ E'x'"))
    assert [name_of(t) for t in toks] == ['pg_tviews_refresh', 'Pg_Tview_Meta', None, None, None]
    assert plain_literal_value(toks[2]) == "po'st"
    assert plain_literal_value(toks[4]) is None
    assert string_body(toks[3]) == (toks[3].start + 3, 'ab')


def test_unterminated_constants_run_to_the_end():
    toks = list(tokenize("SELECT 'abc"))
    assert toks[-1].kind == 'string' and not toks[-1].closed and toks[-1].text == "'abc"
    toks = list(tokenize("SELECT $x$ body"))
    assert toks[-1].kind == 'dollar' and not toks[-1].closed


def strings_of(text, language):
    return [text[s.start:s.end] for s in lex_source(text, language)[0]]


def code_of(text, language):
    return lex_source(text, language)[1]


def test_language_for():
    assert [language_for(p) for p in ('a.py', 'b.GO', 'c.tsx', 'd.rb', 'e.rs', 'f.sql', 'g.kt', 'Makefile')] == [
        'python', 'go', 'js', 'ruby', 'rust', 'sql', 'generic', 'generic']


def test_python_strings_docstrings_and_comments():
    text = ('"""Module doc."""\n'
            'x = rb\'raw\\\' still\' # "comment"\n'
            'def f():\n'
            '    """Doc of f."""\n'
            '    return f"{a}" + u\'\'\'multi\nline\'\'\'\n')
    lits = lex_source(text, 'python')[0]
    assert [(text[s.start:s.end], s.escapes, s.interp, s.docstring) for s in lits] == [
        ('Module doc.', True, '', True),
        ("raw\\' still", False, '', False),
        ('Doc of f.', True, '', True),
        ('{a}', True, '{', False),
        ('multi\nline', True, '', False)]
    assert '"comment"' not in code_of(text, 'python')


def test_go_java_js_strings():
    assert strings_of('s := `raw\n"x"` + "a\\"b" // "c"\nr := \'"\'', 'go') == ['raw\n"x"', 'a\\"b']
    assert strings_of('String s = """\n  text "q"\n  """; char c = \'"\'; /* "no" */', 'java') == [
        '\n  text "q"\n  ']
    text = 'const r = /["\']/g; const t = `a ${f("}")} b`; x = 4 / 2; y = "s" // "c"'
    assert strings_of(text, 'js') == ['a ${f("}")} b', 's']


def test_ruby_heredocs_percent_literals_and_block_comments():
    text = ('db.execute(<<~SQL, x)\n'
            '  SELECT 1\n'
            '  SQL\n'
            "y = %q(a (b) c) + 'd' # \"e\"\n"
            '=begin\n"not a string"\n=end\n'
            'z = "#{v}"\n')
    lits = lex_source(text, 'ruby')[0]
    assert [(text[s.start:s.end], s.interp) for s in lits] == [
        ('  SELECT 1\n', '#{'), ('a (b) c', ''), ('d', ''), ('#{v}', '#{')]
    assert 'not a string' not in code_of(text, 'ruby')


def test_rust_raw_strings_chars_lifetimes_and_nested_comments():
    text = ('fn f<\'a>(x: &\'a str) -> char { let s = r#"raw "q" "#; let b = b"by\\"te"; '
            '/* outer /* inner */ still */ let c = \'"\'; \'x\' }')
    assert strings_of(text, 'rust') == ['raw "q" ', 'by\\"te']
    code = code_of(text, 'rust')
    assert 'inner' not in code and 'still' not in code and 'fn f<\'a>' in code
    assert len(code) == len(text)
