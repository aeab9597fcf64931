# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application code scan: the breaking changes as rules (rules), walking and reading
source files (files), lexers for SQL and host languages (sqllex, srclex), finding call sites
(finder, pglast), rewriting SQL call sites (rewrite, fix) and a scan of a tree (tree). The
old API names in rules describe application code, not this collection.

Layer: a concern package. Imports nothing of the collection but its own modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
