"""module_utils/extension_files: control files, scripts, magic blocks, archives, payloads."""

import os
import tarfile

import pytest

from tests.unit.install import tvi_helpers as h

h.ensure_link()
from ansible_collections.pgtviews.ops.plugins.module_utils.install import files as ef  # noqa: E402

UPSTREAM_CONTROL = h.control_text("0.1.0")


def test_parse_control_keeps_order_and_unquotes():
    params = ef.parse_control(UPSTREAM_CONTROL + "requires = 'a, b'\nnote = 'it''s'  # trailing\n")
    assert [k for k, _r, _v in params] == [
        "comment", "default_version", "module_pathname", "relocatable", "superuser", "requires", "note"]
    d = dict((k, v) for k, _r, v in params)
    assert d["module_pathname"] == "$libdir/pg_tviews"
    assert d["relocatable"] == "false"
    assert d["note"] == "it's"


def test_parse_control_rejects_garbage():
    with pytest.raises(ef.ExtensionFilesError):
        ef.parse_control("comment = 'unterminated\n")


def test_secondary_control_points_at_versioned_library_and_drops_primary_only_params():
    text = ef.render_secondary_control(h.control_text("0.2.0") + "directory = 'x'\n", "pg_tviews", "0.2.0",
                                       "pg_tviews-0.2.0")
    d = ef.control_dict(text)
    assert d["module_pathname"] == "$libdir/pg_tviews-0.2.0"
    assert "default_version" not in d and "directory" not in d
    assert d["comment"].startswith("Transactional Views")
    assert d["superuser"] == "false"


def test_secondary_control_adds_module_pathname_when_missing():
    d = ef.control_dict(ef.render_secondary_control("comment = 'x'\n", "pg_tviews", "1.0", "pg_tviews-1.0"))
    assert d["module_pathname"] == "$libdir/pg_tviews-1.0"


def test_set_default_version_changes_only_that_line():
    new = ef.set_default_version(UPSTREAM_CONTROL, "0.2.0")
    assert new.replace("default_version = '0.2.0'", "default_version = '0.1.0'") == UPSTREAM_CONTROL
    assert ef.set_default_version(new, "0.2.0") == new
    appended = ef.set_default_version("comment = 'x'", "0.2.0")
    assert ef.control_dict(appended)["default_version"] == "0.2.0"


def test_primary_control_for_a_fresh_server():
    d = ef.control_dict(ef.render_primary_control(h.control_text("0.1.0"), "0.2.0", "pg_tviews-0.2.0"))
    assert d["default_version"] == "0.2.0"
    assert d["module_pathname"] == "$libdir/pg_tviews-0.2.0"


@pytest.mark.parametrize("name,expected", [
    ("pg_tviews--0.2.0.sql", (None, "0.2.0")),
    ("pg_tviews--0.1.0--0.1.1.sql", ("0.1.0", "0.1.1")),
    ("pg_tviews--.sql", None),
    ("pg_tviews.control", None),
    ("other--1.0.sql", None),
    ("pg_tviews--a--b--c.sql", None),
])
def test_script_versions(name, expected):
    assert ef.script_versions(name, "pg_tviews") == expected


def test_secondary_control_version():
    assert ef.secondary_control_version("pg_tviews--0.2.0.control", "pg_tviews") == "0.2.0"
    assert ef.secondary_control_version("pg_tviews.control", "pg_tviews") is None


@pytest.mark.parametrize("value,expected", [
    ("", ""),
    ("A" * 64, "a" * 64),
    ("sha256:" + "b" * 64, "b" * 64),
])
def test_normalize_checksum(value, expected):
    assert ef.normalize_checksum(value) == expected


@pytest.mark.parametrize("value", ["md5:" + "a" * 32, "abc", "sha256:" + "z" * 64])
def test_normalize_checksum_rejects(value):
    with pytest.raises(ef.ExtensionFilesError):
        ef.normalize_checksum(value)


@pytest.mark.parametrize("text,major", [
    ("PostgreSQL 15.20 (Debian 15.20-0+deb12u1)", "15"),
    ("PostgreSQL 17devel", "17"),
    ("PostgreSQL 9.6.24", "9.6"),
])
def test_pg_major_of(text, major):
    assert ef.pg_major_of(text) == major


@pytest.mark.parametrize("version", ["", "0.1..x--y", "a b", "--1"])
def test_check_version_rejects(version):
    with pytest.raises(ef.ExtensionFilesError):
        ef.check_version(version)


def test_version_key_orders_numerically():
    assert sorted(["0.10.0", "0.2.0", "0.1.0-beta.8", "0.1.0"], key=ef.version_key) == [
        "0.1.0", "0.1.0-beta.8", "0.2.0", "0.10.0"]


@pytest.mark.parametrize("major", [12, 15, 16, 18])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_magic_block_detected(tmp_path, major, endian):
    p = tmp_path / "lib.so"
    p.write_bytes(h.fake_library(major, endian=endian))
    assert ef.library_pg_majors(str(p)) == [str(major)]


