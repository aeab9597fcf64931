#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tviews_extension_files
short_description: Install pg_tviews versions side by side; stash, restore and finalize the extension files
version_added: 0.1.0
author: pgtviews.ops maintainers (@pgtviews)
description:
  - Manages the files of the pg_tviews extension (or another extension named by O(extension)) in the
    PostgreSQL installation that O(pg_config) describes, so that a new version can be installed while
    databases keep running the old one.
  - Every pg_tviews version ships C(pg_tviews.so), C(pg_tviews.control) with
    C(module_pathname = '$libdir/pg_tviews'), and C(pg_tviews--<version>.sql). A plain C(make install)
    of a new version therefore replaces the code under every live database of the old version.
    With O(state=installed) this module instead installs the new library as C(pg_tviews-<version>.so),
    the version's scripts, and a secondary control file C(pg_tviews--<version>.control) whose
    C(module_pathname) is C($libdir/pg_tviews-<version>). The primary control file and the library of
    the running version are never written. Then C(CREATE EXTENSION pg_tviews VERSION '<version>') binds the
    new functions to the versioned library while existing databases keep calling the old one.
  - O(state=installed) takes the version from a release artifact (the C(cargo pgrx package) tree,
    C(target/release/pg_tviews-pg<N>/...), or a flat tarball of C(.so), C(.control) and C(.sql) files), from a
    PGXS source tarball built with C(make) against O(pg_config), or from a pgrx source tree built with
    C(cargo pgrx package). Everything is unpacked, built and validated in O(work_dir) before any installed file
    is touched - library, control file and C(pg_tviews--<version>.sql) present, the package's PostgreSQL major
    (from the release layout's path and from the library's magic block) equal to the major of O(pg_config), no
    script naming the library directly instead of C(MODULE_PATHNAME).
  - Before it changes any file, O(state=installed) (and O(state=finalized)) copies the running version's files
    (primary control file, its library and the scripts that are not part of a side-by-side version) into
    O(stash_dir)C(/pg<major>/<version>/) with a C(manifest.json) of checksums, modes and owners. An existing stash
    is verified and never overwritten; if the installed files no longer match it the module fails.
  - O(state=restored) puts stashed files back byte for byte, O(state=absent) removes a side-by-side version,
    O(state=finalized) makes a side-by-side version the default, O(state=verified) checks an installed version
    without changing anything and O(state=inspected) reports what is installed.
