"""Offline stand-in for get-pip.py, which ansible-test downloads from a host that is not
reachable here. ensurepip runs in a subprocess: in-process it sets PIP_CONFIG_FILE=/dev/null
and would hide this machine's pip configuration (its package index)."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
# --no-setuptools/--no-wheel are get-pip's own options, not pip's.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
