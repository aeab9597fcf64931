# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter for the playbooks' play-keyword check: the batches ansible-playbook makes of a play's
hosts for a ``serial`` value, so a task can tell whether the batch it runs in is one the waves,
as that host sees them, ask for."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types
from ansible.utils.helpers import pct_to_int


def tviews_serial_batches(serial, hosts):
    """The batches, in order, as PlaybookExecutor._get_serialized_batches cuts them: each value
    (a count or 'N%' of all the play's hosts, at least one) takes the next hosts; the last value
    repeats; none, or a value under 1, takes the rest."""
    values = list(serial) if isinstance(serial, (list, tuple)) else [serial]
    if not values:
        values = [-1]
    remaining = list(hosts)
    total = len(remaining)
    batches = []
    index = 0
    while remaining:
        size = _size(values[index], total)
        if size <= 0:
            batches.append(remaining)
            break
        batches.append(remaining[:size])
        remaining = remaining[size:]
        index = min(index + 1, len(values) - 1)
    return batches


def _size(value, total):
    problem = isinstance(value, bool) or not isinstance(value, (string_types, int))
    if not problem:
        try:
            return pct_to_int(value, total)
        except ValueError:
            pass
    raise AnsibleFilterError('tviews_serial_batches: %r is not a batch size (a whole number or a percentage)' % (value,))


class FilterModule(object):
    def filters(self):
        return {'tviews_serial_batches': tviews_serial_batches}
