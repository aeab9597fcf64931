"""A disposable fleet of PostgreSQL servers on this machine, each with its own private
installation (so installing pg_tviews on one never touches the others), and an Ansible
inventory for it. Used by `make demo` and the playbook tests."""

import io
import json
import os
import shutil
import subprocess
import tarfile

import yaml

from tests.harness.modules import ansible_env
from tests.harness.pg import Cluster, PgInstall

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP_SCHEMA = os.path.join(REPO, "tests", "fixtures", "schemas", "app.sql")


class Fleet(object):
    def __init__(self, root, standin_dir, names=("db1", "db2", "db3")):
        self.root = os.path.abspath(root)
        self.standin_dir = standin_dir
        self.names = list(names)
        self.state_path = os.path.join(self.root, "fleet.json")
        self.inventory = os.path.join(self.root, "inventory.yml")

    def install(self, name):
        return PgInstall(os.path.join(self.root, name, "pg"))

    def cluster(self, name):
        with open(self.state_path) as fh:
            port = json.load(fh)["ports"][name]
        return Cluster(self.install(name), os.path.join(self.root, name), name="cluster", port=port)

    def up(self, databases=("app",)):
        """Create every server with stand-in 0.1.0 and the app schema in ``databases``."""
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        ports = {}
        for name in self.names:
            host_dir = os.path.join(self.root, name)
            os.makedirs(host_dir, exist_ok=True)
            os.chmod(host_dir, 0o755)
            inst = PgInstall.private_copy(os.path.join(host_dir, "pg"))
            inst.install_tarball(os.path.join(self.standin_dir, "pg_tviews-0.1.0.tar.gz"))
            c = Cluster(inst, host_dir, name="cluster").start()
            ports[name] = c.port
            for db in databases:
                c.createdb(db)
                c.execute("CREATE EXTENSION pg_tviews", db)
                c.psql(db, "-f", APP_SCHEMA)
        with open(self.state_path, "w") as fh:
            json.dump({"ports": ports, "databases": list(databases)}, fh)
        self.write_inventory()
        return self

    def host_vars(self, name):
        c = self.cluster(name)
        d = os.path.join(self.root, name)
        return {
            "ansible_connection": "local",
            "ansible_python_interpreter": os.path.join(REPO, ".venv", "bin", "python"),
            # Local trust over the server's own socket: no password anywhere in the demo.
            "tviews_connection": {"login_unix_socket": c.socket_dir, "login_port": c.port, "login_user": c.user},
            "tviews_pg_config": c.install.pg_config,
            "tviews_state_file": os.path.join(d, "state", "state.json"),
            "tviews_install_stash_dir": os.path.join(d, "stash"),
            "tviews_install_receipt_dir": os.path.join(d, "receipts"),
            "tviews_install_work_dir": os.path.join(d, "work"),
            "tviews_backup_root": os.path.join(d, "backups"),
            "tviews_backup_pg_bin_dir": c.install.bindir,
            "tviews_rollback_pg_bin_dir": c.install.bindir,
            "tviews_swap_manifest_dir": os.path.join(d, "manifests"),
        }

    def write_inventory(self, extra_vars=None, host_overrides=None):
        all_vars = {
            "tviews_version": "0.2.0",
            "tviews_install_method": "artifact",
            "tviews_install_src": os.path.join(self.standin_dir, "pg_tviews-v0.2.0-pg15.tar.gz"),
            "tviews_report_dir": os.path.join(self.root, "reports"),
        }
        all_vars.update(extra_vars or {})
        hosts = {}
        for n in self.names:
            hosts[n] = self.host_vars(n)
            hosts[n].update((host_overrides or {}).get(n, {}))
        inv = {"all": {"vars": all_vars, "children": {"tviews_primaries": {"hosts": hosts}}}}
        with open(self.inventory, "w") as fh:
            yaml.safe_dump(inv, fh, sort_keys=False)
        return self.inventory

    def playbook_command(self, name, *args, check=False, env=None, waves=(1, "100%")):
        """(argv, environment) of ``ansible-playbook pgtviews.ops.<name>`` against the fleet; ``waves``
        (None: from the inventory) is passed as the extra var tviews_waves."""
        penv = ansible_env(self.root, **(env or {}))
        cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", self.inventory, "pgtviews.ops." + name]
        if waves is not None:
            cmd += ["-e", json.dumps({"tviews_waves": list(waves)})]
        if check:
            cmd.append("--check")
        return cmd + list(args), penv

    def playbook(self, name, *args, check=False, env=None, waves=(1, "100%")):
        """Run ``ansible-playbook pgtviews.ops.<name>`` against the fleet (see playbook_command)."""
        cmd, penv = self.playbook_command(name, *args, check=check, env=env, waves=waves)
        return subprocess.run(cmd, env=penv, capture_output=True, text=True, check=False)

    def down(self):
        if os.path.exists(self.state_path):
            for name in self.names:
                try:
                    self.cluster(name).stop("immediate")
                except (subprocess.CalledProcessError, KeyError, OSError):
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def broken_artifact(src, dest, function, line):
    """A copy of the 0.2.0 release artifact ``src`` at ``dest`` that installs and creates fine, with
    ``line`` (PL/pgSQL) put first in the body of ``function``: a package broken on purpose."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w:gz") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("pg_tviews--0.2.0.sql"):
                text = data.decode()
                start = text.index("CREATE FUNCTION @extschema@.%s(" % function)
                begin = text.index("\nBEGIN\n", start) + len("\nBEGIN\n")
                data = (text[:begin] + "    %s\n" % line + text[begin:]).encode()
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)


def recap(output):
    """{host: {ok, changed, failed, ...}} from a PLAY RECAP."""
    result = {}
    seen = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            seen = True
            result = {}
            continue
        if seen and ":" in line and "ok=" in line:
            host, counts = line.split(":", 1)
            result[host.strip()] = dict((k, int(v)) for k, v in (p.split("=") for p in counts.split()))
    return result
