# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is there room? Free space at a path against a database size times a safety factor, with a
message an operator can act on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.pgtviews.ops.plugins.module_utils.host.disk import existing_ancestor, free_bytes, human


class SpaceError(Exception):
    pass


def requirement(database_size, factor):
    return int(math.ceil(database_size * factor))


def check(path, database_size, factor, what='backup'):
    """{path, measured_at, database_size, factor, needed, free}; raises SpaceError when short."""
    where = existing_ancestor(path)
    free = free_bytes(where)
    needed = requirement(database_size, factor)
    facts = {'path': path, 'measured_at': where, 'database_size': database_size, 'factor': factor,
             'needed': needed, 'free': free}
    if free < needed:
        raise SpaceError("not enough space for the %s in %s: need %s (%s x database size %s), %s free"
                         % (what, where, human(needed), factor, human(database_size), human(free)))
    return facts
