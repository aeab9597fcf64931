# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files a scan reads, and how it reads them.

The tree is walked lazily (one directory listing, then one file at a time), excluded
directories are pruned before they are entered, and a file is read only when it passes
the include globs, is not a symlink, is at most ``max_size`` bytes and has no NUL byte
in its first 8 KiB (binary). Text is decoded as UTF-8 (a BOM is kept aside and
restored on write), UTF-16 when it starts with a UTF-16 BOM, else Latin-1 with
``errors='replace'``; line endings are kept as they are.

Globs (fnmatch) without a ``/`` match a file's or a directory's own name; globs with a
``/`` match the path relative to the scanned root, in ``/`` form."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import codecs
import fnmatch
import os
import stat

from ansible_collections.pgtviews.ops.plugins.module_utils.scan.srclex import LANGUAGES, language_for

DEFAULT_INCLUDE = tuple('*' + ext for ext in sorted(LANGUAGES))
DEFAULT_EXCLUDE = ('.git', '.hg', '.svn', 'node_modules', 'vendor', 'third_party', 'bower_components',
                   '.venv', 'venv', '__pycache__', '.tox', '.mypy_cache', 'target', '*.min.js')
DEFAULT_MAX_SIZE = 2 * 1024 * 1024
BINARY_PROBE = 8192

_BOMS = ((codecs.BOM_UTF8, 'utf-8'), (codecs.BOM_UTF16_LE, 'utf-16-le'), (codecs.BOM_UTF16_BE, 'utf-16-be'))


class Skipped(Exception):
    """A file that is not scanned; ``reason`` is one of binary, too_large, symlink,
    unreadable."""

    def __init__(self, reason, detail=''):
        super(Skipped, self).__init__(reason)
        self.reason = reason
        self.detail = detail


class SourceFile(object):
    """A decoded file: text, and how to write it back byte for byte the same way."""

    def __init__(self, path, text, encoding, bom):
        self.path = path
        self.text = text
        self.encoding = encoding
        self.bom = bom
        self.language = language_for(path)

    def encode(self, text):
        return self.bom + text.encode(self.encoding, 'replace' if self.encoding == 'latin-1' else 'strict')


def _matches(rel, name, patterns):
    for pattern in patterns:
        if fnmatch.fnmatchcase(rel if '/' in pattern else name, pattern):
            return True
    return False


def walk(paths, include=DEFAULT_INCLUDE, exclude=DEFAULT_EXCLUDE):
    """Yield (path, skip reason or None) for every file to consider, in a stable
    order. A path given explicitly as a file is considered whatever its name."""
    for root in paths:
        if os.path.islink(root) and not os.path.isdir(root):
            yield root, 'symlink'
            continue
        if not os.path.isdir(root):
            yield root, None if os.path.exists(root) else 'unreadable'
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, '/')
            rel_dir = '' if rel_dir == '.' else rel_dir + '/'
            dirnames[:] = sorted(d for d in dirnames if not _matches(rel_dir + d, d, exclude))
            for name in sorted(filenames):
                rel = rel_dir + name
                if _matches(rel, name, exclude) or not _matches(rel, name, include):
                    continue
                path = os.path.join(dirpath, name)
                yield path, 'symlink' if os.path.islink(path) else None


def read_source(path, max_size=DEFAULT_MAX_SIZE):
    """The decoded file, or Skipped."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise Skipped('symlink')
        if st.st_size > max_size:
            raise Skipped('too_large', '%d bytes' % st.st_size)
        with open(path, 'rb') as fh:
            data = fh.read(max_size + 1)
    except (IOError, OSError) as exc:
        raise Skipped('unreadable', str(exc))
    if len(data) > max_size:
        raise Skipped('too_large', 'grew while read')
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return SourceFile(path, data[len(bom):].decode(encoding), encoding, bom)
            except UnicodeDecodeError:
                break
    if b'\0' in data[:BINARY_PROBE]:
        raise Skipped('binary')
    try:
        return SourceFile(path, data.decode('utf-8'), 'utf-8', b'')
    except UnicodeDecodeError:
        return SourceFile(path, data.decode('latin-1', 'replace'), 'latin-1', b'')


class LineIndex(object):
    """Offset -> 1-based (line, column), columns counted in characters."""

    def __init__(self, text):
        self.starts = [0]
        pos = text.find('\n')
        while pos >= 0:
            self.starts.append(pos + 1)
            pos = text.find('\n', pos + 1)

    def position(self, offset):
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1
