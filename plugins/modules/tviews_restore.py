#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_restore
short_description: Restore a verified backup into a side database and, on request, switch to it
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - The complete rollback, and the restored copy a rehearsal runs on (I(purpose=rehearsal)). Restores a directory-format C(pg_dump) into I(side_database) with
    pg_tviews created at I(version) first (the dump's own C(CREATE EXTENSION) would take the
    server's default version), recreates the TVIEWs from the manifest (C(pg_dump) carries no pg_tviews
    metadata rows), and verifies the side database against the manifest.
  - With I(switch), terminates the sessions of I(database), renames it to I(failed_name) and renames
    the side database to I(database), in one transaction.
  - Safety. With C(state=present) nothing is dropped but a side database this same call created and
    could not finish (a failed C(pg_restore) or TVIEW recreation), so that a re-run starts clean; the
    backup still holds everything it held. The restore goes into a new database (an existing one is
    never restored over; it is verified instead). C(state=absent) drops only a side copy, never
    I(database). A failed verification leaves the side database for inspection and fails; drop it
    with C(state=absent) to restore afresh. The switch is
    reversible by renaming back; it ends the sessions of I(database), so stop the applications first (the rollback role has hooks for that).
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  state:
    description:
      - C(present) restores (and verifies) the side database; C(absent) drops the side database, for
        scratch copies such as a rehearsal. C(absent) refuses when I(side_database) is I(database).
    type: str
    choices: [ present, absent ]
    default: present
  database:
    description:
      - The database being rolled back.
    type: str
    required: true
  backup_dir:
    description:
      - "The backup directory: a directory-format dump, or a directory holding one in C(dump/).
        Required with C(state=present)."
    type: path
  manifest:
    description:
      - The manifest captured with the backup. Required with C(state=present).
    type: path
  record:
    description:
      - The backup record written by the backup role. When given, the backup is used only if the
        record is intact (its digest) and the files it names are unchanged.
    type: path
  side_database:
    description:
      - Where to restore; default C(<database>_rollback).
    type: str
  version:
    description:
      - The pg_tviews version to create in the side database; default the manifest's C(extversion).
    type: str
  jobs:
    description:
      - Parallel C(pg_restore) jobs.
    type: int
    default: 2
  pg_bin_dir:
    description:
      - Directory of C(pg_restore); default the server major's Debian directory, then C(PATH).
    type: path
  switch:
    description:
      - Rename I(database) to I(failed_name) and the side database to I(database).
    type: bool
    default: false
  failed_name:
    description:
      - New name of the current database when switching. Required with I(switch).
      - Also given without I(switch). When I(failed_name) and I(database) exist and the side
        database does not, the switch to that name was made by an earlier run, and nothing is
        restored again.
    type: str
  purpose:
    description:
      - What the side database is for; it words the failure message and changes nothing else.
      - "C(complete_rollback): a failure reads C(complete rollback of <database>: <cause>)."
      - "C(rehearsal), for a scratch copy the migration is rehearsed on: a failure reads
        C(rehearsal of <database> on a restored copy failed: <cause>), or with C(state=absent)
        C(dropping the rehearsal copy <side_database> of <database> failed: <cause>)."
    type: str
    choices: [ complete_rollback, rehearsal ]
    default: complete_rollback
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Reports what it would restore and switch; changes nothing.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
'''

EXAMPLES = r'''
- name: Restore app's backup beside it and switch to it
  pgtviews.ops.tviews_restore:
    database: app
    backup_dir: /var/backups/pgtviews/db1/app/20261126T120000Z
    manifest: /var/backups/pgtviews/db1/app/20261126T120000Z/manifest.json
    switch: true
    failed_name: app_failed_20261126T130000Z

- name: Restore app's backup into a scratch copy to rehearse the migration on
  pgtviews.ops.tviews_restore:
    database: app
    side_database: app_rehearsal
    backup_dir: /var/backups/pgtviews/db1/app/20261126T120000Z
    manifest: /var/backups/pgtviews/db1/app/20261126T120000Z/manifest.json
    purpose: rehearsal
'''

RETURN = r'''
side_database:
  description: The database restored into.
  returned: always
  type: str
restored:
  description: True when the restore ran in this call.
  returned: always
  type: bool
switched:
  description: True when the databases were renamed in this call.
  returned: always
  type: bool
recreated:
  description: TVIEWs recreated in the side database.
  returned: when restored
  type: list
  elements: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2, fetch_value)
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import recreate
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import restore
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import SwapError


def dump_dir_of(path):
    sub = os.path.join(path, 'dump')
    return sub if os.path.isfile(os.path.join(sub, 'toc.dat')) else path


def verify_side(params, side, doc):
    conn = connect(params, side)
    try:
        diffs = mf.compare(doc, mf.build(snapshot(conn, ('catalog', 'data'))))
    finally:
        conn.close()
    if diffs:
        raise restore.RestoreError("restored database %s differs from the manifest: %s of %s (and %d more); left in place for "
                                   "inspection (state=absent drops it)" % (side, diffs[0]['kind'], diffs[0]['object'], len(diffs) - 1))


