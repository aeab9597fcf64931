# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extension files on a PostgreSQL server, installed side by side (docs/install.md).

A pg_tviews version is normally installed as ``pg_tviews.so`` + ``pg_tviews.control`` +
``pg_tviews--<v>.sql``; every version uses the same library and control file names, so a
plain ``make install`` of a new version swaps the code under every live database of the
old one. Here a new version goes in beside the running one:

* ``<pkglibdir>/pg_tviews-<v>.so``               the new library, under a versioned name
* ``<extdir>/pg_tviews--<v>.control``            a secondary control file whose
                                                   ``module_pathname`` is ``$libdir/pg_tviews-<v>``
* ``<extdir>/pg_tviews--<v>.sql`` (and update scripts ending at ``<v>``)

and the primary ``pg_tviews.control``/library of the running version are never written.
Before any file changes, the running (primary) version's files are copied into a stash
with a manifest of checksums, so they can be restored byte for byte.

Every write goes through a temporary file in the destination directory and a rename, so a
backend that has the old library mapped keeps it, and a reader never sees half a file.
Nothing here imports Ansible: the module is a thin front end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
import zlib

DLSUFFIX = '.so'
STASH_KIND = 'pgtviews.ops/extension-stash'
RECEIPT_KIND = 'pgtviews.ops/extension-receipt'
SCHEMA_VERSION = 1
MANIFEST_NAME = 'manifest.json'
TMP_PREFIX = '.pgtviews-tmp-'
VERSION_RE = re.compile(r'^[0-9A-Za-z][0-9A-Za-z._+~-]*$')
# Parameters a secondary control file must not set (PostgreSQL rejects them there).
PRIMARY_ONLY_PARAMS = ('directory', 'default_version')


class ExtensionFilesError(Exception):
    """A check failed; the message says what, where and what to do. Nothing was changed
    unless the message says so."""


# --------------------------------------------------------------------------- small helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b''):
            h.update(block)
    return h.hexdigest()


def normalize_checksum(value):
    """'sha256:<hex>' or '<hex>' -> lower-case hex, '' when empty."""
    if not value:
        return ''
    value = value.strip()
    if ':' in value:
        algo, value = value.split(':', 1)
        if algo.strip().lower() != 'sha256':
            raise ExtensionFilesError("checksum %r: only sha256 is supported (write 'sha256:<64 hex digits>')" % algo)
    value = value.strip().lower()
    if not re.match(r'^[0-9a-f]{64}$', value):
        raise ExtensionFilesError("checksum must be 64 hexadecimal digits (sha256), got %r" % value)
    return value


def check_version(version):
    if not version or not VERSION_RE.match(version) or '--' in version:
        raise ExtensionFilesError("invalid extension version %r (letters, digits, '.', '_', '+', '~', '-'; no '--')"
                                  % (version,))
    return version


def version_key(version):
    """Sort key for versions like 0.1.0, 0.1.0-beta.8, 0.10.2."""
    parts = re.split(r'[.\-+~_]', version)
    return [(0, int(p), '') if p.isdigit() else (1, 0, p) for p in parts]


def owner_names(uid, gid):
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def resolve_uid(name, fallback):
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, TypeError):
        return fallback


def resolve_gid(name, fallback):
    try:
        return grp.getgrnam(name).gr_gid
    except (KeyError, TypeError):
        return fallback


def file_attrs(path):
    st = os.stat(path)
    user, group = owner_names(st.st_uid, st.st_gid)
    return {'mode': '%04o' % stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
            'owner': user, 'group': group}


def file_record(path):
    rec = file_attrs(path)
    rec['path'] = path
    rec['sha256'] = sha256_file(path)
    rec['size'] = os.path.getsize(path)
    return rec


# --------------------------------------------------------------------------- control files

