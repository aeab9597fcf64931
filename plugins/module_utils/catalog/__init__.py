# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is in one database and everything that differs between pg_tviews API generations:
detection and database discovery (detect), versions and the version table (versions), one
adapter per generation (adapter, v01, v02, registry: trigger, index and metadata naming,
helpers, what a generation can migrate from and whether it can adopt), generation-independent
catalog reads and the objects that depend on the extension with their DDL (objects),
dependency order (order), a whole-database snapshot (snapshot) and refreshes in dependency
order (refresh).

Layer: above connection.py and host/. Imports only those; never swap, manifest or a concern
package. Version knowledge lives in v01.py, v02.py and versions.py only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
