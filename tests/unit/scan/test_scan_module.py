"""The tviews_code_scan module as Ansible runs it (a separate process reading its
arguments from a file): check mode and diff, fix, backups, fail_on, rule selection, and
that DOCUMENTATION matches the argument spec."""

import os
import shutil

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from tests.harness.modules import run_module
from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan import pglast as scan_pglast
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.fix import NO_PARSER
from ansible_collections.pgtviews.ops.plugins.modules import tviews_code_scan

MODULE = 'tviews_code_scan'


@pytest.fixture
def tree(tmp_path):
    dest = str(tmp_path / 'tree')
    shutil.copytree(scan_testlib.FIXTURE_TREE, dest, symlinks=True)
    return dest


def read(path):
    with open(path, 'rb') as fh:
        return fh.read()


def test_check_mode_with_diff_shows_the_rewrite_and_writes_nothing(tree):
    job = os.path.join(tree, 'db', 'refresh_jobs.sql')
    before = read(job)
    result = run_module(MODULE, dict(paths=[os.path.join(tree, 'db')], fix=True), check_mode=True, diff=True)
    assert result['changed'] is True
    assert read(job) == before
    assert sorted(os.path.basename(p) for p in result['changed_files']) == ['refresh_jobs.sql', 'release_psql.sql']
    prepared = result['diff']['prepared']
    assert '--- %s\n+++ %s\n' % (job, job) in prepared
    assert "-SELECT pg_tviews_refresh_one('public.tv_post', 1);\n" in prepared
    assert "+SELECT pg_tviews_refresh(tview_name => 'public.tv_post', primary_keys => ARRAY[1]::bigint[]);\n" in prepared
    assert result['counts']['fixed'] == 10
    assert [os.path.basename(r['path']) for r in result['fix_refused']] == ['broken.sql']


def test_check_mode_without_diff_returns_no_diff(tree):
    result = run_module(MODULE, dict(paths=[tree], fix=True), check_mode=True)
    assert result['changed'] is True and 'diff' not in result


def test_fix_writes_keeps_backups_and_is_idempotent(tree):
    job = os.path.join(tree, 'db', 'release_psql.sql')
    mode = 0o640
    os.chmod(job, mode)
    before = read(job)
    result = run_module(MODULE, dict(paths=[job], fix=True, backup=True))
    assert result['changed'] is True and result['changed_files'] == [job]
    assert b"SELECT pg_tviews_refresh(tview_name => 'tv_post', cascade => true);" in read(job)
    assert os.stat(job).st_mode & 0o777 == mode
    assert len(result['backup_files']) == 1 and read(result['backup_files'][0]) == before
    again = run_module(MODULE, dict(paths=[job], fix=True))
    assert again['changed'] is False and again['changed_files'] == []
    assert again['findings'] == []


def test_report_only_run_changes_nothing(tree):
    result = run_module(MODULE, dict(paths=[tree]))
    assert result['changed'] is False
    assert result['counts']['total'] == 79 and result['counts']['fixed'] == 0
    assert result['files_scanned'] == 12
    assert result['files_skipped'] == {'binary': 1, 'too_large': 0, 'symlink': 0, 'unreadable': 0}
    assert result['blocking'] == 0
    assert result['parser'] == 'pglast %s' % scan_pglast.PGLAST_VERSION
    assert [r['id'] for r in result['rules']][:3] == ['sql-refresh-one', 'sql-refresh-batch', 'sql-refresh-all']


def test_fail_on_fails_with_the_findings_in_the_result(tree):
    result = run_module(MODULE, dict(paths=[os.path.join(tree, 'rust')], fail_on='warning'))
    assert result['failed'] is True
    assert result['msg'] == '36 finding(s) at or above severity warning'
    assert result['blocking'] == 36 and len(result['findings']) == 36
    ok = run_module(MODULE, dict(paths=[os.path.join(tree, 'app', 'ts')], rules=['sql-create-drop'], fail_on='warning'))
    assert not ok.get('failed') and ok['blocking'] == 0
    assert ok['counts']['severities'] == {'error': 0, 'warning': 0, 'info': 1}


def test_rules_and_skip_rules(tree):
    result = run_module(MODULE, dict(paths=[tree], rules=['sql-internal-*', 'rust-refresh-*'],
                                     skip_rules=['rust-refresh-batch']))
    assert sorted(result['counts']['rules']) == ['rust-refresh-pk', 'sql-internal-table']
    assert result['counts']['rules'] == {'rust-refresh-pk': 2, 'sql-internal-table': 8}
    bad = run_module(MODULE, dict(paths=[tree], rules=['sql-refresh-everything']))
    assert bad['failed'] is True and bad['msg'].startswith("no rule matches 'sql-refresh-everything'")


def test_exclude_adds_to_the_defaults_which_can_be_turned_off(tree):
    result = run_module(MODULE, dict(paths=[tree], exclude=['app', 'rust']))
    assert sorted(set(os.path.relpath(f['path'], tree).split('/')[0] for f in result['findings'])) == ['db']
    result = run_module(MODULE, dict(paths=[tree], default_excludes=False, include=['*.sql']))
    assert 'vendor/legacy/refresh.sql' in set(os.path.relpath(f['path'], tree) for f in result['findings'])


def test_fix_without_pglast_warns_and_writes_nothing(tree, monkeypatch, capsys):
    monkeypatch.setattr(tviews_code_scan, 'HAS_PGLAST', False)
    monkeypatch.setattr(scan_pglast, 'HAS_PGLAST', False)
    before = read(os.path.join(tree, 'db', 'refresh_jobs.sql'))
    with patch_module_args(dict(paths=[os.path.join(tree, 'db')], fix=True)):
        with pytest.raises(SystemExit):
            tviews_code_scan.main()
    out = capsys.readouterr().out
    result = yaml.safe_load(out)
    assert result['changed'] is False and result['parser'] == 'tokens'
    assert NO_PARSER in out      # the module warning
    assert read(os.path.join(tree, 'db', 'refresh_jobs.sql')) == before
    assert result['counts']['autofixable'] == 11 and result['counts']['fixed'] == 0


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(tviews_code_scan.DOCUMENTATION)
    spec = tviews_code_scan.argument_spec()
    assert sorted(doc['options']) == sorted(spec)
    for name, opt in doc['options'].items():
        assert opt['type'] == spec[name]['type'], name
        assert opt.get('default') == spec[name].get('default'), name
        assert opt.get('elements') == spec[name].get('elements'), name
        assert opt.get('choices') == spec[name].get('choices'), name
        assert bool(opt.get('required')) == bool(spec[name].get('required')), name
    assert doc['options']['include']['default'] == list(DEFAULT_INCLUDE)
    for pattern in DEFAULT_EXCLUDE:
        assert 'C(%s)' % pattern in doc['options']['default_excludes']['description'][0]
    assert doc['version_added'] == '0.1.0' and doc['author'] == 'pgtviews.ops maintainers (@pgtviews)'
    yaml.safe_load(tviews_code_scan.EXAMPLES)
    returned = yaml.safe_load(tviews_code_scan.RETURN)
    assert sorted(returned) == sorted(['findings', 'counts', 'blocking', 'files_scanned', 'files_skipped', 'skipped',
                                       'changed_files', 'fix_refused', 'backup_files', 'parser', 'rules'])
