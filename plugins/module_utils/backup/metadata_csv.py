# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metadata CSV the runbook's step 3 asks for, built from the catalog adapter's records
instead of the runbook's query (whose ``pg_tviews_metadata`` view does not exist in 0.1):
one row per TVIEW with its entity, names, definition, the last-refresh facts where the
installed version has them (empty for 0.1) and ``pg_tviews_version()``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

COLUMNS = ('entity_name', 'schema', 'tv_table', 'v_view', 'definition', 'last_refreshed',
           'last_refresh_duration_ms', 'last_error', 'version_before', 'extversion')


def _cell(value):
    return '' if value is None else value


def render(records, library_version, extversion):
    """CSV text (with header) for ``records`` (adapter records, any generation)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(COLUMNS)
    for r in sorted(records, key=lambda r: r['entity']):
        writer.writerow([_cell(v) for v in (
            r['entity'], r.get('schema'), r.get('table'), r.get('view'), r.get('definition'), r.get('last_refreshed'),
            r.get('last_refresh_duration_ms'), r.get('last_error'), library_version, extversion)])
    return buf.getvalue()
