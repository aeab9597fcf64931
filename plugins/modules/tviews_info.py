#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_info
short_description: Gather what pg_tviews is installed and which TVIEWs exist, per database
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Detects the server (version, primary or standby), the installed pg_tviews (C(extversion) and
    C(pg_tviews_version()), which differ upstream), the versions the server could install and the
    update paths, and the API generation the installed extension speaks.
  - Returns every TVIEW as a normalised record through the catalog adapter of that generation
    (entity, schema, C(tv_)/C(v_) names, definition, key columns, dependency arrays), the
    TVIEW-to-TVIEW dependency order, indexes, grants and comments of C(tv_)/C(v_), the pg_tviews
    triggers on base tables, the objects outside the extension that depend on TVIEW objects (with
    their DDL), C(pg_tviews_health_check()), open prepared transactions and other sessions.
  - Read-only; runs the same in check mode.
extends_documentation_fragment:
  - pgtviews.ops.connection
options:
  all_databases:
    description:
      - Inspect every database on the server that has pg_tviews installed instead of I(login_db).
    type: bool
    default: false
  databases:
    description:
      - Inspect these databases instead of I(login_db). Not together with I(all_databases=true).
    type: list
    elements: str
  gather_subset:
    description:
      - C(catalog) is always gathered.
      - C(data) adds row counts and content checksums of every C(tv_) and base table. It reads
        every row, so its cost grows with the data.
    type: list
    elements: str
    choices: [ catalog, data ]
    default: [ catalog ]
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
  diff_mode:
    description: Reports a diff of what changes.
    support: none
notes:
  - Names with quotes, spaces, capitals and non-ASCII letters are returned exactly as stored.
seealso:
  - module: pgtviews.ops.tviews_manifest
'''

EXAMPLES = r'''
- name: What does this server run?
  pgtviews.ops.tviews_info:
    login_db: app
  register: info

- name: Every pg_tviews database, with row counts and checksums
  pgtviews.ops.tviews_info:
    all_databases: true
    gather_subset: [catalog, data]
'''

RETURN = r'''
installed:
  description:
    - Names of the databases inspected that have pg_tviews installed, in the order inspected. With
      I(all_databases), every database on the server that has it (the collection's one database
      discovery), so a play needs no filter over I(databases).
  returned: always
  type: list
  elements: str
  sample: [app, reporting]
not_installed:
  description: Names of the databases inspected that do not have pg_tviews installed.
  returned: always
  type: list
  elements: str
databases:
  description: Per inspected database name, what was found. Databases without pg_tviews have C(facts.installed=false).
  returned: always
  type: dict
  contains:
    facts:
      description: >-
        Server and extension facts: server_version, server_major, is_primary, is_superuser, installed,
        extversion, library_version (C(pg_tviews_version()), null when the library cannot be called),
        schema, default_version, available_versions, update_paths (target version to path), api_generation.
      type: dict
    tviews:
      description: Normalised TVIEW records (entity, schema, table, view, qualified_table, qualified_view, definition,
        view_definition, pk_column, fk_columns, uuid_fk_columns, dependencies, dependency_types, dependency_paths,
        array_match_keys, depends_on, table_details, view_details, and with the data subset row_count, checksum, id_checksum
        over the rows whose key the view still has, and stale_rows, the others).
      type: list
      elements: dict
    order:
      description: Entities in dependency order (create in this order, drop in reverse).
      type: list
      elements: str
    triggers:
      description: pg_tviews row triggers on base tables.
      type: list
      elements: dict
    dependents:
      description: Objects outside the extension depending on TVIEW objects, with C(ddl) and C(drop) statements.
      type: list
      elements: dict
    extension_dependents:
      description: Objects outside the extension that depend on extension members (DROP EXTENSION would fail on them).
      type: list
      elements: dict
    non_member_helpers:
      description: Functions pg_tviews created outside the extension (0.1's tview_trigger_handler()).
      type: list
      elements: dict
    health_check:
      description: Rows of C(pg_tviews_health_check()).
      type: list
      elements: dict
    prepared_transactions:
      description: Open prepared transactions on the server (gid, owner, database, age_seconds, this_database).
      type: list
      elements: dict
    sessions:
      description: Other client sessions connected to the database.
      type: list
      elements: dict
    base_tables:
      description: With the data subset, row_count and checksum per base table.
      type: dict
  sample:
    app:
      facts: {installed: true, extversion: 0.1.0, library_version: 0.1.0-beta.8, api_generation: '0.1'}
      order: [user, post, comment]
'''

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import (
    TviewsModule, DatabaseConnectionError, connection_argument_spec, ensure_psycopg2)
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import gather


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        all_databases=dict(type='bool', default=False),
        databases=dict(type='list', elements='str'),
        gather_subset=dict(type='list', elements='str', choices=['catalog', 'data'], default=['catalog']),
    )
    module = TviewsModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params['all_databases'] and module.params['databases']:
        # Checked here, not with mutually_exclusive, so templated all_databases=false may go with databases.
        module.fail_json(msg="all_databases and databases are mutually exclusive")
    ensure_psycopg2(module)
    params = module.params
    subset = set(params['gather_subset']) | set(['catalog'])
    result = dict(changed=False, databases={}, installed=[], not_installed=[])
    try:
        result['databases'] = gather(params, params['databases'], params['all_databases'], subset)
        for name, snap in result['databases'].items():
            result['installed' if snap['facts']['installed'] else 'not_installed'].append(name)
    except DatabaseConnectionError as e:
        module.fail_json(msg=to_native(e), **result)
    except Exception as e:  # a catalog error must name itself, not print a traceback only
        module.fail_json(msg="cannot read the pg_tviews catalog: %s" % ' '.join(to_native(e).split()), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
