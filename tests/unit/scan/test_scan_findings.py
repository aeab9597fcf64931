"""Exact findings of tviews_code_scan over tests/fixtures/scan_tree: every rule is hit,
and the look-alikes in the fixtures (comments, longer identifiers, prose strings,
docstrings, excluded directories, binaries) are not."""

import os
import shutil

import pytest

from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import DEFAULT_EXCLUDE
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import RULES, TVIEW_ERROR_VARIANTS, select_rules
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.tree import run_scan

TREE = scan_testlib.FIXTURE_TREE

# (path, line, column, rule, autofixable)
EXPECTED = [
    ('app/go/refresh.go', 7, 28, 'sql-refresh-one', True),
    ('app/go/refresh.go', 14, 10, 'sql-refresh-batch', True),
    ('app/go/refresh.go', 21, 33, 'sql-debug-function', False),
    ('app/java/TviewRepository.java', 8, 28, 'sql-refresh-cascade', True),
    ('app/java/TviewRepository.java', 13, 16, 'sql-refresh-all', True),
    ('app/java/TviewRepository.java', 17, 40, 'sql-internal-table', False),
    ('app/js/refresh.js', 6, 25, 'sql-refresh-one', True),
    ('app/js/refresh.js', 11, 25, 'sql-refresh-batch', False),          # ${tview} interpolation
    ('app/python/tviews_repo.py', 9, 23, 'sql-refresh-one', True),
    ('app/python/tviews_repo.py', 10, 25, 'sql-refresh-batch', True),
    ('app/python/tviews_repo.py', 11, 26, 'sql-refresh-entity', True),
    ('app/python/tviews_repo.py', 22, 26, 'sql-refresh-all', False),     # f-string
    ('app/python/tviews_repo.py', 28, 16, 'sql-internal-table', False),
    ('app/python/tviews_repo.py', 35, 26, 'sql-refresh-cascade', True),  # raw string
    ('app/python/tviews_repo.py', 39, 25, 'sql-debug-function', False),
    ('app/ruby/refresh.rb', 5, 14, 'sql-refresh-one', False),            # heredoc with #{}
    ('app/ruby/refresh.rb', 10, 53, 'sql-refresh-entity', True),         # %q()
    ('app/ruby/refresh.rb', 14, 56, 'sql-create-drop', False),
    ('app/ts/metadata.ts', 4, 40, 'sql-internal-table', False),
    ('app/ts/metadata.ts', 11, 29, 'sql-create-drop', False),
    ('db/broken.sql', 2, 8, 'sql-refresh-one', True),
    ('db/monitoring.sql', 3, 8, 'sql-internal-table', False),            # public.pg_tview_meta
    ('db/monitoring.sql', 7, 8, 'sql-internal-table', False),
    ('db/monitoring.sql', 8, 8, 'sql-internal-table', False),
    ('db/monitoring.sql', 10, 8, 'sql-refresh-entity', False),           # non-literal entity
    ('db/monitoring.sql', 10, 41, 'sql-internal-table', False),
    ('db/monitoring.sql', 12, 8, 'sql-debug-function', False),
    ('db/monitoring.sql', 13, 15, 'sql-debug-function', False),
    ('db/monitoring.sql', 15, 8, 'sql-create-drop', False),
    ('db/monitoring.sql', 16, 8, 'sql-create-drop', False),
    ('db/monitoring.sql', 29, 10, 'sql-internal-table', False),          # %ROWTYPE in a body
    ('db/monitoring.sql', 31, 21, 'sql-debug-function', False),          # EXECUTE '...'
    ('db/monitoring.sql', 32, 17, 'sql-debug-function', False),
    ('db/refresh_jobs.sql', 5, 8, 'sql-refresh-entity', True),
    ('db/refresh_jobs.sql', 6, 8, 'sql-refresh-entity', True),
    ('db/refresh_jobs.sql', 7, 8, 'sql-refresh-one', True),
    ('db/refresh_jobs.sql', 8, 8, 'sql-refresh-batch', True),            # schema-qualified
    ('db/refresh_jobs.sql', 9, 8, 'sql-refresh-all', True),
    ('db/refresh_jobs.sql', 10, 8, 'sql-refresh-cascade', True),         # spans three lines
    ('db/refresh_jobs.sql', 17, 13, 'sql-refresh-entity', True),         # DO block
    ('db/refresh_jobs.sql', 26, 13, 'sql-refresh-one', True),            # plpgsql function
    ('db/refresh_jobs.sql', 27, 13, 'sql-refresh-cascade', True),
    ('db/release_psql.sql', 3, 8, 'sql-refresh-cascade', True),          # psql meta-commands around it
    ('rust/src/error.rs', 2, 29, 'rust-error-variant', False),           # use TViewError::{...}
    ('rust/src/error.rs', 2, 47, 'rust-error-variant', False),
] + [
    ('rust/src/error.rs', 7 + i, 9, 'rust-error-variant', False) for i in range(len(TVIEW_ERROR_VARIANTS))
] + [
    ('rust/src/lib.rs', 2, 25, 'rust-refresh-pk', False),                # use line
    ('rust/src/lib.rs', 3, 25, 'rust-refresh-batch', False),
    ('rust/src/lib.rs', 4, 25, 'rust-get-table-oid', False),
    ('rust/src/lib.rs', 8, 15, 'rust-get-table-oid', False),
    ('rust/src/lib.rs', 9, 5, 'rust-refresh-pk', False),
    ('rust/src/lib.rs', 19, 25, 'rust-refresh-batch', False),
    ('rust/src/lib.rs', 23, 29, 'sql-refresh-one', True),                # SQL in a raw string
]


