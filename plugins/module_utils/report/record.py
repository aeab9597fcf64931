# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record of one host: what happened to each of its databases (versions
before and after, every phase with start, end, duration and result, the write-blocked window
of the swap, the backup, checksums before and after, rollback events), the preflight and
validate results and the code scan summary, assembled from the host's facts of this run and
its state file. Pure data in, pure data out (no secrets: see report_redact)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.pgtviews.ops.plugins.module_utils.host import state_file

KIND = 'pgtviews.ops/migration-record'
FORMAT = 1
PHASE_ORDER = ('preflight', 'install', 'backup', 'rehearsal', 'swap', 'recreate', 'validate', 'rollback', 'finalize')
FAILED_RESULTS = ('fail', 'failed', 'error')
# Host status, failures first.
# not_started: in this run's play, but its batch has not run (yet): never counted as passed.
STATUS_ORDER = ('failed', 'incomplete', 'not_started', 'ready', 'passed')
SWAP_FIELDS = ('from_version', 'to_version', 'strategy', 'mode', 'window_ms', 'lock_wait_ms', 'lock_attempts', 'manifest',
               'stale_rows_repaired', 'stale_rows_kept', 'prebuilt')
_TIME_KEYS = ('started_at', 'finished_at', 'duration_ms', 'result', 'status', 'recorded_at')
# Keys a phase record may carry its end time under (the backup role records 'created').
_END_KEYS = ('finished_at', 'created', 'recorded_at')


def parse_time(text):
    """An aware UTC datetime from ISO 8601 text ('...Z', with or without fractions), or None."""
    if not text:
        return None
    t = str(text).strip().replace('Z', '+00:00')
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f%z', '%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %H:%M:%S.%f%z', '%Y-%m-%d %H:%M:%S%z'):
        try:
            return datetime.datetime.strptime(t.replace('+00:00', '+0000'), fmt).astimezone(datetime.timezone.utc)
        except ValueError:
            continue
    return None


def _phase_rank(name):
    base = name.split('_', 1)[0]
    return PHASE_ORDER.index(base) if base in PHASE_ORDER else len(PHASE_ORDER)


def _result_of(phase, data):
    r = data.get('result') or data.get('status')
    if r:
        return str(r)
    if phase == 'rehearsal':
        return 'rehearsed'
    return 'done'  # a role records a phase when it finished


def _gate_summary(fact):
    """The parts of a preflight/validate fact a record keeps."""
    if not fact:
        return None
    out = dict((k, fact.get(k)) for k in ('started_at', 'finished_at', 'duration_ms', 'target_version', 'summary'))
    out['status'] = (fact.get('summary') or {}).get('status')
    out['checks'] = [dict((k, c.get(k)) for k in ('name', 'status', 'reason', 'database', 'overridden') if c.get(k) is not None)
                     for c in fact.get('checks') or []]
    return out


def _checks_for(gate, database):
    return [c for c in (gate or {}).get('checks') or [] if c.get('database') in (None, database)]


def _worst(checks):
    statuses = set(c['status'] for c in checks)
    for s in ('fail', 'warn', 'pass'):
        if s in statuses:
            return s
    return 'skip' if statuses else None


def _db_versions(fact, database):
    for d in (fact or {}).get('databases') or []:
        if d.get('name') == database:
            return {'extversion': d.get('extversion'), 'library_version': d.get('library_version')}
    return None


def phases_of(database, recorded, preflight, validate):
    """Phase entries of one database: state-file records, with this run's preflight and
    validate facts taking precedence over older records of the same phase."""
    phases = {}
    for name, data in (recorded or {}).items():
        if not isinstance(data, dict):
            continue
        details = dict((k, v) for k, v in data.items() if k not in _TIME_KEYS and k not in ('checks', 'baseline'))
        end = next((data[k] for k in _END_KEYS if data.get(k)), None)
        phases[name] = {'phase': name, 'database': database, 'started_at': data.get('started_at'),
                        'finished_at': end, 'duration_ms': data.get('duration_ms'),
                        'result': _result_of(name, data), 'details': details}
    for name, gate in (('preflight', preflight), ('validate', validate)):
        if gate and _checks_for(gate, database):
            phases[name] = {'phase': name, 'database': database, 'started_at': gate.get('started_at'),
                            'finished_at': gate.get('finished_at'), 'duration_ms': gate.get('duration_ms'),
                            'result': _worst(_checks_for(gate, database)), 'details': {}}
    for p in phases.values():
        start, end = parse_time(p['started_at']), parse_time(p['finished_at'])
        if p['duration_ms'] is None and start and end:
            p['duration_ms'] = round((end - start).total_seconds() * 1000, 1)
    return sorted(phases.values(), key=lambda p: (_phase_rank(p['phase']), p['started_at'] or '', p['phase']))


