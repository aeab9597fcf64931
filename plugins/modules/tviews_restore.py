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
cleaned_up:
  description:
    - What this call removed that an interrupted run had left, one sentence each (for example
      C(dropped app_rollback (its restore was interrupted))). A side database this module makes is
      marked by a comment while its restore runs and when it has finished; an unfinished one, and any
      rehearsal copy of ours, is dropped and restored again. A database without the mark is never dropped.
  returned: when something was cleaned up
  type: list
  elements: str
'''

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.backup import restore
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import SwapError


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
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True,
                          required_if=[('switch', True, ['failed_name']), ('state', 'present', ['backup_dir', 'manifest'])])
    ensure_psycopg2(module)
    p = module.params
    side = restore.side_name(p)
    result = dict(changed=False, side_database=side, restored=False, switched=False)
    try:
        restore.run(p, result, check_mode=module.check_mode)
    except (DatabaseConnectionError, mf.ManifestError, restore.RestoreError, SwapError, backup_record.RecordError) as e:
        module.fail_json(msg=restore.failure_message(p, side, to_native(e)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
