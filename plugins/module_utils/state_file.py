# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host state file: which phase finished for which database, with paths and
versions, so a re-run resumes and rollback knows what to undo. Never holds secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.pgtviews.ops.plugins.module_utils.private_file import write_private

FORMAT = 1
SECRET_HINTS = ('password', 'passwd', 'secret', 'token')


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
    """A new document with ``data`` recorded for (database, phase)."""
    check_no_secrets(data)
    new = json.loads(json.dumps(doc))
    new['databases'].setdefault(database, {})[phase] = data
    return new


def write(path, doc):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    write_private(path, json.dumps(doc, sort_keys=True, indent=2) + '\n')