def check_inputs(params, side):
    """Refuse inputs that name the wrong thing, before anything is touched."""
    names = [params['database'], side] + ([params['failed_name']] if params['failed_name'] else [])
    if len(set(names)) != len(names):
        raise restore.RestoreError("database, side_database and failed_name must be three different names (got %s)"
                                   % ', '.join(names))
    if params['state'] == 'present' and not os.path.isfile(os.path.join(dump_dir_of(params['backup_dir']), 'toc.dat')):
        raise restore.RestoreError("%s holds no directory-format pg_dump (no toc.dat in it or in its dump/)" % params['backup_dir'])


def check_backup(params, doc):
    """The backup must be of this database and, when a record is given, unchanged since it was taken."""
    if doc.get('database') != params['database']:
        raise restore.RestoreError("the manifest %s is of database %s, not %s" % (params['manifest'], doc.get('database'), params['database']))
    if params['record']:
        record = backup_record.load(params['record'])
        if record.get('database') != params['database']:
            raise restore.RestoreError("the backup record %s is of database %s, not %s"
                                       % (params['record'], record.get('database'), params['database']))
        issues = backup_record.problems(record)
        if issues:
            raise restore.RestoreError("the backup cannot be trusted: %s" % '; '.join(issues))


def drop_side(params, side, check_mode):
    if side == params['database']:
        raise restore.RestoreError("refusing to drop %s: it is the database itself, not a side copy" % side)
    if check_mode:
        admin = connect(params, 'postgres' if params.get('login_db') == side else None)
        try:
            return restore.database_exists(admin, side)
        finally:
            admin.close()
    return restore.drop_database(params, side)


def restore_side(params, side, doc, version):
    """Restore into the new database ``side`` and recreate its TVIEWs from the manifest."""
    restore.restore_into(params, dump_dir_of(params['backup_dir']), side, version, params['jobs'], params['pg_bin_dir'])
    # A copy without its TVIEWs is of no use, and a re-run must start clean.
    with restore.discarded_on_failure(params, side):
        conn = connect(params, side)
        try:
            plan, ctx = recreate.build_plan(conn, doc)
            return recreate.execute(conn, plan, ctx, check_data=True)
        finally:
            conn.close()


def failure_message(params, side, error):
    """The module's failure message, worded for what the side database is for."""
    if params['purpose'] == 'rehearsal':
        if params['state'] == 'absent':
            return "dropping the rehearsal copy %s of %s failed: %s" % (side, params['database'], error)
        return "rehearsal of %s on a restored copy failed: %s" % (params['database'], error)
    return "complete rollback of %s: %s" % (params['database'], error)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        database=dict(type='str', required=True),
        backup_dir=dict(type='path'),
        manifest=dict(type='path'),
        record=dict(type='path'),
        side_database=dict(type='str'),
        version=dict(type='str'),
        jobs=dict(type='int', default=2),
        pg_bin_dir=dict(type='path'),
        switch=dict(type='bool', default=False),
        failed_name=dict(type='str'),
        purpose=dict(type='str', choices=['complete_rollback', 'rehearsal'], default='complete_rollback'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('switch', True, ['failed_name']), ('state', 'present', ['backup_dir', 'manifest'])])
    ensure_psycopg2(module)
    p = module.params
    side = p['side_database'] or '%s_rollback' % p['database']
    result = dict(changed=False, side_database=side, restored=False, switched=False)
    try:
        check_inputs(p, side)
        if p['state'] == 'absent':
            result['changed'] = drop_side(p, side, module.check_mode)
            module.exit_json(**result)
        doc = mf.load_file(p['manifest'])
        check_backup(p, doc)
        version = p['version'] or doc['extension']['extversion']
        admin = connect(p)
        try:
            if not fetch_value(admin, "SELECT count(*) FROM pg_available_extension_versions WHERE name = %s AND version = %s",
                               (restore.EXTENSION, version)):
                raise restore.RestoreError("pg_tviews %s is not installed on this server: install it first (pgtviews.ops.install)" % version)
            side_exists = restore.database_exists(admin, side)
            already_switched = not side_exists and restore.database_exists(admin, p['failed_name'] or '') \
                and restore.database_exists(admin, p['database'])
        finally:
            admin.close()
        if already_switched:
            module.exit_json(**result)
        if not side_exists:
            if module.check_mode:
                result['changed'] = True
                module.exit_json(**result)
            result['recreated'] = restore_side(p, side, doc, version)
            result['restored'] = result['changed'] = True
        verify_side(p, side, doc)
        if p['switch']:
            if not module.check_mode:
                restore.switch(p, p['database'], side, p['failed_name'])
                result['switched'] = True
            result['changed'] = True
    except (DatabaseConnectionError, mf.ManifestError, restore.RestoreError, SwapError, backup_record.RecordError) as e:
        module.fail_json(msg=failure_message(p, side, to_native(e)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
