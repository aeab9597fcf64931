#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tview_refresh
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
  pgtviews.ops.tview_refresh:
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

import fnmatch
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    DatabaseConnectionError, connect, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError


def select(records, wanted):
    """Records named by entity, tv_ name or qualified name, or matching a % pattern."""
    if not wanted:
        return list(records)
    chosen, missing = [], []
    for w in wanted:
        if '%' in w:
            pattern = fnmatch.translate(w.replace('*', '[*]').replace('?', '[?]').replace('%', '*'))
            hits = [r for r in records if re.match(pattern, r['qualified_table'] or '') or re.match(pattern, r['table'] or '')]
        else:
            hits = [r for r in records if w in (r['entity'], r['table'], r['qualified_table'])]
        if not hits:
            missing.append(w)
        chosen.extend(h for h in hits if h not in chosen)
    if missing:
        raise ValueError("no TVIEW matches %s" % ', '.join(missing))
    return chosen


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        tviews=dict(type='list', elements='str', default=[]),
        primary_keys=dict(type='list', elements='int', default=[], no_log=False),
        cascade=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    p = module.params
    result = dict(changed=False, refreshed=[], api_generation=None)
    conn = None
    try:
        conn = connect(p)
        facts = detect(conn)
        adapter = adapter_for(conn, facts)
        result['api_generation'] = adapter.generation
        records, order = adapter.records()
        by_entity = dict((r['entity'], r) for r in records)
        chosen = select(records, p['tviews'])
        chosen_entities = set(r['entity'] for r in chosen)
        for entity in order:  # dependencies first, so cascades see fresh rows
            if entity not in chosen_entities:
                continue
            record = by_entity[entity]
            full = not adapter.supports_row_refresh or not p['primary_keys']
            item = dict(entity=entity, table=record['qualified_table'], full_refresh=full, duration_ms=None)
            if not module.check_mode:
                stmt, params = adapter.refresh_statement(record, p['primary_keys'], p['cascade'])
                start = time.monotonic()
                with conn.cursor() as cur:
                    cur.execute(stmt, params)
                item['duration_ms'] = round((time.monotonic() - start) * 1000, 2)
            result['refreshed'].append(item)
        result['changed'] = bool(result['refreshed'])
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
