"""Stand-in packaging and version transitions: build outputs, 0.1.0 -> 0.1.1
ALTER EXTENSION UPDATE, no update path 0.1 -> 0.2, the shared-library hazard
(reference §3.3-§3.4, §4, §8 pitfalls 3-4), release artifacts, and adoption of
0.1-built TVIEWs by 0.2 after a dump/restore."""

import hashlib
import os
import subprocess
import tarfile
import tempfile

import psycopg2
import pytest

from .helpers import (DB, FIXTURE_DIR, FIXTURE_TVIEWS, fixture_sql, make_fixture_db,
                      rows_equal_view, unique_name)

BUILD = os.path.join(FIXTURE_DIR, "build-standin.sh")
VERSIONS = ("0.1.0", "0.1.1", "0.2.0")
SCRIPTS = {
    "0.1.0": ["pg_tviews--0.1.0.sql"],
    "0.1.1": ["pg_tviews--0.1.0--0.1.1.sql", "pg_tviews--0.1.0.sql"],
    "0.2.0": ["pg_tviews--0.2.0.sql"],
}


def _sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _control(text):
    return {k.strip(): v.strip().strip("'") for k, v in
            (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))}


def version(cluster, dbname):
    conn = DB(cluster.connect(dbname))
    try:
        return conn.one("SELECT pg_tviews_version(), extversion FROM pg_extension WHERE extname = 'pg_tviews'")
    finally:
        conn.close()


# --------------------------------------------------------------------------- build outputs


@pytest.mark.parametrize("v", VERSIONS)
def test_source_tarball_layout(standin_build, v):
    with tarfile.open(standin_build[v]["source"]) as tf:
        names = tf.getnames()
        assert all(n == "pg_tviews-%s" % v or n.startswith("pg_tviews-%s/" % v) for n in names)
        top = "pg_tviews-%s/" % v
        assert sorted(n[len(top) + 4:] for n in names if n.startswith(top + "sql/") and n.endswith(".sql")) == SCRIPTS[v]
        for f in ("Makefile", "version.mk", "pg_tviews.control", "src/pg_tviews.c", "README.md"):
            assert top + f in names
        control = _control(tf.extractfile(top + "pg_tviews.control").read().decode())
        assert control == {"comment": "Transactional Views (TVIEWs) for PostgreSQL with automatic refresh triggers",
                           "default_version": v, "module_pathname": "$libdir/pg_tviews",
                           "relocatable": "false", "superuser": "false"}
        libver = {"0.1.0": "0.1.0-beta.8"}.get(v, v)
        assert "PG_TVIEWS_VERSION = %s\n" % libver in tf.extractfile(top + "version.mk").read().decode()
        assert {m.mtime for m in tf.getmembers()} == {1700000000}


@pytest.mark.parametrize("v", VERSIONS)
def test_artifact_layout(standin_build, v):
    with tarfile.open(standin_build[v]["artifact"]) as tf:
        files = sorted(m.name for m in tf.getmembers() if m.isfile())
    root = "target/release/pg_tviews-pg15/usr/"
    assert files == sorted([root + "lib/postgresql/15/lib/pg_tviews.so",
                            root + "share/postgresql/15/extension/pg_tviews.control"] +
                           [root + "share/postgresql/15/extension/" + s for s in SCRIPTS[v]])
    assert os.path.basename(standin_build[v]["artifact"]) == "pg_tviews-v%s-pg15.tar.gz" % v


def test_build_is_reproducible(standin_build):
    out = tempfile.mkdtemp(prefix="standin-rebuild-")
    try:
        subprocess.run([BUILD, out], check=True, capture_output=True)
        for v in VERSIONS:
            for kind in ("source", "artifact"):
                path = standin_build[v][kind]
                assert _sha(os.path.join(out, os.path.basename(path))) == _sha(path), path
    finally:
        subprocess.run(["rm", "-rf", out], check=True)


def test_build_usage_error():
    res = subprocess.run([BUILD], capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "usage" in res.stderr


WRITE_PATH_SYMBOLS = {"pg_tviews_cascade_wrapper", "pg_tviews_insert_wrapper", "pg_tviews_delete_wrapper"}


def _library_symbols(artifact):
    """Dynamic symbols defined by the pg_tviews.so in a release artifact (nm -D)."""
    work = tempfile.mkdtemp(prefix="standin-nm-")
    try:
        with tarfile.open(artifact) as tf:
            (member,) = [m for m in tf.getmembers() if m.name.endswith("/pg_tviews.so")]
            tf.extract(member, work)
        out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(work, member.name)],
                             check=True, capture_output=True, text=True).stdout
        return {line.split()[-1] for line in out.splitlines() if line.strip()}
    finally:
        subprocess.run(["rm", "-rf", work], check=True)


