#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_host_check
short_description: Check that a managed host has the Python libraries the pgtviews.ops modules need
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - The modules that connect to PostgreSQL run on the managed host and need C(psycopg2) there, in the
    Python that Ansible uses on that host; the code scan's rewrite also needs C(pglast). This module
    imports each and fails, before anything else runs, with one sentence naming what is missing, the
    interpreter it looked in and the package that provides it on Debian/Ubuntu and on RHEL-like systems.
  - Safety. Only imports libraries; changes nothing.
options:
  libraries:
    description:
      - The libraries to check.
    type: list
    elements: str
    choices: [ psycopg2, pglast ]
    default: [ psycopg2 ]
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Runs exactly as without check mode; it changes nothing either way.
  diff_mode:
    description: Reports a diff of what changes.
    support: none
'''

EXAMPLES = r'''
- name: Check that the host can run the modules
  pgtviews.ops.tviews_host_check:

- name: Also the code scan's rewrite
  pgtviews.ops.tviews_host_check:
    libraries: [psycopg2, pglast]
'''

RETURN = r'''
python:
  description: The interpreter the modules run with on this host.
  returned: always
  type: str
versions:
  description: Each library found, with its version.
  returned: always
  type: dict
missing:
  description: The libraries that could not be imported.
  returned: always
  type: list
  elements: str
'''

import importlib
import sys

from ansible.module_utils.basic import AnsibleModule

# What provides each library: (Debian/Ubuntu package, RHEL-like package, pip).
PACKAGES = {
    'psycopg2': ('python3-psycopg2', 'python3-psycopg2', 'psycopg2-binary'),
    'pglast': (None, None, 'pglast'),
}


def how_to_install(name):
    deb, rpm, pip = PACKAGES[name]
    ways = []
    if deb:
        ways.append('apt-get install %s (Debian, Ubuntu)' % deb)
    if rpm:
        ways.append('dnf install %s (RHEL and the like)' % rpm)
    ways.append('%s -m pip install %s' % (sys.executable, pip))
    return ' or '.join(ways)


def main():
    module = AnsibleModule(argument_spec=dict(
        libraries=dict(type='list', elements='str', choices=list(PACKAGES), default=['psycopg2']),
    ), supports_check_mode=True)
    versions, missing = {}, []
    for name in module.params['libraries']:
        try:
            lib = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        versions[name] = str(getattr(lib, '__version__', 'unknown')).split(' ', maxsplit=1)[0]
    result = dict(changed=False, python=sys.executable, versions=versions, missing=missing)
    if missing:
        module.fail_json(msg='%s cannot run the pgtviews.ops modules: %s %s not installed for %s, the Python Ansible uses '
                             'there. Install %s.' % (
                                 'This host', ' and '.join(missing), 'is' if len(missing) == 1 else 'are', sys.executable,
                                 '; '.join('%s with %s' % (n, how_to_install(n)) for n in missing)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
