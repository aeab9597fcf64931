# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The managed node outside PostgreSQL: the client programs (pg_dump, pg_restore and
pg_config) and how to run them without a password on a command line (clients), free space
and byte units (disk), files only their owner reads (private_file), a set of text files written
in one call (file_set), sealed JSON documents (sealed), the per-host state file (state_file) and
the named fault points tests use (faults).

Layer: bottom, beside connection.py. Imports only the standard library and connection.py;
never catalog, swap, manifest or a concern package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
