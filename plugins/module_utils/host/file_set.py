# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of text files under one directory, written in one call: each file via a temp file and a
rename (never half-written), with its mode, and only when its content or mode differs; missing
directories are made with the directory mode. What the report role writes on the controller once
per wave, instead of one module run per file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_atomic


class FileSetError(Exception):
    pass


def _inside(root, relative):
    """The absolute path of ``relative`` under ``root``; refuses absolute paths and '..'."""
    if not relative or os.path.isabs(relative) or '..' in relative.replace('\\', '/').split('/'):
        raise FileSetError('%r is not a relative path inside %s' % (relative, root))
    return os.path.join(root, relative)


def _mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _make_dirs(path, mode, check_mode, made):
    """Make ``path`` and its missing parents with ``mode`` (as ansible.builtin.file does)."""
    missing = []
    p = path
    while p and not os.path.isdir(p):
        if os.path.exists(p):
            raise FileSetError('%s exists and is not a directory' % p)
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        if not check_mode:
            os.mkdir(d)
            os.chmod(d, mode)
        made.append(d)


def write_set(root, directories, files, dir_mode=0o750, file_mode=0o640, check_mode=False):
    """Write ``files`` ([{path, content}], paths relative to ``root``) after making ``directories``
    (relative too; an existing one gets ``dir_mode``) and each file's missing directory; ``root``
    itself is made when missing and otherwise left as it is. Returns {'directories': made or re-moded, 'files':
    written}: only what changed, so an identical second call changes nothing."""
    root = os.path.abspath(root)
    changed_dirs, written = [], []
    if not os.path.isdir(root):
        _make_dirs(root, dir_mode, check_mode, changed_dirs)
    for rel in directories or []:
        path = _inside(root, rel)
        if os.path.isdir(path):
            if _mode_of(path) != dir_mode:
                if not check_mode:
                    os.chmod(path, dir_mode)
                changed_dirs.append(path)
        else:
            _make_dirs(path, dir_mode, check_mode, changed_dirs)
    for f in files or []:
        path = _inside(root, f['path'])
        text = f.get('content')
        text = text if isinstance(text, str) else ('' if text is None else str(text))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            _make_dirs(parent, dir_mode, check_mode, changed_dirs)
        same = False
        if os.path.isfile(path):
            with open(path, 'rb') as fh:
                same = fh.read() == text.encode('utf-8') and _mode_of(path) == file_mode
        if not same:
            if not check_mode:
                write_atomic(path, text, file_mode)
            written.append(path)
    return {'directories': changed_dirs, 'files': written}
