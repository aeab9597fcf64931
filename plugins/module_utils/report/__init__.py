# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record and fleet summary: per-host records (record), the runbook checklist
(checklist), secrets kept out of what is written (redact) and the fleet summary (summary).
Pure functions over facts gathered by other phases; no database, no files.

Layer: a concern package. Imports nothing of the collection but its own modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