options:
  state:
    description:
      - V(installed) installs O(version) from O(src) side by side (stashing the running version first when
        O(stash_dir) is set).
      - V(stashed) only stashes the running version's files.
      - V(restored) restores the stash of O(version) (or the only stash for this PostgreSQL major when O(version)
        is omitted) to the installation, byte for byte, with the recorded owners and modes.
      - V(finalized) sets C(default_version) in the primary control file to O(version), which must be installed
        side by side. With O(remove_stash=true) it also deletes the stashes of the other versions.
      - V(absent) removes the side-by-side files of O(version) (library, secondary control file, scripts ending at
        O(version)). Refuses to remove the primary version.
      - V(verified) checks that O(version) is installed (control file, library, C(<extension>--<version>.sql)), that
        the files have the owner and mode of PostgreSQL's own files in the same directory, and that the running
        version's files still match their stash. Read-only; fails with the list of problems.
      - V(inspected) reports the installation, its reference owner and mode, and the stashes. Read-only.
    type: str
    choices: [ installed, stashed, restored, finalized, absent, verified, inspected ]
    default: installed
  version:
    description:
      - The extension version (the C(extversion), for example V(0.2.0)). Required for O(state=installed),
        O(state=finalized), O(state=absent) and O(state=verified).
    type: str
  extension:
    description:
      - Extension name (file names are derived from it).
    type: str
    default: pg_tviews
  pg_config:
    description:
      - The C(pg_config) of the PostgreSQL installation to manage, as a path or a command name looked up on
        C(PATH). Its C(--pkglibdir) and C(--sharedir)C(/extension) are the directories written, and its major
        version is the one packages must be built for.
    type: str
    default: pg_config
  src:
    description:
      - With O(state=installed), the package on the managed node. For O(method=artifact) and O(method=pgxs) a
        tarball; for O(method=pgrx) a tarball or a source directory.
    type: path
  method:
    description:
      - V(artifact) a prebuilt release tarball (upstream layout or flat).
      - V(pgxs) a PGXS source tarball, built with O(make) against O(pg_config) and staged with
        C(make install DESTDIR=...) inside O(work_dir).
      - V(pgrx) a pgrx source tree, built with C(cargo pgrx package --pg-config <pg_config> --out-dir <stage>) and
        O(cargo_args). Needs Rust, cargo-pgrx of the version in the tree's C(Cargo.lock), C(cargo pgrx init) for
        this PostgreSQL, libclang and the server headers on the managed node.
    type: str
    choices: [ artifact, pgxs, pgrx ]
    default: artifact
  checksum:
    description:
      - Expected sha256 of the O(src) tarball, as V(sha256:<hex>) or V(<hex>). The module fails before unpacking
        anything when it differs.
    type: str
  stash_dir:
    description:
      - Directory for stashes of the running version (C(<stash_dir>/pg<major>/<version>/)). Required for
        O(state=stashed) and O(state=restored). When omitted with O(state=installed), nothing is stashed.
    type: path
  receipt_dir:
    description:
      - Where O(method=pgxs) and O(method=pgrx) record the source checksum and the checksums of the files they
        installed. A later run with the same source, O(pg_config) and O(version) whose installed files are unchanged
        skips the build and reports no change. Without it every run rebuilds.
    type: path
  work_dir:
    description:
      - Scratch directory for unpacking and building (a subdirectory per run or per source checksum, removed
        afterwards unless O(keep_build=true)).
    type: path
    default: /var/tmp/pgtviews-install
  make:
    description:
      - The C(make) command for O(method=pgxs).
    type: str
    default: make
  make_args:
    description:
      - Extra arguments for both C(make) runs, for example V(-j4).
    type: list
    elements: str
    default: []
  cargo:
    description:
      - The C(cargo) command for O(method=pgrx).
    type: str
    default: cargo
  cargo_args:
    description:
      - Extra arguments for C(cargo pgrx package). When omitted, V(--no-default-features --features pg<major>)
        selects the host's PostgreSQL major (pg_tviews' default feature is pg18).
    type: list
    elements: str
  build_env:
    description:
      - Environment variables added for the build commands (for example C(PATH), C(PGRX_HOME)).
    type: dict
    default: {}
  keep_build:
    description:
      - Keep the unpacked and built tree in O(work_dir) after the run.
    type: bool
    default: false
  remove_primary:
    description:
      - With O(state=absent), also remove the primary control file when O(version) is the primary version and the
        primary control file names this version's versioned library - that is, when this module created it on a
        server that had no pg_tviews. Used to undo a first installation whose verification failed.
    type: bool
    default: false
  remove_stash:
    description:
      - With O(state=finalized), delete the stashes of every other version for this PostgreSQL major. The files
        installed for those versions are not touched.
    type: bool
    default: false
  database_checks:
    description:
      - With O(state=verified), also check the version on the running server (a primary; on a standby nothing
        is checked and the result says so). Connects with the O(login_user) etc. options.
      - Checks that C(pg_available_extension_versions) lists O(version); creates the throwaway database
        O(scratch_db) (dropped first if a previous run left it), runs C(CREATE EXTENSION <extension> VERSION
        '<version>') there, checks that O(version_function) returns O(version) (a suffix such as C(-beta.8) is
        accepted) and that the extension's C functions are bound to the versioned library, then drops the database.
      - Then, in a new session of every database that has the extension (or of O(databases)), checks that
        O(version_function) still matches that database's C(extversion), that is, that the library under the
        running version was not replaced.
      - Skipped in check mode.
    type: bool
    default: false
  scratch_db:
    description:
      - Name of the throwaway database of O(database_checks). It is dropped before and after the check.
    type: str
    default: pgtviews_install_verify
  version_function:
    description:
      - The SQL function returning the library's version, called by O(database_checks).
    type: str
    default: pg_tviews_version
  databases:
    description:
      - Databases whose running version O(database_checks) checks. Default is every database that allows
        connections and has the extension.
    type: list
    elements: str
extends_documentation_fragment:
  - pgtviews.ops.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Unpacks artifacts into a temporary directory to compare them, but never runs a build and never writes
        into the installation or the stash. For a build method without a matching receipt it reports the files
        the build would write, by name.
  diff_mode:
    support: full
    details:
      - Shows, per changed file, its checksum, owner and mode before and after, and the text of control files.
  platform:
    platforms: posix
