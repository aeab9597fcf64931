# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration manifest: its schema, digest and checksums, building it from a catalog
snapshot, comparing two, storing it in the database and on disk (document); capturing and
verifying it for the manifest module (actions).

Layer: beside swap/, above catalog/. Imports catalog/, host/ and connection.py; never swap/
or a concern package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
