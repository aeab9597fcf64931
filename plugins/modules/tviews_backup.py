#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_backup
short_description: Take a verified pg_dump backup of a pg_tviews database, with its manifest, CSV and record
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Backs up the database in I(login_db) into a new directory
    C(<dest>/<host_label>/<database>/<UTC timestamp>/) (mode 0700) with
    C(pg_dump --format=directory --jobs --compress) under C(dump/), the migration manifest
    (C(manifest.json), see M(pgtviews.ops.tviews_manifest); also stored in the database), the
    runbook's metadata CSV (C(tview_metadata_before.csv), one row per TVIEW) and, last, the backup
    record C(backup.json) that the rollback role reads. Files are mode 0600.
  - "Before anything is written it checks: pg_tviews is installed, the server is a primary,
    C(pg_dump) is at least the server's major version (and C(pg_restore) at least C(pg_dump)'s), and
    the destination has I(space_factor) times the database size free (with I(test_restore), also
    the server's data directory when it is visible on this host; on one filesystem both count)."
  - The dump, the CSV, the expected table of contents and the source row counts all come from one
    exported snapshot, so they agree with each other even while the application writes.
  - "Verification: C(pg_restore --list) must succeed and list the extension, every TVIEW's table
    (with data) and view, and every base table (with data). With I(test_restore), the dump is
    restored into a scratch database (a quoted name starting with C(pgtviews_verify_)), the row count
    of every table is compared with the source, and the scratch database is dropped, also on failure.
    Tables that are members of an extension are not compared: pg_dump carries none of pg_tviews'
    metadata rows (no C(pg_extension_config_dump)); the manifest carries them."
  - The record is written only after verification passed, atomically. On any failure the new
    directory is removed and the task fails with a one-line message; nothing reports success
    without a record.
  - "Idempotence: an earlier backup listed in I(reuse) stands for a new one (C(changed=false)) when its
    record is intact (digest, dump file sizes, table of contents, manifest and CSV checksums), it is
    of the same database for the same I(target_version), the extension version is unchanged since,
    and it was test-restored if I(test_restore) is asked for. I(force) takes a new backup anyway."
  - "Retention: with I(keep) > 0, complete backups of the database beyond the newest I(keep) are
    removed, never the current one or one in I(protect). Directories without a record (remains of a
    killed run) are removed; directories with an unreadable or modified record are reported, never removed."
  - The password reaches C(pg_dump) and C(pg_restore) only through C(PGPASSWORD) in their environment;
    it is never on a command line, in output, in the record or in a file.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  dest:
    description:
      - Root directory of the backups on the managed node. Missing directories are created with mode 0700.
    type: path
    required: true
  host_label:
    description:
      - Name of the directory level under I(dest) that says which server the backup is of (the role
        passes C(inventory_hostname)). Empty means the node's host name.
    type: str
    default: ''
  target_version:
    description:
      - The pg_tviews version the migration this backup is for goes to. Recorded, and compared when
        deciding whether a backup in I(reuse) can stand for a new one.
    type: str
  jobs:
    description:
      - Parallel jobs of C(pg_dump) (and of C(pg_restore) in the test restore). Each opens a connection.
    type: int
    default: 2
  compress:
    description:
      - Compression level of C(pg_dump), 0 (none) to 9.
    type: int
    default: 6
  test_restore:
    description:
      - Restore the dump into a scratch database on the same server, compare the row count of every
        table with the source, and drop the scratch database. Needs the right to create databases
        (without superuser, owners and privileges are not restored).
    type: bool
    default: false
  space_factor:
    description:
      - Free space required at I(dest), as a multiple of the database size (C(pg_database_size)).
    type: float
    default: 1.0
  pg_bin_dir:
    description:
      - Directory holding C(pg_dump) and C(pg_restore). Default, the first of C(pg_config --bindir),
        the directory of C(pg_dump) on C(PATH), C(/usr/lib/postgresql/<major>/bin) and
        C(/usr/pgsql-<major>/bin) whose C(pg_dump) is at least the server's major version.
    type: path
  lock_wait_timeout:
    description:
      - Milliseconds to wait for a table lock (C(pg_dump --lock-wait-timeout), and the module's own
        reads) before failing; 0 waits as long as it takes.
    type: int
    default: 60000
  wait_for_running:
    description:
      - Seconds to wait for another backup of the same database under I(dest) to finish (a backup
        holds the database's lock file; the job of an interrupted run may still be running) before
        failing with a message that says so.
    type: int
    default: 3600
  keep:
    description:
      - Complete backups of this database to keep under I(dest), newest first; 0 keeps all.
    type: int
    default: 0
  protect:
    description:
      - Backup directories that retention never removes (the role passes the backups the state file
        records, which the current migration depends on).
    type: list
    elements: path
    default: []
  reuse:
    description:
      - Records (C(backup.json)) of earlier backups that may stand for a new one; see the idempotence rule above.
    type: list
    elements: path
    default: []
  force:
    description:
      - Take a new backup even when one in I(reuse) could stand for it. It gets its own directory.
    type: bool
    default: false
  progress_file:
    description:
      - File (0600) the module keeps up to date while it runs (phase, start time, bytes dumped so far)
        and removes at the end, for M(pgtviews.ops.tviews_backup_progress) when it runs as an async job.
    type: path
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Runs the pre-checks and reports the directory, the command (without password) and the space
      needed; writes nothing, not even the directory.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
notes:
  - The manifest stays stored in C(pgtviews_ops.manifests) when a later step fails (it is a valid
    manifest of the database; the dump of a successful backup contains it).
seealso:
  - module: pgtviews.ops.tviews_manifest
  - module: pgtviews.ops.tviews_backup_progress
'''

EXAMPLES = r'''
- name: Back up app, verified by a test restore
  pgtviews.ops.tviews_backup:
    login_db: app
    dest: /var/backups/pgtviews
    host_label: "{{ inventory_hostname }}"
    target_version: 0.2.0
    jobs: 4
    compress: 6
    test_restore: true
  register: backup

- name: Keep the last three backups, never the one the migration depends on
  pgtviews.ops.tviews_backup:
    login_db: app
    dest: /var/backups/pgtviews
    target_version: 0.2.0
    keep: 3
    protect: ["{{ state.state.databases.app.backup.path }}"]
    reuse: ["{{ state.state.databases.app.backup.record }}"]
'''

RETURN = r'''
changed:
  description: True when a backup was taken (or, in check mode, would be) or retention removed something.
  returned: always
  type: bool
reused:
  description: True when an earlier backup from I(reuse) stands for this one.
  returned: always
  type: bool
database:
  description: The database backed up.
  returned: always
  type: str
directory:
  description: The backup directory (in check mode, the one it would create).
  returned: success
  type: str
dump:
  description: The C(pg_dump) directory.
  returned: success
  type: str
record:
  description: Path of the backup record (C(backup.json)).
  returned: success, not in check mode
  type: str
manifest:
  description: Path of the manifest.
  returned: success, not in check mode
  type: str
csv:
  description: Path of the metadata CSV.
  returned: success, not in check mode
  type: str
bytes:
  description: Size of the dump in bytes.
  returned: success, not in check mode
  type: int
database_size:
  description: C(pg_database_size) of the database in bytes.
  returned: always
  type: int
extversion:
  description: The installed C(extversion) of pg_tviews.
  returned: always
  type: str
library_version:
  description: What C(pg_tviews_version()) returns.
  returned: always
  type: str
created:
  description: When the backup was taken (UTC, ISO 8601).
  returned: success, not in check mode
  type: str
durations:
  description: Seconds spent on manifest, dump, verify, test_restore and in total.
  returned: success, not in check mode
  type: dict
verification:
  description: What was verified (C(list) entries checked; C(test_restore) tables compared, mismatches, tables not compared and why).
  returned: success, not in check mode
  type: dict
state_data:
  description: The facts the role records in the state file (paths, digests, versions, creation time, and the timing started_at, finished_at, duration_ms and durations).
  returned: success, not in check mode
  type: dict
tools:
  description: Path, major and version of C(pg_dump) and C(pg_restore) used.
  returned: when a backup is (or would be) taken
  type: dict
space:
  description: Free space checks (path measured, database size, factor, bytes needed and free).
  returned: when a backup is (or would be) taken
  type: dict
command:
  description: In check mode, the C(pg_dump) command it would run (no password; the snapshot is a placeholder).
  returned: check mode
  type: list
  elements: str
removed:
  description: Backup directories retention removed.
  returned: success, not in check mode
  type: list
  elements: str
would_remove:
  description: In check mode, the backup directories retention would remove.
  returned: check mode
  type: list
  elements: str
reuse_rejected:
  description: Records in I(reuse) that could not stand for a new backup, each with the reason.
  returned: always
  type: list
  elements: dict
'''


from ansible_collections.pgtviews.ops.plugins.module_utils.connection import TviewsModule, connection_argument_spec, ensure_psycopg2
from ansible_collections.pgtviews.ops.plugins.module_utils.backup.run import BackupError, one_line, run
from ansible_collections.pgtviews.ops.plugins.module_utils.host.disk import file_in_the_way


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        dest=dict(type='path', required=True),
        host_label=dict(type='str', default=''),
        target_version=dict(type='str'),
        jobs=dict(type='int', default=2),
        compress=dict(type='int', default=6),
        test_restore=dict(type='bool', default=False),
        space_factor=dict(type='float', default=1.0),
        pg_bin_dir=dict(type='path'),
        lock_wait_timeout=dict(type='int', default=60000),
        wait_for_running=dict(type='int', default=3600),
        keep=dict(type='int', default=0),
        protect=dict(type='list', elements='path', default=[]),
        reuse=dict(type='list', elements='path', default=[]),
        force=dict(type='bool', default=False),
        progress_file=dict(type='path'),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    p = module.params
    if p['jobs'] < 1:
        module.fail_json(msg="jobs must be at least 1")
    if not 0 <= p['compress'] <= 9:
        module.fail_json(msg="compress must be between 0 and 9")
    if p['space_factor'] < 0:
        module.fail_json(msg="space_factor must not be negative")
    if p['keep'] < 0:
        module.fail_json(msg="keep must not be negative (0 keeps all)")
    in_the_way = file_in_the_way(p['dest'])
    if in_the_way:
        module.fail_json(msg="dest %s %s, not a directory: point dest (tviews_backup_root) at a directory, or a path "
                         "that can be created as one; nothing was changed"
                         % (p['dest'], 'is a file' if in_the_way == p['dest'] else 'is under %s, a file' % in_the_way),
                         database=p['login_db'], changed=False)
    try:
        result = run(p, check_mode=module.check_mode)
    except BackupError as e:
        module.fail_json(msg=one_line(e), database=p['login_db'], changed=False)
    except Exception as e:
        module.fail_json(msg="backup of database %s failed: %s" % (p['login_db'], one_line(e)), database=p['login_db'],
                         changed=False)
    warnings = result.pop('warnings', [])
    for w in warnings:
        module.warn(w)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
