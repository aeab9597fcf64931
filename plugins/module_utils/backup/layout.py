# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where backups live on the managed node:

    <dest>/<host label>/<database>/<UTC timestamp>/
        dump/                       pg_dump --format=directory
        manifest.json               the migration manifest (0600)
        tview_metadata_before.csv   one row per TVIEW (0600)
        backup.json                 the backup record, written last (0600)

Directories the module creates are 0700. Names that are not plain file names (spaces, quotes,
slashes, non-ASCII letters) are made safe and get a short hash of the real name, so two
databases never share a directory; the record keeps the real name. A backup directory is
created exclusively, with microseconds in its name and a counter when that is taken, so two
backups never share one. One lock file per database directory serialises backups of it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import hashlib
import os
import re
import time

DUMP_DIR = 'dump'
MANIFEST = 'manifest.json'
CSV = 'tview_metadata_before.csv'
RECORD = 'backup.json'
LOCK = '.lock'
STAMP_RE = re.compile(r'^\d{8}T\d{6}\.\d{6}Z(-\d+)?$')
_PLAIN_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$')


class LayoutError(Exception):
    pass


def safe_name(name):
    """A file name for ``name``: itself when plain, else a sanitised form plus a hash."""
    if _PLAIN_RE.match(name):
        return name
    cleaned = re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('._-')[:60]
    tag = hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]
    return '%s-%s' % (cleaned, tag) if cleaned else tag


def database_dir(dest, host_label, dbname):
    return os.path.join(dest, safe_name(host_label), safe_name(dbname))


def stamp(now=None):
    return (now or datetime.datetime.utcnow()).strftime('%Y%m%dT%H%M%S.%fZ')


def make_dirs(path):
    """Create ``path`` and its missing parents with mode 0700 (umask-independent). Raises
    LayoutError naming the path and the reason."""
    path = os.path.abspath(path)
    missing = []
    p = path
    while not os.path.isdir(p):
        if os.path.lexists(p):
            raise LayoutError("cannot create backup directory %s: %s exists and is not a directory" % (path, p))
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
            os.chmod(d, 0o700)
        except OSError as e:
            if e.errno == errno.EEXIST and os.path.isdir(d):
                continue
            raise LayoutError("cannot create backup directory %s: %s" % (d, e.strerror or e))
    return missing


def new_backup_dir(db_dir, now=None):
    """Create a fresh, empty 0700 backup directory under ``db_dir``; never reuses a name."""
    base = stamp(now)
    for n in range(0, 1000):
        name = base if n == 0 else '%s-%d' % (base, n)
        path = os.path.join(db_dir, name)
        try:
            os.mkdir(path, 0o700)
        except OSError as e:
            if e.errno == errno.EEXIST:
                continue
            raise LayoutError("cannot create backup directory %s: %s" % (path, e.strerror or e))
        os.chmod(path, 0o700)
        return path
    raise LayoutError("cannot find a free backup directory name under %s" % db_dir)


def planned_backup_dir(db_dir, now=None):
    """The directory a backup would get (check mode: nothing is created)."""
    return os.path.join(db_dir, stamp(now))


class DatabaseLock(object):
    """An exclusive flock on <db_dir>/.lock for the duration of one backup. Another backup of the
    same database holding it (for example the job an interrupted run left running) is waited for
    up to ``wait`` seconds; ``waited`` says how long that took."""

    def __init__(self, db_dir, dbname, wait=0, on_wait=None, sleep=time.sleep):
        self.path = os.path.join(db_dir, LOCK)
        self.dbname = dbname
        self.fd = None
        self.wait, self.on_wait, self.sleep = wait, on_wait, sleep
        self.waited, self.contended = 0.0, False

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise LayoutError("cannot create lock file %s: %s" % (self.path, e.strerror or e))
        started = time.time()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError):
                self.contended = True
                self.waited = time.time() - started
                if self.waited >= self.wait:
                    os.close(self.fd)
                    self.fd = None
                    raise LayoutError("another backup of database %s is still running after %d s (lock %s is held); "
                                      "let it finish, then run again" % (self.dbname, self.waited, self.path))
                if self.on_wait:
                    self.on_wait()
                self.sleep(1.0)
        self.waited = round(time.time() - started, 1)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        return False


def backup_dirs(db_dir):
    """Backup directories under ``db_dir`` (by name), oldest first."""
    try:
        names = os.listdir(db_dir)
    except OSError:
        return []
    return [os.path.join(db_dir, n) for n in sorted(names)
            if STAMP_RE.match(n) and os.path.isdir(os.path.join(db_dir, n)) and not os.path.islink(os.path.join(db_dir, n))]


def tree_size(path):
    """(bytes, files) of the regular files under ``path``; vanishing files are skipped."""
    total, count = 0, 0
    for root, dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_size
            count += 1
    return total, count
