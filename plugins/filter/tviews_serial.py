# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for batching a play: ``tviews_serial_batches``, the batches ansible-playbook makes of a
play's hosts for a ``serial`` value, and ``tviews_wave_plan``, the rollout plan a first play works
out from the inventory (per-host waves, or batch sizes) for the next play's ``hosts`` and
``serial`` keywords (docs/operator-guide.md, "Staged rollouts")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

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
    raise AnsibleFilterError("tviews_serial_batches: '%s' is not a batch size: give a whole number or a percentage "
                             "(for example 1 or 25%%)" % (value,))


CANARY_GROUP = 'tviews_canary'
WAVE_GROUP = re.compile(r'^tviews_wave_(\d+)$')
DEFAULT_WAVES = [1, '25%', '100%']


def _wave_of(host, value):
    """A tviews_wave value as an integer, or an error naming the host."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, string_types) and value.strip().isdigit())):
        raise AnsibleFilterError('%s has tviews_wave %r, which is not a whole number (lower waves go first)' % (host, value))
    return int(value)


def _memberships(hosts, hostvars, groups):
    """{host: (wave, [what says so])} for every host that names a wave; an error when two sources
    disagree about a host."""
    by_group = {}
    for name, members in (groups or {}).items():
        m = WAVE_GROUP.match(name)
        wave = 0 if name == CANARY_GROUP else (int(m.group(1)) if m else None)
        if wave is None:
            continue
        for h in members or []:
            by_group.setdefault(h, []).append((wave, 'group %s' % name))
    out = {}
    for h in hosts:
        found = list(by_group.get(h, []))
        hv = hostvars[h] if h in hostvars else {}
        if 'tviews_wave' in hv and hv['tviews_wave'] is not None:
            found.append((_wave_of(h, hv['tviews_wave']), 'tviews_wave'))
        waves = sorted(set(w for w, dummy in found))
        if len(waves) > 1:
            raise AnsibleFilterError('%s is in more than one wave: %s; give each host one wave' % (
                h, ', '.join('wave %d by %s' % (w, src) for w, src in sorted(found))))
        if waves:
            out[h] = (waves[0], [src for dummy, src in found])
    return out


def _sizes_var(hosts, hostvars, name):
    """The value of ``name`` the hosts see (an extra var wins; the inventory otherwise), or None;
    an error when hosts see different values (group_vars of different groups)."""
    seen = {}
    for h in hosts:
        hv = hostvars[h] if h in hostvars else {}
        if name in hv and hv[name] is not None:
            seen.setdefault(repr(hv[name]), (hv[name], []))[1].append(h)
    if len(seen) > 1:
        raise AnsibleFilterError('%s differs between hosts (%s): the batches of one play need one value; set it once '
                                 '(group_vars/all or -e)' % (name, '; '.join('%s for %s' % (v, ', '.join(hs))
                                                                             for v, hs in seen.values())))
    return list(seen.values())[0][0] if seen else None


def tviews_wave_plan(hosts, hostvars, groups=None, sizes_var='tviews_waves', default=None, memberships=True, sizes=None):
    """The rollout plan of ``hosts`` (the play's hosts, in inventory order): {batches, order, sizes,
    source, labels}. With ``memberships``, hosts that name a wave (host variable tviews_wave, group
    tviews_wave_<n>, group tviews_canary = wave 0) run wave by wave, lowest first, and hosts that
    name none run last; otherwise (or when no host names one) ``sizes_var``, as the hosts see it,
    else ``default``, cuts the hosts into batches as serial would. ``sizes``: the value the play
    itself sees (lookup('vars')), which also carries play vars (an AWX wrapper's survey answer):
    when it is none of the hosts' own values it came from there and wins. Errors name what cannot
    be honoured, before anything runs."""
    hosts = list(hosts or [])
    waves = _memberships(hosts, hostvars, groups) if memberships else {}
    sizes = None if sizes == '' else sizes    # lookup('vars') of an undefined variable
    own = [hostvars[h][sizes_var] for h in hosts if h in hostvars and hostvars[h].get(sizes_var) is not None]
    if sizes is None or sizes in own:
        sizes = _sizes_var(hosts, hostvars, sizes_var)
    if waves:
        if sizes is not None:
            raise AnsibleFilterError('both per-host waves (%s) and %s (%r) are set: the waves already cut the batches; '
                                     'drop one' % (', '.join(sorted(set(s for dummy, srcs in waves.values() for s in srcs))),
                                                   sizes_var, sizes))
        numbers = sorted(set(w for w, dummy in waves.values()))
        batches = [[h for h in hosts if h in waves and waves[h][0] == n] for n in numbers]
        labels = ['wave %d' % n for n in numbers]
        rest = [h for h in hosts if h not in waves]
        if rest:
            batches.append(rest)
            labels.append('no wave given (last)')
        source = 'the inventory: per-host waves (tviews_wave, groups tviews_wave_<n>, tviews_canary)'
    else:
        value = sizes if sizes is not None else (DEFAULT_WAVES if default is None else default)
        try:
            batches = tviews_serial_batches(value, hosts)
        except AnsibleFilterError as e:
            raise AnsibleFilterError('%s: %s' % (sizes_var, str(e).split(': ', 1)[-1]))
        labels = ['batch %d' % (i + 1) for i in range(len(batches))]
        source = ('%s %s' % (sizes_var, _json(value))) if sizes is not None else ('the default batch sizes %s' % _json(value))
    return {'batches': batches, 'order': [h for b in batches for h in b], 'sizes': [len(b) for b in batches],
            'labels': labels, 'source': source}


def _json(value):
    import json
    return json.dumps(value)


class FilterModule(object):
    def filters(self):
        return {'tviews_serial_batches': tviews_serial_batches, 'tviews_wave_plan': tviews_wave_plan}
