# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the report role and the playbooks' rescue sections: assemble every host's
migration record and the fleet summary from hostvars, the hosts' state files and the code scan
reports, without secrets; and say in one line why a task failed (the module's own error text,
per loop item, not the loop's "One or more items failed")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.report import record as report_record
from ansible_collections.pgtviews.ops.plugins.module_utils.report import redact as report_redact
from ansible_collections.pgtviews.ops.plugins.module_utils.report import summary as report_summary

# Host variables a record may read. Nothing else of hostvars is looked at (tviews_connection
# only to learn the password to scrub from the output).
FACTS = ('tviews_preflight', 'tviews_validate', 'tviews_failure')
# The host fact the roles keep equal to the host's state file while a play runs (the last
# pgtviews.ops.tviews_state result: {state, summary}); the report reads a host's file only when
# the host has no such fact, or failed (a failed task may have written the file after the fact).
STATE_FACT = 'tviews_host_state'
SECRET_VARS = ('ansible_password', 'ansible_ssh_pass', 'ansible_become_password', 'ansible_become_pass')


def _plain(value):
    return json.loads(json.dumps(value, default=to_native))


def _host_var(hv, name):
    try:
        return _plain(hv[name]) if name in hv else None
    except Exception:  # an undefined or broken variable is no evidence
        return None


def _secrets(hv):
    out = []
    conn = _host_var(hv, 'tviews_connection') or {}
    if isinstance(conn, dict):
        out.append(conn.get('login_password'))
        for v in (conn.get('connect_params') or {}).values():
            out.append(v)
    for name in SECRET_VARS:
        out.append(_host_var(hv, name))
    return [to_native(s) for s in out if isinstance(s, str) and s]


def _state(result):
    """(document, error) from one looped ansible.builtin.slurp result. A host with no state file
    yet (it has not run a phase) is no error: there is simply nothing recorded."""
    if not result:
        return None, 'not read'
    if result.get('unreachable'):
        return None, 'host unreachable'
    msg = ' '.join(to_native(result.get('msg') or '').split())
    if result.get('failed') and 'not found' in msg.lower():
        return None, None
    if result.get('failed') or result.get('skipped'):
        return None, msg or 'not read'
    if 'content' not in result:
        return None, None
    try:
        return json.loads(base64.b64decode(result['content']).decode('utf-8')), None
    except (ValueError, TypeError) as e:
        return None, 'not valid JSON: %s' % to_native(e)


def _state_fact(hv):
    """The state document a host's facts hold (see STATE_FACT), or None."""
    fact = _host_var(hv, STATE_FACT)
    if isinstance(fact, dict) and isinstance(fact.get('state'), dict):
        return fact['state']
    return None


def _started(hostvars, hosts):
    return [h for h in hosts if _host_var(hostvars[h] if h in hostvars else {}, 'tviews_run_started')]


def tviews_report_state_hosts(hostvars, hosts, failed_hosts=None):
    """The hosts whose state file the report reads (slurps): every host of ``hosts`` except those
    whose facts hold the current state document (see STATE_FACT) and did not fail, and those whose
    batch has not started (their record says only "not started")."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('tviews_report_state_hosts: hosts must be a list of inventory host names')
    started = _started(hostvars, hosts)
    out = []
    for h in hosts:
        hv = hostvars[h] if h in hostvars else {}
        if started and h not in started:
            continue
        if h in (failed_hosts or []) or _host_var(hv, 'tviews_failure') is not None or _state_fact(hv) is None:
            out.append(h)
    return out


def _scan(scan_dir, host):
    if not scan_dir:
        return None, None
    path = os.path.join(scan_dir, '%s.json' % host)
    if not os.path.isfile(path):
        return None, path
    try:
        with open(path) as fh:
            return json.load(fh), path
    except (IOError, OSError, ValueError):
        return None, path


def tviews_report_build(hostvars, hosts, states=None, scan_dir=None, run_id=None, generated_at=None, target_version=None,
                        failed_hosts=None, unreachable_hosts=None, state_facts=False):
    """{records: [record per host], files: {host: relative path}, summary: fleet model}.

    ``states``: the slurp results of the state files read; with ``state_facts``, a host with none
    there has its state document from its facts (see STATE_FACT, tviews_report_state_hosts)."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('tviews_report_build: hosts must be a list of inventory host names')
    by_host = {}
    for r in (states or []):
        if isinstance(r, dict) and r.get('item') is not None:
            by_host[to_native(r['item'])] = r
    secrets = []
    for h in hosts:
        if h in hostvars:
            secrets += _secrets(hostvars[h])
    run = {'run_id': run_id, 'generated_at': generated_at, 'target_version': target_version}
    # A playbook that runs in waves marks each host when its batch starts (tviews_run_started): the
    # hosts of later waves are then "not started", whatever an earlier run left in their state file.
    started = _started(hostvars, hosts)
    records = []
    for h in hosts:
        if started and h not in started:
            records.append(report_record.not_started(h, run))
            continue
        hv = hostvars[h] if h in hostvars else {}
        if state_facts and h not in by_host and _state_fact(hv) is not None:
            state, state_error = _state_fact(hv), None
        else:
            state, state_error = _state(by_host.get(h))
        scan, scan_source = _scan(scan_dir, h)
        failure = _host_var(hv, 'tviews_failure')
        if failure is None and h in (failed_hosts or []):
            failure = {'phase': 'run', 'msg': 'the host failed in this play'}
        inputs = {'preflight': _host_var(hv, 'tviews_preflight'), 'validate': _host_var(hv, 'tviews_validate'),
                  'state': state, 'state_error': state_error, 'scan': scan, 'scan_source': scan_source,
                  'failure': failure, 'unreachable': h in (unreachable_hosts or [])}
        records.append(report_redact.redact(report_record.build(h, inputs, run), secrets))
    summary = report_redact.redact(report_summary.build(records, run), secrets)
    return {'records': records, 'summary': summary,
            'files': dict((r['host'], report_summary.record_file(r['host'])) for r in records)}


_text = report_record.as_text  # one line of text, never a Python repr
# Longest text kept of one failed item's message (a pg_restore error can be pages long).
ITEM_MSG_MAX = 2000
# Keys of a dict loop item that name it, in order of preference.
_LABEL_KEYS = ('name', 'database', 'item', 'key', 'host', 'path')


def _shorten(text, limit=ITEM_MSG_MAX):
    return text if len(text) <= limit else text[:limit - 3].rstrip() + '...'


def _scalar(value):
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and bool(_text(value))


def _label(item):
    """(name of a loop item, whether it is a name): the item itself when it is a scalar, else
    its first naming key, else the item as compact JSON."""
    if item is None or isinstance(item, bool):
        return None, False
    if _scalar(item):
        return _text(item), True
    if isinstance(item, dict):
        for k in _LABEL_KEYS:
            if _scalar(item.get(k)):
                return _text(item[k]), True
    return _shorten(_text(json.dumps(_plain(item), sort_keys=True)), 80), False


def _cause(result):
    """The error text of one (item) result: its msg, with stderr when the msg does not carry it."""
    result = report_redact.redact(_plain(result))
    msg = _text(result.get('msg'))
    if result.get('unreachable'):
        msg = 'unreachable' + (': ' + msg if msg else '')
    stderr = _text(result.get('stderr'))
    if stderr and stderr not in msg:
        msg = '%s (stderr: %s)' % (msg, stderr) if msg else stderr
    if not msg and result.get('rc') not in (None, 0):
        msg = 'exit code %s' % result['rc']
    return _shorten(msg or 'failed, without a message')


def _phase(task):
    if task is None:
        return 'unknown'
    if isinstance(task, str):
        return _text(task) or 'unknown'
    try:
        return _text(task.get('name')) or _text(task.get('action')) or 'unknown'
    except Exception:  # a name whose template cannot be resolved here
        return 'unknown'


def tviews_failure_detail(result, task=None, secrets=None):
    """Why a task failed, for a rescue section: ``{phase, msg, databases, failed_items}``.

    ``result``: ansible_failed_result; ``task``: ansible_failed_task (or its name).
    ``phase`` is the failed task's name. For a looped task, ``msg`` is the message of each failed
    (or unreachable) item prefixed with the item's name ("app: step 'adopt TVIEW' ... failed: ..."),
    joined with "; ", and ``databases`` the names of those items (a scalar item, or a dict item's
    ``name``, ``database``, ``item``... key); for a plain task, ``msg`` is its message (with its
    stderr when the message does not carry it) and ``databases`` is empty. ``failed_items`` has one ``{item, msg}`` per failed item
    (one with item None for a plain task), never none. Messages that are dicts or lists are
    rendered as text, whitespace is collapsed, and neither the strings in ``secrets`` nor values
    under keys naming a secret nor URL credentials appear."""
    phase = _phase(task)
    items = []
    if not isinstance(result, dict):
        items.append({'item': None, 'msg': 'no result of the failed task was recorded; see the log'})
    else:
        for r in result.get('results') or []:
            if isinstance(r, dict) and (r.get('failed') or r.get('unreachable')):
                label, named = _label(r.get(r.get('ansible_loop_var') or 'item'))
                items.append({'item': label, 'msg': _cause(r), 'named': named})
        if not items:
            items.append({'item': None, 'msg': _cause(result)})
    secrets = [to_native(s) for s in (secrets or []) if isinstance(s, str)]
    for i in items:
        i['msg'] = report_redact.redact(i['msg'], secrets)
        if i['item'] is not None:
            i['item'] = report_redact.redact(i['item'], secrets)
    msg = '; '.join(('%s: %s' % (i['item'], i['msg'])) if i['item'] is not None else i['msg'] for i in items)
    databases = []
    for i in items:
        if i.pop('named', False) and i['item'] not in databases:
            databases.append(i['item'])
    return {'phase': report_redact.redact(phase, secrets), 'msg': msg, 'databases': databases, 'failed_items': items}


def tviews_report_fleet(records, generated_at=None, target_version=None):
    """The fleet view: the summary model over the latest record of every host (each from the run
    that set it, ``run_id`` kept per host), so waves run on different days read as one picture."""
    if not isinstance(records, (list, tuple)):
        raise AnsibleFilterError('tviews_report_fleet: records must be a list of host records')
    latest = {}
    for r in records:
        if isinstance(r, dict) and r.get('kind') == report_record.KIND and r.get('host'):
            if r['host'] not in latest or (r.get('generated_at') or '') >= (latest[r['host']].get('generated_at') or ''):
                latest[r['host']] = r
    summary = report_summary.build(list(latest.values()), {'run_id': 'fleet', 'generated_at': generated_at,
                                                           'target_version': target_version})
    runs = dict((h, r.get('run_id')) for h, r in latest.items())
    for item in summary['hosts'] + summary['rows']:
        item['run_id'] = runs.get(item['host'])
    return summary


def tviews_numbered(lines):
    """Lines numbered for a person (1-based, right-aligned): a check-mode plan reads as the script."""
    lines = [_text(line) for line in (lines or [])]
    width = len(str(len(lines)))
    return ['%*d. %s' % (width, i + 1, line) for i, line in enumerate(lines)]


def tviews_counts(counts):
    """{pass: 14, warn: 0, fail: 1} as words for a person: '14 pass, 1 fail' (zeros left out)."""
    if not isinstance(counts, dict):
        return _text(counts)
    parts = ['%s %s' % (v, _text(k).replace('_', ' ')) for k, v in counts.items() if v]
    return ', '.join(parts) or 'nothing'


class FilterModule(object):
    def filters(self):
        return {'tviews_report_build': tviews_report_build, 'tviews_report_state_hosts': tviews_report_state_hosts,
                'tviews_failure_detail': tviews_failure_detail,
                'tviews_report_fleet': tviews_report_fleet, 'tviews_numbered': tviews_numbered,
                'tviews_counts': tviews_counts}
