# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts of the managed node for the gates: free space where the backup will be written
and the pg_dump client that will write it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os


def existing_ancestor(path):
    """The path itself or its nearest existing parent (the backup root may not exist yet)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def free_bytes(path):
    """(measured path, bytes available to an unprivileged writer) on the file system of ``path``."""
    where = existing_ancestor(path)
    st = os.statvfs(where)
    return where, st.f_bavail * st.f_frsize


def pg_dump_candidates(explicit, server_bindir, server_major):
    """Where to look for pg_dump, best first: the configured one, the server installation's
    own, the Debian layout for the server's major, then PATH."""
    if explicit:
        return [explicit]
    out = []
    if server_bindir:
        out.append(os.path.join(server_bindir, 'pg_dump'))
    out.append('/usr/lib/postgresql/%s/bin/pg_dump' % server_major)
    out.append('pg_dump')
    return out


def pg_dump_version(run_command, get_bin_path, candidates):
    """(path, version text, error) of the first candidate that runs. ``run_command`` and
    ``get_bin_path`` are AnsibleModule's."""
    tried = []
    for c in candidates:
        path = c if os.path.sep in c else get_bin_path(c)
        if not path or not os.access(path, os.X_OK):
            tried.append(c)
            continue
        rc, out, err = run_command([path, '--version'])
        if rc == 0:
            return path, out.strip(), None
        tried.append('%s (rc %s: %s)' % (path, rc, ' '.join((err or out).split())))
    return None, None, 'not found or not runnable: %s' % ', '.join(tried)
