# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PostgreSQL lexer in pure Python: comments, string constants (standard, E'', U&'',
B'', X''), dollar quotes, quoted identifiers, parameters, numbers, operators and psql
meta-command lines. Used wherever SQL is scanned; pglast (when installed) is the parser
on top of it, not a replacement for it, so findings do not depend on pglast being there.

Offsets are character offsets into the scanned text; ``end`` is exclusive. Unterminated
constants and comments run to the end of the text (``Tok.closed`` is False) instead of
raising: scanning must not stop at a file it cannot fully lex."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

Tok = namedtuple('Tok', 'kind start end text closed')

_WS = re.compile(r'\s+')
_IDENT = re.compile(r'[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*')
_NUMBER = re.compile(r'(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?')
_PARAM = re.compile(r'\$\d+')
_DOLLAR_TAG = re.compile(r'\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$')
_OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?'
_PUNCT = '(),;[].'
# Prefixes of string constants: E'..' (backslash escapes), U&'..', B'..', X'..', N'..'.
_STRING_PREFIX = re.compile(r"(?:[eE]|[uU]&|[bBxXnN])'")
_QIDENT_PREFIX = re.compile(r'(?:[uU]&)?"')

STRING_KINDS = ('string', 'estring', 'dollar')


def _scan_quoted(text, pos, quote, backslash):
    """End (exclusive) of a quoted run whose opening quote is at ``pos``; doubled quotes
    stay inside; with ``backslash`` a backslash escapes the next character."""
    i = pos + 1
    n = len(text)
    while i < n:
        c = text[i]
        if backslash and c == '\\':
            i += 2
            continue
        if c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
                continue
            return i + 1, True
        i += 1
    return n, False


def scan_block_comment(text, pos):
    """End (exclusive) of the nested /* */ comment at ``pos``, and whether it closed."""
    depth = 0
    i = pos
    n = len(text)
    while i < n:
        if text.startswith('/*', i):
            depth += 1
            i += 2
        elif text.startswith('*/', i):
            depth -= 1
            i += 2
            if depth == 0:
                return i, True
        else:
            i += 1
    return n, False


def _at_line_start(text, pos):
    j = pos - 1
    while j >= 0 and text[j] in ' \t':
        j -= 1
    return j < 0 or text[j] == '\n'


def tokenize(text):
    """Yield the tokens of ``text`` (whitespace dropped)."""
    i = 0
    n = len(text)
    while i < n:
        m = _WS.match(text, i)
        if m:
            i = m.end()
            continue
        c = text[i]
        start = i
        if text.startswith('--', i):
            end = text.find('\n', i)
            end = n if end < 0 else end
            yield Tok('comment', start, end, text[start:end], True)
            i = end
            continue
        if text.startswith('/*', i):
            end, closed = scan_block_comment(text, i)
            yield Tok('comment', start, end, text[start:end], closed)
            i = end
            continue
        if c == '\\' and _at_line_start(text, i):
            end = text.find('\n', i)
            end = n if end < 0 else end
            yield Tok('meta', start, end, text[start:end], True)
            i = end
            continue
        if c == "'":
            end, closed = _scan_quoted(text, i, "'", False)
            yield Tok('string', start, end, text[start:end], closed)
            i = end
            continue
        m = _STRING_PREFIX.match(text, i)
        if m:
            quote_at = m.end() - 1
            end, closed = _scan_quoted(text, quote_at, "'", c in 'eE')
            yield Tok('string' if c in 'nN' else 'estring', start, end, text[start:end], closed)
            i = end
            continue
        m = _QIDENT_PREFIX.match(text, i)
        if m:
            end, closed = _scan_quoted(text, m.end() - 1, '"', False)
            yield Tok('qident', start, end, text[start:end], closed)
            i = end
            continue
        if c == '$':
            m = _PARAM.match(text, i)
            if m:
                yield Tok('param', start, m.end(), m.group(), True)
                i = m.end()
                continue
            m = _DOLLAR_TAG.match(text, i)
            if m:
                tag = m.group()
                close = text.find(tag, m.end())
                end, closed = (n, False) if close < 0 else (close + len(tag), True)
                yield Tok('dollar', start, end, text[start:end], closed)
                i = end
                continue
        m = _IDENT.match(text, i)
        if m:
            yield Tok('ident', start, m.end(), m.group(), True)
            i = m.end()
            continue
        m = _NUMBER.match(text, i)
        if m:
            yield Tok('number', start, m.end(), m.group(), True)
            i = m.end()
            continue
        if c == ':' and text.startswith('::', i):
            yield Tok('op', start, i + 2, '::', True)
            i += 2
            continue
        if c == ':' and text.startswith(':=', i):
            yield Tok('op', start, i + 2, ':=', True)
            i += 2
            continue
        if c in _PUNCT:
            yield Tok('punct', start, i + 1, c, True)
            i += 1
            continue
        if c in _OPERATOR_CHARS:
            j = i + 1
            while j < n and text[j] in _OPERATOR_CHARS and not text.startswith('--', j) and not text.startswith('/*', j):
                j += 1
            yield Tok('op', start, j, text[start:j], True)
            i = j
            continue
        yield Tok('op', start, i + 1, c, True)
        i += 1


def name_of(tok):
    """The identifier a token names, as PostgreSQL resolves it: unquoted identifiers fold
    to lower case, quoted ones keep their case. None for any other token."""
    if tok.kind == 'ident':
        return tok.text.lower()
    if tok.kind == 'qident' and tok.closed and tok.text.startswith('"'):
        return tok.text[1:-1].replace('""', '"')
    return None


def string_body(tok):
    """(offset, text) of the inside of a string-like token, quotes and tags excluded."""
    text = tok.text
    if tok.kind == 'dollar':
        tag_end = text.index('$', 1) + 1
        inner_end = len(text) - tag_end if tok.closed else len(text)
        return tok.start + tag_end, text[tag_end:inner_end]
    quote = text.index("'") + 1
    inner_end = len(text) - 1 if tok.closed else len(text)
    return tok.start + quote, text[quote:inner_end]


def plain_literal_value(tok):
    """The value of a plain '...' literal (no E/U&/B/X prefix), else None."""
    if tok.kind != 'string' or not tok.closed or not tok.text.startswith("'"):
        return None
    return tok.text[1:-1].replace("''", "'")


def significant(tokens):
    """Tokens without comments and psql meta-commands."""
    return [t for t in tokens if t.kind not in ('comment', 'meta')]