def _split_control_line(line):
    """'key = value  # c' -> (key, raw value) or None. Follows PostgreSQL's GUC-file syntax
    closely enough for control files: '=' optional, values quoted with '' as the escape."""
    m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=\s*|\s+)(.*)$", line)
    if not m:
        return None
    key, rest = m.group(1), m.group(3)
    if rest.startswith("'"):
        i, out = 1, []
        while i < len(rest):
            c = rest[i]
            if c == "'":
                if rest[i + 1:i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                return key, rest[:i + 1], ''.join(out)
            out.append(c)
            i += 1
        raise ExtensionFilesError("unterminated quoted value for %s in control file line %r" % (key, line))
    value = rest.split('#', 1)[0].strip()
    return key, value, value


def parse_control(text):
    """Ordered list of (key, raw_value, value) from control file text."""
    params = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        parsed = _split_control_line(line)
        if parsed is None:
            raise ExtensionFilesError("cannot parse control file line %r" % line)
        params.append(parsed)
    return params


def control_dict(text):
    return dict((k, v) for k, _raw, v in parse_control(text))


def quote_control(value):
    return "'%s'" % value.replace("'", "''")


def render_secondary_control(payload_control_text, extension, version, library_name):
    """The secondary control file of a side-by-side version: every parameter of the
    version's own control file that a secondary control file may carry, with
    module_pathname pointing at the versioned library."""
    lines = ['# %s %s, installed side by side by pgtviews.ops (tviews_extension_files).' % (extension, version),
             '# Used only for version %s; module_pathname points at its own library.' % version]
    seen = False
    for key, raw, _value in parse_control(payload_control_text):
        if key in PRIMARY_ONLY_PARAMS:
            continue
        if key == 'module_pathname':
            raw = quote_control('$libdir/' + library_name)
            seen = True
        lines.append('%s = %s' % (key, raw))
    if not seen:
        lines.append('module_pathname = %s' % quote_control('$libdir/' + library_name))
    return '\n'.join(lines) + '\n'


def render_primary_control(payload_control_text, version, library_name):
    """A primary control file for a server that had no version installed: the version's own
    control file with default_version = version and module_pathname = the versioned library."""
    out, seen_mp, seen_dv = [], False, False
    for line in payload_control_text.splitlines():
        parsed = _split_control_line(line) if line.strip() and not line.strip().startswith('#') else None
        if parsed and parsed[0] == 'module_pathname':
            line, seen_mp = 'module_pathname = %s' % quote_control('$libdir/' + library_name), True
        elif parsed and parsed[0] == 'default_version':
            line, seen_dv = 'default_version = %s' % quote_control(version), True
        out.append(line)
    if not seen_dv:
        out.append('default_version = %s' % quote_control(version))
    if not seen_mp:
        out.append('module_pathname = %s' % quote_control('$libdir/' + library_name))
    return '\n'.join(out) + '\n'


def set_default_version(control_text, version):
    """Control text with default_version set to version; every other byte is kept."""
    out, done = [], False
    lines = control_text.split('\n')
    for line in lines:
        parsed = _split_control_line(line) if line.strip() and not line.strip().startswith('#') else None
        if parsed and parsed[0] == 'default_version':
            if not done:
                out.append('default_version = %s' % quote_control(version))
                done = True
            continue
        out.append(line)
    text = '\n'.join(out)
    if not done:
        if text and not text.endswith('\n'):
            text += '\n'
        text += 'default_version = %s\n' % quote_control(version)
    return text


def library_from_module_pathname(module_pathname, extension, pkglibdir):
    """('$libdir/pg_tviews-0.2.0' | None) -> (library file name, absolute path)."""
    mp = module_pathname or ('$libdir/' + extension)
    if mp.startswith('$libdir/'):
        base = mp[len('$libdir/'):]
        directory = pkglibdir
    else:
        directory, base = os.path.split(mp)
    if not base.endswith(DLSUFFIX):
        base += DLSUFFIX
    return base, os.path.join(directory, base)


# --------------------------------------------------------------------------- scripts

def script_versions(name, extension):
    """'pg_tviews--0.2.0.sql' -> (None, '0.2.0'); 'pg_tviews--0.1.0--0.2.0.sql' ->
    ('0.1.0', '0.2.0'); anything else -> None."""
    prefix = extension + '--'
    if not (name.startswith(prefix) and name.endswith('.sql')):
        return None
    parts = name[len(prefix):-len('.sql')].split('--')
    if len(parts) == 1 and parts[0]:
        return None, parts[0]
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    return None


def secondary_control_version(name, extension):
    prefix = extension + '--'
    if name.startswith(prefix) and name.endswith('.control'):
        v = name[len(prefix):-len('.control')]
        if v and '--' not in v:
            return v
    return None


# --------------------------------------------------------------------------- pg_config

class PgPaths(object):
    def __init__(self, pg_config, version_string, pkglibdir, sharedir):
        self.pg_config = pg_config
        self.version_string = version_string
        self.major = pg_major_of(version_string)
        self.pkglibdir = pkglibdir
        self.sharedir = sharedir
        self.extdir = os.path.join(sharedir, 'extension')

    def dir_of(self, kind):
        return {'pkglibdir': self.pkglibdir, 'extdir': self.extdir}[kind]

    def as_dict(self):
        return {'pg_config': self.pg_config, 'pg_version': self.version_string, 'pg_major': self.major,
                'pkglibdir': self.pkglibdir, 'extdir': self.extdir}


def pg_major_of(version_string):
    """'PostgreSQL 15.20 (Debian ...)' -> '15'; 'PostgreSQL 9.6.24' -> '9.6'."""
    m = re.search(r'(\d+)(?:\.(\d+))?', version_string or '')
    if not m:
        raise ExtensionFilesError("cannot read a PostgreSQL version from pg_config --version output %r" % version_string)
    major = int(m.group(1))
    if major < 10:
        return '%d.%s' % (major, m.group(2) or '0')
    return str(major)


def read_pg_config(pg_config):
    if not os.path.isfile(pg_config) or not os.access(pg_config, os.X_OK):
        raise ExtensionFilesError("pg_config %s does not exist or is not executable (set tviews_pg_config / pg_config "
                                  "to the pg_config of the PostgreSQL installation to change)" % pg_config)
    try:
        out = subprocess.run([pg_config, '--version', '--pkglibdir', '--sharedir'], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, check=True, universal_newlines=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError) as e:
        raise ExtensionFilesError("cannot run %s: %s" % (pg_config, e))
    if len(out) < 3:
        raise ExtensionFilesError("unexpected output from %s: %r" % (pg_config, out))
    paths = PgPaths(pg_config, out[0].strip(), out[1].strip(), out[2].strip())
    for d in (paths.pkglibdir, paths.extdir):
        if not os.path.isdir(d):
            raise ExtensionFilesError("%s reports %s, which is not a directory" % (pg_config, d))
    return paths


# --------------------------------------------------------------------------- library magic block

def _elf_endian(data):
    if data[:4] != b'\x7fELF':
        return None
    return '<' if data[5:6] == b'\x01' else '>'


def magic_blocks(data):
    """Candidate PG_MODULE_MAGIC blocks in a shared library's bytes: a list of tuples
    (len, version, funcmaxargs, indexmaxkeys, namedatalen, float8byval) whose version is
    a PostgreSQL major times 100 (the layout is stable from PostgreSQL 10 to 18)."""
    endian = _elf_endian(data)
    if endian is None:
        return []
    found = []
    tail = struct.pack(endian + 'iii', 100, 32, 64)
    for m in re.finditer(re.escape(tail), data):
        start = m.start() - 8
        if start < 0:
            continue
        length, version = struct.unpack(endian + 'ii', data[start:start + 8])
        if version % 100 or not 1000 <= version <= 9900 or not 20 <= length <= 512:
            continue
        byval = struct.unpack(endian + 'i', data[m.end():m.end() + 4])[0] if m.end() + 4 <= len(data) else None
        found.append((length, version, 100, 32, 64, byval))
    return found


def library_pg_majors(path):
    """PostgreSQL majors a library was built for, read from its magic block ([] if unknown)."""
    try:
        with open(path, 'rb') as fh:
            data = fh.read()
    except OSError:
        return []
    majors = sorted(set(str(b[1] // 100) for b in magic_blocks(data)), key=int)
    return majors


# --------------------------------------------------------------------------- archives and trees

def safe_extract(tarball, dest):
    """Extract a tarball under dest, refusing absolute paths, '..', links that leave the tree
    and special files."""
    try:
        tf = tarfile.open(tarball)
    except (tarfile.TarError, OSError) as e:
        raise ExtensionFilesError("%s is not a readable tar archive: %s" % (tarball, e))
    with tf:
        root = os.path.realpath(dest)
        try:
            members = tf.getmembers()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise ExtensionFilesError("%s is cut short or damaged (%s): fetch the package again (and compare it with "
                                      "its published checksum); nothing was unpacked or installed"
                                      % (tarball, ' '.join(str(e).split()) or type(e).__name__))
        if not members:
            raise ExtensionFilesError("%s is an empty archive" % tarball)
        for m in members:
            name = m.name
            target = os.path.realpath(os.path.join(root, name))
            if name.startswith('/') or (target != root and not target.startswith(root + os.sep)):
                raise ExtensionFilesError("%s: member %r would be written outside the extraction directory" % (tarball, name))
            if m.issym() or m.islnk():
                link = m.linkname
                base = os.path.dirname(target) if m.issym() else root
                lt = os.path.realpath(os.path.join(base, link))
                if link.startswith('/') or (lt != root and not lt.startswith(root + os.sep)):
                    raise ExtensionFilesError("%s: link %r -> %r points outside the archive" % (tarball, name, link))
            elif not (m.isfile() or m.isdir()):
                raise ExtensionFilesError("%s: member %r is a device or fifo" % (tarball, name))
        try:
            if hasattr(tarfile, 'data_filter'):
                tf.extractall(dest, filter='data')
            else:
                tf.extractall(dest)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise ExtensionFilesError("cannot extract %s (%s): fetch the package again; nothing was installed"
                                      % (tarball, ' '.join(str(e).split()) or type(e).__name__))


def tree_digest(root, exclude=('target', '.git')):
    """sha256 over a source tree's relative paths, executable bits and contents."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (dirpath == root and d in exclude))
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            h.update(rel.encode('utf-8', 'surrogateescape') + b'\0')
            if os.path.islink(p):
                h.update(b'L' + os.readlink(p).encode('utf-8', 'surrogateescape'))
                continue
            h.update(b'X' if os.access(p, os.X_OK) else b'F')
            h.update(sha256_file(p).encode('ascii'))
    return h.hexdigest()


def single_top_dir(root, marker):
    """The directory holding `marker` (a file name): root itself or its only subdirectory."""
    if os.path.exists(os.path.join(root, marker)):
        return root
    entries = [e for e in os.listdir(root) if not e.startswith('.')]
    if len(entries) == 1 and os.path.isdir(os.path.join(root, entries[0])):
        top = os.path.join(root, entries[0])
        if os.path.exists(os.path.join(top, marker)):
            return top
    return None


# --------------------------------------------------------------------------- payload

_PGRX_PKG_RE = re.compile(r'-pg(\d+)$')


def path_pg_majors(relpath):
    """PostgreSQL majors named by a path inside an artifact: '<ext>-pg15' package
    directories and '.../postgresql/15/...' components."""
    parts = relpath.replace(os.sep, '/').split('/')
    majors = set()
    for i, p in enumerate(parts[:-1]):
        m = _PGRX_PKG_RE.search(p)
        if m:
            majors.add(m.group(1))
        if p in ('postgresql', 'pgsql') and i + 1 < len(parts) - 1 and re.match(r'^\d+(\.\d+)?$', parts[i + 1]):
            majors.add(parts[i + 1])
        m = re.match(r'^(?:postgresql|pgsql)-?(\d+)$', p)
        if m:
            majors.add(m.group(1))
    return majors


class Payload(object):
    """The validated files of one version, found in an unpacked artifact or build output."""

    def __init__(self, extension, version, control_path, control_text, library_path, library_name, scripts,
                 skipped, layout, pg_major, notes):
        self.extension = extension
        self.version = version
        self.control_path = control_path
        self.control_text = control_text
        self.library_path = library_path
        self.library_name = library_name   # file name in the payload, e.g. pg_tviews.so
        self.scripts = scripts             # {file name: path} for scripts ending at version
        self.skipped = skipped             # file names of other versions' scripts, not installed
        self.layout = layout               # 'upstream' (cargo pgrx package tree) or 'flat'
        self.pg_major = pg_major           # detected from paths / magic, or None
        self.notes = notes


def find_payload(root, extension, version, host_major, path_markers=True):
    """Find and validate a version's files under root. Raises ExtensionFilesError with a
    message that names what is missing or wrong; touches nothing. path_markers=False for
    our own build output (built against the host's pg_config, staged under its paths), where
    directory names say nothing about the package."""
    markers = path_pg_majors if path_markers else (lambda _rel: set())
    controls, libs_by_name, scripts = [], {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if not os.path.isfile(p):
                continue
            rel = os.path.relpath(p, root)
            if name == extension + '.control':
                controls.append(rel)
            elif name.endswith(DLSUFFIX):
                libs_by_name.setdefault(name, []).append(rel)
            elif script_versions(name, extension):
                scripts.append(rel)
    if not controls:
        raise ExtensionFilesError("no %s.control in the package (expected the release layout "
                                  "target/release/%s-pg<N>/.../extension/%s.control, or a flat tarball with %s.control, "
                                  "%s.so and %s--%s.sql)" % (extension, extension, extension, extension, extension,
                                                             extension, version))
    notes = []
    majors_named = set()
    for rel in controls:
        majors_named |= markers(rel)

    def for_host(rels):
        marked = [r for r in rels if markers(r)]
        if not marked:
            return rels
        return [r for r in rels if host_major in markers(r) or not markers(r)]

    layout = 'upstream' if majors_named else 'flat'
    if majors_named and host_major not in majors_named:
        raise ExtensionFilesError("the package is built for PostgreSQL %s, but %s is PostgreSQL %s: use the artifact "
                                  "for PostgreSQL %s" % (', '.join(sorted(majors_named, key=version_key)), 'pg_config',
                                                         host_major, host_major))
    ctl = for_host(controls)
    if len(ctl) != 1:
        raise ExtensionFilesError("the package holds %d control files for PostgreSQL %s (%s); expected one"
                                  % (len(ctl), host_major, ', '.join(ctl)))
    control_rel = ctl[0]
    control_path = os.path.join(root, control_rel)
    with open(control_path) as fh:
        control_text = fh.read()
    params = control_dict(control_text)
    lib_name, _unused = library_from_module_pathname(params.get('module_pathname'), extension, '/')
    libs = for_host(libs_by_name.get(lib_name, []))
    if not libs:
        raise ExtensionFilesError("no %s in the package (the control file's module_pathname is %r)"
                                  % (lib_name, params.get('module_pathname')))
    if len(libs) > 1:
        # Prefer the library next to the control file's package root.
        top = control_rel.split(os.sep)[0]
        near = [r for r in libs if r.split(os.sep)[0] == top]
        if len(near) == 1:
            libs = near
        else:
            raise ExtensionFilesError("the package holds %d copies of %s (%s); expected one"
                                      % (len(libs), lib_name, ', '.join(libs)))
    library_rel = libs[0]
    library_path = os.path.join(root, library_rel)
    lib_majors = library_pg_majors(library_path)
    if lib_majors and host_major not in lib_majors:
        raise ExtensionFilesError("%s was built for PostgreSQL %s (its magic block), but %s is PostgreSQL %s"
                                  % (library_rel, ', '.join(lib_majors), 'pg_config', host_major))
    if not lib_majors:
        notes.append('no PostgreSQL magic block recognised in %s; its major is checked when the server loads it'
                     % library_rel)
    # Scripts: those next to the chosen control file.
    script_dir = os.path.dirname(control_rel)
    here = [r for r in scripts if os.path.dirname(r) == script_dir]
    chosen, skipped = {}, []
    for rel in here:
        name = os.path.basename(rel)
        _from, to = script_versions(name, extension)
        if to == version:
            chosen[name] = os.path.join(root, rel)
        else:
            skipped.append(name)
    main = '%s--%s.sql' % (extension, version)
    if main not in chosen:
        raise ExtensionFilesError("no %s in the package next to %s (found: %s); is this the %s package?"
                                  % (main, control_rel, ', '.join(sorted(os.path.basename(r) for r in here)) or 'none',
                                     version))
    stem = os.path.splitext(lib_name)[0]
    direct = re.compile(re.escape('$libdir/' + stem) + r"(?:" + re.escape(DLSUFFIX) + r")?'")
    for name, p in sorted(chosen.items()):
        with open(p, 'rb') as fh:
            text = fh.read().decode('utf-8', 'replace')
        if direct.search(text):
            raise ExtensionFilesError("%s names the library as '$libdir/%s' instead of MODULE_PATHNAME: installed side "
                                      "by side it would bind to the running version's library" % (name, stem))
    dv = params.get('default_version')
    if dv and dv != version:
        notes.append("the package's control file has default_version %r; version %s is installed from %s"
                     % (dv, version, main))
    detected = sorted(majors_named, key=version_key)[0] if majors_named else (lib_majors[0] if lib_majors else None)
    return Payload(extension, version, control_path, control_text, library_path, lib_name, chosen, sorted(skipped),
                   layout, detected, notes)


# --------------------------------------------------------------------------- installation state

class Installation(object):
    """What is installed for one extension under one pg_config."""

    def __init__(self, paths, extension):
        self.paths = paths
        self.extension = extension
        self.primary_control = os.path.join(paths.extdir, extension + '.control')
        self.primary_version = None
        self.primary_library = None
        self.primary_text = None
        if os.path.isfile(self.primary_control):
            with open(self.primary_control) as fh:
                self.primary_text = fh.read()
            params = control_dict(self.primary_text)
            self.primary_version = params.get('default_version')
            _name, self.primary_library = library_from_module_pathname(params.get('module_pathname'), extension,
                                                                       paths.pkglibdir)
        self.side_by_side = {}   # version -> {'control': path, 'library': path}
        for name in sorted(os.listdir(paths.extdir)):
            v = secondary_control_version(name, extension)
            if v is None:
                continue
            p = os.path.join(paths.extdir, name)
            with open(p) as fh:
                params = control_dict(fh.read())
            _n, lib = library_from_module_pathname(params.get('module_pathname'), extension, paths.pkglibdir)
            self.side_by_side[v] = {'control': p, 'library': lib}
        self.scripts = {}        # file name -> (from, to)
        for name in sorted(os.listdir(paths.extdir)):
            sv = script_versions(name, extension)
            if sv:
                self.scripts[name] = sv

    def script_names_for(self, version):
        return sorted(n for n, (_f, to) in self.scripts.items() if to == version)

    def versions(self):
        return sorted(set(to for _f, to in self.scripts.values()), key=version_key)

    def primary_files(self, exclude_versions=()):
        """(kind, name) of the primary version's files: the primary control file, the library
        its module_pathname names, and every script that does not belong to a side-by-side
        version (or to a version in exclude_versions)."""
        if self.primary_text is None:
            return []
        files = [('extdir', os.path.basename(self.primary_control))]
        if self.primary_library and os.path.dirname(self.primary_library) == self.paths.pkglibdir:
            files.append(('pkglibdir', os.path.basename(self.primary_library)))
        elif self.primary_library:
            files.append(('other', self.primary_library))
        skip = set(v for v in self.side_by_side if v != self.primary_version) | set(exclude_versions)
        for name, (_f, to) in sorted(self.scripts.items()):
            if to not in skip:
                files.append(('extdir', name))
        return files

    def as_dict(self):
        return {'primary_control': self.primary_control if self.primary_text is not None else None,
                'primary_version': self.primary_version, 'primary_library': self.primary_library,
                'side_by_side': sorted(self.side_by_side, key=version_key), 'available_versions': self.versions()}


def reference_attrs(paths):
    """Owner and mode of PostgreSQL's own files in each directory (plpgsql), which the
    installed files copy; the directory's owner and 0644 if plpgsql is not there."""
    out = {}
    for kind, ref in (('pkglibdir', 'plpgsql' + DLSUFFIX), ('extdir', 'plpgsql.control')):
        d = paths.dir_of(kind)
        p = os.path.join(d, ref)
        if os.path.isfile(p):
            a = file_attrs(p)
            a['reference'] = p
        else:
            a = file_attrs(d)
            a['mode'] = '0644'
            a['reference'] = d + ' (directory owner, mode 0644)'
        out[kind] = a
    return out


# --------------------------------------------------------------------------- writing files

def _fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(dest, src_path=None, data=None, mode=0o644, uid=None, gid=None):
    """Write dest through a temporary file in its directory and a rename."""
    d = os.path.dirname(dest)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix='.tmp', dir=d)
    try:
        with os.fdopen(fd, 'wb') as out:
            if src_path is not None:
                with open(src_path, 'rb') as fh:
                    shutil.copyfileobj(fh, out, 1024 * 1024)
            else:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        if uid is not None and gid is not None and (os.geteuid() == 0 or uid == os.geteuid()):
            os.chown(tmp, uid, gid)
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(d)


def set_attrs(path, mode, uid, gid):
    os.chmod(path, mode)
    st = os.stat(path)
    if (st.st_uid, st.st_gid) != (uid, gid) and (os.geteuid() == 0 or uid == os.geteuid()):
        os.chown(path, uid, gid)


class FileAction(object):
    """One destination file: what it should hold and with which owner and mode."""

    def __init__(self, dest, kind, sha256, mode, uid, gid, src_path=None, data=None, text=None):
        self.dest = dest
        self.kind = kind
        self.sha256 = sha256
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.src_path = src_path
        self.data = data
        self.text = text        # for diffs of small text files
        self.before = None      # file_record of the existing file
        self.action = None      # create | update | attributes | unchanged

    def evaluate(self):
        if not os.path.lexists(self.dest):
            self.action = 'create'
            return self
        if not os.path.isfile(self.dest) or os.path.islink(self.dest):
            raise ExtensionFilesError("%s exists and is not a regular file; refusing to replace it" % self.dest)
        self.before = file_record(self.dest)
        if self.before['sha256'] != self.sha256:
            self.action = 'update'
        elif (int(self.before['mode'], 8), self.before['uid'], self.before['gid']) != (self.mode, self.uid, self.gid):
            self.action = 'attributes'
        else:
            self.action = 'unchanged'
        return self

    def as_dict(self):
        owner, group = owner_names(self.uid, self.gid)
        d = {'path': self.dest, 'action': self.action, 'sha256': self.sha256, 'mode': '%04o' % self.mode,
             'owner': owner, 'group': group}
        if self.before:
            d['before_sha256'] = self.before['sha256']
        return d


def apply_actions(actions):
    """Apply every action, or none: on an error, files already replaced are put back from
    hard-linked backups and created files are removed; then the error is raised."""
    done = []   # (action, backup path or None)
    try:
        for a in actions:
            if a.action == 'unchanged':
                continue
            if a.action == 'attributes':
                prev = (int(a.before['mode'], 8), a.before['uid'], a.before['gid'])
                set_attrs(a.dest, a.mode, a.uid, a.gid)
                done.append((a, prev))
                continue
            backup = None
            if a.action == 'update':
                backup = os.path.join(os.path.dirname(a.dest), TMP_PREFIX + 'backup-' + os.path.basename(a.dest))
                if os.path.lexists(backup):
                    os.unlink(backup)
                os.link(a.dest, backup)
            atomic_write(a.dest, src_path=a.src_path, data=a.data, mode=a.mode, uid=a.uid, gid=a.gid)
            done.append((a, backup))
    except BaseException as e:
        errors = []
        for a, saved in reversed(done):
            try:
                if a.action == 'attributes':
                    set_attrs(a.dest, *saved)
                elif saved:
                    os.rename(saved, a.dest)
                else:
                    os.unlink(a.dest)
            except OSError as undo:
                errors.append('%s: %s' % (a.dest, undo))
        msg = "writing the extension files failed (%s); every file written in this run was put back" % e
        if errors:
            msg = "writing the extension files failed (%s) and these could not be put back: %s" % (e, '; '.join(errors))
        raise ExtensionFilesError(msg)
    for a, saved in done:
        if a.action == 'update' and saved and os.path.lexists(saved):
            os.unlink(saved)


# --------------------------------------------------------------------------- stash

def stash_path(stash_dir, major, version):
    return os.path.join(stash_dir, 'pg%s' % major, version)


def read_manifest(directory):
    p = os.path.join(directory, MANIFEST_NAME)
    try:
        with open(p) as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as e:
        raise ExtensionFilesError("cannot read the stash manifest %s: %s" % (p, e))
    if doc.get('kind') != STASH_KIND or doc.get('schema_version') != SCHEMA_VERSION:
        raise ExtensionFilesError("%s is not a pgtviews.ops extension stash manifest (schema %s)" % (p, SCHEMA_VERSION))
    return doc


def _source_path(paths, kind, name):
    if kind == 'other':
        return name
    return os.path.join(paths.dir_of(kind), name)


def stash_plan(inst, target_version):
    """Records of the primary version's files as they are now (what a stash holds)."""
    records = []
    for kind, name in inst.primary_files(exclude_versions=(target_version,)):
        p = _source_path(inst.paths, kind, name)
        if not os.path.isfile(p):
            raise ExtensionFilesError("the running version's file %s is missing; refusing to stash an incomplete "
                                      "installation" % p)
        rec = file_record(p)
        rec.update({'name': os.path.basename(p), 'kind': kind, 'source_dir': os.path.dirname(p)})
        del rec['path']
        records.append(rec)
    return records


def compare_records(records, manifest_files):
    """Differences between live records and a manifest's file list, as messages."""
    live = dict((r['name'], r) for r in records)
    kept = dict((f['name'], f) for f in manifest_files)
    diffs = []
    for name in sorted(set(live) | set(kept)):
        if name not in kept:
            diffs.append('%s is installed now but not in the stash' % name)
        elif name not in live:
            diffs.append('%s is in the stash but no longer installed' % name)
        elif live[name]['sha256'] != kept[name]['sha256']:
            diffs.append('%s: installed sha256 %s, stashed %s' % (name, live[name]['sha256'][:12],
                                                                  kept[name]['sha256'][:12]))
    return diffs


def ensure_stash(inst, stash_dir, target_version, check_mode=False):
    """Copy the primary version's files and a manifest into stash_dir/pg<N>/<version>/, once.
    An existing stash is verified, never overwritten. Returns a result dict."""
    version = inst.primary_version
    directory = stash_path(stash_dir, inst.paths.major, version)
    result = {'path': directory, 'version': version, 'changed': False}
    records = stash_plan(inst, target_version)
    if os.path.exists(os.path.join(directory, MANIFEST_NAME)):
        manifest = read_manifest(directory)
        problems = verify_stash_files(directory, manifest)
        diffs = compare_records(records, manifest['files'])
        if problems or diffs:
            raise ExtensionFilesError("a stash of %s %s already exists at %s and differs from the installed files (%s); "
                                      "it is never overwritten. Compare them, then move the stash aside if the installed "
                                      "files are the ones to keep" % (inst.extension, version, directory,
                                                                      '; '.join(problems + diffs)))
        result['files'] = manifest['files']
        return result
    if os.path.exists(directory) and os.listdir(directory):
        raise ExtensionFilesError("%s exists without a manifest (an interrupted stash?); remove it and run again"
                                  % directory)
    result['changed'] = True
    result['files'] = records
    if check_mode:
        return result
    parent = os.path.dirname(directory)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=parent)
    try:
        for rec in records:
            src = os.path.join(rec['source_dir'], rec['name'])
            dest = os.path.join(tmp, rec['name'])
            shutil.copyfile(src, dest)
            os.chmod(dest, 0o644)
            if sha256_file(dest) != rec['sha256']:
                raise ExtensionFilesError("%s changed while it was being stashed; run again" % src)
        manifest = {
            'kind': STASH_KIND, 'schema_version': SCHEMA_VERSION, 'extension': inst.extension,
            'version': version, 'pg_major': inst.paths.major, 'pg_version': inst.paths.version_string,
            'pg_config': inst.paths.pg_config, 'pkglibdir': inst.paths.pkglibdir, 'extdir': inst.paths.extdir,
            'created_at': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'reason': 'stashed before installing %s %s side by side' % (inst.extension, target_version),
            'files': records,
        }
        with open(os.path.join(tmp, MANIFEST_NAME), 'w') as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.write('\n')
        os.chmod(tmp, 0o755)
        if os.path.isdir(directory):
            os.rmdir(directory)   # empty, checked above
        os.rename(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(parent)
    return result


def verify_stash_files(directory, manifest):
    problems = []
    for f in manifest['files']:
        p = os.path.join(directory, f['name'])
        if not os.path.isfile(p):
            problems.append('stash file %s is missing' % p)
        elif sha256_file(p) != f['sha256']:
            problems.append('stash file %s does not match its manifest checksum' % p)
    return problems


def list_stashes(stash_dir, major):
    d = os.path.join(stash_dir, 'pg%s' % major)
    if not os.path.isdir(d):
        return []
    return sorted((v for v in os.listdir(d) if os.path.isfile(os.path.join(d, v, MANIFEST_NAME))), key=version_key)


def restore_actions(paths, stash_dir, version):
    """FileActions that put the stashed files back byte for byte, with their recorded owner
    and mode."""
    directory = stash_path(stash_dir, paths.major, version)
    if not os.path.isfile(os.path.join(directory, MANIFEST_NAME)):
        raise ExtensionFilesError("no stash of version %s for PostgreSQL %s at %s (stashes there: %s)"
                                  % (version, paths.major, directory,
                                     ', '.join(list_stashes(stash_dir, paths.major)) or 'none'))
    manifest = read_manifest(directory)
    if str(manifest.get('pg_major')) != str(paths.major):
        raise ExtensionFilesError("the stash at %s is for PostgreSQL %s, pg_config reports %s"
                                  % (directory, manifest.get('pg_major'), paths.major))
    problems = verify_stash_files(directory, manifest)
    if problems:
        raise ExtensionFilesError("the stash is damaged, nothing restored: %s" % '; '.join(problems))
    actions = []
    for f in manifest['files']:
        if f['kind'] == 'other':
            dest = os.path.join(f['source_dir'], f['name'])
        else:
            dest = os.path.join(paths.dir_of(f['kind']), f['name'])
        uid = resolve_uid(f.get('owner'), f.get('uid'))
        gid = resolve_gid(f.get('group'), f.get('gid'))
        actions.append(FileAction(dest, f['kind'], f['sha256'], int(f['mode'], 8), uid, gid,
                                  src_path=os.path.join(directory, f['name'])).evaluate())
    return manifest, actions


# --------------------------------------------------------------------------- side-by-side plan

def versioned_library_name(extension, version):
    return '%s-%s' % (extension, version)


def install_actions(inst, payload, refs):
    """FileActions for installing payload side by side (never the primary files, except a
    primary control file on a server that has none)."""
    ext, version = inst.extension, payload.version
    stem = versioned_library_name(ext, version)
    lib_dest = os.path.join(inst.paths.pkglibdir, stem + DLSUFFIX)
    protected = set(p for p in (inst.primary_library,) if p)
    if inst.primary_text is not None:
        protected.add(inst.primary_control)
    if lib_dest in protected and inst.primary_version != version:
        raise ExtensionFilesError("%s is the library of the running version %s; refusing to replace it"
                                  % (lib_dest, inst.primary_version))
    la, ea = refs['pkglibdir'], refs['extdir']
    lmode, emode = int(la['mode'], 8), int(ea['mode'], 8)
    actions = [FileAction(lib_dest, 'pkglibdir', sha256_file(payload.library_path), lmode, la['uid'], la['gid'],
                          src_path=payload.library_path)]
    secondary = render_secondary_control(payload.control_text, ext, version, stem).encode('utf-8')
    actions.append(FileAction(os.path.join(inst.paths.extdir, '%s--%s.control' % (ext, version)), 'extdir',
                              hashlib.sha256(secondary).hexdigest(), emode, ea['uid'], ea['gid'], data=secondary,
                              text=secondary.decode('utf-8')))
    for name, p in sorted(payload.scripts.items()):
        dest = os.path.join(inst.paths.extdir, name)
        if dest in protected:
            raise ExtensionFilesError("refusing to overwrite %s" % dest)
        actions.append(FileAction(dest, 'extdir', sha256_file(p), emode, ea['uid'], ea['gid'], src_path=p))
    if inst.primary_text is None:
        primary = render_primary_control(payload.control_text, version, stem).encode('utf-8')
        actions.append(FileAction(inst.primary_control, 'extdir', hashlib.sha256(primary).hexdigest(), emode,
                                  ea['uid'], ea['gid'], data=primary, text=primary.decode('utf-8')))
    return [a.evaluate() for a in actions]


def version_files(inst, version):
    """Existing files of a side-by-side version: library, secondary control, scripts."""
    files = []
    sbs = inst.side_by_side.get(version)
    if sbs:
        files.append(sbs['control'])
        if os.path.isfile(sbs['library']) and sbs['library'] != inst.primary_library:
            files.append(sbs['library'])
    else:
        lib = os.path.join(inst.paths.pkglibdir, versioned_library_name(inst.extension, version) + DLSUFFIX)
        if os.path.isfile(lib) and lib != inst.primary_library:
            files.append(lib)
    for name in inst.script_names_for(version):
        files.append(os.path.join(inst.paths.extdir, name))
    return files


def check_attrs(path, ref):
    a = file_attrs(path)
    problems = []
    if a['mode'] != ref['mode']:
        problems.append('%s has mode %s, PostgreSQL\'s own files have %s' % (path, a['mode'], ref['mode']))
    if (a['uid'], a['gid']) != (ref['uid'], ref['gid']):
        problems.append('%s is owned by %s:%s, PostgreSQL\'s own files by %s:%s'
                        % (path, a['owner'], a['group'], ref['owner'], ref['group']))
    return problems


# --------------------------------------------------------------------------- receipts (build methods)

def receipt_path(receipt_dir, major, extension, version):
    return os.path.join(receipt_dir, 'pg%s' % major, '%s-%s.json' % (extension, version))


def read_receipt(path):
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    return doc if doc.get('kind') == RECEIPT_KIND else None


def receipt_matches(doc, key):
    """The receipt was written for this exact input and every file it lists is unchanged."""
    if not doc or doc.get('key') != key:
        return False
    for f in doc.get('files', []):
        if not os.path.isfile(f['path']) or sha256_file(f['path']) != f['sha256']:
            return False
    return bool(doc.get('files'))


def write_receipt(path, key, files):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    doc = {'kind': RECEIPT_KIND, 'schema_version': SCHEMA_VERSION, 'key': key,
           'files': [{'path': f['path'], 'sha256': f['sha256']} for f in files]}
    data = (json.dumps(doc, indent=2, sort_keys=True) + '\n').encode('utf-8')
    atomic_write(path, data=data, mode=0o644)


# --------------------------------------------------------------------------- building

def run_build(argv, cwd, env, what):
    """Run a build command; on failure raise with the tail of its output."""
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
    except OSError as e:
        raise ExtensionFilesError("%s: cannot run %s: %s" % (what, argv[0], e))
    if proc.returncode != 0:
        tail = '\n'.join(proc.stdout.splitlines()[-25:])
        raise ExtensionFilesError("%s failed (exit %d): %s\n%s" % (what, proc.returncode, ' '.join(argv), tail))
    return proc.stdout
