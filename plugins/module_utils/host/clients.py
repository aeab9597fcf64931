# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL client programs (pg_dump, pg_restore, pg_config): where they are, which major
version they are, and how to run them without the password ever reaching a command line, a
message or a file (libpq reads it from PGPASSWORD in the child's environment).

One discovery for every caller: the preflight gate judges the pg_dump that find_tools returns,
and the backup and the restore run the pair find_tools returns, from the same inputs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import time

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import libpq_params

_VERSION_RE = re.compile(r'\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?')


class ClientToolError(Exception):
    """A client program is missing, too old, or failed; the message carries no secret."""


def parse_version(text):
    """(major, full version string) from ``pg_dump --version`` output; major is 9 for 9.6."""
    m = _VERSION_RE.search(text or '')
    if not m:
        raise ClientToolError("cannot read a PostgreSQL version from %r" % (text or '').strip()[:200])
    return int(m.group(1)), text.strip().split(')', 1)[-1].strip()


def client_version(path):
    try:
        out = subprocess.run([path, '--version'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise ClientToolError("cannot run %s --version: %s" % (path, e))
    return parse_version(out)


def program_path(cmd):
    """``cmd`` itself when it is a path, else the first executable of that name on PATH, or None."""
    return cmd if os.sep in cmd else shutil.which(cmd)


def candidate_bin_dirs(server_major, which=shutil.which, run=subprocess.run):
    """Directories to look for pg_dump in, best first: `pg_config --bindir` (the installation
    the administrator put first on PATH), the directory of pg_dump on PATH, then the usual
    per-major layouts (Debian, RHEL). A client older than the server is passed over there, so
    the first acceptable one wins wherever it is."""
    dirs = []
    pg_config = which('pg_config')
    if pg_config:
        try:
            out = run([pg_config, '--bindir'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                      universal_newlines=True, timeout=60, check=False).stdout.strip()
            if out:
                dirs.append(out)
        except (OSError, subprocess.SubprocessError):
            pass
    on_path = which('pg_dump')
    if on_path:
        dirs.append(os.path.dirname(on_path))
    dirs.extend(['/usr/lib/postgresql/%d/bin' % server_major, '/usr/pgsql-%d/bin' % server_major])
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def find_tools(server_major, bin_dir=None):
    """{'bin_dir', 'pg_dump': {...}, 'pg_restore': {...}} with path, major and version, checked
    against the server: pg_dump must be at least the server's major, pg_restore at least
    pg_dump's, both from one directory (``bin_dir`` when given, else candidate_bin_dirs)."""
    dirs = [bin_dir] if bin_dir else candidate_bin_dirs(server_major)
    found = []
    for d in dirs:
        dump = os.path.join(d, 'pg_dump')
        restore = os.path.join(d, 'pg_restore')
        if not (os.path.isfile(dump) and os.access(dump, os.X_OK)):
            if bin_dir:
                raise ClientToolError("no executable pg_dump in %s" % bin_dir)
            continue
        if not (os.path.isfile(restore) and os.access(restore, os.X_OK)):
            if bin_dir:
                raise ClientToolError("no executable pg_restore in %s" % bin_dir)
            continue
        dmajor, dversion = client_version(dump)
        rmajor, rversion = client_version(restore)
        found.append('%s (%s)' % (dump, dversion))
        if dmajor < server_major:
            if bin_dir:
                raise ClientToolError("pg_dump %s at %s is older than the server (PostgreSQL %d): a dump needs a "
                                      "pg_dump of the server's major version or newer" % (dversion, dump, server_major))
            continue
        if rmajor < dmajor:
            raise ClientToolError("pg_restore %s at %s is older than pg_dump %s: it cannot read the dump"
                                  % (rversion, restore, dversion))
        return {'bin_dir': d,
                'pg_dump': {'path': dump, 'major': dmajor, 'version': dversion},
                'pg_restore': {'path': restore, 'major': rmajor, 'version': rversion}}
    if found:
        raise ClientToolError("every pg_dump found is older than the server (PostgreSQL %d): %s; set the bin "
                              "directory of a PostgreSQL %d client" % (server_major, ', '.join(found), server_major))
    raise ClientToolError("no pg_dump and pg_restore found (looked in %s); set the bin directory of a PostgreSQL %d "
                          "client" % (', '.join(dirs), server_major))


def find_client(name, server_major, bin_dir=None):
    """The path of client program ``name`` (pg_restore for a restore), looked for where
    find_tools looks, in the same order: ``bin_dir`` when given, else candidate_bin_dirs."""
    dirs = [bin_dir] if bin_dir else candidate_bin_dirs(server_major)
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise ClientToolError("%s not found (looked in %s)" % (name, ', '.join(dirs)))


def _quote_conninfo(value):
    return "'" + str(value).replace('\\', '\\\\').replace("'", "\\'") + "'"


def conninfo(params, dbname):
    """A libpq connection string for ``dbname`` from the module's connection options,
    without the password (see client_env)."""
    kw = libpq_params(params, dbname)
    kw.pop('password', None)
    return ' '.join('%s=%s' % (k, _quote_conninfo(v)) for k, v in sorted(kw.items()))


def client_env(params, base=None):
    """The child's environment: the password (when one is set) in PGPASSWORD, nothing else added."""
    env = dict(os.environ if base is None else base)
    password = params.get('login_password')
    if password:
        env['PGPASSWORD'] = password
    return env


def scrub(text, params):
    """Text safe to show: the password (if it ever appears) masked, whitespace collapsed."""
    text = text or ''
    password = params.get('login_password')
    if password:
        text = text.replace(password, '********')
    return text


def last_lines(text, count=3):
    lines = [ln.strip() for ln in (text or '').splitlines() if ln.strip()]
    return ' | '.join(lines[-count:])


def _private_umask():
    os.umask(0o077)


def run_client(argv, params, on_tick=None, tick_seconds=2.0):
    """Run a client program to the end. ``on_tick(elapsed)`` is called every ``tick_seconds``
    while it runs (progress). Returns (rc, stdout, stderr, seconds); stderr has the password
    masked. Files the program creates are 0600 (umask 077)."""
    started = time.time()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=client_env(params), preexec_fn=_private_umask)
    except OSError as e:
        raise ClientToolError("cannot run %s: %s" % (argv[0], e))
    while True:
        try:
            out, err = proc.communicate(timeout=tick_seconds)
            break
        except subprocess.TimeoutExpired:
            if on_tick is not None:
                on_tick(time.time() - started)
    return (proc.returncode, (out or b'').decode('utf-8', 'replace'),
            scrub((err or b'').decode('utf-8', 'replace'), params), time.time() - started)
