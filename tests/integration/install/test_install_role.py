"""The install role, driven by real ansible-playbook runs against private PostgreSQL
installations with stand-in pg_tviews 0.1.0 running (tests/fixtures/pg_tviews).

Scenarios: upstream-layout artifact from the controller (standby + primary, check mode,
idempotence, the make-install hazard and a byte-identical restore, finalize), PGXS source
tarball on the host with a checksum, flat artifact over HTTP, pgrx with a FAKE cargo on PATH
(the real toolchain cannot run here: this only proves the role's wiring), and bad input
that must stop with a clear message and leave the installed files unchanged."""

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading

import psycopg2
import pytest

from tests.harness.modules import ansible_env

from tests.harness.pg import make_base_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(REPO, "tests", "fixtures", "pg_tviews", "schema", "fraiseql.sql")
PLAYBOOK = "pgtviews.ops.install"
RESTORE = os.path.join(HERE, "restore.yml")
V1_LIB = "0.1.0-beta.8"


# ----------------------------------------------------------------------------- helpers

def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def snapshot(inst):
    out = {}
    for d in (inst.pkglibdir, inst.extdir):
        for dirpath, _dirs, files in os.walk(d):
            for f in files:
                p = os.path.join(dirpath, f)
                st = os.lstat(p)
                out[p] = (sha256(p) if not os.path.islink(p) else os.readlink(p), st.st_mode, st.st_uid, st.st_gid)
    return out


def primary_files(inst):
    return [os.path.join(inst.pkglibdir, "pg_tviews.so"), os.path.join(inst.extdir, "pg_tviews.control"),
            os.path.join(inst.extdir, "pg_tviews--0.1.0.sql")]


