# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table of adapters: pick the one for an API generation (unknown generation → a clear
error), and what every generation's naming has in common, taken from the adapters."""

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


def adapter_class(version):
    """The adapter class of the generation a version speaks (UnknownGenerationError if none)."""
    generation = generation_of(version)
    try:
        return ADAPTERS[generation]
    except KeyError:
        raise UnknownGenerationError("no catalog adapter for pg_tviews API generation %s" % generation)


# pg_tviews' own objects, of whichever generation: a swap finds the old generation's and
# verifies the new one's, and leftovers of another generation must still be recognised.
TRIGGER_PATTERNS = sorted(set(a.trigger_prefix + '%' for a in ADAPTERS.values()))
HELPER_FUNCTIONS = sorted(set(n for a in ADAPTERS.values() for n in a.helper_functions))


def own_trigger(name):
    """True for a trigger pg_tviews (of any generation) installs on a base table."""
    return any(name.startswith(a.trigger_prefix) for a in ADAPTERS.values())


def trigger_of(name, entity):
    """True for pg_tviews' trigger of TVIEW ``entity`` (any generation's naming)."""
    return any(name.startswith('%s%s_on_' % (a.trigger_prefix, entity)) for a in ADAPTERS.values())
