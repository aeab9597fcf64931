# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules do with a manifest: capture it to a file (keeping a valid one that is
already there), load it from a file or from the database, verify a database against it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.snapshot import snapshot
from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf


def summary(doc, path=None, stored_id=None):
    return dict(digest=doc['digest'], path=path, database=doc['database'], extversion=doc['extension']['extversion'],
                tviews=len(doc['tviews']), order=doc['order'], stored_id=stored_id)


def capture(conn, path, store_in_database=True, force=False, check_mode=False):
    """(changed, summary): the manifest of the connected database written to ``path``; a file
    already there for this database is kept unless ``force``."""
    if os.path.exists(path) and not force:
        existing = mf.load_file(path)
        if existing['database'] != conn.info.dbname:
            raise mf.ManifestError("%s describes database %s, not %s; use another path or force"
                                   % (path, existing['database'], conn.info.dbname))
        return False, summary(existing, path)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise mf.ManifestError("directory of %s does not exist" % path)
    doc, stored_id = mf.capture(conn, path, store_in_database, dry_run=check_mode)
    return True, summary(doc, path, stored_id)


def ensure(conn, path, check_mode=False):
    """Capture the manifest to ``path`` unless a valid one is already there (the swap's)."""
    if os.path.exists(path):
        return {'path': path, 'captured': False, 'digest': mf.load_file(path)['digest']}
    doc, dummy = mf.capture(conn, path, dry_run=check_mode)
    return {'path': path, 'captured': not check_mode, 'digest': doc['digest']}


def candidates(conn, path=None):
    """Manifests a swap may register TVIEWs from: the file at ``path`` when there is one, else
    those stored in the connected database (they survive DROP EXTENSION), newest first."""
    if path and os.path.exists(path):
        return [mf.load_file(path)]
    with conn.cursor() as cur:
        return mf.stored(cur)


def load(conn, path=None):
    """The manifest at ``path``, else the newest stored in the connected database."""
    if path:
        return mf.load_file(path)
    with conn.cursor() as cur:
        doc = mf.load_stored(cur)
    if doc is None:
        raise mf.ManifestError("no manifest given and none stored in database %s" % conn.info.dbname)
    return doc


def verify(conn, path=None, allow=(), allow_other_database=False):
    """{changed, manifest, differences, unexpected}: the database against its manifest."""
    if path:
        expected = mf.load_file(path)
    else:
        with conn.cursor() as cur:
            expected = mf.load_stored(cur)
        if expected is None:
            raise mf.ManifestError("no path given and no manifest stored in database %s" % conn.info.dbname)
    if expected['database'] != conn.info.dbname and not allow_other_database:
        raise mf.ManifestError("the manifest %s describes database %s, not %s: give the manifest captured from %s "
                               "(allow_other_database is for a restored copy of %s only)"
                               % (path or '(stored in the database)', expected['database'], conn.info.dbname,
                                  conn.info.dbname, expected['database']))
    diffs = mf.compare(expected, mf.build(snapshot(conn, ('catalog', 'data'))))
    return dict(changed=False, manifest=summary(expected, path), differences=diffs,
                unexpected=mf.filter_allowed(diffs, allow))