class Ansible(object):
    """Runs ansible-playbook with the JSON callback in an isolated ANSIBLE_HOME."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.env = ansible_env(workdir, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                               ANSIBLE_PIPELINING="1")
        self.bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        self.count = 0

    def inventory(self, hosts, standbys=()):
        """hosts: {name: vars}; names in standbys go to the group tviews_standbys."""
        common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "tviews_become": False}
        inv = {"all": {"vars": common, "hosts": {}, "children": {"tviews_standbys": {"hosts": {}}}}}
        for name, hv in hosts.items():
            (inv["all"]["children"]["tviews_standbys"]["hosts"] if name in standbys else inv["all"]["hosts"])[name] = hv
        self.count += 1
        path = os.path.join(self.workdir, "inventory%d.json" % self.count)
        with open(path, "w") as fh:
            json.dump(inv, fh)
        return path

    def run(self, inventory, extra_vars=None, playbook=PLAYBOOK, check=False, diff=False, env=None):
        self.count += 1
        ev = os.path.join(self.workdir, "extra%d.json" % self.count)
        with open(ev, "w") as fh:
            json.dump(extra_vars or {}, fh)
        argv = [self.bin, "-i", inventory, "-e", "@" + ev, playbook]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        penv = dict(self.env)
        penv.update(env or {})
        proc = subprocess.run(argv, capture_output=True, text=True, env=penv, timeout=300, cwd=self.workdir,
                              check=False)
        try:
            start = proc.stdout.index("{")
            result = json.loads(proc.stdout[start:])
        except ValueError:
            raise AssertionError("no JSON from ansible-playbook (rc=%s)\n%s\n%s"
                                 % (proc.returncode, proc.stdout, proc.stderr))
        return Run(proc, result)


class Run(object):
    def __init__(self, proc, result):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = result
        self.stats = result.get("stats", {})

    def changed(self, host):
        return self.stats.get(host, {}).get("changed", 0)

    def failed(self, host):
        s = self.stats.get(host, {})
        return s.get("failures", 0) + s.get("unreachable", 0)

    def task_results(self, name, host):
        out = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                tname = task["task"]["name"]
                if (tname == name or tname.endswith(" : " + name)) and host in task["hosts"]:
                    out.append(task["hosts"][host])
        return out

    def play_order(self):
        return [(p["play"]["name"], sorted(set(h for t in p.get("tasks", []) for h in t["hosts"])))
                for p in self.result.get("plays", [])]

    def messages(self, host=None):
        msgs = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                for h, r in task["hosts"].items():
                    if r.get("failed") and host in (None, h):
                        msgs.append(str(r.get("msg", "")))
        return "\n".join(msgs)

    def ok(self):
        assert self.rc == 0, "ansible-playbook failed (rc=%s): %s\n%s" % (self.rc, self.messages(), self.stderr[-3000:])
        return self


def host_vars(inst, base, name, cluster=None):
    hv = {
        "tviews_pg_config": inst.pg_config,
        "tviews_install_stash_dir": os.path.join(base, name, "stash"),
        "tviews_install_receipt_dir": os.path.join(base, name, "receipts"),
        "tviews_install_work_dir": os.path.join(base, name, "work"),
    }
    if cluster is not None:
        hv["tviews_connection"] = {"login_host": cluster.host, "login_port": cluster.port,
                                   "login_user": cluster.user, "login_password": cluster.password}
    return hv


def library_version(cluster, db):
    """pg_tviews_version() in a new session."""
    return cluster.execute("SELECT pg_tviews_version()", db)[0][0]


def assert_tviews_propagate(cluster, db, name):
    """A write to a base table reaches the TVIEWs (tv_user, and tv_post through its author)."""
    cluster.execute("UPDATE public.tb_user SET name = %s WHERE pk_user = 1", db, (name,))
    assert cluster.execute("SELECT data->>'name' FROM public.tv_user WHERE pk_user = 1", db)[0][0] == name
    assert cluster.execute("SELECT DISTINCT data->'author'->>'name' FROM public.tv_post WHERE fk_user = 1",
                           db) == [(name,)]
    n = 1000 + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
    cluster.execute("INSERT INTO public.tb_user VALUES (%s, %s, %s, 'X', 'x@example.com')", db,
                    (n, "00000000-0000-4000-8000-%012d" % n, "id-" + name))
    assert cluster.execute("SELECT count(*) FROM public.tv_user WHERE identifier = %s", db, ("id-" + name,))[0][0] == 1


def insert_user(cluster, db, pk):
    """The application's write: INSERT a base-table row. Its trigger runs the 0.1 write path,
    the C entry point pg_tviews_insert of the library $libdir/pg_tviews (stand-in README,
    "The write path is in the library"); the row must reach tv_user."""
    cluster.execute("INSERT INTO public.tb_user VALUES (%s, %s, %s, 'W', 'w@example.com')", db,
                    (pk, "00000000-0000-4000-8000-%012d" % pk, "write-%d" % pk))
    assert cluster.execute("SELECT data->>'identifier', data->>'name' FROM public.tv_user WHERE pk_user = %s",
                           db, (pk,)) == [("write-%d" % pk, "W")]


def assert_insert_needs_the_01_library(cluster, db, pk):
    """After `make install` of 0.2 over 0.1: the 0.2 library lacks 0.1's write-path symbols,
    so the INSERT fails in a new session and writes nothing."""
    with pytest.raises(psycopg2.Error) as exc:
        cluster.execute("INSERT INTO public.tb_user VALUES (%s, %s, %s, 'W', 'w@example.com')", db,
                        (pk, "00000000-0000-4000-8000-%012d" % pk, "write-%d" % pk))
    assert 'could not find function "pg_tviews_insert_wrapper"' in exc.value.diag.message_primary
    assert cluster.execute("SELECT count(*) FROM public.tb_user WHERE pk_user = %s", db, (pk,)) == [(0,)]


def scratch_create(cluster, version, default=False):
    """CREATE EXTENSION in a fresh database; returns (pg_tviews_version(), extversion, probin)."""
    db = "scratch_%s" % version.replace(".", "_")
    cluster.dropdb(db)
    cluster.createdb(db)
    try:
        cluster.execute("CREATE EXTENSION pg_tviews" + ("" if default else " VERSION '%s'" % version), db)
        v = library_version(cluster, db)
        ext = cluster.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", db)[0][0]
        probin = cluster.execute("SELECT DISTINCT probin FROM pg_proc WHERE probin LIKE '$libdir/pg_tviews%%'", db)
        return v, ext, sorted(p for (p,) in probin)
    finally:
        cluster.dropdb(db)


def make_flat(upstream, dest, top=""):
    """A flat tarball of the .so, .control and .sql files of an upstream-layout artifact."""
    with tarfile.open(upstream) as src, tarfile.open(dest, "w:gz") as out:
        for m in src.getmembers():
            if m.isfile():
                data = src.extractfile(m).read()
                info = tarfile.TarInfo(top + os.path.basename(m.name))
                info.size, info.mode = len(data), m.mode
                out.addfile(info, io.BytesIO(data))
    return dest


def retar(src_path, dest, rename=None, drop=None, edit=None):
    """Copy a tarball, renaming member paths, dropping members, or editing member bytes."""
    with tarfile.open(src_path) as src, tarfile.open(dest, "w:gz") as out:
        for m in src.getmembers():
            if drop and drop(m.name):
                continue
            data = src.extractfile(m).read() if m.isfile() else None
            if edit and data is not None:
                data = edit(m.name, data)
            info = tarfile.TarInfo(rename(m.name) if rename else m.name)
            info.type, info.mode = m.type, m.mode
            if data is not None:
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            else:
                out.addfile(info)
    return dest


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def work():
    path = make_base_dir("pgtviews-install-it-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ansible(work):
    return Ansible(work)


def app_cluster(make_pg_install, make_cluster, name):
    inst = make_pg_install(("0.1.0",))
    cluster = make_cluster(inst, name=name)
    cluster.createdb("app")
    cluster.psql("app", "-f", SCHEMA)
    assert library_version(cluster, "app") == V1_LIB
    return inst, cluster


# ----------------------------------------------------------------------------- scenario 1

@pytest.fixture(scope="module")
def fleet(make_pg_install, make_cluster, work, standin_build, ansible):
    """primary1: installation A with a running cluster and the app database (0.1.0, TVIEWs);
    standby1: installation B with 0.1.0 files and no server (a standby gets no SQL)."""
    inst_a, cluster = app_cluster(make_pg_install, make_cluster, "install-primary")
    inst_b = make_pg_install(("0.1.0",))
    hosts = {"primary1": host_vars(inst_a, work, "primary1", cluster),
             "standby1": dict(host_vars(inst_b, work, "standby1"), tviews_connection={"login_port": 1})}
    inv = ansible.inventory(hosts, standbys=("standby1",))
    extra = {"tviews_version": "0.2.0", "tviews_install_method": "artifact",
             "tviews_install_src": standin_build["0.2.0"]["artifact"]}
    return {"a": inst_a, "b": inst_b, "cluster": cluster, "inv": inv, "extra": extra,
            "before_a": snapshot(inst_a), "before_b": snapshot(inst_b),
            "primary_sha": {p: sha256(p) for p in primary_files(inst_a)}}


def test_check_mode_first_run_reports_changes_and_changes_nothing(fleet, ansible, work):
    run = ansible.run(fleet["inv"], fleet["extra"], check=True, diff=True).ok()
    assert run.changed("primary1") > 0 and run.changed("standby1") > 0
    (res,) = run.task_results("Install the new version's files side by side with the running version", "primary1")
    assert res["changed"] and res["msg"].startswith("would install")
    assert snapshot(fleet["a"]) == fleet["before_a"] and snapshot(fleet["b"]) == fleet["before_b"]
    assert not os.path.exists(os.path.join(work, "primary1", "stash", "pg15"))


def test_install_upstream_artifact_side_by_side(fleet, ansible, work):
    run = ansible.run(fleet["inv"], fleet["extra"]).ok()
    a, cluster = fleet["a"], fleet["cluster"]
    # Standbys first, and no SQL there.
    order = run.play_order()
    names = [n for n, _h in order]
    assert names.index("Install pg_tviews side by side on the standbys") < names.index(
        "Install pg_tviews side by side on the primaries")
    assert dict(order)["Install pg_tviews side by side on the standbys"] == ["standby1"]
    (vs,) = run.task_results("Verify the files, and on a primary the version in a throwaway database", "standby1")
    assert "database_checks" not in vs
    (vp,) = run.task_results("Verify the files, and on a primary the version in a throwaway database", "primary1")
    assert vp["database_checks"]["library_version"] == "0.2.0"
    assert vp["database_checks"]["probin"] == ["$libdir/pg_tviews-0.2.0"]
    assert {"name": "app", "extversion": "0.1.0", "library_version": V1_LIB, "ok": True} in \
        vp["database_checks"]["databases"]
    assert cluster.password not in run.stdout + run.stderr
    # The running version's files are untouched; the new ones sit beside them.
    assert {p: sha256(p) for p in primary_files(a)} == fleet["primary_sha"]
    for inst in (a, fleet["b"]):
        assert os.path.isfile(os.path.join(inst.pkglibdir, "pg_tviews-0.2.0.so"))
        with open(os.path.join(inst.extdir, "pg_tviews--0.2.0.control")) as fh:
            assert "module_pathname = '$libdir/pg_tviews-0.2.0'" in fh.read()
        ref = os.stat(os.path.join(inst.pkglibdir, "plpgsql.so"))
        new = os.stat(os.path.join(inst.pkglibdir, "pg_tviews-0.2.0.so"))
        assert (new.st_mode, new.st_uid, new.st_gid) == (ref.st_mode, ref.st_uid, ref.st_gid)
    # The server offers 0.2.0; the 0.1 database still runs 0.1 in a new session, and its TVIEWs work.
    assert cluster.execute("SELECT version FROM pg_available_extension_versions WHERE name = 'pg_tviews' "
                           "ORDER BY 1") == [("0.1.0",), ("0.2.0",)]
    assert library_version(cluster, "app") == V1_LIB
    assert_tviews_propagate(cluster, "app", "Alice after install")
    # With 0.2 installed side by side the 0.1 write path still runs the 0.1 library
    # (test_stash_restores_... shows the same INSERT failing after `make install`).
    insert_user(cluster, "app", 7001)
    # A scratch database can create 0.2.0, bound to the versioned library.
    assert scratch_create(cluster, "0.2.0") == ("0.2.0", "0.2.0", ["$libdir/pg_tviews-0.2.0"])
    assert cluster.execute("SELECT count(*) FROM pg_database WHERE datname = 'pgtviews_install_verify'")[0][0] == 0
    # The stash has the running version's files, checksummed.
    manifest = json.load(open(os.path.join(work, "primary1", "stash", "pg15", "0.1.0", "manifest.json")))
    assert {os.path.join(f["source_dir"], f["name"]): f["sha256"] for f in manifest["files"]} == fleet["primary_sha"]


def test_second_run_reports_no_change(fleet, ansible):
    run = ansible.run(fleet["inv"], fleet["extra"]).ok()
    assert run.changed("primary1") == 0 and run.changed("standby1") == 0, run.stats


def test_stash_restores_byte_identical_files_after_the_make_install_hazard(fleet, ansible, standin_build):
    """`make install` of 0.2 over 0.1 (the unsafe way the side-by-side install avoids) breaks
    the 0.1 database's writes; the stash puts the 0.1 files back byte for byte."""
    a, cluster = fleet["a"], fleet["cluster"]
    # What the runbook's `make install` of 0.2 does: the 0.1 database now runs 0.2 code.
    a.install_tarball(standin_build["0.2.0"]["source"])
    assert library_version(cluster, "app") == "0.2.0"
    assert {p: sha256(p) for p in primary_files(a)} != fleet["primary_sha"]
    # ... and the application's writes fail: a base-table INSERT needs 0.1's C entry point,
    # which the 0.2 library does not have (after the side-by-side install it succeeded).
    assert_insert_needs_the_01_library(cluster, "app", 7002)
    inv = ansible.inventory({"primary1": json.load(open(fleet["inv"]))["all"]["hosts"]["primary1"]})
    run = ansible.run(inv, {"tviews_install_restore_version": "0.1.0"}, playbook=RESTORE).ok()
    assert run.changed("primary1") == 1
    assert {p: sha256(p) for p in primary_files(a)} == fleet["primary_sha"]
    for p in primary_files(a):
        assert snapshot(a)[p] == fleet["before_a"][p]   # content, mode and owner
    assert library_version(cluster, "app") == V1_LIB
    assert_tviews_propagate(cluster, "app", "Alice after restore")
    insert_user(cluster, "app", 7002)   # the INSERT that failed on the 0.2 library


