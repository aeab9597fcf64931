"""Shared helpers of the tviews_code_scan tests: paths, and the collection importable as
``ansible_collections.pgtviews.ops`` (through the harness's .build/link tree)."""

import os
import sys

from tests.harness.modules import LINK, REPO, ensure_link

FIXTURE_TREE = os.path.join(REPO, 'tests', 'fixtures', 'scan_tree')

# A Latin-1 Ruby file with a finding after a non-ASCII character. Written by the tests that
# need it instead of kept in the fixture tree: ansible-test sanity rejects non-UTF-8 files.
LATIN1_JOB = (b'# encoding: iso-8859-1\n'
              b'# R\xe9sum\xe9 of the nightly job\n'
              b'QUERY = "SELECT \'caf\xe9\', pg_tviews_refresh_cascade(\'tv_post\')"\n')

ensure_link()
if LINK not in sys.path:
    sys.path.insert(0, LINK)
