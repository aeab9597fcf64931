# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup record (docs/backup.md): a JSON document written last, atomically and 0600,
only once a backup is verified. It names the dump, the manifest and the CSV with their sizes
and checksums, the versions of the tools and of the extension, the durations and what was
verified, and carries its own digest. The rollback role trusts a backup only through it:
``load`` checks the document, ``problems`` checks the files it names are still intact."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os

from ansible_collections.pgtviews.ops.plugins.module_utils.host import sealed

KIND = 'pgtviews.ops/backup-record'
SCHEMA_VERSION = 1


class RecordError(ValueError):
    pass


def sha256_file(path, bufsize=1024 * 1024):
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        while True:
            chunk = fh.read(bufsize)
            if not chunk:
                break
            h.update(chunk)
    return 'sha256:' + h.hexdigest()


def file_facts(path):
    return {'path': path, 'bytes': os.path.getsize(path), 'sha256': sha256_file(path)}


def seal(document):
    document = dict(document)
    document['kind'] = KIND
    document['schema_version'] = SCHEMA_VERSION
    return sealed.seal(document)


def load(path):
    """The record at ``path``, with its kind, schema version and digest checked."""
    try:
        with open(path, 'rb') as fh:
            doc = json.loads(fh.read().decode('utf-8'))
    except (IOError, OSError) as e:
        raise RecordError("cannot read backup record %s: %s" % (path, getattr(e, 'strerror', None) or e))
    except (ValueError, UnicodeDecodeError) as e:
        raise RecordError("backup record %s is not valid JSON: %s" % (path, e))
    return sealed.check(doc, KIND, SCHEMA_VERSION, 'backup record %s' % path, RecordError, 'backup record')


def problems(record):
    """What is no longer as recorded: missing or resized dump files, a changed table of
    contents, manifest or CSV. An empty list means the backup is intact (sizes of the data
    files and checksums of toc.dat, the manifest and the CSV; data files are not re-hashed)."""
    found = []
    dump = record['dump']
    if not os.path.isdir(dump['path']):
        return ['dump directory %s is missing' % dump['path']]
    for name, size in sorted(dump['files'].items()):
        p = os.path.join(dump['path'], name)
        try:
            actual = os.path.getsize(p)
        except OSError:
            found.append('dump file %s is missing' % p)
            continue
        if actual != size:
            found.append('dump file %s has %d bytes, recorded %d' % (p, actual, size))
    toc = os.path.join(dump['path'], 'toc.dat')
    if os.path.isfile(toc) and sha256_file(toc) != dump['toc_sha256']:
        found.append('%s changed since the backup' % toc)
    for key in ('manifest', 'csv'):
        facts = record[key]
        if not os.path.isfile(facts['path']):
            found.append('%s %s is missing' % (key, facts['path']))
        elif sha256_file(facts['path']) != facts['sha256']:
            found.append('%s %s changed since the backup' % (key, facts['path']))
    return found


def reusable(record, database, target_version, extversion, test_restore):
    """Why an earlier backup cannot stand for a new one (None when it can)."""
    if record.get('database') != database:
        return 'it is a backup of database %s' % record.get('database')
    if record.get('target_version') != target_version:
        return 'it was taken for a migration to %s, not %s' % (record.get('target_version'), target_version)
    if record['extension']['extversion'] != extversion:
        return 'pg_tviews was %s then and is %s now' % (record['extension']['extversion'], extversion)
    if test_restore and not record['verification']['test_restore']['performed']:
        return 'it was not test-restored'
    issues = problems(record)
    if issues:
        return issues[0]
    return None


def _timing(record):
    """started_at, finished_at and duration_ms of the backup a record describes (``created`` is when
    it started, ``durations.total`` how long it took in seconds), for the report's phase timeline."""
    total = (record.get('durations') or {}).get('total')
    created = record.get('created')
    if total is None or not created:
        return {}
    out = {'started_at': created, 'duration_ms': round(float(total) * 1000, 1)}
    try:
        start = datetime.datetime.strptime(created, '%Y-%m-%dT%H:%M:%S.%fZ')
    except ValueError:
        return out
    out['finished_at'] = (start + datetime.timedelta(seconds=float(total))).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    return out


def state_data(record, record_path):
    """What the role records in the state file's ``backup`` phase (no secrets, paths and versions;
    when the backup took place and how long it took: started_at, finished_at, duration_ms, and
    ``durations``, the seconds of each step)."""
    return dict(_timing(record), **{
        'path': record['directory'],
        'manifest': record['manifest']['path'],
        'manifest_digest': record['manifest']['digest'],
        'record': record_path,
        'record_digest': record['digest'],
        'csv': record['csv']['path'],
        'dump': record['dump']['path'],
        'extversion': record['extension']['extversion'],
        'library_version': record['extension']['library_version'],
        'target_version': record['target_version'],
        'created': record['created'],
        'test_restored': record['verification']['test_restore']['performed'],
        'durations': record.get('durations'),
    })


def found_on_disk(backup_root, host_label):
    """{database: (record, path)}: for each database under ``backup_root`` for ``host_label``, the
    newest intact backup taken before a migration (extversion differs from the target). What a
    lost state file recorded as each database's ``backup``, found again from the sealed records."""
    from ansible_collections.pgtviews.ops.plugins.module_utils.backup import layout
    host_dir = os.path.join(backup_root, layout.safe_name(host_label))
    found = {}
    for name in sorted(os.listdir(host_dir)) if os.path.isdir(host_dir) else []:
        for d in reversed(layout.backup_dirs(os.path.join(host_dir, name))):
            path = os.path.join(d, layout.RECORD)
            try:
                record = load(path)
            except RecordError:
                continue
            if record['extension']['extversion'] != record['target_version'] and not problems(record):
                found.setdefault(record['database'], (record, path))
                break
    return found