def test_finalize_makes_the_new_version_the_default(fleet, ansible, work):
    cluster = fleet["cluster"]
    extra = dict(fleet["extra"], tviews_install_mode="finalize")
    run = ansible.run(fleet["inv"], extra).ok()
    assert run.changed("primary1") == 1 and run.changed("standby1") == 1
    assert cluster.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_tviews'") == [
        ("0.2.0",)]
    assert scratch_create(cluster, "0.2.0", default=True) == ("0.2.0", "0.2.0", ["$libdir/pg_tviews-0.2.0"])
    assert library_version(cluster, "app") == V1_LIB
    assert os.path.isdir(os.path.join(work, "primary1", "stash", "pg15", "0.1.0"))   # kept unless asked


# ----------------------------------------------------------------------------- other source kinds

SIDE_BY_SIDE_020 = ("lib/pg_tviews-0.2.0.so", "extension/pg_tviews--0.2.0.control", "extension/pg_tviews--0.2.0.sql")


@pytest.fixture(scope="module")
def shared(make_pg_install, make_cluster):
    """One installation (0.1.0 running, app database with TVIEWs) for the other source kinds
    and the bad-input cases; each test starts from its pristine files."""
    inst, cluster = app_cluster(make_pg_install, make_cluster, "install-kinds")
    return {"inst": inst, "cluster": cluster, "pristine": snapshot(inst)}


