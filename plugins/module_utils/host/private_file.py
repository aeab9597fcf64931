# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files that may hold sensitive facts (manifests, records): written atomically, 0600 from birth."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_private(path, text):
    """Write ``text`` to ``path`` via a temp file in the same directory and rename, so the
    file never exists half-written or with wider permissions than 0600."""
    write_atomic(path, text, 0o600)


def write_atomic(path, text, mode):
    """Write ``text`` to ``path`` via a temp file in the same directory (``mode`` from birth) and
    a rename: the file is never seen half-written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.pgtviews-')
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as fh:
            fh.write(text.encode('utf-8'))
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
