# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gate rules about the server and the host around it: reachable, PostgreSQL major,
privileges, primary or standby, target version installed, prepared and long transactions,
other sessions, backup space, pg_dump, code scan, maintenance window. Pure functions of
facts gathered elsewhere, each returning check records (see gates.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import FAIL, PASS, SKIP, WARN, check
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.window import WindowError, check_windows
from ansible_collections.pgtviews.ops.plugins.module_utils.host.disk import human
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import (
    UnknownGenerationError, generation_of, parse_version)

SEVERITIES = ('error', 'warning', 'info')
_PG_DUMP_RE = re.compile(r'pg_dump \(PostgreSQL\) (\d+)(?:\.(\d+))?')


def _some(items, n=5):
    items = list(items)
    more = len(items) - n
    return ', '.join(items[:n]) + (' and %d more' % more if more > 0 else '')


def reachable(error, where):
    if error:
        return check('reachable', FAIL, error)
    return check('reachable', PASS, 'connected to %s' % where)


def server_version(facts, supported):
    major = facts['server_major']
    if major in supported:
        return check('server_version', PASS, 'PostgreSQL %s (major %d is supported)' % (facts['server_version'], major))
    return check('server_version', FAIL, 'PostgreSQL %s: major %d is not one of the supported majors %s'
                 % (facts['server_version'], major, ', '.join(str(m) for m in supported)))


def privileges(facts, user):
    if facts.get('is_superuser'):
        return check('privileges', PASS, '%s is a superuser' % user)
    return check('privileges', FAIL, '%s is not a superuser: DROP/CREATE EXTENSION pg_tviews creates C functions and an '
                 'event trigger, which needs superuser' % user)


def primary(facts):
    if facts.get('is_primary'):
        return check('primary', PASS, 'primary (not in recovery)')
    return check('primary', FAIL, 'standby (in recovery): the swap runs on the primary and reaches standbys by '
                 'replication; run the migration against the primary')


def target_available(target, available, probe, required=True):
    """``probe``: {ran, database, error, library_version, skipped} of a rolled-back CREATE EXTENSION.
    ``required`` false: a target not installed yet is a warning (the install phase adds it)."""
    try:
        generation_of(target)
    except (UnknownGenerationError, ValueError) as e:
        return check('target_available', FAIL, str(e))
    if target not in (available or []) and not required:
        return check('target_available', WARN, 'pg_tviews %s is not installed on this server yet (available: %s): the '
                     'install phase adds it, beside the running version' % (target, ', '.join(available or []) or 'none'))
    if target not in (available or []):
        return check('target_available', FAIL, 'pg_tviews %s is not installed on this server (available: %s); run the '
                     'install role first' % (target, ', '.join(available or []) or 'none'))
    if not probe or not probe.get('ran'):
        return check('target_available', PASS, 'pg_tviews %s is installed on this server (creation not probed: %s)'
                     % (target, (probe or {}).get('skipped') or 'probe disabled'))
    if probe.get('error'):
        return check('target_available', FAIL, 'pg_tviews %s is installed but CREATE EXTENSION fails (probed in %s, rolled '
                     'back): %s' % (target, probe['database'], probe['error']))
    lib = probe.get('library_version')
    try:
        same = lib is not None and parse_version(lib).release == parse_version(target).release
    except ValueError:
        same = False
    if not same:
        return check('target_available', FAIL, 'CREATE EXTENSION pg_tviews VERSION %s works, but its library reports %s: '
                     'the wrong pg_tviews library is installed for it' % (target, lib))
    return check('target_available', PASS, 'pg_tviews %s is installed and creatable (probed in %s and rolled back; '
                 'library %s)' % (target, probe['database'], lib))


def prepared_transactions(rows, databases):
    """Prepared transactions in a migrated database fail (they hold locks and carry changes made
    by the old version, reference pitfall 9); elsewhere on the server they warn."""
    ours = [r for r in rows if r['database'] in databases]
    others = [r for r in rows if r['database'] not in databases]

    def describe(r):
        return '%s in %s (%ss old, owner %s)' % (r['gid'], r['database'], r['age_seconds'], r['owner'])

    if ours:
        return check('prepared_transactions', FAIL, '%d prepared transaction(s) must be committed or rolled back first '
                     '(COMMIT PREPARED / ROLLBACK PREPARED): %s' % (len(ours), _some(describe(r) for r in ours)),
                     gids=[r['gid'] for r in ours])
    if others:
        return check('prepared_transactions', WARN, '%d prepared transaction(s) in databases not migrated: %s'
                     % (len(others), _some(describe(r) for r in others)))
    return check('prepared_transactions', PASS, 'no prepared transactions')


def long_transactions(database, sessions, max_age):
    old = [s for s in sessions if s.get('transaction_age_seconds') is not None and s['transaction_age_seconds'] > max_age]
    if old:
        return check('long_transactions', FAIL, '%d transaction(s) open longer than %ss (the swap would wait for their '
                     'locks): %s' % (len(old), max_age, _some('pid %s (%s, %s, %ss)' % (
                         s['pid'], s['user'], s['state'], s['transaction_age_seconds']) for s in old)),
                     database, pids=[s['pid'] for s in old])
    return check('long_transactions', PASS, 'no transaction open longer than %ss' % max_age, database)


def sessions(database, others, lock_holders):
    """Other sessions are counted; those holding locks on TVIEW tables now would make the swap wait."""
    if lock_holders:
        return check('sessions', WARN, '%d other session(s); %d hold locks on TVIEW or base tables now and would delay '
                     'the swap (it waits up to its lock_timeout per attempt): %s'
                     % (len(others), len(lock_holders), _some('pid %s (%s)' % (h['pid'], h['mode']) for h in lock_holders)),
                     database, count=len(others), lock_holders=[h['pid'] for h in lock_holders])
    return check('sessions', PASS, '%d other session(s), none holding locks on TVIEW or base tables'
                 % len(others), database, count=len(others))


def backup_space(path, free_bytes, sizes, factor, error=None):
    """``sizes``: {database: bytes}. Needs factor x total database size free at ``path``."""
    if error:
        return check('backup_space', FAIL, 'cannot measure free space for %s: %s' % (path, error))
    total = sum(sizes.values())
    need = int(total * factor)
    details = dict(path=path, free_bytes=free_bytes, needed_bytes=need, database_bytes=total, factor=factor)
    if free_bytes < need:
        return check('backup_space', FAIL, 'not enough space for the backup at %s: %s free, %s needed (%s x %s of databases)'
                     % (path, human(free_bytes), human(need), factor, human(total)), **details)
    return check('backup_space', PASS, '%s free at %s, %s needed (%s x %s of databases)'
                 % (human(free_bytes), path, human(need), factor, human(total)), **details)


def backup_root_not_a_directory(path, in_the_way):
    """The backup root, or a directory above it, exists as something other than a directory."""
    what = 'is a file' if in_the_way == path else 'is under %s, which is a file' % in_the_way
    return check('backup_space', FAIL, 'tviews_backup_root %s %s, not a directory: point tviews_backup_root at a '
                 'directory (or a path that can be created as one)' % (path, what), path=path, in_the_way=in_the_way,
                 input='tviews_backup_root')


def pg_dump(path, version_text, server_major, error=None):
    if error or not version_text:
        return check('pg_dump', FAIL, 'no usable pg_dump: %s' % (error or 'no version output'))
    m = _PG_DUMP_RE.search(version_text)
    if not m:
        return check('pg_dump', FAIL, '%s printed an unexpected version: %s' % (path, version_text.strip()))
    major = int(m.group(1))
    if major < server_major:
        return check('pg_dump', FAIL, '%s is major %d; dumping a PostgreSQL %d server needs pg_dump %d or newer'
                     % (path, major, server_major, server_major), path=path, major=major)
    return check('pg_dump', PASS, '%s is major %d (server %d)' % (path, major, server_major), path=path, major=major)


def scan_counts(doc):
    """Findings per severity from a code scan report (pgtviews.ops.scan playbook JSON:
    summary.counts.severities) or a bare {counts: {...}}."""
    counts = (doc.get('summary') or {}).get('counts') or doc.get('counts') or {}
    sev = counts.get('severities') or counts
    return dict((s, int(sev.get(s) or 0)) for s in SEVERITIES)


def code_scan(doc, source, fail_on='never', required=False):
    if doc is None:
        if required:
            return check('code_scan', FAIL, 'no code scan report (%s); run the pgtviews.ops.scan playbook first' % source)
        return check('code_scan', SKIP, 'no code scan report (%s)' % source)
    counts = scan_counts(doc)
    total = sum(counts.values())
    text = 'code scan (%s): %d finding(s): %s' % (source, total, ', '.join('%s %d' % (s, counts[s]) for s in SEVERITIES))
    if total == 0:
        return check('code_scan', PASS, text, counts=counts)
    if fail_on != 'never':
        blocking = SEVERITIES[:SEVERITIES.index(fail_on) + 1]
        if any(counts[s] for s in blocking):
            return check('code_scan', FAIL, text + ' (fails on %s and worse)' % fail_on, counts=counts)
    return check('code_scan', WARN, text + '; update the application before the swap', counts=counts)


def maintenance_window(windows, now):
    if not windows:
        return check('maintenance_window', SKIP, 'no maintenance window configured')
    stamp = now.strftime('%Y-%m-%dT%H:%MZ')
    try:
        inside, text = check_windows(windows, now)
    except WindowError as e:
        return check('maintenance_window', FAIL, str(e))
    if inside:
        return check('maintenance_window', PASS, 'now (%s) is inside the window %s' % (stamp, text))
    return check('maintenance_window', FAIL, 'now (%s) is outside every maintenance window (%s)' % (stamp, text))
