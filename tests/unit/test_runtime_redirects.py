"""One module prefix, tviews_ (issue 16): the old tview_* names are redirects with a deprecation
in meta/runtime.yml, and a play using an old name still runs the new module with the defaults
of the group/pgtviews.ops.all module_defaults group."""

import os
import subprocess

import yaml

from tests.harness.modules import REPO, ansible_env

OLD_TO_NEW = {"tview_info": "tviews_info", "tview_manifest": "tviews_manifest",
              "tview_refresh": "tviews_refresh", "tview_recreate": "tviews_recreate"}


def runtime():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as fh:
        return yaml.safe_load(fh)


def test_old_names_redirect_with_a_deprecation():
    routing = runtime()["plugin_routing"]["modules"]
    assert sorted(routing) == sorted(OLD_TO_NEW)
    for old, new in OLD_TO_NEW.items():
        assert routing[old]["redirect"] == "pgtviews.ops." + new
        assert routing[old]["deprecation"]["removal_version"] == "1.0.0"
        assert "pgtviews.ops." + new in routing[old]["deprecation"]["warning_text"]
        assert os.path.isfile(os.path.join(REPO, "plugins", "modules", new + ".py"))
        assert not os.path.exists(os.path.join(REPO, "plugins", "modules", old + ".py"))


def test_every_module_is_named_tviews_and_the_group_lists_current_names():
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, "plugins", "modules")) if f.endswith(".py"))
    assert all(m.startswith("tviews_") for m in modules), modules
    group = runtime()["action_groups"]["all"]
    assert set(group) <= set(modules) and not set(group) & set(OLD_TO_NEW)


def test_an_old_name_gets_the_group_defaults_and_a_warning(tmp_path):
    play = [{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": os.path.join(REPO, ".venv", "bin", "python")},
        "module_defaults": {"group/pgtviews.ops.all": {
            "login_unix_socket": str(tmp_path / "no-server-here"), "login_user": "from_module_defaults"}},
        "tasks": [
            {"name": "Old name", "pgtviews.ops.tview_info": {}, "register": "old", "ignore_errors": True},
            {"name": "The group's defaults reached the redirected module", "ansible.builtin.assert": {"that": [
                "old is failed", "'as from_module_defaults' in old.msg"]}},
        ],
    }]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = ansible_env(str(tmp_path), ANSIBLE_DEPRECATION_WARNINGS="1")
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(path)], capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "pgtviews.ops.tview_info is now pgtviews.ops.tviews_info" in " ".join(out.split()), out