def reset(shared):
    """The shared installation without any side-by-side 0.2.0 files."""
    inst = shared["inst"]
    for rel in SIDE_BY_SIDE_020:
        d = inst.pkglibdir if rel.startswith("lib/") else inst.extdir
        p = os.path.join(d, rel.split("/", 1)[1])
        if os.path.exists(p):
            os.remove(p)
    assert snapshot(inst) == shared["pristine"]
    return shared["inst"], shared["cluster"]


@pytest.fixture
def fresh(shared):
    return reset(shared)


def _single_host(ansible, work, inst, cluster, name):
    return ansible.inventory({name: host_vars(inst, work, name, cluster)})


def _assert_installed_and_running(inst, cluster, before):
    assert {p: before[p] for p in primary_files(inst)} == {p: snapshot(inst)[p] for p in primary_files(inst)}
    assert library_version(cluster, "app") == V1_LIB
    assert scratch_create(cluster, "0.2.0") == ("0.2.0", "0.2.0", ["$libdir/pg_tviews-0.2.0"])


def test_pgxs_source_tarball_on_the_host_with_checksum(fresh, ansible, work, standin_build):
    inst, cluster = fresh
    before = snapshot(inst)
    src = os.path.join(work, "on-host", "pg_tviews-0.2.0.tar.gz")
    os.makedirs(os.path.dirname(src), exist_ok=True)
    shutil.copy(standin_build["0.2.0"]["source"], src)
    inv = _single_host(ansible, work, inst, cluster, "pgxs1")
    extra = {"tviews_version": "0.2.0", "tviews_install_method": "pgxs", "tviews_install_src": src,
             "tviews_install_src_remote": True, "tviews_install_checksum": "sha256:" + sha256(src)}
    run = ansible.run(inv, extra).ok()
    (res,) = run.task_results("Install the new version's files side by side with the running version", "pgxs1")
    assert res["created"] and not res["build_skipped"]
    _assert_installed_and_running(inst, cluster, before)
    assert_tviews_propagate(cluster, "app", "Alice pgxs")
    run = ansible.run(inv, extra).ok()
    assert run.changed("pgxs1") == 0, run.stats
    (res,) = run.task_results("Install the new version's files side by side with the running version", "pgxs1")
    assert res["build_skipped"]