def test_magic_block_absent_in_non_elf(tmp_path):
    p = tmp_path / "lib.so"
    p.write_bytes(b"not an elf file")
    assert ef.library_pg_majors(str(p)) == []


def test_magic_block_of_a_real_library():
    # make deps installs PostgreSQL 15: the real library is always there.
    assert ef.library_pg_majors("/usr/lib/postgresql/15/lib/plpgsql.so") == ["15"]


@pytest.mark.parametrize("rel,majors", [
    ("target/release/pg_tviews-pg15/usr/lib/postgresql/15/lib/pg_tviews.so", {"15"}),
    ("pg_tviews-pg16/usr/share/postgresql/16/extension/pg_tviews.control", {"16"}),
    ("usr/pgsql-14/lib/pg_tviews.so", {"14"}),
    ("pg_tviews.so", set()),
    ("pg_tviews-0.2.0/pg_tviews.control", set()),
])
def test_path_pg_majors(rel, majors):
    assert ef.path_pg_majors(rel) == majors


def _tar(path, members):
    with tarfile.open(str(path), "w") as tf:
        for info, data in members:
            if data is None:
                tf.addfile(info)
            else:
                import io
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_safe_extract_refuses(tmp_path, kind):
    if kind == "dotdot":
        members = [(tarfile.TarInfo("../evil"), b"x")]
    elif kind == "absolute":
        members = [(tarfile.TarInfo("/tmp/evil"), b"x")]
    elif kind == "symlink":
        i = tarfile.TarInfo("link")
        i.type, i.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        members = [(i, None)]
    elif kind == "hardlink":
        i = tarfile.TarInfo("link")
        i.type, i.linkname = tarfile.LNKTYPE, "/etc/passwd"
        members = [(i, None)]
    else:
        i = tarfile.TarInfo("dev")
        i.type = tarfile.CHRTYPE
        members = [(i, None)]
    tb = _tar(tmp_path / "x.tar", members)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ef.ExtensionFilesError):
        ef.safe_extract(tb, str(dest))
    assert os.listdir(str(dest)) == []


def test_safe_extract_refuses_non_archive(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"garbage")
    with pytest.raises(ef.ExtensionFilesError, match="not a readable tar archive"):
        ef.safe_extract(str(p), str(tmp_path))


def test_tree_digest_ignores_target_and_sees_content(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("a")
    d1 = ef.tree_digest(str(tmp_path))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "junk").write_text("b")
    assert ef.tree_digest(str(tmp_path)) == d1
    (tmp_path / "src" / "lib.rs").write_text("c")
    assert ef.tree_digest(str(tmp_path)) != d1


def _unpacked(tmp_path, **kw):
    tb = h.make_package(str(tmp_path / "pkg.tar.gz"), kw.pop("version", "0.2.0"), **kw)
    root = tmp_path / "root"
    root.mkdir()
    ef.safe_extract(tb, str(root))
    return str(root)


def test_find_payload_upstream_layout(tmp_path):
    p = ef.find_payload(_unpacked(tmp_path), "pg_tviews", "0.2.0", "15")
    assert p.layout == "upstream" and p.pg_major == "15"
    assert p.library_name == "pg_tviews.so"
    assert sorted(p.scripts) == ["pg_tviews--0.2.0.sql"]


def test_find_payload_flat_layout(tmp_path):
    p = ef.find_payload(_unpacked(tmp_path, layout="flat"), "pg_tviews", "0.2.0", "15")
    assert p.layout == "flat" and p.pg_major == "15"


def test_find_payload_picks_host_major_from_multi_major_release(tmp_path):
    extra = {
        "target/release/pg_tviews-pg16/usr/lib/postgresql/16/lib/pg_tviews.so": h.fake_library(16),
        "target/release/pg_tviews-pg16/usr/share/postgresql/16/extension/pg_tviews.control": h.control_text("0.2.0"),
        "target/release/pg_tviews-pg16/usr/share/postgresql/16/extension/pg_tviews--0.2.0.sql": h.script_text("0.2.0"),
    }
    root = _unpacked(tmp_path, extra=extra)
    p = ef.find_payload(root, "pg_tviews", "0.2.0", "15")
    assert "pg_tviews-pg15" in p.library_path and "pg_tviews-pg15" in p.control_path


def test_find_payload_other_major_by_path(tmp_path):
    with pytest.raises(ef.ExtensionFilesError, match="built for PostgreSQL 16.*PostgreSQL 15"):
        ef.find_payload(_unpacked(tmp_path, major=16), "pg_tviews", "0.2.0", "15")


def test_find_payload_other_major_by_magic(tmp_path):
    with pytest.raises(ef.ExtensionFilesError, match="built for PostgreSQL 16 \\(its magic block\\)"):
        ef.find_payload(_unpacked(tmp_path, layout="flat", lib_major=16), "pg_tviews", "0.2.0", "15")