notes:
  - "Destructive steps and how each is guarded or reversed: (1) writing the side-by-side files - they have
    version-specific names, so no file of the running version is replaced; each is written to a temporary file
    in the same directory and renamed, and if any write fails every file written in the run is put back.
    O(state=absent) removes them again. (2) Creating the primary control file - only on a server with no
    C(<extension>.control) at all. (3) O(state=restored) overwrites installed files with the stashed copies -
    the stash is verified against its manifest first. (4) O(state=finalized) rewrites C(default_version) of the
    primary control file - the file is stashed first (unless O(remove_stash=true)), and O(state=restored) puts it
    back. (5) O(remove_stash=true) and O(state=absent) delete files and are not reversible by this module."
  - A library replaced by rename does not affect backends that already loaded the old file. With
    C(shared_preload_libraries = 'pg_tviews'), the primary library stays preloaded; sessions in databases on
    the new version also load the versioned library.
  - Installing the same version as the primary C(default_version) when it was installed without this module
    (no secondary control file) is reported as already installed and changes nothing.
  - Linux only (libraries end in C(.so)). Run as the owner of the PostgreSQL installation directories (root).
  - The connection options are used only by O(database_checks); psycopg2 is needed only then.
seealso:
  - name: PostgreSQL extension files (secondary control files)
    description: How PostgreSQL reads C(extension--version.control) files.
    link: https://www.postgresql.org/docs/current/extend-extensions.html#EXTEND-EXTENSIONS-FILES
'''

EXAMPLES = r'''
- name: Install pg_tviews 0.2.0 beside the running 0.1.0 from a release artifact
  pgtviews.ops.tviews_extension_files:
    state: installed
    version: 0.2.0
    method: artifact
    src: /var/tmp/pg_tviews-v0.2.0-pg15.tar.gz
    checksum: "sha256:{{ tviews_artifact_sha256 }}"
    pg_config: /usr/lib/postgresql/15/bin/pg_config
    stash_dir: /var/lib/pgtviews/stash

- name: Build 0.2.0 from a PGXS source tarball (rebuilds only when the source changes)
  pgtviews.ops.tviews_extension_files:
    version: 0.2.0
    method: pgxs
    src: /var/tmp/pg_tviews-0.2.0.tar.gz
    pg_config: /usr/lib/postgresql/15/bin/pg_config
    stash_dir: /var/lib/pgtviews/stash
    receipt_dir: /var/lib/pgtviews/install
    make_args: [-j4]

- name: Put the stashed 0.1.0 files back byte for byte (rollback)
  pgtviews.ops.tviews_extension_files:
    state: restored
    version: 0.1.0
    pg_config: /usr/lib/postgresql/15/bin/pg_config
    stash_dir: /var/lib/pgtviews/stash

- name: Make 0.2.0 the default version once every database runs it
  pgtviews.ops.tviews_extension_files:
    state: finalized
    version: 0.2.0
    pg_config: /usr/lib/postgresql/15/bin/pg_config
    stash_dir: /var/lib/pgtviews/stash
'''

RETURN = r'''
pg:
  description: The installation managed (from O(pg_config)).
  returned: always
  type: dict
  contains:
    pg_config:
      description: Path of pg_config.
      type: str
    pg_version:
      description: Output of C(pg_config --version).
      type: str
    pg_major:
      description: PostgreSQL major version.
      type: str
      sample: '15'
    pkglibdir:
      description: Library directory.
      type: str
    extdir:
      description: Extension directory (C(<sharedir>/extension)).
      type: str
installation:
  description: What is installed, after the run (before it in check mode).
  returned: always
  type: dict
  contains:
    primary_control:
      description: Path of the primary control file, null when there is none.
      type: str
    primary_version:
      description: C(default_version) of the primary control file.
      type: str
      sample: 0.1.0
    primary_library:
      description: The library the primary control file's C(module_pathname) names.
      type: str
    side_by_side:
      description: Versions with a secondary control file.
      type: list
      elements: str
    available_versions:
      description: Versions that have an install or update script.
      type: list
      elements: str
