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
      - What to record for the phase; replaces any earlier record of the same phase.
    type: dict
    default: {}
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
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults, state_file


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        database=dict(type='str'),
        phase=dict(type='str'),
        data=dict(type='dict', default={}),
    ), required_by={'phase': 'database'}, supports_check_mode=True)
    p = module.params
    try:
        doc = state_file.read(p['path'])
        if p['phase'] is None:
            module.exit_json(changed=False, state=doc)
        new = state_file.merged(doc, p['database'], p['phase'], p['data'])
        changed = new != doc
        if changed and not module.check_mode:
            state_file.write(p['path'], new)
            faults.point('state', p['phase'], p['database'])
        result = dict(changed=changed, state=new)
        if module._diff:
            result['diff'] = dict(before=doc['databases'].get(p['database'], {}).get(p['phase']),
                                  after=p['data'])
        module.exit_json(**result)
    except (state_file.StateError, IOError, OSError) as e:
        module.fail_json(msg=to_native(e))


if __name__ == '__main__':
    main()
