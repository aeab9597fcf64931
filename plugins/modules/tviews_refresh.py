#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_refresh
short_description: Refresh TVIEWs through whichever pg_tviews API the database speaks
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Refreshes one TVIEW, a list, or every TVIEW matching a pattern, optionally only some primary
    keys and with cascade, and returns the duration per TVIEW.
  - On 0.1 it calls C(pg_tviews_refresh(entity)), which always rebuilds the whole TVIEW (keys and
    cascade cannot be expressed; C(full_refresh) says so). On 0.2 it calls the unified
    C(pg_tviews_refresh(tview_name => ..., primary_keys => ..., cascade => ...)).
  - Safety. A refresh recomputes C(tv_) rows from their C(v_) view; on 0.1 a full refresh also
    regenerates C(created_at)/C(updated_at) and, for raw-SELECT TVIEWs, C(id) values (reference
    pitfall 12). Each TVIEW is refreshed in its own transaction.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  tviews:
    description:
      - TVIEWs to refresh, by entity (C(post)), table (C(tv_post)) or qualified table (C(public.tv_post)).
        Entries containing C(%) are LIKE patterns over qualified table names.
      - Default is every TVIEW.
    type: list
    elements: str
    default: []
  primary_keys:
    description:
      - Refresh only these primary keys (0.2). Empty means all rows.
    type: list
    elements: int
    default: []
  cascade:
    description:
      - Also refresh dependent TVIEWs (0.2).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Reports which TVIEWs would be refreshed and runs nothing.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
'''

EXAMPLES = r'''
- name: Refresh three rows of tv_post and what depends on them
  pgtviews.ops.tviews_refresh:
    login_db: app
    tviews: [public.tv_post]
    primary_keys: [1, 2, 3]
    cascade: true
  register: refreshed
'''

RETURN = r'''
refreshed:
  description: Per TVIEW refreshed, its entity, qualified table, duration in ms and whether the whole TVIEW was rebuilt.
  returned: always
  type: list
  elements: dict
  sample: [{entity: post, table: public.tv_post, duration_ms: 3.2, full_refresh: false}]
api_generation:
  description: The pg_tviews API generation used.
  returned: always
  type: str
'''

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.refresh import refresh
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        tviews=dict(type='list', elements='str', default=[]),
        primary_keys=dict(type='list', elements='int', default=[], no_log=False),
        cascade=dict(type='bool', default=False),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    p = module.params
    result = dict(changed=False, refreshed=[], api_generation=None)
    conn = None
    try:
        conn = connect(p)
        refresh(conn, result, p['tviews'], p['primary_keys'], p['cascade'], check_mode=module.check_mode)
    except (DatabaseConnectionError, UnknownGenerationError, ValueError) as e:
        module.fail_json(msg=to_native(e), **result)
    except Exception as e:
        module.fail_json(msg="refresh failed: %s" % ' '.join(to_native(e).split()), **result)
    finally:
        if conn is not None:
            conn.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
