#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_state
short_description: Read or record migration phases in the host's pgtviews.ops state file
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - The state file (JSON, mode 0600) records, per database, which migration phase finished and
    its facts (backup path, manifest path, versions), so a re-run resumes and rollback knows what
    to undo.
  - Keys that look like secrets (password, secret, token) are refused, never written.
  - Safety. Only the state file is written, atomically; recording the same data again changes nothing.
options:
  path:
    description:
      - The state file on the managed node. Its directory is created (0700) when missing.
    type: path
    required: true
  database:
    description:
      - The database the record is about. Required with I(phase).
    type: str
  phase:
    description:
      - The phase to record (for example C(backup), C(swap), C(rollback)). Omit to only read.
    type: str
  data:
    description:
      - What to record for the phase; replaces any earlier record of the same phase. The module
        adds C(recorded_at) (UTC) when the data differs from the earlier record.
    type: dict
    default: {}
  host:
    description:
      - The host this state file belongs to, and its directory under O(backup_root) (the playbooks
        pass C(tviews_backup_host_label) through C(module_defaults)). It is written into the file with
        the first record, and a file written by another host is refused, so one host never rolls back
        from another host's backups.
    type: str
  recover:
    description:
      - What to do with a state file that is not valid JSON or not a pgtviews.ops state file (cut
        short by a full disk, or edited by hand). V(false) fails with a message that names it;
        V(true) moves it aside to C(<path>.corrupt-<UTC time>) (never deletes it), starts a new
        one and, with O(backup_root), records again as each database's C(backup) the newest intact
        backup taken there before a migration, marked C(superseded_by=recovery) (a complete rollback
        can restore it; a new migration takes a fresh one).
    type: bool
    default: false
  backup_root:
    description:
      - The backup root to recover backup records from (see O(recover)).
    type: path
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
  diff_mode:
    description: Reports a diff of what changes.
    support: full
'''

EXAMPLES = r'''
- name: Record the swap of app
  pgtviews.ops.tviews_state:
    path: /var/lib/pgtviews/state.json
    database: app
    phase: swap
    data: {from: 0.1.0, to: 0.2.0}

- name: Read the state
  pgtviews.ops.tviews_state:
    path: /var/lib/pgtviews/state.json
  register: state
'''

RETURN = r'''
state:
  description: The state file's content after the call.
  returned: always
  type: dict
summary:
  description:
    - Per database, C(last_change) (the change phase recorded last, V(swap), V(rollback),
      V(rollback_complete) or null) and C(validated_after_swap) (a passing validate recorded after
      that swap, for its version).
  returned: always
  type: dict
recovered:
  description:
    - Set when a corrupt state file was moved aside (O(recover)); C(moved_to), C(reason) and
      C(backups) (the databases whose backup was found again on disk).
  returned: when recovered
  type: dict
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import record as backup_record
from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults, state_file


def recover(module, p, error):
    """Move the corrupt file aside and start again from the backups on disk; returns the new document."""
    moved_to = '%s.corrupt-%s' % (p['path'], datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ'))
    doc = {'format': state_file.FORMAT, 'databases': {}}
    if p['host']:
        doc['host'] = p['host']
    found = backup_record.found_on_disk(p['backup_root'], p['host']) if p['backup_root'] and p['host'] else {}
    for db, (record, path) in sorted(found.items()):
        doc = state_file.merged(doc, db, 'backup', dict(backup_record.state_data(record, path), superseded_by='recovery'))
    if not module.check_mode:
        os.rename(p['path'], moved_to)
        state_file.write(p['path'], doc)
    module.warn("the state file %s was unreadable (%s): it was moved to %s and a new one started%s"
                % (p['path'], error, moved_to,
                   '; the backup of %s was found again under %s' % (', '.join(sorted(found)), p['backup_root'])
                   if found else '; no backup was found on disk to record again'))
    return doc, {'moved_to': moved_to, 'reason': to_native(error), 'backups': sorted(found)}


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        database=dict(type='str'),
        phase=dict(type='str'),
        data=dict(type='dict', default={}),
        host=dict(type='str'),
        recover=dict(type='bool', default=False),
        backup_root=dict(type='path'),
    ), required_by={'phase': 'database'}, supports_check_mode=True)
    p = module.params
    try:
        recovered = None
        try:
            doc = state_file.read(p['path'], p['host'])
        except state_file.WrongHostError:
            raise
        except state_file.StateError as e:
            if not p['recover']:
                raise
            doc, recovered = recover(module, p, e)
        if p['phase'] is None:
            extra = {'recovered': recovered} if recovered else {}
            module.exit_json(changed=bool(recovered), state=doc, summary=state_file.summary(doc), **extra)
        new = state_file.merged(doc, p['database'], p['phase'], p['data'])
        if p['host'] and 'host' not in new:
            new['host'] = p['host']
        changed = new != doc
        if changed and not module.check_mode:
            state_file.write(p['path'], new)
            faults.point('state', p['phase'], p['database'])
        result = dict(changed=changed, state=new, summary=state_file.summary(new))
        if module._diff:
            result['diff'] = dict(before=doc['databases'].get(p['database'], {}).get(p['phase']),
                                  after=p['data'])
        module.exit_json(**result)
    except (state_file.StateError, IOError, OSError) as e:
        module.fail_json(msg=to_native(e))


if __name__ == '__main__':
    main()