def test_find_payload_unknown_magic_is_a_note(tmp_path):
    files = {"pg_tviews.so": b"stripped", "pg_tviews.control": h.control_text("0.2.0"),
             "pg_tviews--0.2.0.sql": h.script_text("0.2.0")}
    p = ef.find_payload(_unpacked(tmp_path, layout="flat", files=files), "pg_tviews", "0.2.0", "15")
    assert p.pg_major is None and any("magic block" in n for n in p.notes)


@pytest.mark.parametrize("drop,message", [
    ("pg_tviews.control", "no pg_tviews.control"),
    ("pg_tviews.so", "no pg_tviews.so"),
    ("pg_tviews--0.2.0.sql", "no pg_tviews--0.2.0.sql"),
])
def test_find_payload_missing_file(tmp_path, drop, message):
    files = {"pg_tviews.so": h.fake_library(15), "pg_tviews.control": h.control_text("0.2.0"),
             "pg_tviews--0.2.0.sql": h.script_text("0.2.0")}
    del files[drop]
    with pytest.raises(ef.ExtensionFilesError, match=message):
        ef.find_payload(_unpacked(tmp_path, files=files), "pg_tviews", "0.2.0", "15")


def test_find_payload_wrong_version(tmp_path):
    with pytest.raises(ef.ExtensionFilesError, match="no pg_tviews--0.2.0.sql.*found: pg_tviews--0.1.0.sql"):
        ef.find_payload(_unpacked(tmp_path, version="0.1.0"), "pg_tviews", "0.2.0", "15")


def test_find_payload_refuses_scripts_naming_the_library(tmp_path):
    files = {"pg_tviews.so": h.fake_library(15), "pg_tviews.control": h.control_text("0.2.0"),
             "pg_tviews--0.2.0.sql": "CREATE FUNCTION f() RETURNS int AS '$libdir/pg_tviews', 'f' LANGUAGE c;"}
    with pytest.raises(ef.ExtensionFilesError, match="instead of MODULE_PATHNAME"):
        ef.find_payload(_unpacked(tmp_path, files=files), "pg_tviews", "0.2.0", "15")


def test_find_payload_keeps_only_scripts_ending_at_the_version(tmp_path):
    files = {"pg_tviews.so": h.fake_library(15), "pg_tviews.control": h.control_text("0.1.1"),
             "pg_tviews--0.1.0.sql": h.script_text("0.1.0"), "pg_tviews--0.1.1.sql": h.script_text("0.1.1"),
             "pg_tviews--0.1.0--0.1.1.sql": "-- update\n"}
    p = ef.find_payload(_unpacked(tmp_path, version="0.1.1", files=files), "pg_tviews", "0.1.1", "15")
    assert sorted(p.scripts) == ["pg_tviews--0.1.0--0.1.1.sql", "pg_tviews--0.1.1.sql"]
    assert p.skipped == ["pg_tviews--0.1.0.sql"]


def test_installation_primary_files_exclude_side_by_side(tmp_path):
    pg = h.FakePg(str(tmp_path))
    pg.install_plain("0.1.0")
    pg.write(os.path.join(pg.extdir, "pg_tviews--0.2.0.control"), "module_pathname = '$libdir/pg_tviews-0.2.0'\n")
    pg.write(os.path.join(pg.extdir, "pg_tviews--0.2.0.sql"), "--")
    pg.write(os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so"), "x")
    inst = ef.Installation(ef.read_pg_config(pg.pg_config), "pg_tviews")
    assert inst.primary_version == "0.1.0"
    assert inst.primary_library == os.path.join(pg.pkglibdir, "pg_tviews.so")
    assert sorted(inst.side_by_side) == ["0.2.0"]
    assert inst.primary_files() == [("extdir", "pg_tviews.control"), ("pkglibdir", "pg_tviews.so"),
                                    ("extdir", "pg_tviews--0.1.0.sql")]
    assert sorted(ef.version_files(inst, "0.2.0")) == sorted([
        os.path.join(pg.extdir, "pg_tviews--0.2.0.control"), os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so"),
        os.path.join(pg.extdir, "pg_tviews--0.2.0.sql")])


def test_apply_actions_puts_everything_back_on_failure(tmp_path, monkeypatch):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_bytes(b"old-a")
    src = tmp_path / "new"
    src.write_bytes(b"new")
    actions = [ef.FileAction(str(d / n), "extdir", h.sha256(str(src)), 0o644, os.getuid(), os.getgid(),
                             src_path=str(src)).evaluate() for n in ("a", "b", "c")]
    real = ef.atomic_write
    calls = []

    def flaky(dest, **kw):
        calls.append(dest)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(dest, **kw)

    monkeypatch.setattr(ef, "atomic_write", flaky)
    with pytest.raises(ef.ExtensionFilesError, match="put back"):
        ef.apply_actions(actions)
    assert sorted(os.listdir(str(d))) == ["a"]
    assert (d / "a").read_bytes() == b"old-a"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    dest = tmp_path / "f"
    ef.atomic_write(str(dest), data=b"x", mode=0o640)
    assert dest.read_bytes() == b"x" and oct(os.stat(str(dest)).st_mode & 0o777) == "0o640"
    assert os.listdir(str(tmp_path)) == ["f"]