def database_record(database, recorded, preflight, validate, target):
    """``preflight`` and ``validate``: the facts of this run (or None)."""
    recorded = recorded or {}
    swap = recorded.get('swap') or {}
    before = _db_versions(preflight, database) or (
        {'extversion': swap.get('from_version'), 'library_version': None} if swap else None)
    after = _db_versions(validate, database)
    rollbacks = [dict(data, phase=name) for name, data in sorted(recorded.items())
                 if name.startswith('rollback') and isinstance(data, dict)]
    if after is None and rollbacks:
        after = {'extversion': rollbacks[-1].get('to_version'), 'library_version': None}
    elif after is None and swap:
        after = {'extversion': swap.get('to_version'), 'library_version': None}
    phases = phases_of(database, recorded, preflight, validate)
    # Gate phases carry their reasons in the host's failures; other phases only their result.
    failures = ['%s: %s' % (p['phase'], p['result']) for p in phases
                if str(p['result']).lower() in FAILED_RESULTS and p['phase'] not in ('preflight', 'validate')]
    gate_failed = any(p['phase'] in ('preflight', 'validate') and p['result'] == 'fail' for p in phases)
    checksums = [dict((k, c.get(k)) for k in ('tview', 'table', 'before', 'after', 'row_count_before', 'row_count_after', 'equal'))
                 for c in (validate or {}).get('checksums') or [] if c.get('database') == database]
    results = dict((p['phase'], p['result']) for p in phases)
    if failures or gate_failed:
        status = 'failed'
    elif results.get('validate') in ('pass', 'warn'):
        status = 'passed'  # validated in this run, or recorded as validated earlier
    elif results.get('preflight') in ('pass', 'warn'):
        status = 'ready'
    else:
        status = 'incomplete'
    return {
        'status': status,
        # Rolled back and not migrated again since (a rollback recorded after the last swap).
        'rolled_back': state_file.last_change(recorded) in ('rollback', 'rollback_complete'),
        'versions': {'before': before, 'after': after, 'target': target},
        'phases': phases,
        'swap': dict((k, swap.get(k)) for k in SWAP_FIELDS) if swap else None,
        'write_blocked_window_ms': swap.get('window_ms') if swap else None,
        'backup': recorded.get('backup'),
        'checksums': checksums,
        'rollback_events': rollbacks,
        'failures': failures,
    }


def as_text(value):
    """Plain one-line text of a message: dicts and lists rendered as text (never a Python
    repr), whitespace collapsed."""
    if value is None:
        return ''
    if isinstance(value, dict):
        value = '; '.join('%s: %s' % (k, as_text(v)) for k, v in value.items())
    elif isinstance(value, (list, tuple, set)):
        value = ', '.join(as_text(v) for v in value)
    elif isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    return ' '.join(str(value).split())


def failure_of(failure):
    """(line, databases) of a host's failure as a rescue section records it: ``{phase, msg,
    databases}`` (see the tviews_failure_detail filter), or a bare message."""
    if not isinstance(failure, dict):
        return 'run: %s' % (as_text(failure) or 'failed'), []
    named = failure.get('databases') or []
    if not isinstance(named, (list, tuple)):
        named = [named]
    return ('%s: %s' % (as_text(failure.get('phase')) or 'run', as_text(failure.get('msg')) or 'failed'),
            [as_text(n) for n in named if as_text(n)])


def mark_failed(databases, named, lines):
    """A host failure reaches its databases: the ones it names (all of them when it names none
    of this host's databases) are ``failed`` and carry ``lines``, whatever they would be else."""
    targets = [n for n in named if n in databases] or sorted(databases)
    for db in targets:
        d = databases[db]
        d['status'] = 'failed'
        d['failures'] += [line for line in lines if line not in d['failures']]
    return targets


