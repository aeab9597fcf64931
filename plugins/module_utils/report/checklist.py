# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's prerequisites, migration validation checklist and success criteria
(runbook/0.1-to-0.2-migration.md), each item ticked from evidence in a host's migration
record, never from hope. Item states: done (evidence says yes), not_done (evidence says no),
no_evidence (nothing recorded that could say), manual (a person must judge; never ticked)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DONE, NOT_DONE, NO_EVIDENCE, MANUAL = 'done', 'not_done', 'no_evidence', 'manual'
STATES = (NOT_DONE, NO_EVIDENCE, MANUAL, DONE)  # fleet aggregation: the first one any host has wins


def _checks(record, gate, names):
    g = record.get(gate) or {}
    return [c for c in g.get('checks') or [] if c['name'] in names]


def _gate(record, gate, names, what):
    """done when every named check of the gate passed (warn counts), not_done when one failed."""
    if not record.get(gate):
        return NO_EVIDENCE, 'no %s result' % gate
    cs = _checks(record, gate, names)
    if not cs:
        return NO_EVIDENCE, '%s did not check %s' % (gate, what)
    failed = [c for c in cs if c['status'] == 'fail']
    if failed:
        return NOT_DONE, '%s: %s' % (gate, failed[0]['reason'])
    ran = [c for c in cs if c['status'] in ('pass', 'warn')]
    if not ran:
        return NO_EVIDENCE, '%s skipped %s' % (gate, what)
    return DONE, '%s: %s passed' % (gate, ', '.join(sorted(set(c['name'] for c in ran))))


def _all(*results):
    """Combine evaluations: the worst state wins; evidence of the deciding one."""
    for state in (NOT_DONE, NO_EVIDENCE):
        for r in results:
            if r[0] == state:
                return r
    return (DONE, '; '.join(r[1] for r in results))


def _scan(record):
    s = record.get('code_scan')
    if not s:
        return NO_EVIDENCE, 'no code scan report'
    if s['total'] == 0:
        return DONE, 'code scan: no findings'
    return NOT_DONE, 'code scan: %d finding(s) (error %d, warning %d, info %d)' % (
        s['total'], s['counts']['error'], s['counts']['warning'], s['counts']['info'])


def _backup(record):
    dbs = record.get('databases') or {}
    if not dbs:
        return NO_EVIDENCE, 'no databases recorded'
    missing = [db for db, d in dbs.items() if not d.get('backup')]
    if missing:
        return NO_EVIDENCE, 'no backup recorded for %s' % ', '.join(sorted(missing))
    unverified = [db for db, d in dbs.items() if d['backup'].get('verified') is False
                  or str(d['backup'].get('result') or d['backup'].get('status') or 'ok').lower() in ('fail', 'failed', 'error')]
    if unverified:
        return NOT_DONE, 'backup not verified for %s' % ', '.join(sorted(unverified))
    paths = ['%s (%s%s)' % (db, d['backup'].get('path') or 'no path', ', test-restored' if d['backup'].get('test_restored') else '')
             for db, d in sorted(dbs.items())]
    return DONE, 'verified backup recorded for %s' % ', '.join(paths)


def _rollback_capability(record):
    b = _backup(record)
    if b[0] != DONE:
        return b
    dbs = record.get('databases') or {}
    no_manifest = [db for db, d in dbs.items() if not (d['backup'].get('manifest') or (d.get('swap') or {}).get('manifest'))]
    if no_manifest:
        return NO_EVIDENCE, 'no manifest recorded for %s' % ', '.join(sorted(no_manifest))
    return DONE, 'verified backup and manifest recorded for every database'


def _rehearsal(record):
    dbs = record.get('databases') or {}
    rehearsed = [db for db, d in dbs.items() if any(p['phase'] == 'rehearsal' for p in d['phases'])]
    if rehearsed:
        return DONE, 'swap rehearsed and rolled back on %s' % ', '.join(sorted(rehearsed))
    return MANUAL, 'no rehearsal recorded; test the rollback procedure by hand'


def _extension_updated(record):
    dbs = record.get('databases') or {}
    if not dbs:
        return NO_EVIDENCE, 'no databases recorded'
    target = record.get('target_version')
    behind = [db for db, d in dbs.items() if ((d['versions'] or {}).get('after') or {}).get('extversion') != target]
    if behind:
        return NOT_DONE, 'not at %s: %s' % (target, ', '.join(sorted(behind)))
    return _all((DONE, 'every database at %s' % target), _gate(record, 'validate', ('extension_version',), 'the version'))


def _app(record):
    cs = _checks(record, 'validate', ('http', 'command'))
    if not record.get('validate'):
        return NO_EVIDENCE, 'no validate result'
    if not cs:
        return MANUAL, 'no application checks configured'
    failed = [c for c in cs if c['status'] == 'fail']
    if failed:
        return NOT_DONE, failed[0]['reason']
    return DONE, '%d application check(s) passed' % len(cs)


def _window(record):
    cs = _checks(record, 'preflight', ('maintenance_window',))
    if not cs or cs[0]['status'] == 'skip':
        return MANUAL, 'no maintenance window configured'
    if cs[0]['status'] == 'fail':
        return NOT_DONE, cs[0]['reason']
    return DONE, cs[0]['reason']


