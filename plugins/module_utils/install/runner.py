# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The states of the extension files module (installed, stashed, restored, finalized, absent,
verified, inspected) over files.py: build staging, receipts, stash decisions, diffs, and the
database checks of a verified install (a throwaway database with CREATE EXTENSION, and every
database's library still matching it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import shutil
import tempfile

from ansible_collections.pgtviews.ops.plugins.module_utils.host import faults
from ansible_collections.pgtviews.ops.plugins.module_utils.connection import DatabaseConnectionError, connect
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.detect import connectable_databases
from ansible_collections.pgtviews.ops.plugins.module_utils.host.clients import program_path
from ansible_collections.pgtviews.ops.plugins.module_utils.install import files as ef


def _diff_for(actions, removed=()):
    """One diff entry per changed file: checksum/owner/mode lines, plus the text of control files."""
    diffs = []
    for a in actions:
        if a.action == 'unchanged':
            continue
        before = ''
        if a.before:
            before = 'sha256 %s mode %s owner %s:%s\n' % (
                a.before['sha256'], a.before['mode'], a.before['owner'], a.before['group'])
            if a.text is not None or a.dest.endswith('.control'):
                try:
                    with open(a.dest) as fh:
                        before += fh.read()
                except (OSError, UnicodeDecodeError):
                    pass
        d = a.as_dict()
        after = 'sha256 %s mode %s owner %s:%s\n' % (d['sha256'], d['mode'], d['owner'], d['group'])
        if a.text is not None:
            after += a.text
        elif a.dest.endswith('.control') and a.src_path:
            with open(a.src_path) as fh:
                after += fh.read()
        diffs.append({'before_header': a.dest if a.before else '/dev/null', 'after_header': a.dest,
                      'before': before, 'after': after})
    for path in removed:
        diffs.append({'before_header': path, 'after_header': '/dev/null', 'before': 'sha256 %s\n' % ef.sha256_file(path),
                      'after': ''})
    return diffs


class Runner(object):
    """One run of the extension files module: ``run()`` fills ``result`` and returns None, or
    the failure message. ``require_psycopg2`` is called before the database checks (the
    module's own check, which fails the module when the driver is missing)."""

    def __init__(self, params, check_mode=False, diff=False, require_psycopg2=None):
        self.p = params
        self.check = check_mode
        self.diff = diff
        self.require_psycopg2 = require_psycopg2
        self.result = {'changed': False}
        self.warnings = []

    # ----------------------------------------------------------------- common
    def pg_config_path(self):
        cmd = self.p['pg_config']
        if os.sep in cmd:
            return cmd
        found = program_path(cmd)
        if not found:
            raise ef.ExtensionFilesError("pg_config %r is not on PATH; set pg_config to the full path of the "
                                         "installation's pg_config" % cmd)
        return found

    def setup(self):
        self.paths = ef.read_pg_config(self.pg_config_path())
        self.ext = self.p['extension']
        if not ef.VERSION_RE.match(self.ext):
            raise ef.ExtensionFilesError("invalid extension name %r" % self.ext)
        self.inst = ef.Installation(self.paths, self.ext)
        self.result['pg'] = self.paths.as_dict()

    def finish(self):
        self.result['installation'] = ef.Installation(self.paths, self.ext).as_dict()
        if self.warnings:
            self.result['warnings'] = self.warnings

    def require(self, *names):
        missing = [n for n in names if not self.p.get(n)]
        if missing:
            raise ef.ExtensionFilesError("state=%s requires %s" % (self.p['state'], ', '.join(missing)))

    def stash_if_needed(self, target_version):
        """Stash the running version before anything changes (no-op without stash_dir, without a
        primary control file, or when the primary version is the target)."""
        if not self.p.get('stash_dir') or self.inst.primary_text is None or self.inst.primary_version == target_version:
            return None
        st = ef.ensure_stash(self.inst, self.p['stash_dir'], target_version, check_mode=self.check)
        self.result['stash'] = st
        if st['changed']:
            self.result['changed'] = True
        return st

    # ----------------------------------------------------------------- installed
    def source_digest(self, src):
        if os.path.isdir(src):
            if self.p['method'] != 'pgrx':
                raise ef.ExtensionFilesError("src %s is a directory; method=%s takes a tarball" % (src, self.p['method']))
            if self.p.get('checksum'):
                raise ef.ExtensionFilesError("checksum applies to a tarball; src %s is a directory" % src)
            return 'tree:' + ef.tree_digest(src)
        digest = ef.sha256_file(src)
        want = ef.normalize_checksum(self.p.get('checksum'))
        if want and want != digest:
            raise ef.ExtensionFilesError("checksum mismatch for %s: expected sha256 %s, the file has %s: fetch the package "
                                         "again, or correct the checksum; nothing was unpacked or installed"
                                         % (src, want, digest))
        return digest

    def receipt_key(self, digest):
        return {'extension': self.ext, 'version': self.p['version'], 'method': self.p['method'],
                'source': digest, 'pg_config': self.paths.pg_config, 'pg_major': self.paths.major,
                'make_args': self.p['make_args'], 'cargo_args': self.p.get('cargo_args')}

    def build_env(self):
        env = dict(os.environ)
        env.update(dict((k, str(v)) for k, v in (self.p.get('build_env') or {}).items()))
        return env

    def command(self, name):
        cmd = self.p[name]
        if os.sep in cmd:
            return cmd
        path = self.build_env().get('PATH', os.environ.get('PATH', ''))
        for d in path.split(os.pathsep):
            cand = os.path.join(d, cmd)
            if d and os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
        raise ef.ExtensionFilesError("%s: command %r not found on PATH (%s)" % (name, cmd, path))

    def unpack(self, src, dest):
        if os.path.isdir(src):
            return src
        ef.safe_extract(src, dest)
        return dest

    def stage_artifact(self, src, scratch):
        root = self.unpack(src, os.path.join(scratch, 'unpacked'))
        return root

    def stage_pgxs(self, src, scratch):
        unpacked = self.unpack(src, os.path.join(scratch, 'src'))
        top = ef.single_top_dir(unpacked, 'Makefile')
        if top is None:
            raise ef.ExtensionFilesError("%s is not a PGXS source tarball: no Makefile at its top level" % src)
        if self.check:
            return None
        make = self.command('make')
        env = self.build_env()
        base = [make, '-C', top, 'PG_CONFIG=' + self.paths.pg_config]
        ef.run_build(base + list(self.p['make_args']), top, env, 'make (building %s %s)' % (self.ext, self.p['version']))
        stage = os.path.join(scratch, 'stage')
        ef.run_build(base + list(self.p['make_args']) + ['DESTDIR=' + stage, 'install'], top, env,
                     'make install into the staging directory')
        return stage

    def stage_pgrx(self, src, scratch):
        tree = self.unpack(src, os.path.join(scratch, 'src'))
        top = ef.single_top_dir(tree, 'Cargo.toml')
        if top is None:
            raise ef.ExtensionFilesError("%s is not a pgrx source tree: no Cargo.toml at its top level" % src)
        if self.check:
            return None
        cargo = self.command('cargo')
        stage = os.path.join(scratch, 'stage')
        os.makedirs(stage)
        args = self.p.get('cargo_args')
        if args is None:
            args = ['--no-default-features', '--features', 'pg%s' % self.paths.major]
        argv = [cargo, 'pgrx', 'package', '--pg-config', self.paths.pg_config, '--out-dir', stage] + list(args)
        ef.run_build(argv, top, self.build_env(), 'cargo pgrx package (building %s %s)' % (self.ext, self.p['version']))
        if not os.listdir(stage):
            fallback = os.path.join(top, 'target', 'release', '%s-pg%s' % (self.ext, self.paths.major))
            if os.path.isdir(fallback):
                return fallback
        return stage

    def planned_build_actions(self, refs):
        """Check mode without a build: the files a build would write, by name."""
        stem = ef.versioned_library_name(self.ext, self.p['version'])
        names = [(os.path.join(self.paths.pkglibdir, stem + ef.DLSUFFIX), 'pkglibdir'),
                 (os.path.join(self.paths.extdir, '%s--%s.control' % (self.ext, self.p['version'])), 'extdir'),
                 (os.path.join(self.paths.extdir, '%s--%s.sql' % (self.ext, self.p['version'])), 'extdir')]
        if self.inst.primary_text is None:
            names.append((self.inst.primary_control, 'extdir'))
        out = []
        for path, kind in names:
            out.append({'path': path, 'action': 'update' if os.path.exists(path) else 'create',
                        'sha256': None, 'mode': refs[kind]['mode'], 'owner': refs[kind]['owner'],
                        'group': refs[kind]['group'], 'note': 'would be built; content not known in check mode'})
        return out

    def do_installed(self):
        self.require('version', 'src')
        version = ef.check_version(self.p['version'])
        src = self.p['src']
        method = self.p['method']
        self.result.update({'created': False, 'created_primary': False, 'build_skipped': False, 'files': []})
        if version == self.inst.primary_version and version not in self.inst.side_by_side:
            self.result['msg'] = ("%s %s is the primary (default) version of this installation, installed without a "
                                  "secondary control file; nothing to do" % (self.ext, version))
            return
        if not os.path.exists(src):
            if self.check:
                self.result['changed'] = True
                self.result['msg'] = "%s is not on the host yet (check mode); %s %s would be installed" % (src, self.ext,
                                                                                                           version)
                return
            raise ef.ExtensionFilesError("source %s does not exist on the managed node: point src (tviews_install_src with "
                                         "tviews_install_src_remote=true) at the release tarball on the host; nothing was "
                                         "installed" % src)
        digest = self.source_digest(src)
        refs = ef.reference_attrs(self.paths)
        existing_before = ef.version_files(self.inst, version)
        build = method in ('pgxs', 'pgrx')
        receipt = None
        if build and self.p.get('receipt_dir'):
            receipt = ef.receipt_path(self.p['receipt_dir'], self.paths.major, self.ext, version)
            if ef.receipt_matches(ef.read_receipt(receipt), self.receipt_key(digest)):
                # Same input, files unchanged: only owner/mode could have drifted.
                problems = self.attr_problems(version, refs)
                if not problems:
                    self.result['build_skipped'] = True
                    self.stash_if_needed(version)
                    self.result['files'] = [{'path': p, 'action': 'unchanged'} for p in ef.version_files(self.inst, version)]
                    self.result['msg'] = "%s %s is installed from this source already (receipt %s)" % (
                        self.ext, version, receipt)
                    return
        # Scratch space: deterministic per source for builds (same path, same bytes), per run otherwise.
        if self.check or not build:
            parent = self.p['work_dir'] if os.path.isdir(self.p['work_dir']) else None
            scratch = tempfile.mkdtemp(prefix='pgtviews-stage-', dir=parent)
        else:
            scratch = os.path.join(self.p['work_dir'], 'build', '%s-%s-pg%s-%s' % (
                self.ext, version, self.paths.major, digest.rsplit(':', maxsplit=1)[-1][:16]))
            if os.path.exists(scratch):
                shutil.rmtree(scratch)
            os.makedirs(scratch, mode=0o755)
        try:
            if method == 'artifact':
                root = self.stage_artifact(src, scratch)
            elif method == 'pgxs':
                root = self.stage_pgxs(src, scratch)
            else:
                root = self.stage_pgrx(src, scratch)
            if root is None:   # check mode, build method: report by name
                self.stash_if_needed(version)
                self.result['files'] = self.planned_build_actions(refs)
                self.result['changed'] = True
                self.result['msg'] = "check mode: %s %s would be built with %s and installed side by side" % (
                    self.ext, version, method)
                return
            payload = ef.find_payload(root, self.ext, version, self.paths.major, path_markers=not build)
            self.result['payload'] = {'layout': payload.layout, 'pg_major': payload.pg_major,
                                      'library': os.path.relpath(payload.library_path, root),
                                      'control': os.path.relpath(payload.control_path, root),
                                      'scripts': sorted(payload.scripts), 'skipped_scripts': payload.skipped,
                                      'notes': payload.notes}
            actions = ef.install_actions(self.inst, payload, refs)
            for a in actions:
                if a.action == 'update' and a.kind == 'pkglibdir':
                    self.warnings.append("%s exists with different content and is replaced; databases already on %s %s "
                                         "load the new file in new sessions" % (a.dest, self.ext, version))
            # Stash before the first write.
            self.stash_if_needed(version)
            self.result['files'] = [a.as_dict() for a in actions]
            changing = [a for a in actions if a.action != 'unchanged']
            if changing:
                self.result['changed'] = True
                if self.diff:
                    self.result['diff'] = _diff_for(changing)
            self.result['created'] = bool(changing) and not existing_before
            self.result['created_primary'] = any(a.dest == self.inst.primary_control and a.action == 'create'
                                                 for a in actions)
            if not self.check:
                ef.apply_actions(actions)
                if receipt:
                    files = [{'path': a.dest, 'sha256': a.sha256} for a in actions]
                    key = self.receipt_key(digest)
                    current = ef.read_receipt(receipt)
                    if not current or current.get('key') != key or current.get('files') != files:
                        ef.write_receipt(receipt, key, files)
                        self.result['changed'] = True
            verb = 'would install' if self.check else 'installed'
            self.result['msg'] = ("%s %s %s side by side (%d of %d files changed)" % (verb, self.ext, version,
                                                                                      len(changing), len(actions))
                                  if changing else "%s %s is installed side by side; no change" % (self.ext, version))
        finally:
            if self.check or not build or not self.p['keep_build']:
                shutil.rmtree(scratch, ignore_errors=True)

    def attr_problems(self, version, refs):
        problems = []
        for path in ef.version_files(self.inst, version):
            kind = 'pkglibdir' if os.path.dirname(path) == self.paths.pkglibdir else 'extdir'
            problems += ef.check_attrs(path, refs[kind])
        return problems

    # ----------------------------------------------------------------- other states
    def do_stashed(self):
        self.require('stash_dir')
        if self.inst.primary_text is None:
            raise ef.ExtensionFilesError("no %s installed (no %s); nothing to stash" % (self.ext, self.inst.primary_control))
        st = ef.ensure_stash(self.inst, self.p['stash_dir'], self.p.get('version') or '', check_mode=self.check)
        self.result['stash'] = st
        self.result['changed'] = st['changed']

    def do_restored(self):
        self.require('stash_dir')
        version = self.p.get('version')
        if not version:
            stashes = ef.list_stashes(self.p['stash_dir'], self.paths.major)
            if len(stashes) != 1:
                raise ef.ExtensionFilesError("give the version to restore: stashes for PostgreSQL %s at %s are: %s"
                                             % (self.paths.major, self.p['stash_dir'], ', '.join(stashes) or 'none'))
            version = stashes[0]
        manifest, actions = ef.restore_actions(self.paths, self.p['stash_dir'], version)
        self.result['stash'] = {'path': ef.stash_path(self.p['stash_dir'], self.paths.major, version), 'version': version,
                                'files': manifest['files'], 'changed': False}
        self.result['files'] = [a.as_dict() for a in actions]
        changing = [a for a in actions if a.action != 'unchanged']
        if changing:
            self.result['changed'] = True
            if self.diff:
                self.result['diff'] = _diff_for(changing)
            if not self.check:
                ef.apply_actions(actions)
        self.result['msg'] = ('%s %s restored from the stash (%d files)' % (self.ext, version, len(changing))
                              if changing else '%s %s files match the stash; no change' % (self.ext, version))

    def do_finalized(self):
        self.require('version')
        version = ef.check_version(self.p['version'])
        sbs = self.inst.side_by_side.get(version)
        missing = []
        if not sbs:
            missing.append('%s--%s.control' % (self.ext, version))
        elif not os.path.isfile(sbs['library']):
            missing.append(sbs['library'])
        if '%s--%s.sql' % (self.ext, version) not in self.inst.scripts:
            missing.append('%s--%s.sql' % (self.ext, version))
        if missing:
            raise ef.ExtensionFilesError("%s %s is not installed side by side (missing %s); install it before finalizing"
                                         % (self.ext, version, ', '.join(missing)))
        if self.inst.primary_text is None:
            raise ef.ExtensionFilesError("no primary control file %s" % self.inst.primary_control)
        if not self.p['remove_stash']:
            self.stash_if_needed(version)
        new_text = ef.set_default_version(self.inst.primary_text, version)
        cur = ef.file_attrs(self.inst.primary_control)
        data = new_text.encode('utf-8')
        action = ef.FileAction(self.inst.primary_control, 'extdir', hashlib.sha256(data).hexdigest(),
                               int(cur['mode'], 8), cur['uid'], cur['gid'], data=data, text=new_text).evaluate()
        self.result['files'] = [action.as_dict()]
        removed = []
        if action.action != 'unchanged':
            self.result['changed'] = True
            if self.diff:
                self.result['diff'] = _diff_for([action])
            if not self.check:
                ef.apply_actions([action])
        if self.p['remove_stash'] and self.p.get('stash_dir'):
            for v in ef.list_stashes(self.p['stash_dir'], self.paths.major):
                if v == version:
                    continue
                d = ef.stash_path(self.p['stash_dir'], self.paths.major, v)
                removed.append(d)
                self.result['changed'] = True
                if not self.check:
                    shutil.rmtree(d)
        self.result['removed_stashes'] = removed
        if self.p.get('stash_dir'):
            self.result['stashes'] = [v for v in ef.list_stashes(self.p['stash_dir'], self.paths.major)
                                      if ef.stash_path(self.p['stash_dir'], self.paths.major, v) not in removed]
        self.result['msg'] = ('%s default_version set to %s' % (self.ext, version) if action.action != 'unchanged'
                              else '%s default_version is %s already' % (self.ext, version))

    def do_absent(self):
        self.require('version')
        version = ef.check_version(self.p['version'])
        files = ef.version_files(self.inst, version)
        if version == self.inst.primary_version:
            own_lib = os.path.join(self.paths.pkglibdir, ef.versioned_library_name(self.ext, version) + ef.DLSUFFIX)
            if not (self.p['remove_primary'] and self.inst.primary_library == own_lib):
                raise ef.ExtensionFilesError(
                    "%s is the primary (default) version; it cannot be removed as a side-by-side version (restore a "
                    "stash or finalize another version first; remove_primary=true removes a primary control file "
                    "that this module created on a server without pg_tviews)" % version)
            if os.path.isfile(own_lib) and own_lib not in files:
                files.append(own_lib)
            files = [self.inst.primary_control] + files
        else:
            files = [f for f in files if f not in (self.inst.primary_library, self.inst.primary_control)]
        self.result['files'] = [{'path': f, 'action': 'remove', 'sha256': ef.sha256_file(f)} for f in files]
        if files:
            self.result['changed'] = True
            if self.diff:
                self.result['diff'] = _diff_for([], removed=files)
            if not self.check:
                for f in files:
                    os.unlink(f)
        if self.p.get('receipt_dir') and not self.check:
            r = ef.receipt_path(self.p['receipt_dir'], self.paths.major, self.ext, version)
            if os.path.exists(r):
                os.unlink(r)
        self.result['msg'] = ('removed %d files of %s %s' % (len(files), self.ext, version) if files
                              else '%s %s has no side-by-side files; no change' % (self.ext, version))

    def do_verified(self):
        self.require('version')
        version = ef.check_version(self.p['version'])
        refs = ef.reference_attrs(self.paths)
        problems = []
        sbs = self.inst.side_by_side.get(version)
        if sbs:
            lib = sbs['library']
            want = ef.versioned_library_name(self.ext, version) + ef.DLSUFFIX
            if os.path.basename(lib) != want:
                problems.append('%s names library %s, expected %s' % (sbs['control'], lib, want))
        elif version == self.inst.primary_version:
            lib = self.inst.primary_library
        else:
            lib = None
            problems.append('%s %s is not installed (no %s--%s.control)' % (self.ext, version, self.ext, version))
        if lib and not os.path.isfile(lib):
            problems.append('library %s is missing' % lib)
        if '%s--%s.sql' % (self.ext, version) not in self.inst.scripts:
            problems.append('%s--%s.sql is missing' % (self.ext, version))
        checked = []
        for path in ef.version_files(self.inst, version) + ([lib] if lib and not sbs and os.path.isfile(lib) else []):
            kind = 'pkglibdir' if os.path.dirname(path) == self.paths.pkglibdir else 'extdir'
            problems += ef.check_attrs(path, refs[kind])
            checked.append(dict(ef.file_record(path), action='checked'))
        self.result['files'] = checked
        # The running version's files must still be the stashed ones.
        if self.p.get('stash_dir') and self.inst.primary_version and self.inst.primary_version != version:
            d = ef.stash_path(self.p['stash_dir'], self.paths.major, self.inst.primary_version)
            if os.path.isfile(os.path.join(d, ef.MANIFEST_NAME)):
                manifest = ef.read_manifest(d)
                records = ef.stash_plan(self.inst, version)
                problems += ['running version changed since it was stashed: %s' % x
                             for x in ef.compare_records(records, manifest['files'])]
                self.result['stash'] = {'path': d, 'version': self.inst.primary_version, 'changed': False,
                                        'files': manifest['files']}
        if self.p['database_checks'] and not problems:
            if self.check:
                self.result['database_checks'] = {'skipped': 'check mode (they create a throwaway database)'}
            else:
                expected = '$libdir/' + os.path.splitext(os.path.basename(lib))[0] if lib else None
                problems += self.database_checks(version, expected)
        self.result['problems'] = problems
        self.result['reference'] = refs
        if problems:
            raise ef.ExtensionFilesError('%s %s: %s' % (self.ext, version, '; '.join(problems)))
        self.result['msg'] = '%s %s is installed correctly' % (self.ext, version)

    # ----------------------------------------------------------------- database checks
    @staticmethod
    def version_matches(library_version, extversion):
        """pg_tviews_version() may carry a pre-release suffix: 0.1.0 reports 0.1.0-beta.8."""
        lv = (library_version or '').strip()
        return lv == extversion or lv.startswith(extversion + '-')

    def database_checks(self, version, expected_probin):
        """In a throwaway database: CREATE EXTENSION <ext> VERSION <version>, read the version
        function and the library its C functions are bound to, drop the database. Then, in a
        new session of every database that has the extension, check that the version function
        still matches that database's extversion. Returns problems; changes nothing lasting."""
        if self.require_psycopg2 is not None:
            self.require_psycopg2()
        import psycopg2
        from psycopg2 import sql as pgsql
        problems = []
        out = {'scratch_db': self.p['scratch_db'], 'databases': []}
        self.result['database_checks'] = out
        ext, fn, scratch = self.ext, self.p['version_function'], self.p['scratch_db']
        conn = connect(self.p, dbname=self.p['login_db'])
        try:
            with conn.cursor() as cur:
                cur.execute('SELECT pg_is_in_recovery()')
                if cur.fetchone()[0]:
                    out['skipped'] = 'the server is a standby (in recovery); nothing was checked'
                    return problems
                cur.execute('SELECT 1 FROM pg_available_extension_versions WHERE name = %s AND version = %s',
                            (ext, version))
                if cur.fetchone() is None:
                    problems.append('pg_available_extension_versions does not list %s %s' % (ext, version))
                    return problems
                out['available'] = True
                names = [n for n in connectable_databases(conn) if n != scratch]
                drop = pgsql.SQL('DROP DATABASE IF EXISTS {}').format(pgsql.Identifier(scratch))
                cur.execute(drop)
                cur.execute(pgsql.SQL('CREATE DATABASE {} TEMPLATE template0').format(pgsql.Identifier(scratch)))
            try:
                sconn = connect(self.p, dbname=scratch)
                try:
                    with sconn.cursor() as cur:
                        cur.execute(pgsql.SQL('CREATE EXTENSION {} VERSION {}').format(
                            pgsql.Identifier(ext), pgsql.Literal(version)))
                        cur.execute(pgsql.SQL('SELECT {}()').format(pgsql.Identifier(fn)))
                        out['library_version'] = cur.fetchone()[0]
                        cur.execute('SELECT extversion FROM pg_extension WHERE extname = %s', (ext,))
                        out['extversion'] = cur.fetchone()[0]
                        cur.execute("SELECT DISTINCT p.probin FROM pg_proc p "
                                    "JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid "
                                    "AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' "
                                    "JOIN pg_extension e ON e.oid = d.refobjid "
                                    "WHERE e.extname = %s AND p.probin IS NOT NULL ORDER BY 1", (ext,))
                        out['probin'] = [r[0] for r in cur.fetchall()]
                finally:
                    sconn.close()
            except psycopg2.Error as e:
                problems.append('CREATE EXTENSION %s VERSION %s in the throwaway database %s failed: %s'
                                % (ext, version, scratch, ' '.join(str(e).split())))
            finally:
                with conn.cursor() as cur:
                    cur.execute(drop)
            if not problems:
                if out['extversion'] != version:
                    problems.append('the throwaway database got extversion %s, not %s' % (out['extversion'], version))
                if not self.version_matches(out['library_version'], version):
                    problems.append('%s() returned %r in the throwaway database, expected %s'
                                    % (fn, out['library_version'], version))
                if expected_probin and out['probin'] != [expected_probin]:
                    problems.append('the C functions of %s %s are bound to %s, expected %s'
                                    % (ext, version, ', '.join(out['probin']) or 'nothing', expected_probin))
        finally:
            conn.close()
        # Every database with the extension, each in a new session: its library still matches it.
        wanted = self.p.get('databases')
        for name in (wanted if wanted else names):
            rec = {'name': name}
            out['databases'].append(rec)
            try:
                dconn = connect(self.p, dbname=name)
            except DatabaseConnectionError as e:
                problems.append(str(e))
                continue
            try:
                with dconn.cursor() as cur:
                    cur.execute('SELECT extversion FROM pg_extension WHERE extname = %s', (ext,))
                    row = cur.fetchone()
                    rec['extversion'] = row[0] if row else None
                    if row:
                        cur.execute(pgsql.SQL('SELECT {}()').format(pgsql.Identifier(fn)))
                        rec['library_version'] = cur.fetchone()[0]
                        rec['ok'] = self.version_matches(rec['library_version'], rec['extversion'])
                        if not rec['ok']:
                            problems.append('database %s has %s %s but %s() now returns %r: the library under it was '
                                            'replaced' % (name, ext, rec['extversion'], fn, rec['library_version']))
            except psycopg2.Error as e:
                rec['ok'] = False
                problems.append('database %s: calling %s() failed: %s' % (name, fn, ' '.join(str(e).split())))
            finally:
                dconn.close()
        return problems

    def do_inspected(self):
        if self.p.get('stash_dir'):
            self.result['stashes'] = ef.list_stashes(self.p['stash_dir'], self.paths.major)
        self.result['reference'] = ef.reference_attrs(self.paths)

    def run(self):
        try:
            self.setup()
            getattr(self, 'do_' + self.p['state'])()
            self.finish()
            faults.point('install', self.p['state'], self.p['version'])
        except (ef.ExtensionFilesError, DatabaseConnectionError) as e:
            if hasattr(self, 'paths'):
                try:
                    self.finish()
                except Exception:   # keep the original error
                    pass
            self.result.pop('changed', None)
            return str(e)
        return None
