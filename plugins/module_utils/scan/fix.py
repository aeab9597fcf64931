# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``fix``: rewrite the call sites of one file that can be rewritten mechanically, or
refuse and leave the file as it is.

What is rewritten where:

- ``.sql`` files: calls in SQL code and in dollar-quoted LANGUAGE sql / plpgsql bodies
  (DO blocks included). Never inside other string constants (EXECUTE '...': quoting).
  The file must parse before, and parse again after the rewrite (PL/pgSQL bodies
  included), or nothing is written.
- application code: a call that lies entirely inside one string literal, with no
  backslash escape or interpolation inside the call; both the old and the new call
  must parse as SQL (host placeholders such as ``%s``, ``?``, ``:name`` read as $1).
- Rust code is never rewritten.

Every rewrite needs pglast (no rewrite without a re-parse). Afterwards the file is
scanned again: no rewritten site may still be fixable (a second fix changes nothing)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.finder import scan_text
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rewrite import apply_edits, fragment_statement

NO_PARSER = 'pglast is not installed where the scan runs: no rewrite without a re-parse'


class FixResult(object):
    """new_text: the rewritten text (the original when nothing changed); fixed: the
    hits rewritten; refused: the file-level reason nothing was written, or None;
    skipped: {hit start: reason} for fixable hits left alone."""

    def __init__(self, new_text, fixed=(), refused=None, skipped=None):
        self.new_text = new_text
        self.fixed = list(fixed)
        self.refused = refused
        self.skipped = skipped or {}

    @property
    def changed(self):
        return bool(self.fixed)


def fix_text(text, language, rules, scan=None):
    """Rewrite the fixable hits of ``scan`` (a FileScan of ``text``; scanned here if
    None). Returns a FixResult; the text is only ever changed as a whole or not at all."""
    if scan is None:
        scan = scan_text(text, language, rules)
    candidates = [h for h in scan.hits if h.fix is not None]
    if not candidates:
        return FixResult(text)
    if not scan_pglast.HAS_PGLAST:
        return FixResult(text, refused=NO_PARSER)
    if language == 'sql' and scan.parse_error:
        return FixResult(text, refused='the file does not parse, so a rewrite could not be checked: %s'
                         % scan.parse_error)
    skipped = {}
    if language != 'sql':
        kept = []
        for hit in candidates:
            start, end, new = hit.fix
            if scan_pglast.parses(fragment_statement(text[start:end])) and scan_pglast.parses(fragment_statement(new)):
                kept.append(hit)
            else:
                skipped[hit.start] = 'the call does not parse as SQL on its own'
        candidates = kept
        if not candidates:
            return FixResult(text, skipped=skipped)
    new_text, applied = apply_edits(text, [h.fix for h in candidates])
    applied = set(applied)
    fixed = [h for h in candidates if h.fix in applied]
    if language == 'sql':
        error = scan_pglast.validate(new_text)
        if error:
            return FixResult(text, refused='the rewritten file would not parse: %s' % error)
    again = scan_text(new_text, language, rules)
    left = len([h for h in again.hits if h.fix is not None])
    if left > len(candidates) - len(fixed):
        return FixResult(text, refused='the rewrite did not settle (a second pass would change it again)')
    return FixResult(new_text, fixed, skipped=skipped)
