# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Free space on the managed node and byte units: one implementation for the preflight gate
and the backup, so both measure the same file system and print sizes the same way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# Binary units, named as such (1 KiB = 1024 bytes): df -h and PostgreSQL's pg_size_pretty
# divide by 1024 too, and 'kB' would claim 1000.
_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


def human(n):
    """1536 -> '1.5 KiB'."""
    n = float(n or 0)
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return ('%d %s' % (n, unit)) if unit == 'B' else ('%.1f %s' % (n, unit))
        n /= 1024.0


def existing_ancestor(path):
    """The nearest existing directory at or above ``path``: where free space is measured (the
    backup root may not exist yet). A directory, not merely an existing path: what is written
    lands in a directory, and a path that exists as a file (possibly bind-mounted from another
    file system) says nothing about the room in the directory the backup creates there."""
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def file_in_the_way(path):
    """The first path at or above ``path`` that exists and is not a directory (a directory cannot
    be created there), or None."""
    path = os.path.abspath(path)
    while True:
        if os.path.lexists(path) and not os.path.isdir(path):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the file system holding ``path`` (or its
    nearest existing directory)."""
    st = os.statvfs(existing_ancestor(path))
    return st.f_bavail * st.f_frsize
