#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_manifest
short_description: Capture or verify the pg_tviews migration manifest of a database
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - C(state=captured) reads the database (every TVIEW, its definition, dependencies, indexes,
    grants, comments, row count and content checksum, the checksums of its base tables, and the
    objects outside the extension that depend on it) and writes the manifest described in
    C(docs/manifest.md) to I(path) on the managed node with mode 0600. It also stores the same
    document in the database, in schema C(pgtviews_ops), which pg_tviews does not own, so the
    manifest survives C(DROP EXTENSION).
  - C(state=verified) compares the live database with a manifest and returns every difference;
    it fails when a difference is not in I(allow).
  - A manifest carries its own digest; one edited after capture is refused.
  - Safety. Capturing writes a new file (an existing valid manifest at I(path) is kept unless
    I(force)) and inserts one row into C(pgtviews_ops.manifests) (creating the schema on first
    use). Nothing of pg_tviews or of the application is changed. Verification only reads.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  state:
    description:
      - C(captured) writes a manifest; C(verified) compares the database with one.
    type: str
    choices: [ captured, verified ]
    default: captured
  path:
    description:
      - Manifest file on the managed node. Required for C(captured).
      - For C(verified), the manifest to compare with; when omitted, the newest manifest stored in the database.
    type: path
  store_in_database:
    description:
      - With C(captured), also store the manifest in C(pgtviews_ops.manifests).
    type: bool
    default: true
  force:
    description:
      - With C(captured), capture again even when I(path) already holds a valid manifest of this database.
    type: bool
    default: false
  allow_other_database:
    description:
      - With C(verified), compare even when the manifest was captured from another database, for
        example a copy restored from a backup, or a rehearsal database.
    type: bool
    default: false
  allow:
    description:
      - With C(verified), differences that do not fail the task, by kind (C(row_count)) or by
        kind and object (C(checksum:post)). Kinds are missing_tview, extra_tview, definition,
        row_count, checksum, ids, index, grant, comment, dependent, base_table.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: C(captured) reports what it would write and writes nothing; C(verified) runs as usual.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
seealso:
  - module: pgtviews.ops.tviews_info
'''

EXAMPLES = r'''
- name: Capture before anything destructive
  pgtviews.ops.tviews_manifest:
    login_db: app
    state: captured
    path: /var/backups/pgtviews/app/manifest.json

- name: After the swap, nothing but the extension changed
  pgtviews.ops.tviews_manifest:
    login_db: app
    state: verified
    path: /var/backups/pgtviews/app/manifest.json
'''

RETURN = r'''
manifest:
  description: Summary of the manifest written or compared with.
  returned: success
  type: dict
  contains:
    digest:
      description: The manifest's own digest (sha256 of its canonical JSON).
      type: str
    path:
      description: Where it is on the managed node (null when read from the database).
      type: str
    database:
      description: The database it describes.
      type: str
    extversion:
      description: The extension version at capture.
      type: str
    tviews:
      description: Number of TVIEWs in it.
      type: int
    order:
      description: Entities in dependency order.
      type: list
      elements: str
    stored_id:
      description: Row id in C(pgtviews_ops.manifests) when stored.
      type: int
differences:
  description: With C(verified), every difference (kind, object, expected, actual).
  returned: when state is verified
  type: list
  elements: dict
unexpected:
  description: With C(verified), the differences not covered by I(allow).
  returned: when state is verified
  type: list
  elements: dict
'''

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import actions
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type='str', choices=['captured', 'verified'], default='captured'),
        path=dict(type='path'),
        store_in_database=dict(type='bool', default=True),
        force=dict(type='bool', default=False),
        allow=dict(type='list', elements='str', default=[]),
        allow_other_database=dict(type='bool', default=False),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True,
                          required_if=[('state', 'captured', ['path'])])
    ensure_psycopg2(module)
    p = module.params
    conn = None
    try:
        conn = connect(p)
        dbname = conn.info.dbname
        if p['state'] == 'captured':
            changed, summary = actions.capture(conn, p['path'], p['store_in_database'], p['force'], module.check_mode)
            result = dict(changed=changed, manifest=summary)
        else:
            result = actions.verify(conn, p['path'], p['allow'], p['allow_other_database'])
    except (DatabaseConnectionError, mf.ManifestError) as e:
        module.fail_json(msg=to_native(e))
    except Exception as e:
        module.fail_json(msg="manifest %s failed: %s" % (module.params['state'], ' '.join(to_native(e).split())))
    finally:
        if conn is not None:
            conn.close()
    unexpected = result.get('unexpected')
    if unexpected:
        module.fail_json(msg="database %s differs from its manifest in %d way(s), first: %s of %s"
                         % (dbname, len(unexpected), unexpected[0]['kind'], unexpected[0]['object']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
