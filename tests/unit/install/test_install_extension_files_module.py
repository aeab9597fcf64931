"""The tviews_extension_files module against a fake installation (no database): side-by-side
install, stash, idempotence, check mode, bad input, restore, finalize, absent, verified, and
the build methods' wiring with a fake make and a fake cargo."""

import json
import os

import pytest

from tests.unit.install import tvi_helpers as h

V1, V2 = "0.1.0", "0.2.0"


@pytest.fixture
def pg(tmp_path):
    pg = h.FakePg(str(tmp_path / "pg"))
    pg.install_plain(V1)
    return pg


@pytest.fixture
def dirs(tmp_path):
    d = {"stash_dir": str(tmp_path / "stash"), "receipt_dir": str(tmp_path / "receipts"),
         "work_dir": str(tmp_path / "work")}
    return d


def args(pg, dirs, **kw):
    a = {"pg_config": pg.pg_config, "stash_dir": dirs["stash_dir"], "work_dir": dirs["work_dir"]}
    a.update(kw)
    return a


def install_args(pg, dirs, pkg, **kw):
    a = dict(state="installed", version=V2, method="artifact", src=pkg)
    a.update(kw)
    return args(pg, dirs, **a)


def primary_files(pg):
    files = ((pg.pkglibdir, "pg_tviews.so"), (pg.extdir, "pg_tviews.control"), (pg.extdir, "pg_tviews--0.1.0.sql"))
    return {n: h.sha256(os.path.join(d, n)) for d, n in files}


def original_paths(pg):
    return [os.path.join(pg.pkglibdir, "pg_tviews.so"), os.path.join(pg.extdir, "pg_tviews.control"),
            os.path.join(pg.extdir, "pg_tviews--0.1.0.sql")]


@pytest.mark.parametrize("layout", ["upstream", "flat"])
def test_install_side_by_side_keeps_the_running_version(tmp_path, pg, dirs, layout):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2, layout=layout)
    before = primary_files(pg)
    r = h.run_module(install_args(pg, dirs, pkg))
    assert not r.get("failed"), r
    assert r["changed"] and r["created"]
    assert primary_files(pg) == before
    lib = os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so")
    assert open(lib, "rb").read().endswith(b"fake-lib:new-0.2.0\0")
    with open(os.path.join(pg.extdir, "pg_tviews--0.2.0.control")) as fh:
        assert "module_pathname = '$libdir/pg_tviews-0.2.0'" in fh.read()
    assert os.path.isfile(os.path.join(pg.extdir, "pg_tviews--0.2.0.sql"))
    assert r["installation"]["primary_version"] == V1
    assert r["installation"]["side_by_side"] == [V2]
    assert r["payload"]["layout"] == layout
    # The stash holds the running version, with a manifest.
    stash = os.path.join(dirs["stash_dir"], "pg15", V1)
    manifest = json.load(open(os.path.join(stash, "manifest.json")))
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == before
    assert all(f["mode"] == "0644" and "owner" in f and f["source_dir"] for f in manifest["files"])
    # Second run: no change.
    r2 = h.run_module(install_args(pg, dirs, pkg))
    assert not r2.get("failed"), r2
    assert r2["changed"] is False, r2
    assert not r2["stash"]["changed"]


