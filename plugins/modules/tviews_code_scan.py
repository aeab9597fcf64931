#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_code_scan
short_description: Find application code that breaks on pg_tviews 0.2, and rewrite the SQL calls that can be rewritten
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Scans source trees for every use of the pg_tviews 0.1 API that breaks or changes on 0.2 and reports each
    one with its file, line, column, rule, severity, the matched text and what to write instead.
  - "Rules cover SQL calls (C(pg_tviews_refresh_one/_batch/_all/_cascade), 0.1's bare-entity
    C(pg_tviews_refresh('<entity>')), the C(pg_tviews_debug_*) functions and C(pg_tviews_performance_stats),
    C(pg_tviews_create/_drop) for review), reads of the 0.1 internal tables (C(pg_tview_meta),
    C(pg_tview_helpers), C(pg_tview_audit_log)) and the Rust API (C(refresh_pk), C(get_table_oid),
    C(refresh_batch), the 0.1 C(TViewError) variants). See C(docs/code-scan.md) for the rule table."
  - C(.sql) files are read as SQL; in Python, Go, Java, JavaScript/TypeScript, Ruby and Rust files SQL is
    searched inside string literals that look like SQL, never in comments. Rust rules apply to Rust code only.
  - With O(fix=true) the calls that can be rewritten mechanically are rewritten to the unified
    C(pg_tviews_refresh(tview_name => ..., primary_keys => ..., cascade => ...)). In C(.sql) files that covers
    SQL code and LANGUAGE sql/plpgsql function bodies; in application code only a call that lies entirely
    inside one string literal without escapes or interpolation. Nothing is ever written that does not parse
    again afterwards.
  - Uses the pglast PostgreSQL parser when it is installed on the host that runs the module. Without it,
    detection falls back to a tokenizer (same rules, heuristics instead of the parser) and O(fix) writes nothing.
  - Files are read one at a time; binary files (a NUL byte in the first 8 KiB), symlinks and files larger than
    O(max_file_size) are skipped. Text is decoded as UTF-8, else Latin-1; rewritten files keep their encoding,
    byte order mark and line endings.
options:
  paths:
    description:
      - Directories (walked recursively) and files to scan. A file named here is scanned whatever its name.
    type: list
    elements: path
    required: true
  include:
    description:
      - Shell globs a file must match to be scanned. A glob without C(/) matches the file name, one with C(/)
        the path relative to the scanned directory.
      - The default is every extension the scanner knows. Other extensions are read with a C-like lexer.
    type: list
    elements: str
    default: ['*.cjs', '*.cts', '*.go', '*.java', '*.js', '*.jsx', '*.mjs', '*.mts', '*.pgsql', '*.psql',
              '*.py', '*.pyi', '*.rake', '*.rb', '*.rs', '*.sql', '*.ts', '*.tsx']
  exclude:
    description:
      - Shell globs of files and directories to leave out, in addition to the defaults of O(default_excludes).
        Same matching as O(include); a matching directory is not entered.
    type: list
    elements: str
    default: []
  default_excludes:
    description:
      - Also leave out C(.git), C(.hg), C(.svn), C(node_modules), C(vendor), C(third_party), C(bower_components),
        C(.venv), C(venv), C(__pycache__), C(.tox), C(.mypy_cache), C(target) and C(*.min.js).
    type: bool
    default: true
  max_file_size:
    description:
      - Files larger than this many bytes are skipped and listed in RV(skipped).
    type: int
    default: 2097152
  rules:
    description:
      - Rule ids (or shell globs of rule ids, such as C(rust-*)) to run. Empty means every rule.
      - A glob that matches no rule is an error.
    type: list
    elements: str
    default: []
  skip_rules:
    description:
      - Rule ids (or globs) not to run.
    type: list
    elements: str
    default: []
  fail_on:
    description:
      - Fail the task when a finding of this severity or a more severe one remains (not fixed).
        The result still carries every finding.
    type: str
    choices: [error, warning, info, never]
    default: never
  fix:
    description:
      - Rewrite the findings marked RV(findings[].autofixable) in place.
      - In check mode nothing is written; the result and C(--diff) show what would change.
      - Needs pglast on the host that runs the module.
    type: bool
    default: false
  backup:
    description:
      - With O(fix=true), keep a timestamped copy of each file before it is rewritten.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode. With O(fix=true) the diff is a unified diff of every rewritten file.
  - Calls with a non-literal argument, named arguments other than 0.1's C(entity), or a C(--) comment inside, and
    SQL inside string constants of C(.sql) files (for example C(EXECUTE '...')) are reported but not rewritten.
  - The runbook's C(pg_tviews_refresh_one/_batch/_all/_cascade) never existed in real 0.1; they are still reported
    because application code written against the runbook calls them.
  - Reads of C(pg_tview_meta) are reported, not rewritten, because the 0.2 view C(pg_tviews_metadata) has other
    columns (C(entity) becomes C(entity_name), OIDs become names, some columns have no equivalent).
