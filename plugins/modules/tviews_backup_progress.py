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
    dump shows what it is doing instead of silence. Without I(collect) it does not fetch the job's
    result; use C(ansible.builtin.async_status) for that once C(finished) is true.
  - With I(collect), the call that sees the job finished also returns the job's result in C(job)
    and removes the job's results file, as C(ansible.builtin.async_status) and its C(cleanup) mode
    would in two more module runs; the job's warnings are repeated as this module's warnings.
  - Read-only, except that I(collect) removes the finished job's results file.
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
  collect:
    description:
      - Return a finished job's result in C(job) and remove its results file.
    type: bool
    default: false
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
  description:
    - True when the job finished and failed (the failure itself is in C(job) with I(collect), else
      reported by C(async_status)).
  returned: always
  type: bool
job:
  description:
    - The finished job's result (the backup module's return values, with C(failed) and C(msg) when it
      failed). This module does not fail when the job failed; the caller decides.
  returned: with collect, when the job has finished
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import progress as backup_progress


def main():
    module = AnsibleModule(argument_spec=dict(
        results_file=dict(type='path', required=True),
        progress_file=dict(type='path'),
        wait=dict(type='int', default=10),
        collect=dict(type='bool', default=False),
    ), supports_check_mode=True)
    p = module.params
    try:
        out = backup_progress.observe(p['results_file'], p['progress_file'], p['wait'], collect=p['collect'])
    except ValueError as e:
        module.fail_json(msg=str(e), finished=True)
    for w in (out.get('job') or {}).get('warnings') or []:
        module.warn(str(w))
    module.exit_json(changed=False, **out)


if __name__ == '__main__':
    main()
