"""Throwaway PostgreSQL for tests and the demo: a private relocatable copy of the
installation (so extension files can be installed and removed freely) and clusters
run as the ``postgres`` user when we are root (PostgreSQL refuses to run as root)."""

import os
import pwd
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time

import psycopg2

PG_MAJOR = os.environ.get("PGTVIEWS_PG_MAJOR", "15")
SYSTEM_LIB = "/usr/lib/postgresql/%s" % PG_MAJOR
SYSTEM_SHARE = "/usr/share/postgresql/%s" % PG_MAJOR
SUPERUSER_PASSWORD = "harness-secret-pw"


def _run_as_owner():
    """Prefix for commands the server must run as (postgres when we are root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


def server_owner():
    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def _chown_to_owner(path):
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def make_base_dir(prefix="pgtviews-"):
    """A world-traversable temp dir (pytest's own tmp dirs are 0700 and root-owned)."""
    path = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("PGTVIEWS_TMP", "/tmp"))
    os.chmod(path, 0o755)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replace_file(src, dest):
    """Copy to a temporary name, then rename into place: rewriting a loaded .so in place
    makes backends that mapped it die with SIGBUS (install(1) does the same)."""
    tmp = dest + ".tmp-%d" % os.getpid()
    shutil.copy2(src, tmp)
    os.rename(tmp, dest)


