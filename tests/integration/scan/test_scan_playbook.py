"""playbooks/scan.yml as an operator runs it: ``ansible-playbook pgtviews.ops.scan`` against
localhost over a copy of the fixture tree, reports on the controller, check mode with
diff, fail_on, and a managed host whose Python has no pglast."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.harness.modules import LINK, REPO
from tests.unit.scan import scan_testlib
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.files import DEFAULT_EXCLUDE
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.rules import RULES
from ansible_collections.pgtviews.ops.plugins.module_utils.scan.tree import run_scan

pytestmark = pytest.mark.slow

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


@pytest.fixture
def work(tmp_path):
    tree = str(tmp_path / 'tree')
    shutil.copytree(scan_testlib.FIXTURE_TREE, tree, symlinks=True)
    return dict(root=str(tmp_path), tree=tree, reports=str(tmp_path / 'reports'))


def playbook(work, *args, interpreter=sys.executable, **extra_vars):
    inventory = os.path.join(work['root'], 'inventory.ini')
    with open(inventory, 'w') as fh:
        fh.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % interpreter)
    home = os.path.join(work['root'], 'ansible-home')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=LINK + os.pathsep + os.path.join(REPO, '.cache', 'collections'),
               ANSIBLE_HOME=home, ANSIBLE_LOCAL_TEMP=os.path.join(home, 'tmp'), ANSIBLE_NOCOLOR='1')
    variables = dict(tviews_scan_hosts='localhost', tviews_scan_paths=[work['tree']], tviews_report_dir=work['reports'])
    variables.update(extra_vars)
    return subprocess.run([ANSIBLE_PLAYBOOK, '-i', inventory, 'pgtviews.ops.scan', '-e', json.dumps(variables)]
                          + list(args), capture_output=True, text=True, env=env, cwd=work['root'], timeout=600, check=False)


def report(work):
    with open(os.path.join(work['reports'], 'scan', 'localhost.json')) as fh:
        return json.load(fh)


def markdown(work):
    with open(os.path.join(work['reports'], 'scan', 'localhost.md')) as fh:
        return fh.read()


def tree_bytes(root):
    out = {}
    for dirpath, dummy, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), 'rb') as fh:
                out[os.path.join(dirpath, name)] = fh.read()
    return out


def test_report_only_run_writes_json_and_markdown(work):
    proc = playbook(work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = report(work)
    expected = run_scan([work['tree']], RULES, exclude=DEFAULT_EXCLUDE)
    assert data['host'] == 'localhost' and data['paths'] == [work['tree']]
    assert data['fix'] is False and data['check_mode'] is False
    assert data['parser'] == expected['parser']
    assert data['findings'] == expected['findings']
    assert data['summary']['counts'] == expected['counts']
    assert data['summary']['counts']['total'] == 79 and data['summary']['blocking'] == 0
    assert data['summary']['files_scanned'] == 12
    assert [r['id'] for r in data['rules']] == [r.id for r in RULES]
    md = markdown(work)
    assert md.startswith('# pg_tviews 0.2 code scan: localhost\n')
    assert '- Findings: 79 (error 73, warning 2, info 4);' in md
    job = os.path.join(work['tree'], 'db', 'refresh_jobs.sql')
    assert ("| `%s:7:8` | sql-refresh-one | error | `pg_tviews_refresh_one('public.tv_post', 1)` | "
            "pg_tviews_refresh(tview_name => 'public.tv_post', primary_keys => ARRAY[1]::bigint[]) | yes |" % job) in md
    assert "| sql-internal-table | error | 8 | no |" in md
    assert '79 finding(s)' in proc.stdout


def test_fix_in_check_mode_shows_the_diff_and_writes_only_the_report(work):
    before = tree_bytes(work['tree'])
    proc = playbook(work, '--check', '--diff', tviews_scan_fix=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tree_bytes(work['tree']) == before
    assert "+SELECT pg_tviews_refresh(tview_name => 'tv_post', cascade => true);" in proc.stdout
    data = report(work)
    assert data['check_mode'] is True and data['fix'] is True
    assert len(data['summary']['changed_files']) == 8
    assert data['summary']['counts']['fixed'] == 21
    assert [os.path.basename(r['path']) for r in data['summary']['fix_refused']] == ['broken.sql']
    assert '- Would rewrite: `' in markdown(work)


def test_fix_rewrites_and_reports(work):
    proc = playbook(work, tviews_scan_fix=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(work['tree'], 'db', 'release_psql.sql')) as fh:
        assert "SELECT pg_tviews_refresh(tview_name => 'tv_post', cascade => true);" in fh.read()
    assert report(work)['summary']['counts']['fixed'] == 21
    again = playbook(work, tviews_scan_fix=True)
    assert again.returncode == 0
    assert report(work)['summary']['changed_files'] == []


def test_fail_on_fails_the_play_after_writing_the_report(work):
    proc = playbook(work, tviews_scan_fail_on='error', tviews_scan_rules=['rust-*'])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert '33 finding(s) at or above severity error' in proc.stdout
    data = report(work)
    assert data['summary']['blocking'] == 33 and data['summary']['fail_on'] == 'error'


def test_missing_paths_variable_is_refused(work):
    proc = playbook(work, tviews_scan_paths=[])
    assert proc.returncode == 2
    assert 'Set tviews_scan_paths to a list' in proc.stdout
    assert not os.path.exists(os.path.join(work['reports'], 'scan'))


def test_a_host_without_pglast_finds_the_same_and_rewrites_nothing(work):
    venv = os.path.join(work['root'], 'no-pglast')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv], check=True)
    python = os.path.join(venv, 'bin', 'python')
    assert subprocess.run([python, '-c', 'import pglast'], capture_output=True, check=False).returncode != 0
    before = tree_bytes(work['tree'])
    proc = playbook(work, interpreter=python, tviews_scan_fix=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'pglast is not installed where the scan runs' in proc.stdout + proc.stderr
    # ... said up front too, with how to install it.
    assert "pglast is not installed for %s" % python in proc.stdout and "rewrites none." in proc.stdout
    assert tree_bytes(work['tree']) == before
    data = report(work)
    assert data['parser'] == 'tokens'
    expected = run_scan([work['tree']], RULES, exclude=DEFAULT_EXCLUDE)
    strip = ('fixed', 'note')
    assert [dict((k, v) for k, v in f.items() if k not in strip) for f in data['findings']] == \
        [dict((k, v) for k, v in f.items() if k not in strip) for f in expected['findings']]
    assert data['summary']['counts']['fixed'] == 0