def test_write_path_symbols_only_in_01_libraries(standin_build):
    """The base-table trigger's entry points (src/lib.rs: pg_tviews_cascade/_insert/_delete,
    pgrx symbols <name>_wrapper) are in the 0.1 libraries and not in the 0.2 one, whose
    entry points differ as a new major's do."""
    for v in ("0.1.0", "0.1.1"):
        assert WRITE_PATH_SYMBOLS <= _library_symbols(standin_build[v]["artifact"]), v
    syms02 = _library_symbols(standin_build["0.2.0"]["artifact"])
    assert "pg_tviews_version_wrapper" in syms02
    assert not WRITE_PATH_SYMBOLS & syms02
    assert "pg_tviews_debug_queue_wrapper" not in syms02


# --------------------------------------------------------------------------- version transitions


def test_minor_update_then_no_path_to_02(make_pg_install, make_cluster, standin_build):
    """0.1.0 -> 0.1.1 with ALTER EXTENSION UPDATE (and the library swapping first);
    then 0.2.0 over it: no update path."""
    inst = make_pg_install(("0.1.0",))
    cluster = make_cluster(inst, name="minor")
    try:
        dbname = make_fixture_db(cluster)
        assert version(cluster, dbname) == ("0.1.0-beta.8", "0.1.0")
        inst.install_tarball(standin_build["0.1.1"]["source"])
        # the new library is used at once, under the old catalog
        assert version(cluster, dbname) == ("0.1.1", "0.1.0")
        assert cluster.execute("SELECT version FROM pg_available_extension_versions WHERE name = 'pg_tviews'"
                               " ORDER BY 1") == [("0.1.0",), ("0.1.1",)]
        cluster.execute("ALTER EXTENSION pg_tviews UPDATE TO '0.1.1'", dbname)
        assert version(cluster, dbname) == ("0.1.1", "0.1.1")
        assert cluster.execute("SELECT obj_description('pg_tviews_version()'::regprocedure)", dbname)[0][0] == \
            "Version of the loaded pg_tviews library (0.1.1 catalog)"
        cluster.execute("UPDATE tb_user SET name = 'Alicia' WHERE pk_user = 1", dbname)
        assert cluster.execute("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 1", dbname) == [("Alicia",)]
        # a fresh CREATE EXTENSION at 0.1.1 chains 0.1.0 + the update script
        other = make_fixture_db(cluster)
        assert version(cluster, other) == ("0.1.1", "0.1.1")

        inst.install_tarball(standin_build["0.2.0"]["source"])
        with pytest.raises(psycopg2.Error) as exc:
            cluster.execute("ALTER EXTENSION pg_tviews UPDATE TO '0.2.0'", dbname)
        assert exc.value.diag.message_primary == \
            'extension "pg_tviews" has no update path from version "0.1.1" to version "0.2.0"'
        with pytest.raises(psycopg2.Error) as exc:
            cluster.execute("ALTER EXTENSION pg_tviews UPDATE", dbname)  # default_version is now 0.2.0
        assert "no update path" in exc.value.diag.message_primary
        assert version(cluster, dbname) == ("0.2.0", "0.1.1")
    finally:
        cluster.destroy()


def test_library_hazard_make_install_02_over_01(make_pg_install, make_cluster, standin_build):
    """Both versions are $libdir/pg_tviews: `make install` of 0.2.0 over a running
    0.1.0 changes the code under every 0.1 database (reference §8 pitfall 4)."""
    inst = make_pg_install(("0.1.0",))
    cluster = make_cluster(inst, name="hazard")
    try:
        dbname = make_fixture_db(cluster)
        old = DB(cluster.connect(dbname))
        assert old.one("SELECT pg_tviews_version()") == "0.1.0-beta.8"  # library loaded in this backend

        inst.install_tarball(standin_build["0.2.0"]["source"])

        new = DB(cluster.connect(dbname))
        try:
            # a new session on the 0.1 database runs the 0.2 library
            assert new.one("SELECT pg_tviews_version(), extversion FROM pg_extension WHERE extname = 'pg_tviews'") == (
                "0.2.0", "0.1.0")
            assert new.one("SELECT message FROM pg_tviews_health_check() WHERE component = 'extension'") == \
                "pg_tviews version 0.2.0"
            # symbols the 0.1 catalog needs are gone from the 0.2 library
            err = new.error("SELECT pg_tviews_debug_queue()")
            assert 'could not find function "pg_tviews_debug_queue_wrapper"' in err.diag.message_primary
            # and so is the write path: every write to a TVIEW base table fails, and nothing is written
            for sql, symbol in (
                    ("INSERT INTO tb_user VALUES (9, '00000000-0000-4000-8000-000000000009', 'z', 'z', 'z')",
                     "pg_tviews_insert_wrapper"),
                    ("UPDATE tb_user SET name = 'x' WHERE pk_user = 2", "pg_tviews_cascade_wrapper"),
                    ("DELETE FROM tb_comment WHERE pk_comment = 3", "pg_tviews_delete_wrapper")):
                err = new.error(sql)
                assert 'could not find function "%s"' % symbol in err.diag.message_primary, (sql, err)
            assert new.one("SELECT count(*) FROM tb_user WHERE pk_user = 9") == 0
            assert new.one("SELECT name FROM tb_user WHERE pk_user = 2") != "x"
            # sessions that loaded the old library keep it, writes included
            assert old.one("SELECT pg_tviews_version()") == "0.1.0-beta.8"
            old.q("UPDATE tb_user SET name = 'Bobby' WHERE pk_user = 2")
            assert old.one("SELECT data ->> 'name' FROM tv_user WHERE pk_user = 2") == "Bobby"
            # and 0.1.0 can no longer be created: its script needs the missing symbol
            fresh = cluster.createdb(unique_name("fresh"))
            with pytest.raises(psycopg2.Error) as exc:
                cluster.execute("CREATE EXTENSION pg_tviews VERSION '0.1.0'", fresh)
            assert "pg_tviews_debug_queue_wrapper" in exc.value.diag.message_primary
            assert cluster.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_tviews'") == [
                ("0.2.0",)]
        finally:
            new.close()
            old.close()
    finally:
        cluster.destroy()


