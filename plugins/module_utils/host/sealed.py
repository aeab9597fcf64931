# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON documents that carry their own digest (manifests, backup records): one canonical
form, one digest, one check of kind, schema version and digest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json


def canonical(document):
    """Canonical JSON of a document without its digest: what the digest covers."""
    body = dict((k, v) for k, v in document.items() if k != 'digest')
    return json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False, default=str)


def digest_of(document):
    return 'sha256:' + hashlib.sha256(canonical(document).encode('utf-8')).hexdigest()


def seal(document):
    document = dict(document)
    document['digest'] = digest_of(document)
    return document


def dumps(document):
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, default=str) + '\n'


def check(doc, kind, schema_version, source, error, what):
    """Raise ``error`` naming ``source`` unless ``doc`` is a ``kind`` document of
    ``schema_version`` whose digest matches its content. ``what`` names the kind for people."""
    if not isinstance(doc, dict) or doc.get('kind') != kind:
        said = doc.get('kind') if isinstance(doc, dict) else None
        raise error("%s is not a pgtviews.ops %s (%s): give the %s pgtviews.ops wrote"
                    % (source, what, 'it says kind %s' % said if said else 'it has no kind', what))
    if doc.get('schema_version') != schema_version:
        raise error("%s has schema version %s, and this collection reads version %d: give a %s this version of "
                    "pgtviews.ops wrote" % (source, doc.get('schema_version'), schema_version, what))
    if doc.get('digest') != digest_of(doc):
        raise error("%s was modified after it was written (its digest does not match its content): give the %s as "
                    "pgtviews.ops wrote it (the backup directory keeps a copy), or write a new one" % (source, what))
    return doc
