#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_backup_progress
short_description: Follow a backup running as an async job (elapsed time, bytes dumped so far)
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Waits up to I(wait) seconds for the async job of M(pgtviews.ops.tviews_backup) whose results file
    is I(results_file), and returns as soon as it finishes or the time is up, with the phase, the
    elapsed seconds and the bytes dumped so far (read from the backup's I(progress_file)).
  - Meant for a loop whose label prints the progress and whose C(break_when) is C(finished), so a long
    dump shows what it is doing instead of silence. It does not fetch the job's result; use
    C(ansible.builtin.async_status) for that once C(finished) is true.
  - Read-only.
options:
  results_file:
    description:
      - The C(results_file) returned by the task that started the backup with C(async) and C(poll=0).
    type: path
    required: true
  progress_file:
    description:
      - The I(progress_file) given to M(pgtviews.ops.tviews_backup).
    type: path
  wait:
    description:
      - Seconds to wait at most before reporting; it reports at once when the job has finished.
    type: int
    default: 10
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_backup
'''

EXAMPLES = r'''
- name: Start the backup
  pgtviews.ops.tviews_backup:
    login_db: app
    dest: /var/backups/pgtviews
    progress_file: /var/backups/pgtviews/.progress/app.json
  async: 86400
  poll: 0
  register: job

- name: Follow it
  pgtviews.ops.tviews_backup_progress:
    results_file: "{{ job.results_file }}"
    progress_file: /var/backups/pgtviews/.progress/app.json
  register: progress
  loop: "{{ range(8641) | list }}"
  loop_control:
    label: "{{ progress.phase | default('starting') }}, {{ progress.elapsed | default(0) }} s, {{ progress.size | default('') }}"
    break_when: progress.finished
'''

RETURN = r'''
finished:
  description: Whether the job has finished (successfully or not).
  returned: always
  type: bool
phase:
  description: What the backup is doing (checking, manifest, dump, verify, test restore, record, retention), or finished.
  returned: always
  type: str
elapsed:
  description: Seconds since the backup started.
  returned: always
  type: int
bytes:
  description: Bytes of the dump so far (the final size once finished, when the job succeeded).
  returned: always
  type: int
size:
  description: I(bytes) for humans, for example C(3.4 MiB).
  returned: always
  type: str
directory:
  description: The backup directory being written, once known.
  returned: always
  type: str
failed_job:
  description: True when the job finished and failed (the failure itself is reported by C(async_status)).
  returned: always
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import progress as backup_progress


def main():
    module = AnsibleModule(argument_spec=dict(
        results_file=dict(type='path', required=True),
        progress_file=dict(type='path'),
        wait=dict(type='int', default=10),
    ), supports_check_mode=True)
    p = module.params
    try:
        out = backup_progress.observe(p['results_file'], p['progress_file'], p['wait'])
    except ValueError as e:
        module.fail_json(msg=str(e), finished=True)
    module.exit_json(changed=False, **out)


if __name__ == '__main__':
    main()
