# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of a backup that runs as an async job: the backup writes a small JSON file
(phase, start time, bytes dumped so far) every few seconds; the follower reads it and the
job's async results file, so the role can print elapsed time and size while it waits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.pgtviews.ops.plugins.module_utils.backup.layout import LayoutError, make_dirs
from ansible_collections.pgtviews.ops.plugins.module_utils.host.disk import human
from ansible_collections.pgtviews.ops.plugins.module_utils.host.private_file import write_private


class Progress(object):
    """Writes the progress file (best effort: a full disk must not turn into a second error)."""

    def __init__(self, path, database):
        self.path = path
        self.database = database
        self.started = time.time()
        self.phase = 'starting'
        self.directory = None
        self.bytes = 0
        self.enabled = bool(path)
        if self.enabled:
            try:
                make_dirs(os.path.dirname(os.path.abspath(path)))
            except LayoutError:
                self.enabled = False

    def update(self, phase=None, directory=None, nbytes=None):
        if phase is not None:
            self.phase = phase
        if directory is not None:
            self.directory = directory
        if nbytes is not None:
            self.bytes = nbytes
        if not self.enabled:
            return
        doc = {'pid': os.getpid(), 'database': self.database, 'started': self.started, 'updated': time.time(),
               'phase': self.phase, 'directory': self.directory, 'bytes': self.bytes}
        try:
            write_private(self.path, json.dumps(doc, sort_keys=True) + '\n')
        except (IOError, OSError):
            pass

    def remove(self):
        if self.enabled:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def read(path):
    """The progress document, or None when absent or unreadable."""
    if not path:
        return None
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (IOError, OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def job_status(results_file):
    """(finished, result or None) from an async job's results file, the way async_status reads
    it: while running it holds {"started": ..., "finished": false}; at the end, the result."""
    try:
        with open(results_file) as fh:
            data = json.loads(fh.read())
    except (IOError, OSError):
        raise ValueError("no async job results file %s" % results_file)
    except ValueError:
        return False, None  # being written
    if not isinstance(data, dict):
        return True, {'failed': True, 'msg': 'unreadable async job result'}
    if 'started' in data and not data.get('finished'):
        return False, None
    return True, data


def observe(results_file, progress_file, wait, poll=0.2, clock=time.time, sleep=time.sleep, collect=False):
    """Wait until the job finishes or ``wait`` seconds pass; return what was seen. With ``collect``,
    a finished job's result is returned too (``job``, as async_status would return it) and its
    results file removed (as async_status mode=cleanup does)."""
    deadline = clock() + max(0, wait)
    while True:
        finished, result = job_status(results_file)
        doc = read(progress_file)
        if finished or clock() >= deadline:
            break
        sleep(poll)
    try:
        job_started = os.stat(results_file).st_mtime if not finished else None
    except OSError:
        job_started = None
    out = {'finished': finished, 'failed_job': bool(finished and result and result.get('failed')),
           'phase': 'starting', 'elapsed': 0, 'bytes': 0, 'directory': None}
    if doc:
        out.update(phase=doc.get('phase') or 'starting', bytes=int(doc.get('bytes') or 0), directory=doc.get('directory'),
                   elapsed=int(clock() - float(doc.get('started') or clock())))
    elif job_started:
        out['elapsed'] = int(clock() - job_started)
    if finished:
        out['phase'] = 'failed' if out['failed_job'] else 'finished'
        if result and not result.get('failed'):
            out['bytes'] = int(result.get('bytes') or out['bytes'])
            out['directory'] = result.get('directory') or out['directory']
            total = (result.get('durations') or {}).get('total')
            if total is not None and not result.get('reused'):
                out['elapsed'] = int(total)
        if collect and result is not None:
            out['job'] = result
            try:
                os.unlink(results_file)
            except OSError:
                pass
    out['size'] = human(out['bytes'])
    return out
