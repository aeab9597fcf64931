# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups: taking one (run: pg_dump from one snapshot with its manifest and metadata CSV),
its directory layout and lock (layout), progress, the sealed backup record, retention, space
for it, verification (verify) and restoring one into a side database (restore).

Layer: a concern package. Imports swap/, manifest/, catalog/, host/ and connection.py; never
another concern package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
