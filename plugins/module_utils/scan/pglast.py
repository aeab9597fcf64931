# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The optional real PostgreSQL parser (pglast, libpg_query).

With it, findings in an .sql file are the function calls and relation references the
parser sees (so a name in a comment, a string constant or a CREATE/DROP FUNCTION is
never a call), function bodies are classified by their declared LANGUAGE, and every
rewritten file is parsed again, PL/pgSQL bodies included, before it may be written.
Without it, ``scan_finder`` falls back to its token heuristics and ``fix`` writes
nothing (no rewrite without a re-parse)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import pglast
    from pglast import ast as pglast_ast
    from pglast.parser import ParseError, parse_plpgsql_json, parse_sql
    from pglast.visitors import Visitor
    HAS_PGLAST = True
    PGLAST_VERSION = str(getattr(pglast, '__version__', 'unknown')).lstrip('v')
except ImportError:
    HAS_PGLAST = False
    PGLAST_VERSION = None
    Visitor = object

from ansible_collections.pgtviews.ops.plugins.module_utils.scan.sqllex import string_body, tokenize


class SqlParseFailure(Exception):
    """The text is not valid SQL for the parser (message from libpg_query)."""


class ParsedSql(object):
    """What the parser found in one SQL text: call and relation locations and the
    function bodies with their language (offsets of the body's string constant)."""

    def __init__(self):
        self.calls = set()
        self.relations = set()
        self.bodies = {}
        self.plpgsql_statements = []


if HAS_PGLAST:
    class _Collector(Visitor):

        def __init__(self, parsed):
            super(_Collector, self).__init__()
            self.parsed = parsed

        def visit_FuncCall(self, ancestors, node):
            self.parsed.calls.add(node.location)

        def visit_RangeVar(self, ancestors, node):
            self.parsed.relations.add(node.location)

        def _body(self, options, default_language):
            for opt in options or ():
                if opt.defname == 'as' and opt.arg_location is not None and opt.arg_location >= 0:
                    self.parsed.bodies[opt.arg_location] = _language(options, default_language)

        def visit_CreateFunctionStmt(self, ancestors, node):
            self._body(node.options, 'sql')

        def visit_DoStmt(self, ancestors, node):
            self._body(node.args, 'plpgsql')


def mask_meta(text):
    """``text`` with psql meta-command lines (``\\set``, ``\\i`` ...) blanked, so a psql
    script parses; offsets are unchanged."""
    parts = []
    last = 0
    for tok in tokenize(text):
        if tok.kind == 'meta':
            parts.append(text[last:tok.start])
            parts.append(' ' * (tok.end - tok.start))
            last = tok.end
    parts.append(text[last:])
    return ''.join(parts)


def parse(text):
    """Parse ``text``; raise SqlParseFailure when the parser rejects it."""
    masked = mask_meta(text)
    try:
        stmts = parse_sql(masked)
    except ParseError as exc:
        raise SqlParseFailure(_message(exc, masked))
    parsed = ParsedSql()
    collector = _Collector(parsed)
    for raw in stmts or ():
        collector(raw)
        node = raw.stmt
        plpgsql = (isinstance(node, pglast_ast.DoStmt) and _language(node.args, 'plpgsql') == 'plpgsql') or \
            (isinstance(node, pglast_ast.CreateFunctionStmt) and _language(node.options, 'sql') == 'plpgsql')
        if plpgsql:
            end = raw.stmt_location + raw.stmt_len if raw.stmt_len else len(masked)
            parsed.plpgsql_statements.append(masked[raw.stmt_location:end])
    return parsed


def _message(exc, text):
    """The parser's message with a 1-based line and column instead of an offset."""
    message = exc.args[0] if exc.args else str(exc)
    if len(exc.args) > 1 and isinstance(exc.args[1], int) and 0 <= exc.args[1] <= len(text):
        at = exc.args[1]
        line = text.count('\n', 0, at) + 1
        column = at - (text.rfind('\n', 0, at) + 1) + 1
        return '%s (line %d, column %d)' % (message, line, column)
    return message


def _language(options, default):
    for opt in options or ():
        if opt.defname == 'language':
            return opt.arg.sval.lower()
    return default


def validate(text):
    """None when ``text`` parses completely, the bodies of its PL/pgSQL and
    dollar-quoted LANGUAGE sql functions included; else the parser's message."""
    try:
        parsed = parse(text)
        for stmt in parsed.plpgsql_statements:
            try:
                parse_plpgsql_json(stmt)
            except ParseError as exc:
                raise SqlParseFailure('PL/pgSQL: %s' % exc.args[0])
        tokens = dict((t.start, t) for t in tokenize(text) if t.kind == 'dollar')
        for at, language in parsed.bodies.items():
            if language == 'sql' and at in tokens:
                parse(string_body(tokens[at])[1])
    except SqlParseFailure as exc:
        return str(exc)
    return None


def parses(text):
    """True when ``text`` is valid SQL."""
    try:
        parse_sql(text)
    except ParseError:
        return False
    return True