def _user_impact(record):
    windows = ['%s %.0f ms' % (db, d['write_blocked_window_ms']) for db, d in sorted((record.get('databases') or {}).items())
               if d.get('write_blocked_window_ms') is not None]
    return MANUAL, ('write-blocked window: %s' % ', '.join(windows)) if windows else 'no swap window recorded'


def _manual(text):
    return lambda record: (MANUAL, text)


def _validate_ok(record):
    v = record.get('validate')
    if not v:
        return NO_EVIDENCE, 'no validate result'
    if v['status'] == 'fail':
        return NOT_DONE, 'validate failed'
    return DONE, 'validate passed (%d checks)' % len(v.get('checks') or [])


TVIEWS_OK = ('consistency', 'readable', 'drift', 'write_path')

SECTIONS = (
    ('Prerequisites', (
        ('pg_tviews 0.1.x currently installed and stable',
         lambda r: _gate(r, 'preflight', ('extension_version', 'health', 'consistency', 'drift'), 'the installed version')),
        ('Full database backup completed and tested', _backup),
        ('Maintenance window scheduled (30-90 minutes)', _window),
        ('Application code reviewed for breaking changes', _scan),
        ('Staging environment for testing migration', _manual('staging is outside what this collection can see')),
        ('Reviewed BREAKING_CHANGES_V2.0.md', _manual('a person reads it')),
    )),
    ('Migration Validation Checklist: Pre-Migration', (
        ('Code updated for new API', _scan),
        ('Staging environment tested', _manual('staging is outside what this collection can see')),
        ('Backup verified', _backup),
        ('Rollback procedures tested', _rehearsal),
        ('Communication plan executed', _manual('people')),
    )),
    ('Migration Validation Checklist: During Migration', (
        ('Extension updated successfully', _extension_updated),
        ('TVIEWs recreated without errors', lambda r: _gate(r, 'validate', ('consistency', 'readable', 'drift'), 'the TVIEWs')),
        ('Application services restarted', _manual('not observed by the collection')),
        ('Basic functionality verified', lambda r: _gate(r, 'validate', ('write_path', 'refresh'), 'writes and refresh')),
    )),
    ('Migration Validation Checklist: Post-Migration', (
        ('All TVIEWs accessible and functional', lambda r: _gate(r, 'validate', TVIEWS_OK, 'the TVIEWs')),
        ('Application working normally', _app),
        ('Performance within acceptable ranges', lambda r: _gate(r, 'validate', ('refresh_timing',), 'refresh timing')),
        ('Error rates normal', _manual('application error rates are not observed by the collection')),
        ('Monitoring systems updated', _manual('people')),
    )),
    ('Success Criteria: Technical', (
        ('pg_tviews 0.2.0 installed and functional',
         lambda r: _all(_extension_updated(r), _gate(r, 'validate', ('health',), 'health'))),
        ('All TVIEWs recreated and operational', lambda r: _gate(r, 'validate', TVIEWS_OK, 'the TVIEWs')),
        ('New API functions working', lambda r: _gate(r, 'validate', ('refresh',), 'refresh through the new API')),
        ('Old deprecated functions removed', lambda r: _all(_extension_updated(r), _scan(r))),
        ('Performance maintained or improved', lambda r: _gate(r, 'validate', ('refresh_timing',), 'refresh timing')),
    )),
    ('Success Criteria: Application', (
        ('Application code updated and deployed', _scan),
        ('All TVIEW operations working', lambda r: _gate(r, 'validate', ('write_path', 'refresh'), 'writes and refresh')),
        ('User functionality unaffected', _app),
        ('Error handling updated', _scan),
        ('Testing completed successfully', _validate_ok),
    )),
    ('Success Criteria: Business', (
        ('System availability maintained', _app),
        ('User impact minimized', _user_impact),
        ('Migration completed within timeline', _window),
        ('Rollback capability verified', _rollback_capability),
        ('Lessons learned documented', _manual('people')),
    )),
)


def evaluate(record):
    """[{section, items: [{text, state, evidence}]}] for one host's record."""
    out = []
    for title, items in SECTIONS:
        rows = []
        for text, fn in items:
            state, evidence = fn(record)
            rows.append({'text': text, 'state': state, 'evidence': evidence})
        out.append({'section': title, 'items': rows})
    return out


def fleet(records):
    """The checklists over every host: an item is done only when it is done on every host;
    evidence names each host that is not done (failures first)."""
    per_host = [(r['host'], evaluate(r)) for r in records]
    out = []
    for si, (title, items) in enumerate(SECTIONS):
        rows = []
        for ii, (text, dummy) in enumerate(items):
            states = [(host, ev[si]['items'][ii]) for host, ev in per_host]
            counts = dict((s, sum(1 for dummy2, it in states if it['state'] == s)) for s in STATES)
            state = next((s for s in STATES if counts[s]), NO_EVIDENCE)
            notes = ['%s: %s' % (host, it['evidence']) for host, it in
                     sorted(states, key=lambda x: (STATES.index(x[1]['state']), x[0])) if it['state'] != DONE]
            if not notes and states:
                notes = ['%s: %s' % (states[0][0], states[0][1]['evidence'])] + (
                    ['(and %d more host(s))' % (len(states) - 1)] if len(states) > 1 else [])
            rows.append({'text': text, 'state': state, 'counts': counts, 'hosts': len(states), 'evidence': notes})
        out.append({'section': title, 'items': rows})
    return out
