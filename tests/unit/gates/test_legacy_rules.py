"""The rules about states real 0.1 databases are in (gates/legacy.py, issue 20): statuses, and
reasons that say what the state means and what to do."""

from ansible_collections.pgtviews.ops.plugins.module_utils.gates import legacy

ORPHAN = {'entity': 'gone', 'table': 'public.tv_gone', 'view': 'public.v_gone',
          'triggers': ['trg_tview_gone_on_tb_gone on public.tb_gone']}


def test_orphans_fail_until_cleaned():
    c = legacy.orphaned_metadata('app', [ORPHAN], clean=False)
    assert c['status'] == 'fail'
    for needle in ("'gone'", 'public.v_gone', 'trg_tview_gone_on_tb_gone', "pg_tviews_drop('<entity>')",
                   'tviews_preflight_clean_orphaned_metadata: true', 'would recreate'):
        assert needle in c['reason'], needle
    assert legacy.orphaned_metadata('app', [ORPHAN], clean=True, check_mode=True)['status'] == 'warn'
    done = legacy.orphaned_metadata('app', [ORPHAN], clean=True, cleaned=[{'entity': 'gone', 'error': None}])
    assert done['status'] == 'pass' and done['details']['cleaned']
    bad = legacy.orphaned_metadata('app', [ORPHAN], clean=True, cleaned=[{'entity': 'gone', 'error': 'view is used'}])
    assert bad['status'] == 'fail' and 'view is used' in bad['reason']
    assert legacy.orphaned_metadata('app', [], clean=False)['status'] == 'pass'


def test_frozen_says_now_and_after():
    c = legacy.frozen_tviews('app', [{'entity': 'note', 'table': 'public.tv_note', 'views': ['public.note_prepared'],
                                      'tables': ['public.tb_note']}], '0.2.0')
    assert c['status'] == 'warn'
    assert 'public.tv_note has no triggers under 0.1' in c['reason']
    assert 'not kept up to date today' in c['reason'] and 'it will be' in c['reason'] and 'public.tb_note' in c['reason']
    stays = legacy.frozen_tviews('app', [{'entity': 'x', 'table': 'public.tv_x', 'views': [], 'tables': []}], '0.2.0')
    assert 'will stay so' in stays['reason']
    assert legacy.frozen_tviews('app', [], '0.2.0')['status'] == 'pass'


def test_unregistered_tables_and_jsonb_delta():
    c = legacy.unregistered_tables('app', ['public.tv_legacy'])
    assert c['status'] == 'warn' and 'public.tv_legacy is a plain table' in c['reason'] and 'pg_tviews_create' in c['reason']
    assert legacy.unregistered_tables('app', [])['status'] == 'pass'
    j = legacy.jsonb_delta('app', {'version': '0.1.0', 'patched': ['post', 'shelf'], 'array': ['shelf']}, '0.2.0')
    assert j['status'] == 'warn' and 'jsonb_smart_patch' in j['reason'] and 'shelf' in j['reason']
    assert 'does not use jsonb_delta' in j['reason']
    assert legacy.jsonb_delta('app', {'version': '0.1.0', 'patched': [], 'array': []}, '0.2.0')['status'] == 'pass'
    assert legacy.jsonb_delta('app', None, '0.2.0')['status'] == 'skip'
