# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application checks of the validate role as gate checks: the registered results of
ansible.builtin.uri (HTTP health URLs) and ansible.builtin.command (test commands), each
judged against its expected status. URLs are shown without credentials or query strings,
and command output never enters a check (it may carry secrets)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import FAIL, PASS, check

_USERINFO_RE = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@')


def safe_url(url):
    """scheme://host/path: no user:password@, no ?query (tokens), no #fragment."""
    url = _USERINFO_RE.sub(r'\1', str(url or ''))
    return re.split(r'[?#]', url, maxsplit=1)[0]


def _expected(value, default):
    if value is None:
        value = default
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


def _skipped(r):
    return bool(r.get('skipped'))


def http_checks(results):
    """Checks from the ``results`` of a looped ansible.builtin.uri task (item = the spec:
    name, url, status (int or list, default 200))."""
    out = []
    for r in results or []:
        if _skipped(r):
            continue
        spec = r.get('item') or {}
        url = safe_url(spec.get('url'))
        name = spec.get('name') or url
        expected = _expected(spec.get('status'), 200)
        got = r.get('status')
        if got in expected:
            out.append(check('http', PASS, '%s: %s returned %s' % (name, url, got), target=url, label=name))
        else:
            why = 'returned %s' % got if got not in (None, -1) else 'no response (%s)' % ' '.join(str(r.get('msg') or 'error').split())
            out.append(check('http', FAIL, '%s: %s %s, expected %s' % (name, url, why, ' or '.join(str(e) for e in expected)),
                             target=url, label=name))
    return out


def command_checks(results):
    """Checks from the ``results`` of a looped ansible.builtin.command task (item = the spec:
    name, argv or cmd, rc (int or list, default 0))."""
    out = []
    for r in results or []:
        if _skipped(r):
            continue
        spec = r.get('item') or {}
        argv = spec.get('argv')
        shown = ' '.join(str(a) for a in argv) if argv else str(spec.get('cmd') or '')
        name = spec.get('name') or shown
        expected = _expected(spec.get('rc'), 0)
        got = r.get('rc')
        if got in expected:
            out.append(check('command', PASS, '%s: exit status %s' % (name, got), label=name))
        else:
            why = 'exit status %s' % got if got is not None else 'did not run (%s)' % ' '.join(str(r.get('msg') or 'error').split())
            out.append(check('command', FAIL, '%s: %s, expected %s' % (name, why, ' or '.join(str(e) for e in expected)),
                             label=name))
    return out
