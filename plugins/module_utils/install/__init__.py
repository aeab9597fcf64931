# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extension files installed side by side: control files, payloads, stashes, receipts and
atomic writes (files); the states of the extension files module and its database checks
(runner).

Layer: a concern package. Imports catalog/, host/ and connection.py; never another concern
package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
