#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_report_files
short_description: Write a set of report files under one directory in one step
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Writes every file of the migration report (per-host records, summaries, the fleet view) under
    I(dest) in one module run, where one C(ansible.builtin.copy) or C(ansible.builtin.template) per
    file would cost a module run each. The report role runs it once per wave, delegated to the
    controller.
  - Each file is written through a temporary file and a rename, so it never exists half-written, and
    only when its content or mode differs; an identical second call changes nothing.
  - Safety. Writes only under I(dest); a path that is absolute or contains C(..) is refused.
options:
  dest:
    description:
      - The directory the paths are relative to. Made (with I(directory_mode)) when missing; its mode
        is otherwise left as it is.
    type: path
    required: true
  directories:
    description:
      - Directories under I(dest) to make, or to give I(directory_mode) when they exist.
    type: list
    elements: str
    default: []
  files:
    description:
      - The files to write, each with C(path) (relative to I(dest)) and C(content) (text).
    type: list
    elements: dict
    default: []
  directory_mode:
    description:
      - Mode of the directories made or listed, as an octal string.
    type: str
    default: '0750'
  mode:
    description:
      - Mode of the files, as an octal string.
    type: str
    default: '0640'
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_state
'''

EXAMPLES = r'''
- name: Write the report
  pgtviews.ops.tviews_report_files:
    dest: /srv/reports
    directories: [20260101T000000Z/hosts]
    files:
      - path: 20260101T000000Z/summary.json
        content: "{{ summary | to_nice_json }}"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
files:
  description: The files written by this call (absolute paths); the others were already as given.
  returned: always
  type: list
  elements: str
directories:
  description: The directories made, or whose mode was set, by this call.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.host import file_set


def main():
    module = AnsibleModule(argument_spec=dict(
        dest=dict(type='path', required=True),
        directories=dict(type='list', elements='str', default=[]),
        files=dict(type='list', elements='dict', default=[]),
        directory_mode=dict(type='str', default='0750'),
        mode=dict(type='str', default='0640'),
    ), supports_check_mode=True)
    p = module.params
    try:
        dir_mode, file_mode = int(p['directory_mode'], 8), int(p['mode'], 8)
    except ValueError:
        module.fail_json(msg='directory_mode and mode must be octal strings, for example 0750')
    for f in p['files']:
        if not isinstance(f.get('path'), str) or 'content' not in f:
            module.fail_json(msg='each entry of files needs a path and a content')
    try:
        done = file_set.write_set(p['dest'], p['directories'], p['files'], dir_mode=dir_mode, file_mode=file_mode,
                                  check_mode=module.check_mode)
    except (file_set.FileSetError, IOError, OSError) as e:
        module.fail_json(msg=to_native(e))
    module.exit_json(changed=bool(done['files'] or done['directories']), **done)


if __name__ == '__main__':
    main()
