# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared variables' inputs, checked before a playbook changes anything: each problem as one
sentence that names the variable and says what to give (playbooks/tasks/inputs.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import version_problem


def _text(value):
    return isinstance(value, str)


def tviews_input_problems(values):
    """``values``: {variable: value} of the shared variables a play sets. A list of sentences, empty
    when every value given is usable."""
    problems = []
    for name, example in (('tviews_version', '0.2.0'), ('tviews_rollback_version', '0.1.0')):
        if name in values:
            problem = version_problem(values[name], name, example)
            if problem:
                problems.append(problem)
    if 'tviews_databases' in values:
        dbs = values['tviews_databases']
        if dbs is None or dbs == '':
            dbs = []
        if not isinstance(dbs, list):
            problems.append('tviews_databases must be a list of database names (for example [app, shop]), not %s: '
                            'write it as a YAML list, or leave it empty for every database with pg_tviews; nothing '
                            'was changed' % ('text' if _text(dbs) else 'a mapping' if isinstance(dbs, dict) else 'a number'))
        elif not all(_text(d) and d.strip() for d in dbs):
            problems.append('tviews_databases must list database names, and one of its items is empty or not a name: '
                            'correct tviews_databases; nothing was changed')
    for name in ('tviews_state_file', 'tviews_backup_root'):
        if name in values:
            value = values[name]
            if not _text(value) or not value.startswith('/'):
                problems.append('%s must be an absolute path on the host, and %s is not: correct %s; nothing was changed'
                                % (name, '"%s"' % value if _text(value) else 'the value given', name))
    return problems


class FilterModule(object):
    def filters(self):
        return {'tviews_input_problems': tviews_input_problems}