files:
  description: The files this run installed, restored, removed or checked, with the action taken or needed.
  returned: when state is installed, restored, finalized, absent or verified
  type: list
  elements: dict
  sample:
    - {path: /usr/lib/postgresql/15/lib/pg_tviews-0.2.0.so, action: create, sha256: 3f2a..., mode: '0644',
       owner: root, group: root}
stash:
  description: The stash of the running version (path, version, changed, files with name, kind, source_dir, sha256,
    size, mode, owner, group, uid, gid).
  returned: when a stash was made, checked or used
  type: dict
created:
  description: True when O(state=installed) created the version's files where none existed (O(state=absent)
    undoes the run completely).
  returned: when state is installed
  type: bool
created_primary:
  description: True when O(state=installed) also created the primary control file (the server had no pg_tviews).
  returned: when state is installed
  type: bool
build_skipped:
  description: True when a build method found a matching receipt and did not build.
  returned: when state is installed
  type: bool
payload:
  description: What was found in the package (layout C(upstream) or C(flat), pg_major detected, skipped scripts of
    other versions, notes).
  returned: when state is installed and the package was unpacked
  type: dict
problems:
  description: With O(state=verified), what is wrong (empty when the version is installed correctly).
  returned: when state is verified
  type: list
  elements: str
database_checks:
  description: With O(database_checks=true), what the server reported - scratch_db, available, library_version,
    extversion and probin (the libraries the C functions are bound to) in the throwaway database, and per database
    with the extension its name, extversion, library_version and ok; or skipped with the reason.
  returned: when state is verified and database_checks is true
  type: dict
  sample:
    scratch_db: pgtviews_install_verify
    available: true
    library_version: 0.2.0
    extversion: 0.2.0
    probin: [$libdir/pg_tviews-0.2.0]
    databases:
      - {name: app, extversion: 0.1.0, library_version: 0.1.0-beta.8, ok: true}
stashes:
  description: Versions stashed for this PostgreSQL major (O(state=inspected), O(state=finalized)).
  returned: when state is inspected or finalized
  type: list
  elements: str
'''

from ansible_collections.pgtviews.ops.plugins.module_utils.connection import TviewsModule, connection_argument_spec, ensure_psycopg2
from ansible_collections.pgtviews.ops.plugins.module_utils.install.runner import Runner


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        dict(
            state=dict(type='str', default='installed',
                       choices=['installed', 'stashed', 'restored', 'finalized', 'absent', 'verified', 'inspected']),
            version=dict(type='str'),
            extension=dict(type='str', default='pg_tviews'),
            pg_config=dict(type='str', default='pg_config'),
            src=dict(type='path'),
            method=dict(type='str', default='artifact', choices=['artifact', 'pgxs', 'pgrx']),
            checksum=dict(type='str'),
            stash_dir=dict(type='path'),
            receipt_dir=dict(type='path'),
            work_dir=dict(type='path', default='/var/tmp/pgtviews-install'),
            make=dict(type='str', default='make'),
            make_args=dict(type='list', elements='str', default=[]),
            cargo=dict(type='str', default='cargo'),
            cargo_args=dict(type='list', elements='str'),
            build_env=dict(type='dict', default={}),
            keep_build=dict(type='bool', default=False),
            remove_stash=dict(type='bool', default=False),
            remove_primary=dict(type='bool', default=False),
            database_checks=dict(type='bool', default=False),
            scratch_db=dict(type='str', default='pgtviews_install_verify'),
            version_function=dict(type='str', default='pg_tviews_version'),
            databases=dict(type='list', elements='str'),
        )
    )
    module = TviewsModule(
        argument_spec=argument_spec,
        required_if=[
            ('state', 'installed', ('version', 'src')),
            ('state', 'finalized', ('version',)),
            ('state', 'absent', ('version',)),
            ('state', 'verified', ('version',)),
            ('state', 'stashed', ('stash_dir',)),
            ('state', 'restored', ('stash_dir',)),
        ],
        supports_check_mode=True,
    )
    runner = Runner(module.params, check_mode=module.check_mode, diff=module._diff,
                    require_psycopg2=lambda: ensure_psycopg2(module))
    failure = runner.run()
    if failure:
        failed = dict(runner.result)
        failed.update(msg=failure, changed=False)
        module.fail_json(**failed)
    module.exit_json(**runner.result)


if __name__ == '__main__':
    main()