def test_flat_artifact_over_http(fresh, ansible, work, standin_build):
    inst, cluster = fresh
    before = snapshot(inst)
    served = os.path.join(work, "www")
    os.makedirs(served, exist_ok=True)
    flat = make_flat(standin_build["0.2.0"]["artifact"], os.path.join(served, "pg_tviews-0.2.0-flat.tar.gz"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/pg_tviews-0.2.0-flat.tar.gz" % httpd.server_address[1]
        inv = _single_host(ansible, work, inst, cluster, "flat1")
        extra = {"tviews_version": "0.2.0", "tviews_install_src": url, "tviews_install_checksum": sha256(flat)}
        run = ansible.run(inv, extra).ok()
        (res,) = run.task_results("Install the new version's files side by side with the running version", "flat1")
        assert res["payload"]["layout"] == "flat" and res["payload"]["pg_major"] == "15"
        _assert_installed_and_running(inst, cluster, before)
    finally:
        httpd.shutdown()


FAKE_CARGO = r"""#!/bin/sh
# FAKE cargo (test only): `cargo pgrx package --pg-config P --out-dir D ...` lays out the prebuilt
# stand-in 0.2.0 artifact under D the way cargo-pgrx mirrors pg_config's paths. No Rust is built.
echo "$PWD $*" >> "$FAKE_CARGO_LOG"
[ "$1 $2" = "pgrx package" ] || { echo "fake cargo: unexpected $*" >&2; exit 1; }
pgc=""; out=""; prev=""
for a in "$@"; do
  [ "$prev" = "--pg-config" ] && pgc=$a
  [ "$prev" = "--out-dir" ] && out=$a
  prev=$a
done
[ -f Cargo.toml ] || { echo "fake cargo: no Cargo.toml in $PWD" >&2; exit 1; }
t=$(mktemp -d); tar -xzf "$FAKE_PGRX_ARTIFACT" -C "$t"
lib=$("$pgc" --pkglibdir); ext=$("$pgc" --sharedir)/extension
mkdir -p "$out$lib" "$out$ext"
cp "$t"/target/release/pg_tviews-pg*/usr/lib/postgresql/*/lib/pg_tviews.so "$out$lib/"
cp "$t"/target/release/pg_tviews-pg*/usr/share/postgresql/*/extension/* "$out$ext/"
rm -rf "$t"
"""


def test_pgrx_wiring_with_a_fake_cargo_on_path(fresh, ansible, work, standin_build):
    """FAKE cargo: proves the role's pgrx wiring (arguments, staging, install), not a real pgrx build."""
    inst, cluster = fresh
    before = snapshot(inst)
    bindir = os.path.join(work, "fake-bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "cargo"), "w") as fh:
        fh.write(FAKE_CARGO)
    os.chmod(os.path.join(bindir, "cargo"), 0o755)
    tree = os.path.join(work, "pgrx-src", "pg_tviews")
    os.makedirs(os.path.join(tree, "src"), exist_ok=True)
    with open(os.path.join(tree, "Cargo.toml"), "w") as fh:
        fh.write('[package]\nname = "pg_tviews"\nversion = "0.2.0"\n')
    with open(os.path.join(tree, "src", "lib.rs"), "w") as fh:
        fh.write("// stand-in\n")
    log = os.path.join(work, "fake-cargo.log")
    env = {"PATH": bindir + os.pathsep + os.environ["PATH"], "FAKE_CARGO_LOG": log,
           "FAKE_PGRX_ARTIFACT": standin_build["0.2.0"]["artifact"]}
    inv = _single_host(ansible, work, inst, cluster, "pgrx1")
    extra = {"tviews_version": "0.2.0", "tviews_install_method": "pgrx", "tviews_install_src": tree,
             "tviews_install_src_remote": True}
    ansible.run(inv, extra, env=env).ok()
    (call,) = open(log).read().splitlines()
    assert call == "%s pgrx package --pg-config %s --out-dir %s --no-default-features --features pg15" % (
        tree, inst.pg_config, call.split("--out-dir ")[1].split(" ")[0])
    _assert_installed_and_running(inst, cluster, before)


# ----------------------------------------------------------------------------- bad input

@pytest.fixture(scope="module")
def bad_files(work, standin_build):
    d = os.path.join(work, "bad")
    os.makedirs(d, exist_ok=True)
    art = standin_build["0.2.0"]["artifact"]
    files = {
        "pg16": retar(art, os.path.join(d, "pg_tviews-v0.2.0-pg16.tar.gz"),
                      rename=lambda n: n.replace("pg_tviews-pg15", "pg_tviews-pg16").replace("/15/", "/16/")),
        "no_script": retar(art, os.path.join(d, "no-script.tar.gz"), drop=lambda n: n.endswith(".sql")),
        "broken_build": retar(standin_build["0.2.0"]["source"], os.path.join(d, "pg_tviews-0.2.0-broken.tar.gz"),
                              edit=lambda n, b: b + b"\n#error deliberately broken\n" if n.endswith(".c") else b),
        "no_load": retar(make_flat(art, os.path.join(d, "flat.tar.gz")), os.path.join(d, "garbage-lib.tar.gz"),
                         edit=lambda n, b: b"not a shared library" if n.endswith(".so") else b),
    }
    return {"files": files, "art": art}


BAD_CASES = [
    ("missing", {"tviews_install_src": "/nonexistent/pg_tviews-v0.2.0-pg15.tar.gz"}, "does not exist on the controller"),
    ("checksum", {"tviews_install_checksum": "sha256:" + "0" * 64}, "checksum mismatch"),
    ("pg16", {}, "built for PostgreSQL 16, but pg_config is PostgreSQL 15"),
    ("no_script", {}, "no pg_tviews--0.2.0.sql"),
    ("wrong_version", {"tviews_version": "0.3.0"}, "no pg_tviews--0.3.0.sql"),
    ("broken_build", {"tviews_install_method": "pgxs"}, "make (building pg_tviews 0.2.0) failed"),
    ("no_load", {}, "did not verify"),
]


@pytest.fixture(scope="module")
def bad_run(shared, bad_files, ansible, work):
    """Every bad input as its own host, in one ansible-playbook run against the same installation."""
    inst, cluster = reset(shared)
    hosts = {}
    for case, vars_, _message in BAD_CASES:
        hv = host_vars(inst, work, "bad-" + case, cluster)
        hv.update({"tviews_version": "0.2.0", "tviews_install_method": "artifact",
                   "tviews_install_src": bad_files["files"].get(case, bad_files["art"])})
        hv.update(vars_)
        hosts["bad-" + case] = hv
    before = snapshot(inst)
    run = ansible.run(ansible.inventory(hosts), {}, playbook=os.path.join(HERE, "role.yml"),
                      env={"ANSIBLE_FORKS": str(len(hosts))})
    return {"run": run, "before": before, "after": snapshot(inst), "inst": inst, "cluster": cluster}


@pytest.mark.parametrize("case,message", [(c, m) for c, _v, m in BAD_CASES])
def test_bad_input_stops_and_leaves_the_installed_files_unchanged(bad_run, work, case, message):
    run, name = bad_run["run"], "bad-" + case
    assert run.rc != 0 and run.failed(name) == 1, run.stats
    msgs = run.messages(name)
    assert message in msgs, msgs
    assert bad_run["after"] == bad_run["before"]
    if case == "no_load":
        assert "removed again" in msgs and "CREATE EXTENSION pg_tviews VERSION 0.2.0" in msgs
    else:
        assert not os.path.exists(os.path.join(work, name, "stash", "pg15"))
    assert library_version(bad_run["cluster"], "app") == V1_LIB