def test_owner_and_mode_follow_postgresqls_own_files(tmp_path, pg, dirs):
    os.chmod(os.path.join(pg.pkglibdir, "plpgsql.so"), 0o755)
    os.chmod(os.path.join(pg.extdir, "plpgsql.control"), 0o640)
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    r = h.run_module(install_args(pg, dirs, pkg))
    assert not r.get("failed"), r
    assert oct(os.stat(os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so")).st_mode & 0o777) == "0o755"
    assert oct(os.stat(os.path.join(pg.extdir, "pg_tviews--0.2.0.sql")).st_mode & 0o777) == "0o640"
    v = h.run_module(args(pg, dirs, state="verified", version=V2))
    assert not v.get("failed"), v
    # Drift is detected by verified and repaired by installed.
    os.chmod(os.path.join(pg.extdir, "pg_tviews--0.2.0.sql"), 0o600)
    v = h.run_module(args(pg, dirs, state="verified", version=V2))
    assert v["failed"] and "mode 0600" in v["msg"]
    r = h.run_module(install_args(pg, dirs, pkg))
    assert r["changed"] and [f["action"] for f in r["files"] if f["path"].endswith(".sql")] == ["attributes"]


def test_check_mode_reports_and_changes_nothing(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    before = pg.snapshot()
    r = h.run_module(install_args(pg, dirs, pkg), check_mode=True, diff=True)
    assert not r.get("failed"), r
    assert r["changed"]
    assert sorted(f["action"] for f in r["files"]) == ["create", "create", "create"]
    assert r["stash"]["changed"]
    assert any(d["after_header"].endswith("pg_tviews--0.2.0.control") and "pg_tviews-0.2.0" in d["after"]
               for d in r["diff"])
    assert pg.snapshot() == before
    assert not os.path.exists(dirs["stash_dir"])


def test_check_mode_on_missing_source(pg, dirs):
    r = h.run_module(install_args(pg, dirs, "/nonexistent/p.tar.gz"), check_mode=True)
    assert not r.get("failed") and r["changed"]


@pytest.mark.parametrize("case", ["missing", "checksum", "other_major", "other_major_magic", "no_script",
                                  "no_library", "not_a_tarball"])
def test_bad_input_fails_and_changes_nothing(tmp_path, pg, dirs, case):
    pkg = str(tmp_path / "p.tar.gz")
    extra = {}
    if case == "missing":
        pkg = "/nonexistent/p.tar.gz"
    elif case == "checksum":
        h.make_package(pkg, V2)
        extra["checksum"] = "sha256:" + "0" * 64
    elif case == "other_major":
        h.make_package(pkg, V2, major=16)
    elif case == "other_major_magic":
        h.make_package(pkg, V2, layout="flat", lib_major=16)
    elif case == "no_script":
        h.make_package(pkg, V2, files={"pg_tviews.so": h.fake_library(15), "pg_tviews.control": h.control_text(V2)})
    elif case == "no_library":
        h.make_package(pkg, V2, files={"pg_tviews.control": h.control_text(V2),
                                       "pg_tviews--0.2.0.sql": h.script_text(V2)})
    else:
        with open(pkg, "w") as fh:
            fh.write("not a tarball")
    before = pg.snapshot()
    r = h.run_module(install_args(pg, dirs, pkg, **extra))
    assert r.get("failed"), r
    expected = {"missing": "does not exist", "checksum": "checksum mismatch", "other_major": "built for PostgreSQL 16",
                "other_major_magic": "built for PostgreSQL 16", "no_script": "no pg_tviews--0.2.0.sql",
                "no_library": "no pg_tviews.so", "not_a_tarball": "not a readable tar archive"}[case]
    assert expected in r["msg"], r["msg"]
    assert r["changed"] is False
    assert pg.snapshot() == before
    assert not os.path.exists(dirs["stash_dir"])


def test_checksum_accepted(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    r = h.run_module(install_args(pg, dirs, pkg, checksum=h.sha256(pkg).upper()))
    assert not r.get("failed"), r


def test_stash_is_never_overwritten(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    # Someone replaces the running library (e.g. a plain make install): the stash no longer matches.
    pg.write(os.path.join(pg.pkglibdir, "pg_tviews.so"), h.fake_library(15, b"tampered"))
    stash_lib = os.path.join(dirs["stash_dir"], "pg15", V1, "pg_tviews.so")
    kept = h.sha256(stash_lib)
    r = h.run_module(install_args(pg, dirs, pkg))
    assert r["failed"] and "never overwritten" in r["msg"] and "pg_tviews.so" in r["msg"]
    assert h.sha256(stash_lib) == kept
    v = h.run_module(args(pg, dirs, state="verified", version=V2))
    assert v["failed"] and "running version changed since it was stashed" in v["msg"]


def test_restore_is_byte_identical(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    original = primary_files(pg)
    modes = dict(pg.snapshot())
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    # The hazard: a plain make install of 0.2 over the shared names, and a lost script.
    pg.install_plain(V2, api_marker="0.2-over-0.1")
    os.remove(os.path.join(pg.extdir, "pg_tviews--0.1.0.sql"))
    os.chmod(os.path.join(pg.pkglibdir, "pg_tviews.so"), 0o600)
    r = h.run_module(args(pg, dirs, state="restored", version=V1), check_mode=True, diff=True)
    assert r["changed"] and {d["after_header"] for d in r["diff"]} == set(original_paths(pg))
    assert not os.path.exists(os.path.join(pg.extdir, "pg_tviews--0.1.0.sql"))
    r = h.run_module(args(pg, dirs, state="restored"))   # the only stash
    assert not r.get("failed"), r
    assert r["changed"]
    assert primary_files(pg) == original
    now = pg.snapshot()
    for path, val in modes.items():
        assert now[path] == val, path
    assert not h.run_module(args(pg, dirs, state="restored", version=V1))["changed"]


def test_restore_refuses_a_damaged_stash(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    with open(os.path.join(dirs["stash_dir"], "pg15", V1, "pg_tviews.control"), "a") as fh:
        fh.write("# damaged\n")
    pg.write(os.path.join(pg.pkglibdir, "pg_tviews.so"), b"other")
    before = pg.snapshot()
    r = h.run_module(args(pg, dirs, state="restored", version=V1))
    assert r["failed"] and "damaged" in r["msg"]
    assert pg.snapshot() == before
    r = h.run_module(args(pg, dirs, state="restored", version="9.9.9"))
    assert r["failed"] and "no stash of version 9.9.9" in r["msg"]


def test_finalize_then_remove_stash(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    r = h.run_module(args(pg, dirs, state="finalized", version=V2))
    assert r["failed"] and "not installed side by side" in r["msg"]
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    lib_before = h.sha256(os.path.join(pg.pkglibdir, "pg_tviews.so"))
    r = h.run_module(args(pg, dirs, state="finalized", version=V2), diff=True)
    assert not r.get("failed"), r
    assert r["changed"] and "default_version = '0.2.0'" in r["diff"][0]["after"]
    with open(os.path.join(pg.extdir, "pg_tviews.control")) as fh:
        assert "default_version = '0.2.0'" in fh.read()
    assert h.sha256(os.path.join(pg.pkglibdir, "pg_tviews.so")) == lib_before
    assert r["stashes"] == [V1]
    assert not h.run_module(args(pg, dirs, state="finalized", version=V2))["changed"]
    # Installing again after finalize changes nothing either.
    assert not h.run_module(install_args(pg, dirs, pkg))["changed"]
    r = h.run_module(args(pg, dirs, state="finalized", version=V2, remove_stash=True), check_mode=True)
    assert r["changed"] and os.path.isdir(os.path.join(dirs["stash_dir"], "pg15", V1))
    r = h.run_module(args(pg, dirs, state="finalized", version=V2, remove_stash=True))
    assert r["changed"] and r["stashes"] == []
    assert not os.path.exists(os.path.join(dirs["stash_dir"], "pg15", V1))
    # A restore from the (now removed) stash is refused clearly.
    assert "no stash of version 0.1.0" in h.run_module(args(pg, dirs, state="restored", version=V1))["msg"]


def test_restore_after_finalize_puts_the_old_default_back(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    original = primary_files(pg)
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    assert h.run_module(args(pg, dirs, state="finalized", version=V2))["changed"]
    r = h.run_module(args(pg, dirs, state="restored", version=V1))
    assert r["changed"] and [f["path"] for f in r["files"] if f["action"] == "update"] == [
        os.path.join(pg.extdir, "pg_tviews.control")]
    assert primary_files(pg) == original


def test_absent_removes_only_the_side_by_side_version(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    before = pg.snapshot()
    assert not h.run_module(install_args(pg, dirs, pkg)).get("failed")
    r = h.run_module(args(pg, dirs, state="absent", version=V2), check_mode=True)
    assert r["changed"] and len(r["files"]) == 3
    r = h.run_module(args(pg, dirs, state="absent", version=V2))
    assert r["changed"]
    assert pg.snapshot() == before
    assert not h.run_module(args(pg, dirs, state="absent", version=V2))["changed"]
    r = h.run_module(args(pg, dirs, state="absent", version=V1))
    assert r["failed"] and "primary" in r["msg"]
    r = h.run_module(args(pg, dirs, state="absent", version=V1, remove_primary=True))
    assert r["failed"] and "primary" in r["msg"]   # not a primary this module created
    assert os.path.isfile(os.path.join(pg.extdir, "pg_tviews.control"))


def test_fresh_server_gets_a_primary_control(tmp_path, dirs):
    pg = h.FakePg(str(tmp_path / "fresh"))
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    r = h.run_module(install_args(pg, dirs, pkg))
    assert not r.get("failed"), r
    with open(os.path.join(pg.extdir, "pg_tviews.control")) as fh:
        text = fh.read()
    assert "default_version = '0.2.0'" in text and "'$libdir/pg_tviews-0.2.0'" in text
    assert not os.path.exists(os.path.join(pg.pkglibdir, "pg_tviews.so"))
    assert "stash" not in r
    assert not h.run_module(install_args(pg, dirs, pkg))["changed"]
    assert not h.run_module(args(pg, dirs, state="verified", version=V2)).get("failed")
    assert r["created"] and r["created_primary"]
    # Undoing that first installation (what the role does when verification fails).
    r = h.run_module(args(pg, dirs, state="absent", version=V2))
    assert r["failed"] and "remove_primary=true" in r["msg"]
    r = h.run_module(args(pg, dirs, state="absent", version=V2, remove_primary=True))
    assert r["changed"] and len(r["files"]) == 4
    assert sorted(os.listdir(pg.extdir)) == ["plpgsql.control"]
    assert sorted(os.listdir(pg.pkglibdir)) == ["plpgsql.so"]


def test_same_version_as_plain_primary_is_a_no_op(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V1)
    before = pg.snapshot()
    r = h.run_module(install_args(pg, dirs, pkg, version=V1))
    assert not r.get("failed") and not r["changed"] and "nothing to do" in r["msg"]
    assert pg.snapshot() == before


def test_stashed_and_inspected(pg, dirs):
    r = h.run_module(args(pg, dirs, state="stashed"), check_mode=True)
    assert r["changed"] and not os.path.exists(dirs["stash_dir"])
    assert h.run_module(args(pg, dirs, state="stashed"))["changed"]
    assert not h.run_module(args(pg, dirs, state="stashed"))["changed"]
    r = h.run_module(args(pg, dirs, state="inspected"))
    assert r["stashes"] == [V1] and r["pg"]["pg_major"] == "15"
    assert r["installation"]["primary_version"] == V1
    assert r["reference"]["pkglibdir"]["reference"].endswith("plpgsql.so")


def test_required_arguments():
    r = h.run_module({"state": "installed"})
    assert r["failed"] and "version" in r["msg"] and "src" in r["msg"]


# ----------------------------------------------------------------------------- build methods

FAKE_MAKE = r"""#!/bin/sh
# Fake make for the pgxs wiring test: builds nothing, 'installs' the package files under DESTDIR.
echo "$@" >> "$FAKE_LOG"
dest=""; for a in "$@"; do case $a in DESTDIR=*) dest=${a#DESTDIR=};; esac; done
case " $* " in
  *" fail "*) echo "cc: error: something broke" >&2; exit 2;;
esac
[ -f "$PWD/FAIL" ] && { echo "src/pg_tviews.c:1: error: boom" >&2; exit 2; }
case " $* " in
  *" install "*)
    mkdir -p "$dest$LIBDIR" "$dest$EXTDIR"
    cp "$PWD/pg_tviews.so" "$dest$LIBDIR/"
    cp "$PWD/pg_tviews.control" "$PWD"/pg_tviews--*.sql "$dest$EXTDIR/";;
esac
exit 0
"""

FAKE_CARGO = r"""#!/bin/sh
# Fake cargo for the pgrx wiring test: `cargo pgrx package --pg-config P --out-dir D ...`
# writes the package tree under D the way cargo-pgrx mirrors pg_config's paths.
echo "$@" >> "$FAKE_LOG"
[ "$1 $2" = "pgrx package" ] || { echo "unexpected: $*" >&2; exit 1; }
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out-dir" ] && out=$a; prev=$a; done
[ -f "$PWD/FAIL" ] && { echo "error[E0425]: cannot find value" >&2; exit 101; }
mkdir -p "$out$LIBDIR" "$out$EXTDIR"
cp "$PWD/payload/pg_tviews.so" "$out$LIBDIR/"
cp "$PWD/payload/pg_tviews.control" "$PWD"/payload/pg_tviews--*.sql "$out$EXTDIR/"
"""


def _write_exe(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o755)
    return path


def _source_tarball(tmp_path, kind, fail=False):
    import io
    import tarfile
    path = str(tmp_path / ("src-%s.tar.gz" % kind))
    top = "pg_tviews-0.2.0/"
    files = {("Makefile" if kind == "pgxs" else "Cargo.toml"): "# fake\n"}
    prefix = "" if kind == "pgxs" else "payload/"
    files[prefix + "pg_tviews.so"] = h.fake_library(15, b"built-0.2.0")
    files[prefix + "pg_tviews.control"] = h.control_text(V2)
    files[prefix + "pg_tviews--0.2.0.sql"] = h.script_text(V2)
    if fail:
        files["FAIL"] = ""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in sorted(files.items()):
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(top + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_tools(tmp_path, pg):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = str(tmp_path / "tools.log")
    _write_exe(str(bindir / "make"), FAKE_MAKE)
    _write_exe(str(bindir / "cargo"), FAKE_CARGO)
    env = {"PATH": "%s:%s" % (bindir, os.environ["PATH"]), "FAKE_LOG": log, "LIBDIR": pg.pkglibdir,
           "EXTDIR": pg.extdir}
    return env, log


@pytest.mark.parametrize("method", ["pgxs", "pgrx"])
def test_build_methods_wiring_with_fake_tools(tmp_path, pg, dirs, fake_tools, method):
    """Build wiring only: the fake make/cargo copy prebuilt files (no compiler runs)."""
    env, log = fake_tools
    src = _source_tarball(tmp_path, method)
    a = args(pg, dirs, state="installed", version=V2, method=method, src=src, receipt_dir=dirs["receipt_dir"],
             build_env=env)
    before = primary_files(pg)
    r = h.run_module(a)
    assert not r.get("failed"), r
    assert r["changed"] and r["created"] and not r["build_skipped"]
    assert open(os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so"), "rb").read().endswith(b"built-0.2.0\0")
    assert primary_files(pg) == before
    calls = open(log).read().splitlines()
    if method == "pgxs":
        assert calls[0].endswith("PG_CONFIG=" + pg.pg_config)
        assert "install" in calls[1].split() and any(x.startswith("DESTDIR=") for x in calls[1].split())
    else:
        assert calls[0].startswith("pgrx package --pg-config %s --out-dir " % pg.pg_config)
        assert calls[0].endswith("--no-default-features --features pg15")
    # The build tree is gone, the receipt is there.
    assert os.listdir(os.path.join(dirs["work_dir"], "build")) == []
    assert os.path.isfile(os.path.join(dirs["receipt_dir"], "pg15", "pg_tviews-0.2.0.json"))
    # Second run: no build, no change; check mode too.
    r = h.run_module(a)
    assert not r["changed"] and r["build_skipped"], r
    r = h.run_module(a, check_mode=True)
    assert not r["changed"] and r["build_skipped"], r
    assert len(open(log).read().splitlines()) == len(calls)
    # A tampered installed file invalidates the receipt: rebuild and repair.
    pg.write(os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so"), b"tampered")
    r = h.run_module(a)
    assert r["changed"] and not r["build_skipped"]
    assert open(os.path.join(pg.pkglibdir, "pg_tviews-0.2.0.so"), "rb").read().endswith(b"built-0.2.0\0")


@pytest.mark.parametrize("method", ["pgxs", "pgrx"])
def test_build_check_mode_runs_no_build(tmp_path, pg, dirs, fake_tools, method):
    env, log = fake_tools
    src = _source_tarball(tmp_path, method)
    before = pg.snapshot()
    r = h.run_module(args(pg, dirs, state="installed", version=V2, method=method, src=src, build_env=env),
                     check_mode=True)
    assert not r.get("failed"), r
    assert r["changed"] and {os.path.basename(f["path"]) for f in r["files"]} == {
        "pg_tviews-0.2.0.so", "pg_tviews--0.2.0.control", "pg_tviews--0.2.0.sql"}
    assert not os.path.exists(log)
    assert pg.snapshot() == before


@pytest.mark.parametrize("method", ["pgxs", "pgrx"])
def test_failing_build_changes_nothing(tmp_path, pg, dirs, fake_tools, method):
    env, _log = fake_tools
    src = _source_tarball(tmp_path, method, fail=True)
    before = pg.snapshot()
    r = h.run_module(args(pg, dirs, state="installed", version=V2, method=method, src=src, build_env=env))
    assert r["failed"]
    assert ("make (building pg_tviews 0.2.0) failed" in r["msg"] if method == "pgxs"
            else "cargo pgrx package (building pg_tviews 0.2.0) failed" in r["msg"])
    assert "error" in r["msg"]
    assert pg.snapshot() == before
    assert not os.path.exists(dirs["stash_dir"])


def test_pgxs_tarball_without_makefile(tmp_path, pg, dirs):
    pkg = h.make_package(str(tmp_path / "p.tar.gz"), V2)
    r = h.run_module(args(pg, dirs, state="installed", version=V2, method="pgxs", src=pkg))
    assert r["failed"] and "not a PGXS source tarball" in r["msg"]


def test_missing_build_tool(tmp_path, pg, dirs):
    src = _source_tarball(tmp_path, "pgrx")
    r = h.run_module(args(pg, dirs, state="installed", version=V2, method="pgrx", src=src,
                          cargo="no-such-cargo-here"))
    assert r["failed"] and "not found on PATH" in r["msg"]
