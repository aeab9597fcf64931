# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet summary the Markdown and HTML templates render: hosts failures first, a row per
host and database (with the failures that reached it), a timeline of phases per host
(positions precomputed so the templates stay logic-free), and the runbook checklists ticked
from evidence across the fleet."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.pgtviews.ops.plugins.module_utils.report import checklist as report_checklist
from ansible_collections.pgtviews.ops.plugins.module_utils.report.record import STATUS_ORDER, parse_time


def record_file(host):
    """The record's file name under the run directory (host names made safe for a path)."""
    return 'hosts/%s.json' % (re.sub(r'[^A-Za-z0-9_.@-]', '_', host).lstrip('.') or '_')


_CHECK_ORDER = ('fail', 'warn', 'pass', 'skip')


def _rank(status):
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def fmt_ms(ms):
    if ms is None:
        return ''
    ms = float(ms)
    if ms < 1000:
        return '%.0f ms' % ms
    if ms < 120000:
        return '%.1f s' % (ms / 1000.0)
    return '%.1f min' % (ms / 60000.0)


def timeline(record):
    """Phases of a host (all databases) placed on one time axis: left/width in percent.
    Phases without timestamps are returned separately."""
    timed, untimed = [], []
    for db, d in sorted((record.get('databases') or {}).items()):
        for p in d['phases']:
            start, end = parse_time(p['started_at']), parse_time(p['finished_at'])
            item = {'phase': p['phase'], 'database': db, 'result': p['result'], 'duration': fmt_ms(p['duration_ms']),
                    'started_at': p['started_at'], 'finished_at': p['finished_at']}
            if start and end and end >= start:
                item['_start'], item['_end'] = start, end
                timed.append(item)
            else:
                untimed.append(item)
    if timed:
        t0 = min(i['_start'] for i in timed)
        t1 = max(i['_end'] for i in timed)
        span = max((t1 - t0).total_seconds(), 0.001)
        for i in timed:
            left = (i.pop('_start') - t0).total_seconds() / span * 100.0
            width = (i.pop('_end') - t0).total_seconds() / span * 100.0 - left
            i['left_pct'] = round(min(left, 99.0), 2)
            i['width_pct'] = round(max(width, 1.0) if left + max(width, 1.0) <= 100 else 100.0 - i['left_pct'], 2)
        timed.sort(key=lambda i: (i['left_pct'], i['database'], i['phase']))
        return {'start': t0.strftime('%Y-%m-%d %H:%M:%S UTC'), 'end': t1.strftime('%H:%M:%S UTC'),
                'span': fmt_ms(span * 1000), 'phases': timed, 'untimed': untimed}
    return {'start': None, 'end': None, 'span': None, 'phases': [], 'untimed': untimed}


def build(records, run):
    """The model for summary.md / summary.html from the hosts' records."""
    records = sorted(records, key=lambda r: (_rank(r['status']), r['host']))
    totals = dict((s, 0) for s in STATUS_ORDER)
    hosts, rows = [], []
    for r in records:
        totals[r['status']] = totals.get(r['status'], 0) + 1
        dbs = []
        for db, d in sorted(r['databases'].items(), key=lambda x: (_rank(x[1]['status']), x[0])):
            before = (d['versions'] or {}).get('before') or {}
            after = (d['versions'] or {}).get('after') or {}
            item = {'host': r['host'], 'database': db, 'status': d['status'], 'rolled_back': d['rolled_back'],
                    'before': before.get('extversion'), 'after': after.get('extversion'),
                    'window': fmt_ms(d.get('write_blocked_window_ms')),
                    'backup': (d.get('backup') or {}).get('path'),
                    'checksums': '%d/%d equal' % (sum(1 for c in d['checksums'] if c['equal']), len(d['checksums']))
                    if d['checksums'] else '', 'failures': d['failures']}
            dbs.append(item)
            rows.append(item)
        if not dbs:
            rows.append({'host': r['host'], 'database': None, 'status': r['status'], 'rolled_back': r['rolled_back'],
                         'before': None, 'after': None, 'window': '', 'backup': None, 'checksums': '',
                         'failures': r['failures']})
        scan = r.get('code_scan')
        checks = [dict(c, gate=gate, database=c.get('database')) for gate in ('preflight', 'validate') for c in (r.get(gate) or {}).get('checks') or []]
        checks.sort(key=lambda c: (_CHECK_ORDER.index(c['status']) if c['status'] in _CHECK_ORDER else 9,
                                   c['gate'], c['name'], c.get('database') or ''))
        hosts.append({
            'host': r['host'], 'status': r['status'], 'rolled_back': r['rolled_back'],
            'failures': r['failures'], 'warnings': r['warnings'], 'databases': dbs, 'timeline': timeline(r),
            'preflight': (r.get('preflight') or {}).get('status'), 'validate': (r.get('validate') or {}).get('status'),
            'code_scan': ('%d finding(s)' % scan['total']) if scan else None,
            'checks': checks,
            'record': record_file(r['host']),
        })
    return {
        'run_id': run.get('run_id'),
        'generated_at': run.get('generated_at'),
        'target_version': run.get('target_version'),
        'totals': totals,
        'host_count': len(records),
        'hosts': hosts,
        'rows': rows,
        'checklists': report_checklist.fleet(records),
    }
