#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_recreate
short_description: Recreate TVIEWs from a migration manifest, in dependency order
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Recreates the TVIEWs of a manifest that are not registered with the installed pg_tviews,
    through its own API (C(pg_tviews_create) with the recorded definition), in dependency order.
  - Use it after restoring a C(pg_dump) (which restores C(tv_)/C(v_) objects and triggers but no
    pg_tviews metadata rows, so the restored TVIEWs are dead), or to recreate chosen TVIEWs.
  - Leftover C(tv_) tables, C(v_) views and stale C(trg_tview_*) triggers of those TVIEWs are
    dropped first; objects that depend on them are set aside and recreated with grants and
    comments; extra indexes, grants, comments and owners of the TVIEWs come back from the manifest.
  - TVIEWs already registered are left alone, so a second run changes nothing.
  - Safety. Everything runs in one transaction and is checked against the manifest (row counts and
    C(id) values) before COMMIT; any error rolls it back and names the step and TVIEW.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  manifest:
    description:
      - Path of the manifest on the managed node. When omitted, the newest manifest stored in the database.
    type: path
  tviews:
    description:
      - Entities to recreate; default every TVIEW in the manifest.
    type: list
    elements: str
    default: []
  check_data:
    description:
      - Require row counts and C(id) values equal to the manifest. Turn off when the data has
        legitimately changed since the manifest was captured.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Returns the statements it would run (C(plan)) and runs nothing.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
'''

EXAMPLES = r'''
- name: Bring TVIEWs back to life after pg_restore
  pgtviews.ops.tviews_recreate:
    login_db: app_restored
    manifest: /var/backups/pgtviews/db1/app/20261126T120000Z/manifest.json
'''

RETURN = r'''
recreated:
  description: Per TVIEW recreated, its table and row count.
  returned: always
  type: list
  elements: dict
skipped:
  description: Entities already registered, left alone.
  returned: always
  type: list
  elements: str
plan:
  description: The statements in order, each with its step and TVIEW.
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import actions as manifest_actions
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.swap import recreate
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import SwapError


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        manifest=dict(type='path'),
        tviews=dict(type='list', elements='str', default=[]),
        check_data=dict(type='bool', default=True),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    p = module.params
    result = dict(changed=False, recreated=[], skipped=[], plan=[])
    conn = None
    try:
        conn = connect(p)
        doc = manifest_actions.load(conn, p['manifest'])
        plan, ctx = recreate.build_plan(conn, doc, p['tviews'])
        result.update(plan=plan.render(conn), skipped=ctx['skipped'])
        if not ctx['done']:
            result['changed'] = True
            if not module.check_mode:
                result['recreated'] = recreate.execute(conn, plan, ctx, p['check_data'])
    except SwapError as e:
        module.fail_json(msg="recreate in database %s: %s; rolled back, nothing changed" % (p['login_db'], to_native(e)),
                         step=e.step, tview=e.tview, **result)
    except (DatabaseConnectionError, mf.ManifestError, UnknownGenerationError) as e:
        module.fail_json(msg=to_native(e), **result)
    finally:
        if conn is not None:
            conn.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
