# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host state file: which phase finished for which database, with paths and
versions, so a re-run resumes and rollback knows what to undo. Never holds secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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


def read(path):
    if not os.path.exists(path):
        return {'format': FORMAT, 'databases': {}}
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except ValueError as e:
        raise StateError("state file %s is not valid JSON: %s" % (path, e))
    if doc.get('format') != FORMAT:
        raise StateError("state file %s has format %r, expected %d" % (path, doc.get('format'), FORMAT))
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


def merged(doc, database, phase, data):
    """A new document with ``data`` recorded for (database, phase). Recording a change phase
    marks the database's backups as superseded by it (see CHANGE_PHASES)."""
    check_no_secrets(data)
    new = json.loads(json.dumps(doc))
    entry = new['databases'].setdefault(database, {})
    entry[phase] = data
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
