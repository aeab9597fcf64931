# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight and validation gates: the check record, overrides and summary (core), pure
rules by subject (server, catalog, app, timing, window), the database probes behind them
(probe, writepath, timing) and the per-database orchestration of the two gate modules
(preflight, validate).

Layer: a concern package. Imports swap/, manifest/, catalog/, host/ and connection.py; never
another concern package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
