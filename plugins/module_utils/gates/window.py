# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance windows: is a moment inside one of the configured windows?

A window is ``{start: "HH:MM", end: "HH:MM", days: [mon, ...], timezone: "Europe/Berlin"}``.
``days`` (default every day) are the days the window *starts* on; a window whose end is not
after its start runs past midnight into the next day. ``timezone`` defaults to UTC and needs
Python's zoneinfo (3.9+) for anything else than UTC or a fixed offset like ``+02:00``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
_TIME_RE = re.compile(r'^([01]?\d|2[0-3]):([0-5]\d)$')
_OFFSET_RE = re.compile(r'^(?:UTC)?([+-])(\d{1,2}):?(\d{2})$')


class WindowError(ValueError):
    pass


def _minutes(text, what):
    m = _TIME_RE.match(str(text).strip())
    if not m:
        raise WindowError("maintenance window %s %r is not HH:MM" % (what, text))
    return int(m.group(1)) * 60 + int(m.group(2))


def _tz(name):
    name = (name or 'UTC').strip()
    if name.upper() in ('UTC', 'Z', 'GMT'):
        return datetime.timezone.utc
    m = _OFFSET_RE.match(name)
    if m:
        delta = datetime.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return datetime.timezone(-delta if m.group(1) == '-' else delta)
    try:
        from zoneinfo import ZoneInfo
    except ImportError:
        raise WindowError("time zone %r needs Python 3.9+ (zoneinfo); use UTC or an offset such as +02:00" % name)
    try:
        return ZoneInfo(name)
    except Exception:
        raise WindowError("unknown time zone %r" % name)


def parse(window):
    """Check one window spec; returns (start_min, end_min, days, tzinfo, tzname)."""
    if not isinstance(window, dict):
        raise WindowError("a maintenance window must be a dict with start and end, not %r" % (window,))
    unknown = set(window) - set(('start', 'end', 'days', 'timezone', 'name'))
    if unknown:
        raise WindowError("maintenance window: unknown keys %s" % ', '.join(sorted(unknown)))
    if 'start' not in window or 'end' not in window:
        raise WindowError("maintenance window needs start and end (HH:MM)")
    start, end = _minutes(window['start'], 'start'), _minutes(window['end'], 'end')
    if start == end:
        raise WindowError("maintenance window start and end are both %s" % window['start'])
    days = [str(d).strip().lower()[:3] for d in (window.get('days') or DAYS)]
    bad = [d for d in days if d not in DAYS]
    if bad:
        raise WindowError("maintenance window: unknown days %s (use %s)" % (', '.join(bad), ', '.join(DAYS)))
    tzname = window.get('timezone') or 'UTC'
    return start, end, days, _tz(tzname), tzname


def describe(window):
    days = window.get('days') or ['every day']
    return '%s %s-%s %s' % (','.join(str(d) for d in days), window['start'], window['end'], window.get('timezone') or 'UTC')


def contains(window, now):
    """True when the aware datetime ``now`` falls inside ``window``."""
    start, end, days, tz, dummy = parse(window)
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in days and start <= minute < end
    # Runs past midnight: the evening part today, or the morning part of a window that began yesterday.
    return (today in days and minute >= start) or (yesterday in days and minute < end)


def check_windows(windows, now):
    """(inside, text): whether ``now`` is inside any window, and which / why not."""
    for w in windows:
        if contains(w, now):
            return True, describe(w)
    return False, '; '.join(describe(w) for w in windows)
