# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh chosen TVIEWs through the installed API generation, dependencies first."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re
import time

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import detect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.registry import adapter_for


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


def refresh(conn, result, wanted, primary_keys, cascade, check_mode=False):
    """Refresh the TVIEWs ``wanted`` names (all when empty) in dependency order, so cascades see
    fresh rows; in check mode only list them. Fills ``result`` (api_generation, refreshed)."""
    adapter = adapter_for(conn, detect(conn))
    result['api_generation'] = adapter.generation
    records, order = adapter.records()
    by_entity = dict((r['entity'], r) for r in records)
    chosen_entities = set(r['entity'] for r in select(records, wanted))
    for entity in order:
        if entity not in chosen_entities:
            continue
        record = by_entity[entity]
        full = not adapter.supports_row_refresh or not primary_keys
        item = dict(entity=entity, table=record['qualified_table'], full_refresh=full, duration_ms=None)
        if not check_mode:
            stmt, params = adapter.refresh_statement(record, primary_keys, cascade)
            start = time.monotonic()
            with conn.cursor() as cur:
                cur.execute(stmt, params)
            item['duration_ms'] = round((time.monotonic() - start) * 1000, 2)
        result['refreshed'].append(item)
    result['changed'] = bool(result['refreshed'])