def test_release_artifacts_install(make_pg_install, make_cluster, standin_build):
    """Artifacts unpack into a server like `cargo pgrx package` output.  Over a running
    server they are installed by rename (see PgInstall.install_artifact): rewriting
    pg_tviews.so in place kills backends that have it mapped (SIGBUS)."""
    inst = make_pg_install(())
    inst.install_artifact(standin_build["0.1.0"]["artifact"])  # fresh: nothing has the library mapped
    cluster = make_cluster(inst, name="artifacts")
    try:
        db01 = make_fixture_db(cluster)
        assert version(cluster, db01) == ("0.1.0-beta.8", "0.1.0")
        inst.install_artifact(standin_build["0.1.1"]["artifact"])
        cluster.execute("ALTER EXTENSION pg_tviews UPDATE TO '0.1.1'", db01)
        assert version(cluster, db01) == ("0.1.1", "0.1.1")
        inst.install_artifact(standin_build["0.2.0"]["artifact"])
        db02 = make_fixture_db(cluster)
        assert version(cluster, db02) == ("0.2.0", "0.2.0")
        assert cluster.execute("SELECT count(*) FROM pg_tviews_metadata", db02) == [(7,)]
    finally:
        cluster.destroy()


# --------------------------------------------------------------------------- 0.1 -> 0.2 by hand


def test_01_tviews_adopted_by_02_after_dump_restore(pg_cluster, pg02_cluster, pg_install):
    """The manual migration the collection automates: on 0.1, capture, DROP EXTENSION
    and the leftover handler/triggers; dump; restore on a 0.2 server; adopt."""
    src = make_fixture_db(pg_cluster)
    d = DB(pg_cluster.connect(src))
    try:
        before = {e: sorted(d.q('SELECT id::text, data::text, created_at, updated_at FROM "%s"."%s"'
                                % (s, "tv_" + e))) for e, (s, _count) in FIXTURE_TVIEWS.items()}
        order = d.col("SELECT format('%I.%I', n.nspname, c.relname) FROM pg_tview_meta m"
                      " JOIN pg_class c ON c.oid = m.table_oid JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " ORDER BY m.created_at, m.entity")
        d.q("DROP EXTENSION pg_tviews")
        d.q("DROP FUNCTION tview_trigger_handler() CASCADE")  # the 0.1 triggers go with it
    finally:
        d.close()
    dump = subprocess.run([os.path.join(pg_install.bindir, "pg_dump"), "-h", pg_cluster.socket_dir,
                           "-p", str(pg_cluster.port), "-U", pg_cluster.user, "--no-owner", src],
                          check=True, capture_output=True, text=True).stdout
    dst = pg02_cluster.createdb(unique_name("restored"))
    pg02_cluster.psql(dst, input=dump)
    pg02_cluster.execute("CREATE EXTENSION pg_tviews", dst)
    d = DB(pg02_cluster.connect(dst))
    try:
        for name in order:
            d.q("SELECT pg_tviews_convert_existing_table(%s)", (name,))
        after = {e: sorted(d.q('SELECT id::text, data::text, created_at, updated_at FROM "%s"."%s"'
                               % (s, "tv_" + e))) for e, (s, _count) in FIXTURE_TVIEWS.items()}
        assert after == before
        d.q("UPDATE tb_user SET name = 'Alicia' WHERE pk_user = 1")
        for entity, (schema, _count) in FIXTURE_TVIEWS.items():
            assert rows_equal_view(d, schema, entity), entity
        assert d.one("SELECT count(*) FROM pg_tviews_health_check() WHERE status = 'OK'") == 4
    finally:
        d.close()


def test_fixture_sql_runs_on_both(pg_cluster, pg02_cluster):
    """schema/fraiseql.sql is plain SQL: psql -f works on both versions."""
    for cluster in (pg_cluster, pg02_cluster):
        dbname = cluster.createdb(unique_name("psql"))
        cluster.psql(dbname, input=fixture_sql())
        assert cluster.execute("SELECT count(*) FROM tv_comment", dbname) == [(5,)]
