# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the preflight and validate roles: application checks from uri/command
results, a summary of a list of checks, and the per-database record for the state file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.pgtviews.ops.plugins.module_utils.gates import core as gates
from ansible_collections.pgtviews.ops.plugins.module_utils.gates import app as gates_app


def tviews_app_checks(http_results, command_results=None):
    """Gate checks from the results of the validate role's looped uri and command tasks."""
    try:
        return gates_app.http_checks(http_results or []) + gates_app.command_checks(command_results or [])
    except (TypeError, ValueError) as e:
        raise AnsibleFilterError('tviews_app_checks: %s' % e)


def tviews_gate_summary(checks):
    """{status, counts, failures, warnings} of a list of checks."""
    return gates.summarize(checks or [])


def tviews_gate_record(result, database):
    """What the state file keeps of a preflight or validate result for one database: status,
    times, the checks about it (host-level ones included), failures, warnings, and its part
    of the refresh baseline."""
    checks = gates.by_database(result.get('checks') or [], database)
    summary = gates.summarize(checks)
    versions = dict((d['name'], d) for d in result.get('databases') or [])
    record = {
        'status': summary['status'],
        'started_at': result.get('started_at'),
        'finished_at': result.get('finished_at'),
        'duration_ms': result.get('duration_ms'),
        'target_version': result.get('target_version'),
        'extversion': (versions.get(database) or {}).get('extversion'),
        'library_version': (versions.get(database) or {}).get('library_version'),
        'failures': summary['failures'],
        'warnings': summary['warnings'],
        'checks': [dict((k, c[k]) for k in ('name', 'status', 'reason', 'database') if k in c) for c in checks],
    }
    if 'baseline' in result:
        record['baseline'] = [b for b in result['baseline'] if b.get('database') == database]
    return record


class FilterModule(object):
    def filters(self):
        return {
            'tviews_app_checks': tviews_app_checks,
            'tviews_gate_summary': tviews_gate_summary,
            'tviews_gate_record': tviews_gate_record,
        }
