# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named fault points, for tests that must interrupt a run at an exact place (a backend killed
in the middle of one swap step, not near it). A point does nothing unless the environment names
it: PGTVIEWS_OPS_FAULT_POINT is the point ("swap:rebuild TVIEW:big") and PGTVIEWS_OPS_FAULT_FILE a
file that holds the run there. On reaching the point the code writes <file>.reached and waits
until the test removes <file> (at most WAIT_SECONDS). docs/development.md lists the points."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

ENV_POINT = 'PGTVIEWS_OPS_FAULT_POINT'
ENV_FILE = 'PGTVIEWS_OPS_FAULT_FILE'
WAIT_SECONDS = 300


def point(*names):
    """Pass the point ``names`` (joined with ':'); hold here when the environment asks for it."""
    wanted, hold = os.environ.get(ENV_POINT), os.environ.get(ENV_FILE)
    if not wanted or not hold or wanted != ':'.join('%s' % n for n in names):
        return
    with open(hold + '.reached', 'w') as fh:
        fh.write('%d\n' % os.getpid())
    deadline = time.time() + WAIT_SECONDS
    while os.path.exists(hold) and time.time() < deadline:
        time.sleep(0.01)
