# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the rules of ``scan_rules`` in one text.

- ``.sql`` files: the SQL lexer splits the text; with pglast the parser decides what is
  a call or a relation reference (AST locations) and which dollar-quoted constants are
  function bodies and in what language; without it, token heuristics decide (a name
  followed by ``(`` is a call unless it follows FUNCTION/PROCEDURE/ROUTINE; a function
  body is the constant after ``AS`` in CREATE FUNCTION/PROCEDURE or after ``DO``).
  Bodies in LANGUAGE sql/plpgsql are code; other string constants are searched only
  when they look like SQL, and are never rewritten.
- application code: the source lexer finds string literals; a literal that looks like
  SQL is searched like SQL. Comments, Python docstrings and other literals are skipped.
- Rust: its rules match identifiers in code, never in comments or strings.

A string "looks like SQL" when its first word is a statement or clause keyword written
in lower or upper case (``SELECT``, ``perform``, ``call``, ``from`` ...), when it has an
upper-case SQL keyword anywhere, or when it starts with a call of a rule's function
that is all there is (or is followed by punctuation, or is left open for a concatenation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rewrite import (
    is_01_refresh, literal_refusal, rewrite_call, suggestion)
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import replacement_for
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.sqllex import (
    STRING_KINDS, name_of, significant, string_body, tokenize)
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.srclex import lex_source

# rule, name: the rule and the name it matched; start/end: offsets of the match in the
# scanned text; context: 'sql', 'sql-body', 'string' or 'code'; fix: (start, end, new
# text) of a mechanical rewrite or None; replacement: what to write instead; reason: why
# there is no fix ('' when there is one).
Hit = namedtuple('Hit', 'rule name start end context fix replacement reason')
Call = namedtuple('Call', 'start name_start name_end close args line_comment')
Arg = namedtuple('Arg', 'name start end tokens variadic')

_DEFINITION_KEYWORDS = ('function', 'procedure', 'routine')
_STATEMENT_WORDS = frozenset((
    'select', 'perform', 'call', 'with', 'insert', 'update', 'delete', 'execute', 'do', 'create', 'drop',
    'alter', 'copy', 'truncate', 'explain', 'values', 'from', 'join', 'where', 'returning', 'union', 'into'))
_UPPER_KEYWORDS = frozenset((
    'SELECT', 'PERFORM', 'CALL', 'FROM', 'JOIN', 'INSERT', 'UPDATE', 'DELETE', 'EXECUTE', 'WHERE',
    'RETURNING', 'VALUES', 'INTO'))
_MAX_DEPTH = 4
# The source lexer for function bodies in other procedural languages.
_BODY_LEXERS = {'plpython3u': 'python', 'plpythonu': 'python', 'plpython2u': 'python',
                'plv8': 'js', 'plls': 'js', 'plcoffee': 'js', 'plrust': 'rust'}


def _is_punct(tok, char):
    return tok is not None and tok.kind == 'punct' and tok.text == char


class _SqlRules(object):
    """The SQL rules in the shape the matcher needs."""

    def __init__(self, rules):
        self.calls = {}
        self.prefixes = []
        self.relations = {}
        for rule in rules:
            if rule.scope != 'sql':
                continue
            table = self.calls if rule.kind == 'call' else self.relations
            for name in rule.names:
                table[name] = rule
            for prefix in rule.prefixes:
                self.prefixes.append((prefix, rule))

    def call_rule(self, name):
        rule = self.calls.get(name)
        if rule is None:
            for prefix, candidate in self.prefixes:
                if name.startswith(prefix):
                    return candidate
        return rule


def parse_call(text, sig, paren_idx):
    """Arguments of the call whose ``(`` is ``sig[paren_idx]``: (close offset, args); the
    close offset is None when the parentheses do not balance in this text. An argument's
    span runs from separator to separator (comments around the value included), minus
    surrounding white space; a named argument's span is its value."""
    depth = 0
    args = []
    current = []
    seg_start = sig[paren_idx].end
    for j in range(paren_idx + 1, len(sig)):
        tok = sig[j]
        if tok.kind == 'punct' and tok.text in '([':
            depth += 1
        elif tok.kind == 'punct' and tok.text in ')]':
            if depth == 0:
                if current or args:
                    args.append(_arg(text, current, seg_start, tok.start))
                return tok.end, args
            depth -= 1
        elif depth == 0 and _is_punct(tok, ','):
            args.append(_arg(text, current, seg_start, tok.start))
            current = []
            seg_start = tok.end
            continue
        elif depth == 0 and _is_punct(tok, ';'):
            break
        current.append(tok)
    return None, []


def _arg(text, tokens, seg_start, seg_end):
    if not tokens:
        return Arg(None, seg_start, seg_start, (), False)
    name = None
    if len(tokens) >= 3 and name_of(tokens[0]) is not None and tokens[1].kind == 'op' and tokens[1].text in ('=>', ':='):
        name = name_of(tokens[0])
        tokens = tokens[2:]
        seg_start = tokens[0].start
    segment = text[seg_start:seg_end]
    start = seg_start + len(segment) - len(segment.lstrip())
    end = seg_end - (len(segment) - len(segment.rstrip()))
    return Arg(name, start, end, tuple(tokens), name_of(tokens[0]) == 'variadic')


def _qualified_start(sig, idx):
    """Index of the first token of the (possibly schema-qualified) name ending at idx."""
    k = idx
    while k >= 2 and _is_punct(sig[k - 1], '.') and name_of(sig[k - 2]) is not None:
        k -= 2
    return k


def _defines(sig, first):
    """True when the name starting at sig[first] follows FUNCTION/PROCEDURE/ROUTINE
    (optionally IF [NOT] EXISTS): a definition or a DDL target, not a call."""
    k = first - 1
    while k >= 0 and name_of(sig[k]) in ('if', 'not', 'exists'):
        k -= 1
    return k >= 0 and name_of(sig[k]) in _DEFINITION_KEYWORDS


def _statements(sig):
    stmt = []
    for tok in sig:
        if _is_punct(tok, ';'):
            if stmt:
                yield stmt
            stmt = []
        else:
            stmt.append(tok)
    if stmt:
        yield stmt


def heuristic_bodies(sig):
    """{offset of a function body constant: language} without a parser."""
    bodies = {}
    for stmt in _statements(sig):
        words = [name_of(t) for t in stmt]
        if not words or words[0] not in ('do', 'create'):
            continue
        language = None
        if 'language' in words:
            at = words.index('language') + 1
            if at < len(stmt):
                lang_tok = stmt[at]
                language = string_body(lang_tok)[1] if lang_tok.kind in STRING_KINDS else name_of(lang_tok)
        if words[0] == 'do':
            body = next((t for t in stmt[1:] if t.kind in STRING_KINDS), None)
            if body is not None:
                bodies[body.start] = (language or 'plpgsql').lower()
            continue
        head = words[1:4]
        if 'function' not in head and 'procedure' not in head:
            continue
        for k in range(len(stmt) - 1):
            if words[k] == 'as' and stmt[k + 1].kind in STRING_KINDS:
                bodies[stmt[k + 1].start] = (language or 'sql').lower()
                break
    return bodies


def looks_like_sql(text, sig, sql_rules):
    """See the module docstring."""
    first = next((t for t in sig if t.kind not in ('op', 'punct')), None)
    if first is not None and first.kind == 'ident':
        word = first.text
        if (word.islower() or word.isupper()) and word.lower() in _STATEMENT_WORDS:
            return True
    if any(t.kind == 'ident' and t.text in _UPPER_KEYWORDS for t in sig):
        return True
    if sig and name_of(sig[0]) is not None:
        end = _qualified_end(sig, 0)
        if end + 1 >= len(sig) or not _is_punct(sig[end + 1], '(') or sql_rules.call_rule(name_of(sig[end])) is None:
            return False
        close, dummy = parse_call(text, sig, end + 1)
        if close is None:
            return True     # a fragment that continues in another literal
        after = [t for t in sig if t.start >= close]
        return not after or after[0].kind in ('punct', 'op')
    return False


def _qualified_end(sig, idx):
    k = idx
    while k + 2 < len(sig) and _is_punct(sig[k + 1], '.') and name_of(sig[k + 2]) is not None:
        k += 2
    return k


class SqlMatcher(object):
    """Finds SQL rule hits in a text (a file, a function body or a string's contents)."""

    def __init__(self, rules, use_parser):
        self.rules = _SqlRules(rules)
        self.use_parser = use_parser and scan_pglast.HAS_PGLAST
        self.parse_error = None

    def scan(self, text, base=0, context='sql', parse=False, depth=0):
        """Hits in ``text``, whose first character is at ``base`` of the file.
        ``parse``: confirm matches with the parser (top level of .sql files and
        LANGUAGE sql bodies)."""
        tokens = list(tokenize(text))
        sig = significant(tokens)
        parsed = None
        if parse and self.use_parser:
            try:
                parsed = scan_pglast.parse(text)
            except scan_pglast.SqlParseFailure as exc:
                if depth == 0:
                    self.parse_error = str(exc)
        bodies = parsed.bodies if parsed is not None else heuristic_bodies(sig)
        line_comments = [t.start for t in tokens if t.kind == 'comment' and t.text.startswith('--')]
        hits = []
        for idx, tok in enumerate(sig):
            if tok.kind in STRING_KINDS:
                hits.extend(self._constant(tok, bodies, base, context, depth))
                continue
            name = name_of(tok)
            if name is None:
                continue
            nxt = sig[idx + 1] if idx + 1 < len(sig) else None
            if _is_punct(nxt, '.'):
                continue
            first = _qualified_start(sig, idx)
            start = sig[first].start
            if _is_punct(nxt, '('):
                rule = self.rules.call_rule(name)
                if rule is None or (parsed is not None and start not in parsed.calls):
                    continue
                if parsed is None and _defines(sig, first):
                    continue
                close, args = parse_call(text, sig, idx + 1)
                call = Call(start, tok.start, tok.end, close, args,
                            close is not None and any(start < c < close for c in line_comments))
                hit = self._call_hit(rule, name, call, text, base, context)
                if hit is not None:
                    hits.append(hit)
            else:
                rule = self.rules.relations.get(name)
                if rule is None or (parsed is not None and start not in parsed.relations):
                    continue
                hits.append(Hit(rule, name, base + start, base + tok.end, context, None,
                                replacement_for(rule, name), 'no mechanical rewrite for this rule'))
        return hits

    def _call_hit(self, rule, name, call, text, base, context):
        if rule.id == 'sql-refresh-entity' and not is_01_refresh(call):
            return None
        end = call.close if call.close is not None else call.name_end
        fix = None
        reason = 'no mechanical rewrite for this rule'
        replacement = replacement_for(rule, name)
        if rule.autofix:
            new, reason = rewrite_call(rule.id, call, text)
            if new is not None:
                fix = (base + call.start, base + end, new)
                replacement, reason = new, ''
            else:
                replacement = suggestion(rule.id, call, text) or replacement
        return Hit(rule, name, base + call.start, base + end, context, fix, replacement, reason)

    def _constant(self, tok, bodies, base, context, depth):
        if depth >= _MAX_DEPTH or not tok.closed:
            return []
        offset, body = string_body(tok)
        language = bodies.get(tok.start)
        if tok.kind == 'dollar' and language in ('plpgsql', 'sql'):
            body_context = 'sql-body' if context == 'sql' else context
            return self.scan(body, base + offset, body_context, parse=(language == 'sql'), depth=depth + 1)
        if language is not None:
            # A body in another language (plpython3u, plv8 ...): its own string literals.
            hits = source_string_hits(self, body, _BODY_LEXERS.get(language, 'generic'), base + offset)
        elif looks_like_sql(body, significant(tokenize(body)), self.rules):
            hits = self.scan(body, base + offset, 'string', depth=depth + 1)
        else:
            return []
        return [h._replace(fix=None, reason='inside an SQL string constant: rewrite by hand')
                if h.fix is not None else h for h in hits]


_RUST_IDENT = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
_RUST_VARIANT = re.compile(r'\bTViewError\s*::\s*(?:([A-Za-z_][A-Za-z0-9_]*)\b|\{([^}]*)\})')


def rust_hits(code, rules):
    """Hits of the Rust rules in ``code`` (the source with comments and strings blanked).
    The get_table_oid rule only reports a file that also uses refresh_pk (the lookup
    that fed it)."""
    idents = {}
    variants = None
    for rule in rules:
        if rule.scope != 'rust':
            continue
        if rule.kind == 'rust-ident':
            for name in rule.names:
                idents[name] = rule
        else:
            variants = rule
    hits = []
    if idents:
        for m in _RUST_IDENT.finditer(code):
            rule = idents.get(m.group())
            if rule is not None:
                hits.append(Hit(rule, m.group(), m.start(), m.end(), 'code', None,
                                _rust_replacement(rule, m, code), 'Rust code is not rewritten'))
    if variants is not None:
        for m in _RUST_VARIANT.finditer(code):
            if m.group(1):
                found = [(m.group(1), m.start(), m.end())]
            else:
                found = [(v.group(), m.start(2) + v.start(), m.start(2) + v.end())
                         for v in _RUST_IDENT.finditer(m.group(2))]
            for name, start, end in found:
                if name in variants.names:
                    hits.append(Hit(variants, name, start, end, 'code', None,
                                    replacement_for(variants, name), 'Rust code is not rewritten'))
    if not any(h.rule.id == 'rust-refresh-pk' for h in hits):
        hits = [h for h in hits if h.rule.id != 'rust-get-table-oid']
    return hits


def _rust_replacement(rule, match, code):
    if rule.id == 'rust-refresh-pk':
        line_start = code.rfind('\n', 0, match.start()) + 1
        if code[line_start:match.start()].lstrip().startswith(('use ', 'pub use ')):
            return 'refresh_tview_row (in the use path)'
    return rule.replacement


class FileScan(object):
    """The hits in one file and, for .sql files, the parser's complaint if any."""

    def __init__(self, hits, parse_error=None):
        self.hits = hits
        self.parse_error = parse_error


def needles(rules):
    """Lower-case strings one of which any hit of ``rules`` contains."""
    out = set()
    for rule in rules:
        out.update(n.lower() for n in rule.names + rule.prefixes)
        if rule.kind == 'rust-variant':
            out.add('tviewerror')
    return out


def scan_text(text, language, rules, use_parser=True):
    """All hits of ``rules`` in ``text`` written in ``language`` (see scan_srclex)."""
    lowered = text.lower()
    if not any(n in lowered for n in needles(rules)):
        return FileScan([])     # no rule's name occurs: nothing to lex
    if language == 'sql':
        matcher = SqlMatcher(rules, use_parser)
        hits = matcher.scan(text, parse=True)
        return FileScan(sorted(hits, key=_order), matcher.parse_error)
    hits = source_string_hits(SqlMatcher(rules, False), text, language)
    if language == 'rust':
        hits.extend(rust_hits(lex_source(text, language)[1], rules))
    return FileScan(sorted(hits, key=_order))


def source_string_hits(matcher, text, language, base=0):
    """SQL rule hits inside the string literals of application source ``text`` that look
    like SQL (docstrings excepted). A fix is kept only when the literal allows it."""
    hits = []
    for lit in lex_source(text, language)[0]:
        if lit.docstring:
            continue
        body = text[lit.start:lit.end]
        if not looks_like_sql(body, significant(tokenize(body)), matcher.rules):
            continue
        for hit in matcher.scan(body, base + lit.start, 'string'):
            if hit.fix is not None:
                refusal = literal_refusal(lit, hit.fix[0] - base, hit.fix[1] - base, text)
                if refusal:
                    hit = hit._replace(fix=None, reason=refusal)
            hits.append(hit)
    return hits


def _order(hit):
    return (hit.start, hit.rule.id)
