"""Helpers for the install role's tests: a fake PostgreSQL installation (a pg_config script
and two directories), fake libraries carrying a PG_MODULE_MAGIC block, packages in each
layout, and a runner for the tviews_extension_files module."""

import hashlib
import io
import json
import os
import stat
import struct
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LINK = os.path.join(REPO, ".build", "link")
MODULE = "tviews_extension_files"


def ensure_link():
    target = os.path.join(LINK, "ansible_collections", "pgtviews", "ops")
    if not os.path.lexists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(REPO, target)
    if LINK not in sys.path:
        sys.path.insert(0, LINK)


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def snapshot(*dirs):
    """{path: (sha256, mode, uid, gid)} of every file under dirs."""
    out = {}
    for d in dirs:
        for dirpath, _dirs, files in os.walk(d):
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.islink(p):
                    out[p] = ("link", os.readlink(p))
                    continue
                st = os.stat(p)
                out[p] = (sha256(p), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def fake_library(pg_major=15, marker=b"", endian="<"):
    """Bytes that look like a PostgreSQL extension library to the magic-block reader."""
    head = b"\x7fELF\x02" + (b"\x01" if endian == "<" else b"\x02") + b"\x01" + b"\0" * 57
    magic = struct.pack(endian + "iiiiii", 56, int(pg_major) * 100, 100, 32, 64, 1) + b"PostgreSQL".ljust(32, b"\0")
    return head + b"\0" * 64 + magic + b"\0" * 16 + b"fake-lib:" + marker + b"\0"


def control_text(version, module_pathname="$libdir/pg_tviews"):
    return ("# pg_tviews extension\n"
            "comment = 'Transactional Views (TVIEWs) for PostgreSQL with automatic refresh triggers'\n"
            "default_version = '%s'\n"
            "module_pathname = '%s'\n"
            "relocatable = false\n"
            "superuser = false\n" % (version, module_pathname))


def script_text(version):
    return ("-- pg_tviews %s\nCREATE FUNCTION pg_tviews_version() RETURNS text\n"
            "AS 'MODULE_PATHNAME', 'pg_tviews_version_wrapper' LANGUAGE c STRICT;\n" % version)


class FakePg(object):
    """A fake installation: pg_config script printing fixed dirs, plpgsql reference files."""

    def __init__(self, root, major=15):
        self.root = root
        self.major = str(major)
        self.pkglibdir = os.path.join(root, "usr/lib/postgresql", self.major, "lib")
        self.sharedir = os.path.join(root, "usr/share/postgresql", self.major)
        self.extdir = os.path.join(self.sharedir, "extension")
        bindir = os.path.join(root, "usr/lib/postgresql", self.major, "bin")
        for d in (self.pkglibdir, self.extdir, bindir):
            os.makedirs(d, exist_ok=True)
        self.pg_config = os.path.join(bindir, "pg_config")
        with open(self.pg_config, "w") as fh:
            fh.write("#!/bin/sh\nfor a in \"$@\"; do case $a in\n"
                     "  --version) echo 'PostgreSQL %s.20 (Debian %s.20-0+deb12u1)';;\n"
                     "  --pkglibdir) echo '%s';;\n"
                     "  --sharedir) echo '%s';;\n"
                     "  --pgxs) echo '/nonexistent/pgxs.mk';;\n"
                     "esac; done\n" % (self.major, self.major, self.pkglibdir, self.sharedir))
        os.chmod(self.pg_config, 0o755)
        self.write(os.path.join(self.pkglibdir, "plpgsql.so"), fake_library(self.major, b"plpgsql"), 0o644)
        self.write(os.path.join(self.extdir, "plpgsql.control"), b"default_version = '1.0'\n", 0o644)

    @staticmethod
    def write(path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)

    def install_plain(self, version, api_marker=None):
        """What `make install` of a version does: the shared names."""
        self.write(os.path.join(self.pkglibdir, "pg_tviews.so"),
                   fake_library(self.major, (api_marker or version).encode()))
        self.write(os.path.join(self.extdir, "pg_tviews.control"), control_text(version))
        self.write(os.path.join(self.extdir, "pg_tviews--%s.sql" % version), script_text(version))

    def snapshot(self):
        return snapshot(self.pkglibdir, self.extdir)


def _add(tf, name, data, mode=0o644):
    if isinstance(data, str):
        data = data.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tf.addfile(info, io.BytesIO(data))


def make_package(path, version, layout="upstream", major=15, lib_major=None, files=None, extra=None):
    """A release tarball. layout: 'upstream' (cargo pgrx package tree) or 'flat'.
    files: override the {name: bytes} set; extra: more {archive path: bytes}."""
    lib_major = major if lib_major is None else lib_major
    content = {
        "pg_tviews.so": fake_library(lib_major, ("new-" + version).encode()),
        "pg_tviews.control": control_text(version),
        "pg_tviews--%s.sql" % version: script_text(version),
    }
    if files is not None:
        content = files
    with tarfile.open(path, "w:gz") as tf:
        for name, data in sorted(content.items()):
            if layout == "flat":
                arc = name
            else:
                pkg = "target/release/pg_tviews-pg%s" % major
                sub = ("usr/lib/postgresql/%s/lib" % major if name.endswith(".so")
                       else "usr/share/postgresql/%s/extension" % major)
                arc = "%s/%s/%s" % (pkg, sub, name)
            _add(tf, arc, data)
        for arc, data in sorted((extra or {}).items()):
            _add(tf, arc, data)
    return path


def run_module(args, check_mode=False, diff=False):
    """Run the module in this process (as ansible-test units does): AnsibleModule reads the
    patched arguments, exit_json/fail_json print JSON and raise SystemExit."""
    ensure_link()
    import contextlib
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.pgtviews.ops.plugins.modules import tviews_extension_files as mod
    module_args = dict(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    out = io.StringIO()
    with patch_module_args(module_args), contextlib.redirect_stdout(out):
        try:
            mod.main()
        except SystemExit:
            pass
    try:
        return json.loads(out.getvalue())
    except ValueError:
        raise AssertionError("module printed no JSON:\n%s" % out.getvalue())
