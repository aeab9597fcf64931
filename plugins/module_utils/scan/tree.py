# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One scan over a set of paths: files in, findings, counts and (with ``fix``) rewritten
files and their unified diff out. Files are handled one at a time; only the findings
are kept. Writing is left to the caller's ``write(path, data)`` (None: check mode)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import (
    DEFAULT_EXCLUDE, DEFAULT_INCLUDE, DEFAULT_MAX_SIZE, LineIndex, Skipped, read_source, walk)
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.finder import scan_text
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.fix import fix_text
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import SEVERITIES, at_or_above

MATCH_MAX = 200
SKIP_REASONS = ('binary', 'too_large', 'symlink', 'unreadable')


def finding(path, text, index, hit, fixed, note):
    line, column = index.position(hit.start)
    end_line, end_column = index.position(hit.end)
    match = text[hit.start:hit.end]
    if len(match) > MATCH_MAX:
        match = match[:MATCH_MAX] + '...'
    return dict(
        path=path, line=line, column=column, end_line=end_line, end_column=end_column,
        rule=hit.rule.id, severity=hit.rule.severity, context=hit.context,
        match=match, message=hit.rule.breaks, replacement=hit.replacement,
        autofixable=hit.fix is not None, fixed=fixed, note=note)


def run_scan(paths, rules, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE, max_size=DEFAULT_MAX_SIZE,
             fix=False, write=None, fail_on='never', use_parser=True):
    """Scan ``paths`` with ``rules``; see the module's RETURN for the result's keys."""
    findings = []
    skipped = []
    skipped_counts = dict((r, 0) for r in SKIP_REASONS)
    changed_files = []
    refused = []
    diffs = []
    scanned = 0
    for path, reason in walk(paths, include, exclude):
        try:
            if reason:
                raise Skipped(reason)
            source = read_source(path, max_size)
        except Skipped as exc:
            skipped_counts[exc.reason] += 1
            if exc.reason in ('too_large', 'unreadable'):
                skipped.append(dict(path=path, reason=exc.reason, detail=exc.detail))
            continue
        scanned += 1
        text = source.text
        scan = scan_text(text, source.language, rules, use_parser)
        result = fix_text(text, source.language, rules, scan) if fix else None
        fixed = set(h.start for h in result.fixed) if result else set()
        index = LineIndex(text)
        for hit in scan.hits:
            note = hit.reason
            if result is not None and hit.fix is not None and hit.start not in fixed:
                note = result.refused or result.skipped.get(hit.start, 'overlaps another rewrite')
            findings.append(finding(path, text, index, hit, hit.start in fixed, note))
        if result is None:
            continue
        if result.refused:
            refused.append(dict(path=path, reason=result.refused))
        if result.changed:
            changed_files.append(path)
            diffs.append(''.join(difflib.unified_diff(
                text.splitlines(True), result.new_text.splitlines(True), path, path)))
            if write is not None:
                write(path, source.encode(result.new_text))
    rule_counts = dict((r.id, 0) for r in rules)
    severity_counts = dict((s, 0) for s in SEVERITIES)
    for f in findings:
        rule_counts[f['rule']] += 1
        severity_counts[f['severity']] += 1
    return dict(
        findings=findings,
        counts=dict(rules=rule_counts, severities=severity_counts, total=len(findings),
                    autofixable=sum(1 for f in findings if f['autofixable']),
                    fixed=sum(1 for f in findings if f['fixed'])),
        files_scanned=scanned,
        files_skipped=skipped_counts,
        skipped=skipped,
        changed_files=changed_files,
        fix_refused=refused,
        diff=''.join(diffs),
        blocking=sum(1 for f in findings if at_or_above(f['severity'], fail_on) and not f['fixed']),
        parser='pglast %s' % scan_pglast.PGLAST_VERSION if use_parser and scan_pglast.HAS_PGLAST else 'tokens',
    )
