# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gate rules about the pg_tviews catalog of one database: extension version, the health
check and what it cannot see (reference §6.1, pitfall 16), tv_ equal to v_, definitions
that still plan, readability, manifest differences, the write path and refresh. Pure
functions of facts gathered elsewhere, each returning a check record (see gates.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.gates.core import FAIL, PASS, SKIP, WARN, check
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_class, trigger_of
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import (
    UnknownGenerationError, generation_of, parse_version)

# Health-check rows that are advice, not a fault: jsonb_delta is optional (reference §3.3).
BENIGN_COMPONENTS = ('jsonb_delta',)


def _some(items, n=5):
    items = list(items)
    more = len(items) - n
    return '; '.join(items[:n]) + (' and %d more' % more if more > 0 else '')


def _mm(text):
    try:
        return parse_version(text).major_minor
    except ValueError:
        return None


def _migrates(ext, target):
    """True when the target's adapter admits a migration from the generation ``ext`` speaks."""
    try:
        return generation_of(ext) in adapter_class(target).migrates_from
    except (UnknownGenerationError, ValueError):
        return False


def extension_before(database, facts, target):
    """Preflight: pg_tviews at a version the target migrates from (or already at the target: done)."""
    ext, lib = facts.get('extversion'), facts.get('library_version')
    if not facts.get('installed'):
        return check('extension_version', FAIL, 'pg_tviews is not installed in this database', database)
    if lib is None:
        return check('extension_version', FAIL, 'pg_tviews %s is registered but pg_tviews_version() cannot be called: '
                     'its library is missing or does not match' % ext, database, extversion=ext)
    if _mm(lib) != _mm(ext):
        return check('extension_version', FAIL, 'extversion %s but the loaded library reports %s: another pg_tviews '
                     'library was installed over the running one' % (ext, lib), database, extversion=ext, library_version=lib)
    if _mm(ext) == _mm(target) and parse_version(ext).release == parse_version(target).release:
        return check('extension_version', PASS, 'already at %s (library %s): done, nothing to migrate' % (ext, lib),
                     database, extversion=ext, library_version=lib, done=True)
    if _migrates(ext, target):
        return check('extension_version', PASS, 'at %s (library %s)' % (ext, lib), database,
                     extversion=ext, library_version=lib, done=False)
    return check('extension_version', FAIL, 'at %s, which is neither a version pg_tviews %s migrates from nor the target'
                 % (ext, target), database, extversion=ext, library_version=lib)


def extension_after(database, facts, target):
    """Validate: the extension and its library at the target version."""
    ext, lib = facts.get('extversion'), facts.get('library_version')
    if not facts.get('installed'):
        return check('extension_version', FAIL, 'pg_tviews is not installed in this database', database)
    if ext != target:
        return check('extension_version', FAIL, 'extversion is %s, not %s' % (ext, target), database, extversion=ext,
                     library_version=lib)
    if lib is None or _mm(lib) != _mm(target) or parse_version(lib).release != parse_version(target).release:
        return check('extension_version', FAIL, 'extversion %s but the library reports %s' % (ext, lib), database,
                     extversion=ext, library_version=lib)
    return check('extension_version', PASS, 'at %s (library %s)' % (ext, lib), database, extversion=ext, library_version=lib)


def health(database, rows, callable_=True, orphans_reported=False):
    """pg_tviews_health_check(): error rows fail, warnings warn (jsonb_delta advice passes).
    ``orphans_reported``: its orphaned-metadata error is left to the orphaned_metadata check."""
    if not callable_:
        return check('health', SKIP, 'the library cannot be called; see extension_version', database)
    if not rows:
        return check('health', FAIL, 'pg_tviews_health_check() returned no rows', database)
    covered = [r for r in rows if orphans_reported and r.get('component') == 'metadata'
               and 'orphaned metadata' in (r.get('message') or '')]
    errors = [r for r in rows if r not in covered and (
        (r.get('severity') or '').lower() == 'error' or (r.get('status') or '').upper() == 'ERROR')]
    warnings = [r for r in rows if r not in errors and r not in covered and (r.get('component') not in BENIGN_COMPONENTS)
                and ((r.get('severity') or '').lower() == 'warning' or (r.get('status') or '').upper() == 'WARNING')]

    def text(rs):
        return _some('%s: %s' % (r['component'], r['message']) for r in rs)

    if errors:
        return check('health', FAIL, 'pg_tviews_health_check() reports %s' % text(errors), database, rows=rows)
    if warnings:
        return check('health', WARN, 'pg_tviews_health_check() warns %s' % text(warnings), database, rows=rows)
    if covered:
        return check('health', PASS, 'pg_tviews_health_check() clean (%d rows) apart from the orphaned metadata that the '
                     'orphaned_metadata check reports' % len(rows), database, rows=rows)
    return check('health', PASS, 'pg_tviews_health_check() clean (%d rows)' % len(rows), database, rows=rows)


def consistency(database, records, triggers, missing_tables_reported=False):
    """What the health check cannot see: every TVIEW's tv_ table and v_ view exist (by schema,
    not just relname), a pg_tviews trigger sits on its base tables, and no pg_tviews trigger
    belongs to an unregistered entity (the upstream check only matches 'tview_%').
    ``missing_tables_reported``: a TVIEW whose tv_ table is gone is left to the
    orphaned_metadata check (preflight), which says what it means and what to do."""
    problems, orphans = [], []
    triggered = {}
    for t in triggers:
        triggered.setdefault(t['table'], []).append(t['name'])
    for r in records:
        if not r.get('qualified_table') and missing_tables_reported:
            continue
        if not r.get('qualified_table'):
            problems.append('%s: its tv_ table is missing' % r['entity'])
        if not r.get('qualified_view'):
            problems.append('%s: its v_ view is missing' % r['entity'])
        if r.get('dependencies') and not any(triggered.get(d) for d in r['dependencies']):
            problems.append('%s: no pg_tviews trigger on any of its base tables (%s); writes would not reach it'
                            % (r['entity'], ', '.join(r['dependencies'])))
    for t in triggers:
        if not any(trigger_of(t['name'], r['entity']) for r in records):
            orphans.append('%s on %s' % (t['name'], t['table']))
    if problems:
        return check('consistency', FAIL, _some(problems), database)
    if orphans:
        return check('consistency', WARN, '%d pg_tviews trigger(s) of no registered TVIEW: %s' % (len(orphans), _some(orphans)),
                     database)
    return check('consistency', PASS, '%d TVIEW(s), each with its tv_ table, v_ view and base-table triggers' % len(records),
                 database)


def drift(database, results, sample, after_swap=False):
    """``results``: [{tview, table, view, only_in_tv, only_in_view, stale, error}] from
    objects.drift(classify=True). Rows only in tv_ whose key v_ no longer has (``stale``) are
    what pg_tviews 0.1 leaves on every DELETE (it never deletes a tv_ row; reference 2.5): a
    warning that says so, not a failure. Anything else differing fails: the migration, which
    adopts or registers rows without rewriting them and otherwise rebuilds from v_, never
    makes a row whose key is gone, so other differences are not 0.1's."""
    scope = 'first %d primary keys of each' % sample if sample else 'every row'
    if not results:
        return check('drift', PASS, 'no TVIEWs', database)

    def other(r):
        return r['only_in_tv'] - r.get('stale', 0) + r['only_in_view']

    bad = [r for r in results if r.get('error') or other(r)]
    stale = [r for r in results if not r.get('error') and r.get('stale')]
    stale_text = ''
    if stale:
        what = _some('%s has %d row(s) whose key %s no longer has' % (r['table'], r['stale'], r['view']) for r in stale)
        if after_swap:
            stale_text = ('%s: rows pg_tviews 0.1 left when their base rows were deleted before the swap (0.1 never '
                          'deletes a TVIEW row; the swap keeps rows as they were), not drift the migration made. Set '
                          'tviews_swap_repair_stale_rows: true to have the next swap delete them, or delete them now: '
                          'DELETE FROM <tv_ table> t WHERE NOT EXISTS (SELECT 1 FROM <v_ view> v WHERE v.<pk> = t.<pk>)'
                          % what)
        else:
            stale_text = ('%s: pg_tviews 0.1 never deletes a TVIEW row (when a base row is deleted, its refresh finds '
                          'nothing in the view and stops), so readers still see these. The migration keeps them as they '
                          'are and no later write touches them; set tviews_swap_repair_stale_rows: true to have the swap '
                          'delete them just before it starts (counted in the report)' % what)
    if bad:
        def describe(r):
            if r.get('error'):
                return '%s: cannot compare: %s' % (r['tview'], r['error'])
            return '%s differs from %s (%d row(s) only in tv_, %d only in v_%s)' % (
                r['table'], r['view'], r['only_in_tv'] - r.get('stale', 0), r['only_in_view'],
                ', besides %d stale' % r['stale'] if r.get('stale') else '')
        return check('drift', FAIL, '%d TVIEW(s) out of sync with their view (%s): %s%s' % (
            len(bad), scope, _some(describe(r) for r in bad), '. Also ' + stale_text if stale_text else ''),
            database, tviews=[r['tview'] for r in bad], stale=dict((r['tview'], r['stale']) for r in stale))
    if stale:
        return check('drift', WARN, '%d TVIEW(s) equal to their view except for rows whose base row is gone (%s). %s' % (
            len(stale), scope, stale_text), database, stale=dict((r['tview'], r['stale']) for r in stale))
    return check('drift', PASS, '%d TVIEW(s) equal to their view (EXCEPT both ways, %s)' % (len(results), scope), database)


def definitions(database, results):
    """``results``: [{tview, error}] from EXPLAIN of every recorded definition."""
    bad = [r for r in results if r.get('error')]
    if bad:
        return check('definitions', FAIL, '%d TVIEW definition(s) no longer plan against today\'s tables, so recreating '
                     'them would fail: %s' % (len(bad), _some('%s: %s' % (r['tview'], r['error']) for r in bad)), database,
                     tviews=[r['tview'] for r in bad])
    return check('definitions', PASS, '%d TVIEW definition(s) plan (EXPLAIN) against today\'s tables' % len(results), database)


def readable(database, results):
    bad = [r for r in results if r.get('error')]
    if bad:
        return check('readable', FAIL, '%d TVIEW(s) cannot be read: %s' % (len(bad), _some('%s: %s' % (r['tview'], r['error']) for r in bad)),
                     database)
    return check('readable', PASS, '%d TVIEW(s) readable (tv_ table and v_ view)' % len(results), database)


def manifest(database, source, differences, unexpected, error=None):
    if error:
        return check('manifest', FAIL, 'manifest verification failed: %s' % error, database)
    if source is None:
        return check('manifest', SKIP, 'no manifest recorded for this database (backup or swap phase) and none stored in it',
                     database)
    if unexpected:
        return check('manifest', FAIL, 'differs from the manifest (%s) in %d way(s): %s' % (source, len(unexpected), _some(
            '%s of %s' % (d['kind'], d['object']) for d in unexpected)), database, differences=len(differences))
    allowed = len(differences) - len(unexpected)
    extra = ' apart from %d allowed difference(s)' % allowed if allowed else ''
    return check('manifest', PASS, 'matches the manifest (%s)%s' % (source, extra), database)


def write_path(database, results):
    """``results``: [{tview, status: pass|fail|untestable|busy, detail}] from gates_writepath. A
    busy TVIEW (every row tried was locked by the application) warns: the test gave way."""
    if not results:
        return check('write_path', WARN, 'no TVIEW has a base table with its own primary key to test the write path on',
                     database)
    bad = [r for r in results if r['status'] == 'fail']
    untested = [r for r in results if r['status'] in ('untestable', 'busy')]
    good = [r for r in results if r['status'] == 'pass']
    if bad:
        return check('write_path', FAIL, 'a write to a base table did not reach %d TVIEW(s): %s' % (
            len(bad), _some('%s: %s' % (r['tview'], r['detail']) for r in bad)), database)
    if not good:
        return check('write_path', WARN, 'write path not observed: %s' % _some('%s: %s' % (r['tview'], r['detail']) for r in untested),
                     database)
    text = 'an UPDATE of a base row changed the tv_ row to match its view for %d TVIEW(s) (rolled back)' % len(good)
    if untested:
        text += '; not observable for %s' % ', '.join(r['tview'] for r in untested)
    return check('write_path', PASS, text, database)


def refresh(database, results, generation):
    """``results``: [{tview, kind, primary_keys, error, busy, drift}] from refreshes in rolled-back
    transactions. A refresh that gave way to the application every time (busy) warns."""
    if not results:
        return check('refresh', SKIP, 'nothing refreshed (no TVIEW rows, or the API %s cannot refresh rows)' % generation, database)
    bad = [r for r in results if r.get('error') or r.get('drift')]
    if bad:
        return check('refresh', FAIL, 'refresh through the %s API failed for %s' % (generation, _some(
            '%s: %s' % (r['tview'], r.get('error') or 'tv_ differs from v_ after the refresh') for r in bad)), database)
    busy = [r for r in results if r.get('busy')]
    if busy:
        return check('refresh', WARN, 'refresh through the %s API not observed for %s: its rows were busy with the '
                     'application every time, and the refresh gave way (%s)' % (
                         generation, ', '.join(r['tview'] for r in busy), _some(r['busy'] for r in busy)), database)
    kinds = sorted(set(r['kind'] for r in results))
    return check('refresh', PASS, 'refreshed %d TVIEW(s) through the %s API (%s; rolled back)' % (
        len(results), generation, ', '.join('sampled primary keys' if k == 'rows' else 'full' for k in kinds)), database)


def dependents(database, items, target):
    """``items``: the extension's dependents (catalog.objects.extension_dependents), each with
    ``problem`` (None, or why the swap cannot set it aside and put it back on ``target``). Any
    problem fails: DROP EXTENSION would fail inside the write-blocked window."""
    bad = [d for d in items if d.get('problem')]
    if bad:
        named = _some('%s (%s)' % (d['object'], d['problem']) for d in bad)
        return check('dependents', FAIL, '%d object(s) outside pg_tviews depend on it and the swap cannot set them aside '
                     'and put them back, so the swap would fail inside its write-blocked window: %s. Drop or rewrite '
                     'them so they no longer depend on pg_tviews objects before the migration, and recreate them '
                     'against pg_tviews %s after it' % (len(bad), named, target), database,
                     objects=[d['object'] for d in bad])
    if items:
        return check('dependents', PASS, '%d object(s) outside pg_tviews depend on it; the swap sets each aside and puts '
                     'it back: %s' % (len(items), _some(d['object'] for d in items)), database)
    return check('dependents', PASS, 'no object outside pg_tviews depends on it', database)
