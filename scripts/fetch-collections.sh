#!/usr/bin/env bash
# Galaxy is not reachable here: take the community collections we depend on from the
# `ansible` wheel on PyPI and unpack only those trees into DEST/ansible_collections.
set -euo pipefail
DEST=${1:?usage: fetch-collections.sh DEST}
PIP=${PIP:-pip}
ANSIBLE_WHEEL_VERSION=${ANSIBLE_WHEEL_VERSION:-12.3.0}
COLLECTIONS=(community/docker ansible/posix community/library_inventory_filtering_v1)
cache=$(dirname "$DEST")/.wheels
mkdir -p "$cache" "$DEST/ansible_collections"
wheel=$(find "$cache" -maxdepth 1 -name "ansible-$ANSIBLE_WHEEL_VERSION-*.whl" | head -n1)
if [ -z "$wheel" ]; then
  "$PIP" download --quiet --no-deps --dest "$cache" "ansible==$ANSIBLE_WHEEL_VERSION"
  wheel=$(find "$cache" -maxdepth 1 -name "ansible-$ANSIBLE_WHEEL_VERSION-*.whl" | head -n1)
fi
python3 - "$wheel" "$DEST" "${COLLECTIONS[@]}" <<'PY'
import sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % n for n in names)
with zipfile.ZipFile(wheel) as zf:
    members = [m for m in zf.namelist() if m.startswith(prefixes)]
    for n in names:
        if not any(m.startswith("ansible_collections/%s/" % n) for m in members):
            sys.exit("collection %s not found in %s" % (n, wheel))
    zf.extractall(dest, members)
PY
echo "collections unpacked into $DEST/ansible_collections"