def scan(paths=None, **kw):
    kw.setdefault('exclude', DEFAULT_EXCLUDE)
    return run_scan(paths or [TREE], kw.pop('rules', RULES), **kw)


def rows(result, root=TREE):
    return [(os.path.relpath(f['path'], root), f['line'], f['column'], f['rule'], f['autofixable'])
            for f in result['findings']]


def test_exact_findings_over_the_fixture_tree():
    assert rows(scan()) == EXPECTED


def test_findings_are_the_same_without_pglast(monkeypatch):
    with_parser = scan()
    monkeypatch.setattr(scan_pglast, 'HAS_PGLAST', False)
    without = scan()
    assert without['parser'] == 'tokens'
    assert with_parser['parser'].startswith('pglast ')
    assert rows(without) == EXPECTED
    assert without['findings'] == with_parser['findings']


def test_every_rule_is_hit_at_least_once():
    counts = scan()['counts']['rules']
    assert sorted(counts) == sorted(r.id for r in RULES)
    assert [rule for rule, n in counts.items() if n == 0] == []


def test_counts_per_rule_and_severity():
    counts = scan()['counts']
    assert counts['total'] == len(EXPECTED)
    assert counts['severities'] == {'error': 73, 'warning': 2, 'info': 4}
    assert counts['autofixable'] == sum(1 for e in EXPECTED if e[4])
    assert counts['rules']['rust-error-variant'] == len(TVIEW_ERROR_VARIANTS) + 2
    assert counts['fixed'] == 0


def test_every_tview_error_variant_of_the_reference_is_reported_with_its_mapping():
    findings = [f for f in scan([os.path.join(TREE, 'rust')])['findings'] if f['path'].endswith('error.rs')]
    by_line = dict((f['line'], f) for f in findings if f['line'] >= 7)
    reference_26 = ('MetadataNotFound TViewAlreadyExists InvalidTViewName CircularDependency DependencyDepthExceeded '
                    'DependencyResolutionFailed InvalidSelectStatement RequiredColumnMissing TypeInferenceFailed '
                    'JsonbIvmNotInstalled ExtensionVersionMismatch LockTimeout DeadlockDetected CascadeDepthExceeded '
                    'RefreshFailed BatchTooLarge DependencyCycle PropagationDepthExceeded CatalogError SpiError '
                    'SerializationError ConfigError CacheError CallbackError MetricsError InternalError').split()
    assert [v for v, dummy in TVIEW_ERROR_VARIANTS] == reference_26 + ['CacheMiss']
    for i, variant in enumerate(reference_26 + ['CacheMiss']):
        assert by_line[7 + i]['match'] == 'TViewError::' + variant
    assert by_line[7]['replacement'].startswith('TViewError::NotFound { entity, reason }')
    assert by_line[21]['replacement'] == 'TViewError::Refresh { entity, reason }'
    assert by_line[8]['replacement'] == 'TViewError::Internal { reason }'
    assert 'detailed-errors' in by_line[33]['replacement']
    assert 34 not in by_line          # TViewError::NotFound is already 0.2


