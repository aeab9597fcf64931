# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``tviews_state_latest``: the host's state file as its last pgtviews.ops.tviews_state call left
it, for the host fact ``tviews_host_state`` that the roles keep while a play runs. A playbook reads
the state file once per host (migrate.yml); each role that writes it keeps the fact equal to the
file from the module's own answer (every call returns the document after it), so the next phase
needs no second read, and the report none for a host that did not fail."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.common.text.converters import to_native


def _plain(value):
    return json.loads(json.dumps(value, default=to_native))


def _answers(result):
    """The tviews_state answers in one registered result (a loop's results in order), or in a list
    of registered results; skipped and failed calls are left out."""
    if isinstance(result, (list, tuple)):
        out = []
        for r in result:
            out += _answers(r)
        return out
    if not isinstance(result, dict):
        return []
    if isinstance(result.get('results'), list):
        return _answers(result['results'])
    if isinstance(result.get('state'), dict) and not result.get('failed') and not result.get('skipped'):
        return [result]
    return []


def tviews_state_latest(result, current=None):
    """``{state, summary}`` of the last call in ``result`` (a registered tviews_state result, a
    loop of them, or a list of those, in the order they ran), else ``current`` unchanged."""
    answers = _answers(result)
    if not answers:
        return current
    last = answers[-1]
    return {'state': _plain(last['state']), 'summary': _plain(last.get('summary') or {})}


class FilterModule(object):
    def filters(self):
        return {'tviews_state_latest': tviews_state_latest}