requirements:
  - pglast (optional; needed for O(fix) and used for C(.sql) files when present)
'''

EXAMPLES = r'''
- name: Report every line that breaks on pg_tviews 0.2
  pgtviews.ops.tviews_code_scan:
    paths:
      - /srv/app
  register: scan

- name: Fail the play when an error-level finding is left
  pgtviews.ops.tviews_code_scan:
    paths: [/srv/app/db, /srv/app/src]
    exclude: ['migrations/archive']
    fail_on: error

- name: Only the SQL rules, without the review-only one
  pgtviews.ops.tviews_code_scan:
    paths: [/srv/app]
    rules: ['sql-*']
    skip_rules: [sql-create-drop]

- name: Show the rewrite of the SQL call sites without writing anything
  pgtviews.ops.tviews_code_scan:
    paths: [/srv/app/db]
    fix: true
  check_mode: true
  diff: true

- name: Rewrite the SQL call sites, keeping a backup of each changed file
  pgtviews.ops.tviews_code_scan:
    paths: [/srv/app/db]
    fix: true
    backup: true
'''

RETURN = r'''
findings:
  description: Every finding, ordered by path, line and column.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, as reached from the scanned path.
      type: str
      sample: /srv/app/db/refresh.sql
    line:
      description: 1-based line of the start of the match.
      type: int
      sample: 12
    column:
      description: 1-based column (in characters) of the start of the match.
      type: int
      sample: 8
    end_line:
      description: 1-based line of the end of the match.
      type: int
      sample: 12
    end_column:
      description: 1-based column just after the match.
      type: int
      sample: 41
    rule:
      description: The rule id.
      type: str
      sample: sql-refresh-one
    severity:
      description: C(error) (breaks on 0.2), C(warning) (probably breaks) or C(info) (review).
      type: str
      sample: error
    context:
      description: >-
        Where the match is: C(sql) (SQL code), C(sql-body) (a function body), C(string) (SQL inside a string
        literal) or C(code) (Rust code).
      type: str
      sample: sql
    match:
      description: The matched text (a whole call for call rules), cut at 200 characters.
      type: str
      sample: pg_tviews_refresh_one('post', 42)
    message:
      description: What breaks.
      type: str
      sample: pg_tviews_refresh_one() does not exist in 0.2
    replacement:
      description: What to write instead; the exact new text when the finding is autofixable.
      type: str
      sample: pg_tviews_refresh(tview_name => 'post', primary_keys => ARRAY[42])
    autofixable:
      description: Whether O(fix=true) rewrites it.
      type: bool
      sample: true
    fixed:
      description: Whether this run rewrote it (in check mode, would rewrite it).
      type: bool
      sample: false
    note:
      description: Why it is not (or was not) rewritten; empty when it is autofixable.
      type: str
      sample: the entity is not a string literal
