# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_tviews version strings and the API generation each one speaks.

Upstream reports two versions that never match: ``extversion`` (``0.1.0``) and
``pg_tviews_version()`` (the crate version, e.g. ``0.1.0-beta.8``). Both are parsed here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_VERSION_RE = re.compile(r'^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+]([0-9A-Za-z.-]+))?\s*$')

# API generation -> (major, minor) it covers. A new generation is one line here plus its adapter.
GENERATIONS = {
    '0.1': (0, 1),
    '0.2': (0, 2),
}


class UnknownGenerationError(ValueError):
    pass


class Version(object):
    """A comparable version: release numbers plus an optional pre-release tag
    (``0.1.0-beta.8`` sorts before ``0.1.0``)."""

    def __init__(self, text):
        m = _VERSION_RE.match(text or '')
        if not m:
            raise ValueError("not a pg_tviews version: %r" % (text,))
        self.text = text.strip()
        self.release = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        self.pre = m.group(4) or ''

    def _key(self):
        pre_parts = tuple((0, int(p), '') if p.isdigit() else (1, 0, p) for p in re.split(r'[.-]', self.pre) if p)
        # A release sorts after its pre-releases.
        return self.release + ((1,) if not self.pre else (0,) + pre_parts)

    def __eq__(self, other):
        return self._key() == Version(str(other))._key()

    def __lt__(self, other):
        return self._key() < Version(str(other))._key()

    def __le__(self, other):
        return self == other or self < other

    def __gt__(self, other):
        return not self <= other

    def __ge__(self, other):
        return not self < other

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self.text

    def __repr__(self):
        return "Version(%r)" % self.text

    @property
    def major_minor(self):
        return self.release[:2]


def parse_version(text):
    return Version(text)


def generation_of(version):
    """The API generation ('0.1', '0.2') a version speaks; unknown → a clear error, never a guess."""
    mm = parse_version(str(version)).major_minor
    for name, covered in GENERATIONS.items():
        if covered == mm:
            return name
    raise UnknownGenerationError(
        "pg_tviews %s speaks an API generation this collection does not know (known: %s)"
        % (version, ', '.join(sorted(GENERATIONS))))


def same_release(a, b):
    """True when two version strings name the same release (pre-release tags ignored):
    extversion 0.1.0 and pg_tviews_version() 0.1.0-beta.8 are the same release."""
    return parse_version(a).release == parse_version(b).release


def version_problem(value, option, example='0.2.0'):
    """None when ``value`` is a pg_tviews version of an API generation this collection knows;
    else one sentence naming ``option`` and what to give instead."""
    known = ', '.join('%s.x' % g for g in sorted(GENERATIONS))
    if not isinstance(value, str) or not _VERSION_RE.match(value):
        return ('%s must be one pg_tviews version such as %s, written as text (a %s generation release), and '
                '%s is not one: correct %s; nothing was changed'
                % (option, example, ' or '.join(sorted(GENERATIONS)), _shown(value), option))
    try:
        generation_of(value)
    except UnknownGenerationError:
        return ('%s is %s, a pg_tviews version this collection does not know (it knows %s): set %s to a known '
                'version such as %s; nothing was changed' % (option, value.strip(), known, option, example))
    return None


def _shown(value):
    """A short, repr-free rendering of an input for a message."""
    if isinstance(value, (list, tuple)):
        return 'a list (%s)' % ', '.join(str(v) for v in value)
    if isinstance(value, dict):
        return 'a mapping'
    if value is None or value == '':
        return 'empty'
    return '"%s"' % value