class PgInstall(object):
    """A private copy of the PostgreSQL installation laid out like the system one:
    PREFIX/usr/lib/postgresql/N and PREFIX/usr/share/postgresql/N. Its pg_config
    reports the copy's paths, so ``make install`` and servers started from its
    bin/ use the copy."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.libroot = os.path.join(prefix, "usr/lib/postgresql", PG_MAJOR)
        self.bindir = os.path.join(self.libroot, "bin")
        self.pg_config = os.path.join(self.bindir, "pg_config")
        self.pkglibdir = os.path.join(self.libroot, "lib")
        self.sharedir = os.path.join(prefix, "usr/share/postgresql", PG_MAJOR)
        self.extdir = os.path.join(self.sharedir, "extension")
        self.major = PG_MAJOR

    @classmethod
    def private_copy(cls, prefix):
        for sub in ("usr/lib/postgresql", "usr/share/postgresql", "usr/include"):
            os.makedirs(os.path.join(prefix, sub), exist_ok=True)
        subprocess.check_call(["cp", "-a", SYSTEM_LIB, os.path.join(prefix, "usr/lib/postgresql/")])
        subprocess.check_call(["cp", "-a", SYSTEM_SHARE, os.path.join(prefix, "usr/share/postgresql/")])
        inc = os.path.join(prefix, "usr/include/postgresql")
        if not os.path.exists(inc):
            os.symlink("/usr/include/postgresql", inc)
        return cls(prefix)

    def config(self, flag):
        return subprocess.check_output([self.pg_config, flag], text=True).strip()

    def install_tarball(self, tarball, make_args=()):
        """Untar a PGXS source tarball and ``make install`` it into this copy."""
        work = tempfile.mkdtemp(prefix="standin-src-")
        try:
            with tarfile.open(tarball) as tf:
                tf.extractall(work)
            (top,) = os.listdir(work)
            src = os.path.join(work, top)
            subprocess.run(["make", "-s", "-C", src, "PG_CONFIG=" + self.pg_config] + list(make_args),
                           check=True, capture_output=True)
            subprocess.run(["make", "-s", "-C", src, "PG_CONFIG=" + self.pg_config, "install"],
                           check=True, capture_output=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def install_artifact(self, tarball):
        """Unpack an upstream-layout release artifact (cargo pgrx package tree)."""
        work = tempfile.mkdtemp(prefix="standin-art-")
        try:
            with tarfile.open(tarball) as tf:
                tf.extractall(work)
            release = os.path.join(work, "target", "release")
            (pkg,) = os.listdir(release)
            root = os.path.join(release, pkg)
            for sub, dest in (("usr/lib/postgresql/%s/lib" % PG_MAJOR, self.pkglibdir),
                              ("usr/share/postgresql/%s/extension" % PG_MAJOR, self.extdir)):
                for name in os.listdir(os.path.join(root, sub)):
                    _replace_file(os.path.join(root, sub, name), os.path.join(dest, name))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def install_side_by_side(self, artifact, version):
        """Install a release artifact next to the running version the way the install role
        does (versioned library + secondary control file), for tests of later phases that
        need both versions available without depending on the role itself."""
        work = tempfile.mkdtemp(prefix="standin-sbs-")
        try:
            with tarfile.open(artifact) as tf:
                tf.extractall(work)
            release = os.path.join(work, "target", "release")
            (pkg,) = os.listdir(release)
            root = os.path.join(release, pkg)
            lib = os.path.join(root, "usr/lib/postgresql/%s/lib" % PG_MAJOR)
            ext = os.path.join(root, "usr/share/postgresql/%s/extension" % PG_MAJOR)
            _replace_file(os.path.join(lib, "pg_tviews.so"), os.path.join(self.pkglibdir, "pg_tviews-%s.so" % version))
            for name in os.listdir(ext):
                if name.endswith(".sql") and not os.path.exists(os.path.join(self.extdir, name)):
                    shutil.copy2(os.path.join(ext, name), os.path.join(self.extdir, name))
            with open(os.path.join(self.extdir, "pg_tviews--%s.control" % version), "w") as fh:
                fh.write("module_pathname = '$libdir/pg_tviews-%s'\n" % version)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def remove_extension(self, name="pg_tviews"):
        for d in (self.pkglibdir, self.extdir):
            for f in os.listdir(d):
                if f == name + ".so" or f.startswith(name + "-") or f.startswith(name + "."):
                    os.remove(os.path.join(d, f))


class Cluster(object):
    """One throwaway cluster: own data dir, own socket dir, a free loopback port,
    trust on the socket and scram passwords over TCP."""

    def __init__(self, install, base_dir, name="pg", port=None, settings=None):
        self.install = install
        self.root = os.path.join(base_dir, name)
        self.datadir = os.path.join(self.root, "data")
        self.socket_dir = os.path.join(self.root, "sock")
        self.logfile = os.path.join(self.root, "server.log")
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = server_owner()
        self.password = SUPERUSER_PASSWORD
        self.settings = dict(settings or {})

    def _as_owner(self, args, **kw):
        return subprocess.run(_run_as_owner() + args, check=True, capture_output=True, text=True, **kw)

    def init(self):
        os.makedirs(self.socket_dir, exist_ok=True)
        for p in (self.root, self.socket_dir):
            os.chmod(p, 0o755)
            _chown_to_owner(p)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as fh:
            fh.write(self.password + "\n")
        _chown_to_owner(pwfile)
        self._as_owner([os.path.join(self.install.bindir, "initdb"), "-D", self.datadir, "-U", self.user,
                        "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", pwfile,
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        os.remove(pwfile)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "'%s'" % self.socket_dir,
            "fsync": "off",
            "max_prepared_transactions": "10",
            "wal_level": "replica",
            "max_wal_senders": "4",
        }
        conf.update(self.settings)
        with open(os.path.join(self.datadir, "postgresql.auto.conf"), "a") as fh:
            for k, v in conf.items():
                fh.write("%s = %s\n" % (k, v))
        return self

    def start(self):
        if not os.path.exists(self.datadir):
            self.init()
        self._as_owner([os.path.join(self.install.bindir, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                        "-w", "-t", "60", "start"])
        return self

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
            self._as_owner([os.path.join(self.install.bindir, "pg_ctl"), "-D", self.datadir, "-m", mode,
                            "-w", "stop"])

    def restart(self):
        self.stop()
        self.start()

    def destroy(self):
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname="postgres", autocommit=True, **kw):
        params = dict(host=self.socket_dir, port=self.port, user=self.user, dbname=dbname)
        params.update(kw)
        conn = psycopg2.connect(**params)
        conn.autocommit = autocommit
        return conn

    def execute(self, sql, dbname="postgres", params=None):
        """Run one statement on a fresh connection; return all rows (or None)."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def createdb(self, name, template="template0"):
        from psycopg2 import sql
        self.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def dropdb(self, name):
        from psycopg2 import sql
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def psql(self, dbname, *args, **kw):
        """Run psql as the owner against this cluster (for .sql fixture files)."""
        return self._as_owner([os.path.join(self.install.bindir, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-q",
                               "-h", self.socket_dir, "-p", str(self.port), "-U", self.user, "-d", dbname]
                              + list(args), **kw)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.execute("SELECT 1")
                return
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