def test_finding_fields():
    f = [f for f in scan()['findings'] if f['path'].endswith('refresh_jobs.sql') and f['line'] == 10][0]
    assert f == {
        'path': os.path.join(TREE, 'db', 'refresh_jobs.sql'),
        'line': 10, 'column': 8, 'end_line': 12, 'end_column': 2,
        'rule': 'sql-refresh-cascade', 'severity': 'error', 'context': 'sql',
        'match': "pg_tviews_refresh_cascade(\n    'tv_post'  /* the entity's TVIEW */\n)",
        'message': 'pg_tviews_refresh_cascade() does not exist in 0.2 (nor in real 0.1)',
        'replacement': "pg_tviews_refresh(tview_name => 'tv_post'  /* the entity's TVIEW */, cascade => true)",
        'autofixable': True, 'fixed': False, 'note': '',
    }


def test_contexts_and_notes():
    by_key = dict(((os.path.relpath(f['path'], TREE), f['line'], f['column']), f) for f in scan()['findings'])
    assert by_key[('db/refresh_jobs.sql', 26, 13)]['context'] == 'sql-body'
    assert by_key[('db/monitoring.sql', 31, 21)]['context'] == 'string'
    assert by_key[('db/monitoring.sql', 31, 21)]['match'] == 'pg_tviews_debug_queue_status()'
    assert by_key[('rust/src/lib.rs', 9, 5)]['context'] == 'code'
    assert by_key[('app/go/refresh.go', 7, 28)]['context'] == 'string'
    assert by_key[('app/js/refresh.js', 11, 25)]['note'] == 'string interpolation inside the call'
    assert by_key[('app/ruby/refresh.rb', 5, 14)]['note'] == 'string interpolation inside the call'
    assert by_key[('db/monitoring.sql', 10, 8)]['replacement'] == "pg_tviews_refresh(tview_name => 'tv_' || m.entity)"
    assert by_key[('db/monitoring.sql', 10, 8)]['note'] == 'the entity is not a string literal: prefix it with tv_ by hand'
    assert by_key[('rust/src/lib.rs', 2, 25)]['replacement'] == 'refresh_tview_row (in the use path)'
    assert by_key[('rust/src/lib.rs', 9, 5)]['replacement'] == 'refresh_tview_row("<schema>.<table>", pk)'
    assert by_key[('db/monitoring.sql', 13, 15)]['replacement'].startswith('none: removed in 0.2')
    assert by_key[('db/monitoring.sql', 8, 8)]['match'] == 'pg_tview_audit_log'
    assert by_key[('db/monitoring.sql', 3, 8)]['match'] == 'public.pg_tview_meta'
    assert 'entity -> entity_name' in by_key[('db/monitoring.sql', 3, 8)]['replacement']


def test_skips_binaries_and_reports_them():
    result = scan()
    assert result['files_skipped'] == {'binary': 1, 'too_large': 0, 'symlink': 0, 'unreadable': 0}
    assert result['files_scanned'] == 12
    assert not any(f['path'].endswith('bundle.js') for f in result['findings'])


def test_default_excludes_prune_vendored_trees_and_can_be_turned_off():
    paths = set(os.path.relpath(f['path'], TREE) for f in scan(exclude=())['findings'])
    assert 'node_modules/tviews-client/index.js' in paths
    assert 'vendor/legacy/refresh.sql' in paths
    paths = set(os.path.relpath(f['path'], TREE) for f in scan()['findings'])
    assert not any(p.startswith(('node_modules/', 'vendor/')) for p in paths)


