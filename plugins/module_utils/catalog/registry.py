# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pick the adapter for an API generation. Unknown generation → a clear error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import UnknownGenerationError, generation_of
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.v01 import AdapterV01
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.v02 import AdapterV02

ADAPTERS = dict((a.generation, a) for a in (AdapterV01, AdapterV02))


def adapter_for(conn, facts):
    """The adapter for the extension installed in this database (facts from detect())."""
    if not facts.get('installed'):
        raise UnknownGenerationError("pg_tviews is not installed in database %s" % facts.get('database'))
    generation = facts.get('api_generation') or generation_of(facts['extversion'])
    try:
        cls = ADAPTERS[generation]
    except KeyError:
        raise UnknownGenerationError("no catalog adapter for pg_tviews API generation %s" % generation)
    return cls(conn, facts['schema'])
