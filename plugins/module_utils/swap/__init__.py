# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-transaction swap of a database between pg_tviews versions: the plan built from
the catalog and its executor (transaction); recreating TVIEWs from a manifest after a
restore (recreate).

Layer: above catalog/. Imports catalog/, host/ and connection.py; never manifest/ or a
concern package (modules and concern packages call it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