def test_include_and_exclude_globs():
    result = scan(include=['*.sql'], exclude=list(DEFAULT_EXCLUDE) + ['db/mon*'])
    assert sorted(set(os.path.relpath(f['path'], TREE) for f in result['findings'])) == [
        'db/broken.sql', 'db/refresh_jobs.sql', 'db/release_psql.sql']
    result = scan(include=['*.md'])
    assert result['files_scanned'] == 1 and result['findings'] == []     # prose, not a string literal


def test_other_extensions_are_read_with_a_c_like_lexer(tmp_path):
    (tmp_path / 'Repo.kt').write_text('// pg_tviews_refresh_one(1, 2)\nval q = "SELECT pg_tviews_refresh_one(?, ?)"\n')
    result = scan([str(tmp_path)], include=['*.kt'])
    assert [(f['line'], f['column'], f['rule'], f['autofixable']) for f in result['findings']] == [
        (2, 17, 'sql-refresh-one', True)]


def test_too_large_files_are_skipped_and_listed():
    result = scan([os.path.join(TREE, 'db')], max_size=400)
    skipped = sorted(os.path.basename(s['path']) for s in result['skipped'])
    assert skipped == ['monitoring.sql', 'refresh_jobs.sql']
    assert all(s['reason'] == 'too_large' for s in result['skipped'])
    assert result['files_skipped']['too_large'] == 2
    assert result['files_scanned'] == 2


def test_symlinks_are_not_followed(tmp_path):
    target = tmp_path / 'real.sql'
    target.write_text("SELECT pg_tviews_refresh_one('tv_post', 1);\n")
    (tmp_path / 'link.sql').symlink_to(target)
    result = scan([str(tmp_path)])
    assert [os.path.basename(f['path']) for f in result['findings']] == ['real.sql']
    assert result['files_skipped']['symlink'] == 1


def test_latin1_file_is_decoded_and_columns_count_characters(tmp_path):
    path = tmp_path / 'latin1_job.rb'
    path.write_bytes(scan_testlib.LATIN1_JOB)
    result = scan([str(tmp_path)])
    assert [(f['line'], f['column'], f['rule'], f['autofixable']) for f in result['findings']] == [
        (3, 25, 'sql-refresh-cascade', True)]


def test_a_single_file_path_is_scanned_whatever_its_name(tmp_path):
    path = tmp_path / 'job.txt'
    path.write_text('x = "SELECT pg_tviews_refresh_all(\'public.%\')"\n')
    assert [(f['line'], f['column'], f['rule']) for f in scan([str(path)])['findings']] == [(1, 13, 'sql-refresh-all')]


def test_missing_path_is_reported_unreadable(tmp_path):
    result = scan([str(tmp_path / 'nope')])
    assert result['files_skipped']['unreadable'] == 1
    assert result['findings'] == []


def test_rule_selection_limits_the_findings():
    result = scan(rules=select_rules(['rust-*'], ['rust-error-variant']))
    assert sorted(set(f['rule'] for f in result['findings'])) == ['rust-get-table-oid', 'rust-refresh-batch',
                                                                  'rust-refresh-pk']
    assert sorted(result['counts']['rules']) == ['rust-get-table-oid', 'rust-refresh-batch', 'rust-refresh-pk']


def test_get_table_oid_is_only_reported_next_to_refresh_pk(tmp_path):
    (tmp_path / 'only_oid.rs').write_text('fn f() { let o = get_table_oid("public", "x"); }\n')
    shutil.copy(os.path.join(TREE, 'rust', 'src', 'lib.rs'), str(tmp_path / 'lib.rs'))
    result = scan([str(tmp_path)])
    assert sorted(set(os.path.basename(f['path']) for f in result['findings'] if f['rule'] == 'rust-get-table-oid')) \
        == ['lib.rs']


@pytest.mark.parametrize('severity, blocking', [('never', 0), ('error', 73), ('warning', 75), ('info', 79)])
def test_blocking_counts_follow_fail_on(severity, blocking):
    assert scan(fail_on=severity)['blocking'] == blocking