def scan_summary(doc, source):
    if not doc:
        return None
    counts = (doc.get('summary') or {}).get('counts') or doc.get('counts') or {}
    sev = counts.get('severities') or counts
    per = dict((s, int(sev.get(s) or 0)) for s in ('error', 'warning', 'info'))
    return {'source': source, 'counts': per, 'total': sum(per.values()),
            'files_scanned': (doc.get('summary') or {}).get('files_scanned'),
            'autofixable': counts.get('autofixable'), 'fixed': counts.get('fixed')}


def build(host, inputs, run):
    """One host's record. ``inputs``: preflight, validate (facts of this run or None), state
    (the state file document or None), state_error, scan (report dict or None), scan_source,
    failure ({phase, msg, databases} set by a playbook's rescue, or None), unreachable (bool).
    ``run``: run_id, generated_at, target_version."""
    preflight, validate = inputs.get('preflight'), inputs.get('validate')
    pre, val = _gate_summary(preflight), _gate_summary(validate)
    state = inputs.get('state') or {}
    recorded = state.get('databases') or {}
    names = set(recorded)
    for fact in (preflight, validate):
        names.update(d.get('name') for d in (fact or {}).get('databases') or [] if d.get('name'))
    databases = dict((db, database_record(db, recorded.get(db), preflight, validate, run.get('target_version')))
                     for db in sorted(names))
    failures, warnings = [], []
    for label, gate in (('preflight', pre), ('validate', val)):
        if gate:
            failures += ['%s: %s' % (label, f) for f in (gate.get('summary') or {}).get('failures') or []]
            warnings += ['%s: %s' % (label, w) for w in (gate.get('summary') or {}).get('warnings') or []]
    for db, d in databases.items():
        failures += ['%s: %s' % (db, f) for f in d['failures']]
    failure = inputs.get('failure')
    # What failed the host as a whole (its rescue section, or the play) also fails its databases:
    # a host's status is the same in its heading, its rows and its record.
    host_lines, named = [], []
    if failure:
        msg, named = failure_of(failure)
        # A role's own stop message repeats the gate failures already listed: keep those only.
        gate_failures = [f.split(': ', 1)[1] for f in failures if ': ' in f]
        if not any(g in msg for g in gate_failures):
            failures.append(msg)
            host_lines.append(msg)
    if inputs.get('unreachable'):
        failures.append('host unreachable')
        host_lines.append('host unreachable')
    if failure or inputs.get('unreachable'):
        mark_failed(databases, named if not inputs.get('unreachable') else [], host_lines)
    if inputs.get('state_error'):
        warnings.append('state file: %s' % inputs['state_error'])
    db_status = set(d['status'] for d in databases.values())
    if failures:
        status = 'failed'
    elif (val and val['status'] in ('pass', 'warn')) or (databases and db_status == set(['passed'])):
        status = 'passed'
    elif (pre and pre['status'] in ('pass', 'warn')) or (databases and db_status <= set(['passed', 'ready'])):
        status = 'ready'
    else:
        status = 'incomplete'
    if not failures and status == 'incomplete' and not pre and not val and not databases:
        warnings.append('no preflight, validate or state file evidence for this host')
    return {
        'kind': KIND,
        'format': FORMAT,
        'run_id': run.get('run_id'),
        'generated_at': run.get('generated_at'),
        'host': host,
        'status': status,
        'rolled_back': any(d['rolled_back'] for d in databases.values()),
        'failures': failures,
        'warnings': warnings,
        'target_version': run.get('target_version'),
        'server': (preflight or {}).get('server'),
        'preflight': pre,
        'validate': val,
        'code_scan': scan_summary(inputs.get('scan'), inputs.get('scan_source')),
        'databases': databases,
        'state_file': {'available': bool(inputs.get('state')), 'error': inputs.get('state_error')},
    }


def not_started(host, run):
    """The record of a host of this run whose batch has not run (yet): what an earlier run or its
    state file says is not evidence of this run, so nothing else is claimed."""
    return {
        'kind': KIND, 'format': FORMAT, 'run_id': run.get('run_id'), 'generated_at': run.get('generated_at'),
        'host': host, 'status': 'not_started', 'rolled_back': False, 'failures': [],
        'warnings': ['not run yet in this run (a later wave)'], 'target_version': run.get('target_version'),
        'server': None, 'preflight': None, 'validate': None, 'code_scan': None, 'databases': {},
        'state_file': {'available': False, 'error': None},
    }
