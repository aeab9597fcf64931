# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter for the report role: assemble every host's migration record and the fleet summary
from hostvars, the hosts' state files and the code scan reports, without secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils import report_record, report_redact, report_summary

# Host variables a record may read. Nothing else of hostvars is looked at (tviews_connection
# only to learn the password to scrub from the output).
FACTS = ('tviews_preflight', 'tviews_validate', 'tviews_failure')
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
    """(document, error) from one looped ansible.builtin.slurp result."""
    if not result:
        return None, 'not read'
    if result.get('unreachable'):
        return None, 'host unreachable'
    if result.get('failed') or result.get('skipped'):
        return None, ' '.join(to_native(result.get('msg') or 'not read').split())
    try:
        return json.loads(base64.b64decode(result['content']).decode('utf-8')), None
    except (KeyError, ValueError, TypeError) as e:
        return None, 'not valid JSON: %s' % to_native(e)


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
                        failed_hosts=None, unreachable_hosts=None):
    """{records: [record per host], files: {host: relative path}, summary: fleet model}."""
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
    records = []
    for h in hosts:
        hv = hostvars[h] if h in hostvars else {}
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


class FilterModule(object):
    def filters(self):
        return {'tviews_report_build': tviews_report_build}
