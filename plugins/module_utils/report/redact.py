# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep secrets out of reports: drop values under keys that name a secret or a connection,
and replace any known secret string wherever it appears."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MASK = '********'
SECRET_KEY_HINTS = ('password', 'passwd', 'secret', 'token', 'credential', 'private_key', 'api_key', 'apikey')
DROPPED_KEYS = ('invocation', 'tviews_connection', 'connect_params')
_URL_USERINFO_RE = re.compile(r'([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+:[^/@\s]*@')


def is_secret_key(key):
    k = str(key).lower()
    return any(h in k for h in SECRET_KEY_HINTS)


def scrub_text(text, secrets):
    for s in secrets:
        if s and s in text:
            text = text.replace(s, MASK)
    return _URL_USERINFO_RE.sub(r'\1' + MASK + '@', text)


def redact(value, secrets=()):
    """A copy of ``value`` (dicts, lists, scalars) without secrets. ``secrets``: strings that
    must not appear anywhere (passwords); short ones (< 4 characters) are ignored, they would
    mangle ordinary text and are no protection anyway."""
    secrets = sorted(set(str(s) for s in secrets if s is not None and len(str(s)) >= 4), key=len, reverse=True)
    return _redact(value, secrets)


def _redact(value, secrets):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in DROPPED_KEYS:
                continue
            key = scrub_text(str(k), secrets)
            out[key] = MASK if is_secret_key(k) and v not in (None, '', [], {}) else _redact(v, secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value
