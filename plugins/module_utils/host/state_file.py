# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host state file: which phase finished for which database, with paths and
versions, so a re-run resumes and rollback knows what to undo. Never holds secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_private

FORMAT = 1
SECRET_HINTS = ('password', 'passwd', 'secret', 'token')
# Phases that change a database's extension. A backup taken before one of them no longer stands
# for a new migration: the application has written since, and a complete rollback to it would
# silently lose those writes. Rollback still reads it (it is the copy from before the swap).
CHANGE_PHASES = ('swap', 'rollback', 'rollback_complete')
BACKUP_PHASES = ('backup', 'backup_after')


class StateError(ValueError):
    pass


class WrongHostError(StateError):
    """Another host's state file: never recovered or replaced, only refused."""


def read(path, host=None):
    """The document at ``path`` (an empty one when it does not exist). With ``host``, a file that
    another host wrote is refused: its backups and phases are not this host's."""
    if not os.path.exists(path):
        return {'format': FORMAT, 'databases': {}}
    hint = ("move it aside or let the playbook recover it (tviews_state_recover, on by default: it keeps the file "
            "as %s.corrupt-<time> and finds the backups again on disk)" % path)
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeDecodeError) as e:
        raise StateError("state file %s is not valid JSON (%s): %s" % (path, e, hint))
    if not isinstance(doc, dict) or not isinstance(doc.get('databases'), dict):
        raise StateError("state file %s is not a pgtviews.ops state file (no databases in it): %s" % (path, hint))
    if doc.get('format') != FORMAT:
        raise StateError("state file %s has format %s, this version reads format %d: %s"
                         % (path, doc.get('format'), FORMAT, hint))
    if host and doc.get('host') not in (None, host):
        raise WrongHostError("state file %s was written by host %s, not %s: point tviews_state_file at this host's own "
                             "state file (each host keeps its own); nothing was changed" % (path, doc['host'], host))
    return doc


def check_no_secrets(data, where='data'):
    if isinstance(data, dict):
        for k, v in data.items():
            if any(h in str(k).lower() for h in SECRET_HINTS):
                raise StateError("refusing to write %s.%s to the state file: it looks like a secret" % (where, k))
            check_no_secrets(v, '%s.%s' % (where, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            check_no_secrets(v, '%s[%d]' % (where, i))


def _now():
    return datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def merged(doc, database, phase, data, now=_now):
    """A new document with ``data`` recorded for (database, phase), stamped ``recorded_at`` when it
    differs from what was recorded (so recording the same thing again changes nothing). Recording
    a change phase marks the database's backups as superseded by it (see CHANGE_PHASES)."""
    check_no_secrets(data)
    new = json.loads(json.dumps(doc))
    entry = new['databases'].setdefault(database, {})
    old = entry.get(phase)
    old_data = dict((k, v) for k, v in old.items() if k not in ('recorded_at', 'superseded_by')) \
        if isinstance(old, dict) else old
    if old_data != json.loads(json.dumps(data)):
        entry[phase] = dict(data, recorded_at=now())
    if phase in CHANGE_PHASES:
        for name in BACKUP_PHASES:
            if isinstance(entry.get(name), dict) and 'superseded_by' not in entry[name]:
                entry[name]['superseded_by'] = phase
    return new


def write(path, doc):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    write_private(path, json.dumps(doc, sort_keys=True, indent=2) + '\n')


def last_change(entry):
    """The change phase (swap, rollback, rollback_complete) recorded last for one database's
    entry, or None. Entries written before phases were stamped count as older than stamped ones,
    and among those a rollback as later than the swap it undid."""
    stamped = [(entry[name].get('recorded_at') or '', i, name) for i, name in enumerate(CHANGE_PHASES)
               if isinstance(entry.get(name), dict)]
    return max(stamped)[2] if stamped else None


def summary(doc):
    """{database: {'last_change': phase or None, 'validated_after_swap': bool}}: what a re-run
    needs to decide whether a swap is recorded and whether it has been validated since."""
    out = {}
    for db, entry in doc.get('databases', {}).items():
        change = last_change(entry)
        swap, validate = entry.get('swap') or {}, entry.get('validate') or {}
        validated = (change == 'swap' and isinstance(validate, dict) and validate.get('status') != 'fail'
                     and (validate.get('recorded_at') or '') >= (swap.get('recorded_at') or '')
                     and validate.get('extversion') == swap.get('to_version'))
        out[db] = {'last_change': change, 'validated_after_swap': bool(validated)}
    return out