counts:
  description: Numbers of findings.
  returned: always
  type: dict
  contains:
    rules:
      description: Findings per enabled rule id (zero included).
      type: dict
      sample: {"sql-refresh-one": 2, "rust-refresh-pk": 0}
    severities:
      description: Findings per severity.
      type: dict
      sample: {"error": 3, "warning": 1, "info": 0}
    total:
      description: All findings.
      type: int
      sample: 4
    autofixable:
      description: Findings O(fix=true) can rewrite.
      type: int
      sample: 2
    fixed:
      description: Findings rewritten by this run (or that would be, in check mode).
      type: int
      sample: 0
blocking:
  description: Findings at or above O(fail_on) that are not fixed (0 with O(fail_on=never)).
  returned: always
  type: int
  sample: 0
files_scanned:
  description: Number of files read.
  returned: always
  type: int
  sample: 120
files_skipped:
  description: Number of files skipped, per reason (binary, too_large, symlink, unreadable).
  returned: always
  type: dict
  sample: {"binary": 3, "too_large": 1, "symlink": 0, "unreadable": 0}
skipped:
  description: The files skipped because they are too large or unreadable.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/app/db/dump.sql", "reason": "too_large", "detail": "73400320 bytes"}]
changed_files:
  description: Files rewritten by O(fix=true) (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/srv/app/db/refresh.sql]
fix_refused:
  description: Files with autofixable findings that O(fix=true) left unchanged, and why.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/app/db/legacy.sql", "reason": "the file does not parse, so a rewrite could not be checked"}]
backup_files:
  description: Backup copies made with O(backup=true).
  returned: always
  type: list
  elements: str
  sample: []
parser:
  description: C(pglast <version>) when the parser was used, else C(tokens).
  returned: always
  type: str
  sample: pglast 8.8
rules:
  description: The rules that ran (id, severity, scope, breaks, replacement, autofix).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "sql-refresh-one", "severity": "error", "scope": "sql", "autofix": true}]
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, DEFAULT_MAX_SIZE
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.fix import NO_PARSER
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.pglast import HAS_PGLAST
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import UnknownRuleError, select_rules
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.tree import run_scan


def argument_spec():
    return dict(
        paths=dict(type='list', elements='path', required=True),
        include=dict(type='list', elements='str', default=list(DEFAULT_INCLUDE)),
        exclude=dict(type='list', elements='str', default=[]),
        default_excludes=dict(type='bool', default=True),
        max_file_size=dict(type='int', default=DEFAULT_MAX_SIZE),
        rules=dict(type='list', elements='str', default=[]),
        skip_rules=dict(type='list', elements='str', default=[]),
        fail_on=dict(type='str', default='never', choices=['error', 'warning', 'info', 'never']),
        fix=dict(type='bool', default=False),
        backup=dict(type='bool', default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    try:
        rules = select_rules(p['rules'], p['skip_rules'])
    except UnknownRuleError as exc:
        module.fail_json(msg=str(exc))
    if p['fix'] and not HAS_PGLAST:
        module.warn(NO_PARSER)
    exclude = list(p['exclude']) + (list(DEFAULT_EXCLUDE) if p['default_excludes'] else [])
    backups = []

    def write(path, data):
        if p['backup']:
            backups.append(module.backup_local(path))
        fd, tmp = tempfile.mkstemp(prefix='.tviews_code_scan.', dir=os.path.dirname(os.path.abspath(path)))
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
        module.atomic_move(tmp, os.path.abspath(path))

    result = run_scan(
        p['paths'], rules, include=p['include'], exclude=exclude, max_size=p['max_file_size'],
        fix=p['fix'], write=None if module.check_mode else write, fail_on=p['fail_on'])
    diff = result.pop('diff')
    result.update(
        changed=bool(result['changed_files']),
        backup_files=backups,
        rules=[dict(id=r.id, severity=r.severity, scope=r.scope, names=list(r.names), prefixes=list(r.prefixes),
                    breaks=r.breaks, replacement=r.replacement, autofix=r.autofix) for r in rules],
    )
    if module._diff and diff:
        result['diff'] = dict(prepared=diff)
    if result['blocking']:
        module.fail_json(msg='%d finding(s) at or above severity %s' % (result['blocking'], p['fail_on']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
