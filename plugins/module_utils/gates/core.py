# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gates: one check is {name, status, reason[, database][, details]}; statuses are pass,
warn, fail and skip. Explicit per-check overrides (each with a required reason) and the
summary a role fails a host on. Pure logic, no database."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PASS, WARN, FAIL, SKIP = 'pass', 'warn', 'fail', 'skip'
STATUSES = (PASS, WARN, FAIL, SKIP)
OVERRIDE_STATUSES = (WARN, SKIP)
# Worst first: the status of a group of checks is the worst of them (skip counts as pass).
_RANK = {FAIL: 3, WARN: 2, PASS: 1, SKIP: 0}


class GateError(ValueError):
    """Bad gate configuration (an unknown check in an override, a missing reason...)."""


def check(name, status, reason, database=None, **details):
    """One check record. ``reason`` is a single line; details are extra facts for the report."""
    if status not in STATUSES:
        raise GateError("check %s: unknown status %r" % (name, status))
    item = {'name': name, 'status': status, 'reason': ' '.join(str(reason).split())}
    if database is not None:
        item['database'] = database
    if details:
        item['details'] = details
    return item


def worst(statuses):
    """The worst of some statuses; pass when there are none (skip alone is pass)."""
    top = PASS
    for s in statuses:
        if _RANK[s] > _RANK[top]:
            top = s
    return top


def normalize_overrides(overrides, known_names):
    """Validate ``{check: {status: warn|skip, reason: ...}}``. A key is a check name, or
    ``name:database`` for one database only. Returns {key: {status, reason}}."""
    result = {}
    for key, spec in (overrides or {}).items():
        name = key.split(':', 1)[0]
        if name not in known_names:
            raise GateError("override %r names no check; known checks: %s" % (key, ', '.join(sorted(known_names))))
        if isinstance(spec, str):
            raise GateError("override %r must be a dict with status (warn or skip) and reason" % key)
        if not isinstance(spec, dict):
            raise GateError("override %r must be a dict with status and reason" % key)
        status = spec.get('status')
        reason = ' '.join(str(spec.get('reason') or '').split())
        if status not in OVERRIDE_STATUSES:
            raise GateError("override %r: status must be warn or skip, not %r" % (key, status))
        if not reason:
            raise GateError("override %r needs a reason (who decided, and why)" % key)
        unknown = set(spec) - set(('status', 'reason'))
        if unknown:
            raise GateError("override %r: unknown keys %s" % (key, ', '.join(sorted(unknown))))
        result[key] = {'status': status, 'reason': reason}
    return result


def apply_overrides(checks, overrides):
    """Checks with overrides applied. Only a failing or warning check is downgraded (an
    override never turns a problem into pass); the original status and reason are kept."""
    out = []
    for c in checks:
        spec = None
        if c.get('database') is not None:
            spec = overrides.get('%s:%s' % (c['name'], c['database']))
        spec = spec or overrides.get(c['name'])
        if spec and c['status'] in (FAIL, WARN) and _RANK[spec['status']] < _RANK[c['status']]:
            c = dict(c)
            c['overridden'] = {'from': c['status'], 'reason': spec['reason']}
            c['status'] = spec['status']
            c['reason'] = 'overridden (%s): %s' % (spec['reason'], c['reason'])
        out.append(c)
    return out


def label(c):
    """'name[database]: reason' for messages."""
    where = '[%s]' % c['database'] if c.get('database') is not None else ''
    return '%s%s: %s' % (c['name'], where, c['reason'])


def summarize(checks):
    """{status, counts, failures, warnings}: status is fail when any check fails."""
    counts = dict((s, 0) for s in STATUSES)
    for c in checks:
        counts[c['status']] += 1
    return {
        'status': worst(c['status'] for c in checks),
        'counts': counts,
        'failures': [label(c) for c in checks if c['status'] == FAIL],
        'warnings': [label(c) for c in checks if c['status'] == WARN],
    }


def by_database(checks, database):
    """Checks about one database plus the host-level ones (no database)."""
    return [c for c in checks if c.get('database') in (None, database)]


def utc_now():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc)


def iso(ts):
    return ts.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def run_gate_module(module, names, run_checks, what):
    """The shared front end of the gate modules (preflight, validate): apply the overrides to
    what ``run_checks(module)`` found, summarize, time it, and exit. Gates never change anything,
    except what an explicit opt-in asks (preflight: ``clean_orphaned_metadata``)."""
    import time
    from ansible.module_utils.common.text.converters import to_native
    try:
        overrides = normalize_overrides(module.params['overrides'], names)
    except GateError as e:
        module.fail_json(msg=to_native(e))
    started, t0 = utc_now(), time.monotonic()
    try:
        result = run_checks(module)
    except Exception as e:  # any failure to finish is reported as such, never as a pass
        module.fail_json(msg="%s could not finish: %s" % (what, ' '.join(to_native(e).split())))
    result['checks'] = apply_overrides(result['checks'], overrides)
    # Gates change nothing, except preflight's explicit opt-in removal of orphaned metadata.
    result.update(changed=bool(result.get('changed')), summary=summarize(result['checks']), target_version=module.params['version'],
                  started_at=iso(started), finished_at=iso(utc_now()), duration_ms=round((time.monotonic() - t0) * 1000, 1))
    module.exit_json(**result)
