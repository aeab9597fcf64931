# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention: keep the newest K complete backups of a database (K = 0 keeps all), never the
current one or a protected one (the backup the current migration depends on). A directory
without a record is the remains of a run that was killed (the record is written last); it is
removed by the next run, which holds the database's lock. A directory whose record is
unreadable or was modified is never removed automatically: it is reported."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

from ansible_collections.pgtviews.ops.plugins.module_utils.backup.layout import RECORD, backup_dirs
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record


def _real(path):
    return os.path.realpath(path)


def plan(db_dir, current, keep, protect=(), load=backup_record.load):
    """{'keep': [...], 'remove': [...], 'partial': [...], 'invalid': [...], 'protected': [...]} of
    backup directories under ``db_dir``. ``current`` counts as a complete backup
    and is never removed."""
    protected = set(_real(p) for p in protect or () if p)
    cur = _real(current) if current else None
    complete, partial, invalid = [], [], []
    for d in backup_dirs(db_dir):
        if _real(d) == cur:
            continue
        record = os.path.join(d, RECORD)
        if not os.path.lexists(record):
            partial.append(d)
            continue
        try:
            load(record)
        except Exception:
            invalid.append(d)
            continue
        complete.append(d)
    if current:
        complete.append(current)
        complete.sort(key=os.path.basename)
    remove = []
    if keep and keep > 0 and len(complete) > keep:
        remove = [d for d in complete[:-keep] if _real(d) not in protected and _real(d) != cur]
    partial_remove = [d for d in partial if _real(d) not in protected]
    return {'keep': [d for d in complete if d not in remove], 'remove': remove, 'partial': partial_remove,
            'invalid': invalid, 'protected': sorted(d for d in complete + partial if _real(d) in protected)}


def apply(decision):
    """Remove what ``plan`` chose. Returns (removed, errors)."""
    removed, errors = [], []
    for d in decision['remove'] + decision['partial']:
        try:
            shutil.rmtree(d)
            removed.append(d)
        except OSError as e:
            errors.append('%s: %s' % (d, getattr(e, 'strerror', None) or e))
    return removed, errors
