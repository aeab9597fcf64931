"""Callback for bench/fleet.py: every task's time per host, summed by phase, into the JSON file
named by PGTVIEWS_BENCH_PHASES (the per-host report has no duration for backup and rehearsal).

A phase is the role a task comes from (preflight, install, backup, swap, validate, report, ...);
the swap role's rehearse tasks are ``rehearsal``; tasks of the playbook itself are ``playbook``.
Enabled only by bench/fleet.py (ANSIBLE_CALLBACK_PLUGINS + ANSIBLE_CALLBACKS_ENABLED)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_phases
type: aggregate
short_description: task times per host and phase, for the benchmark
description: Writes task times per host, summed by phase, to the file in PGTVIEWS_BENCH_PHASES.
"""


def phase_of(task):
    role = getattr(task, "_role", None)
    name = role.get_name() if role is not None else None
    path = task.get_path() or ""
    if "/swap/tasks/rehearse" in path:
        return "rehearsal"
    if name:
        return name.split(".")[-1]
    return "playbook"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_phases"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.started = {}
        self.tasks = []
        self.t0 = time.time()

    def v2_runner_on_start(self, host, task):
        self.started[(host.get_name(), task._uuid)] = time.time()

    def _end(self, result, status):
        host, task = result._host.get_name(), result._task
        t0 = self.started.pop((host, task._uuid), None)
        if t0 is None:
            return
        self.tasks.append({"host": host, "phase": phase_of(task), "task": task.get_name(), "status": status,
                           "start": round(t0 - self.t0, 3), "seconds": round(time.time() - t0, 3)})

    def v2_runner_on_ok(self, result, **kwargs):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("PGTVIEWS_BENCH_PHASES")
        if not path:
            return
        phases = {}
        for t in self.tasks:
            p = phases.setdefault(t["host"], {})
            p[t["phase"]] = round(p.get(t["phase"], 0.0) + t["seconds"], 3)
        with open(path, "w") as fh:
            json.dump({"wall_s": round(time.time() - self.t0, 2), "phases": phases, "tasks": self.tasks}, fh, indent=1)
