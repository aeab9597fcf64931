# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mechanical rewrites: which 0.1 call becomes which 0.2 call, when a call is
left alone, and the checks a rewritten text must pass before anything is written.

The mapping (arguments are kept verbatim, comments inside them included):

- ``pg_tviews_refresh_one(e, pk)``    -> ``pg_tviews_refresh(tview_name => e, primary_keys => ARRAY[pk]::bigint[])``
- ``pg_tviews_refresh_batch(e, pks)`` -> ``pg_tviews_refresh(tview_name => e, primary_keys => pks)``
- ``pg_tviews_refresh_all(pattern)``  -> ``pg_tviews_refresh(tview_name => pattern)``
- ``pg_tviews_refresh_cascade(e)``    -> ``pg_tviews_refresh(tview_name => e, cascade => true)``
- ``pg_tviews_refresh('post')`` or ``pg_tviews_refresh(entity => 'post')`` (0.1, bare entity)
  -> ``pg_tviews_refresh(tview_name => 'tv_post')``

A schema qualifier on the old name is kept. A call is not rewritten when it has another
number of arguments, named arguments (other than 0.1's ``entity``), VARIADIC, a ``--``
comment inside it (the new text could end up commented out), or, for the bare-entity
form, anything but a plain string literal holding an identifier."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.pgtviews.ops.plugins.module_utils.scan.sqllex import plain_literal_value

NEW_FUNCTION = 'pg_tviews_refresh'
_BARE_ENTITY = re.compile(r'^[A-Za-z_][A-Za-z0-9_$]*$')

_TEMPLATES = {
    'sql-refresh-one': (2, 'tview_name => {0}, primary_keys => ARRAY[{1}]::bigint[]'),
    'sql-refresh-batch': (2, 'tview_name => {0}, primary_keys => {1}'),
    'sql-refresh-all': (1, 'tview_name => {0}'),
    'sql-refresh-cascade': (1, 'tview_name => {0}, cascade => true'),
}


def is_01_refresh(call):
    """True for 0.1's ``pg_tviews_refresh(entity)``: one argument, positional or named
    ``entity``. Anything else (named ``tview_name``, several arguments) is 0.2's form."""
    return (call.close is not None and len(call.args) == 1
            and call.args[0].name in (None, 'entity'))


def rewrite_call(rule_id, call, text):
    """(new call text, None) when the call can be rewritten mechanically, else
    (None, reason)."""
    if call.close is None:
        return None, 'the call is not complete here'
    if call.line_comment:
        return None, 'a -- comment inside the call'
    if any(a.variadic for a in call.args):
        return None, 'VARIADIC argument'
    if any(not a.tokens for a in call.args):
        return None, 'an empty argument'
    qualifier = text[call.start:call.name_start]
    if rule_id == 'sql-refresh-entity':
        arg = call.args[0]
        value = plain_literal_value(arg.tokens[0]) if len(arg.tokens) == 1 else None
        if value is None:
            return None, 'the entity is not a string literal: prefix it with tv_ by hand'
        if not _BARE_ENTITY.match(value):
            return None, 'the literal is not a bare 0.1 entity name'
        tok = arg.tokens[0]
        literal = tok.text[:1] + 'tv_' + tok.text[1:]
        return '%s%s(tview_name => %s)' % (qualifier, NEW_FUNCTION, literal), None
    if rule_id not in _TEMPLATES:
        return None, 'no mechanical rewrite for this rule'
    count, template = _TEMPLATES[rule_id]
    if any(a.name is not None for a in call.args):
        return None, 'named arguments'
    if len(call.args) != count:
        return None, 'expected %d argument(s), found %d' % (count, len(call.args))
    args = [text[a.start:a.end] for a in call.args]
    return '%s%s(%s)' % (qualifier, NEW_FUNCTION, template.format(*args)), None


def suggestion(rule_id, call, text):
    """A replacement text for a call that cannot be rewritten mechanically, with its
    own arguments filled in where that is still meaningful; None otherwise."""
    if rule_id == 'sql-refresh-entity' and call.close is not None and len(call.args) == 1:
        arg = text[call.args[0].start:call.args[0].end]
        return "%s(tview_name => 'tv_' || %s)" % (NEW_FUNCTION, arg)
    return None


def apply_edits(text, edits):
    """Apply non-overlapping (start, end, new) edits; an edit overlapping an earlier one
    is dropped. Returns (new text, applied edits)."""
    out = []
    applied = []
    last = 0
    for start, end, new in sorted(edits):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(new)
        applied.append((start, end, new))
        last = end
    out.append(text[last:])
    return ''.join(out), applied


def literal_refusal(lit, start, end, text):
    """Why the span [start, end) of an application string literal must not be rewritten
    in place, or None: escapes or interpolation inside the span would change meaning."""
    span = text[start:end]
    if lit.escapes and '\\' in span:
        return 'a backslash escape inside the call'
    if lit.interp and (lit.interp in span or (lit.interp == '{' and '}' in span)):
        return 'string interpolation inside the call'
    return None


# Host-language placeholders, replaced by $1 for the parse check of a fragment.
_PLACEHOLDER = re.compile(r'%\([A-Za-z_]\w*\)s|%s|\?|(?<![:\w]):[A-Za-z_]\w*|@[A-Za-z_]\w*|\$\{[^}]*\}|#\{[^}]*\}|\{\w*\}')


def fragment_statement(call_text):
    """A statement that holds ``call_text`` for a parse check: placeholders of the host
    language (``%s``, ``%(x)s``, ``?``, ``:name``, ``@name``, ``${..}``, ``#{..}``) as $1."""
    return 'SELECT ' + _PLACEHOLDER.sub('$1', call_text)
