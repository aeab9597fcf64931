#!/usr/bin/env bash
# Run the molecule scenarios of pgtviews.ops, safely and timed. `make molecule` calls this.
#
#   scripts/molecule/run.sh [--keep] [--] [SCENARIO...]     (default: default rollback fleet replica)
#
#   --keep    keep the work directory (molecule state, reports, built collection) for inspection
#
# Environment: PGTVIEWS_MOLECULE_WORK=DIR reuses a work directory (implies --keep), and
# PGTVIEWS_MOLECULE_COMMAND (default "test") runs another molecule command instead, e.g. to develop
# a scenario step by step:
#   PGTVIEWS_MOLECULE_WORK=/var/tmp/mol PGTVIEWS_MOLECULE_COMMAND=converge scripts/molecule/run.sh default
#   PGTVIEWS_MOLECULE_WORK=/var/tmp/mol PGTVIEWS_MOLECULE_COMMAND=verify scripts/molecule/run.sh default
#   PGTVIEWS_MOLECULE_WORK=/var/tmp/mol PGTVIEWS_MOLECULE_COMMAND=destroy scripts/molecule/run.sh default
#
# What it does, in order:
#   1. starts dockerd if needed (scripts/molecule/dockerd.sh: no bridge, no iptables);
#   2. builds or finds the images (scripts/molecule/build-images.sh, cached by recipe hash);
#   3. builds the pg_tviews stand-in packages (tests/fixtures/pg_tviews/build-standin.sh);
#   4. builds this collection with `ansible-galaxy collection build` and installs the tarball into a
#      throwaway collections directory in the work directory;
#   5. runs `molecule test -s SCENARIO` for each scenario with HOME, ANSIBLE_HOME, ANSIBLE_CONFIG and
#      ANSIBLE_COLLECTIONS_PATH pointing into that work directory, and prints each one's time.
#
# The hazard this guards against (docs/molecule.md): molecule's prerun reinstalls the collection
# with --force into the first entry of the collections path; if that entry reaches the working tree
# (the repo's parent, or .build/link which is a symlink to the repo) it deletes the source tree.
# Here the first entry is always the throwaway directory, every scenario sets `prerun: false`, and
# the script refuses to run if either is not so.
#
# Exit status: 0 when every scenario passed, 1 otherwise (all scenarios run either way).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd -P)
all_scenarios=(default rollback fleet replica)

keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${all_scenarios[@]}")
for s in "${scenarios[@]}"; do
    [ -f "$repo/molecule/$s/molecule.yml" ] || { echo "no scenario molecule/$s" >&2; exit 2; }
done

venv=${VENV:-$repo/.venv}
[ -x "$venv/bin/molecule" ] || { echo "molecule not found in $venv (make venv)" >&2; exit 1; }
community=${PGTVIEWS_COMMUNITY_COLLECTIONS:-$repo/.cache/collections}
[ -d "$community/ansible_collections/community/docker" ] || {
    echo "community.docker not found under $community (make collections)" >&2; exit 1; }

say() { echo "molecule-run: $*"; }
now() { date +%s; }
t_start=$(now)

# ------------------------------------------------------------------ guards against the hazard
for s in "${scenarios[@]}"; do
    f=$repo/molecule/$s/molecule.yml
    grep -Eq '^prerun:[[:space:]]*false' "$f" || {
        echo "REFUSING: $f must set 'prerun: false' (molecule would reinstall the collection)" >&2; exit 1; }
    if grep -Eqi 'collections_paths?' "$f"; then
        echo "REFUSING: $f sets a collections path; it comes from the environment only" >&2; exit 1
    fi
done

# One run at a time on this machine: the scenarios use fixed container names and ports.
exec 8>/var/lock/pgtviews-molecule-run.lock
if ! flock -n 8; then
    say "another molecule run holds /var/lock/pgtviews-molecule-run.lock; waiting"
    flock 8
fi

work=${PGTVIEWS_MOLECULE_WORK:-}
if [ -z "$work" ]; then
    work=$(mktemp -d /var/tmp/pgtviews-molecule.XXXXXX)
    [ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
fi
work=$(realpath -m "$work")
case $work/ in "$repo"/*) echo "REFUSING: the work directory must be outside the repository" >&2; exit 1 ;; esac
mkdir -p "$work"/{home,ansible-home/tmp,collections,dist,standin,logs}

# ------------------------------------------------------------------ docker and images
t0=$(now)
# 8>&-: a dockerd started here must not inherit the lock, or it would hold it for as long as it runs.
"$here/dockerd.sh" 8>&-
# PostgreSQL 15 on Debian 12 everywhere; PostgreSQL 17 on Debian 13 in the default scenario.
"$here/build-images.sh" --env-file "$work/images.env" bookworm-pg15 trixie-pg17 >/dev/null
set -a
# shellcheck disable=SC1091
. "$work/images.env"
set +a
t_images=$(( $(now) - t0 ))
say "images ready in ${t_images}s: $(tr '\n' ' ' < "$work/images.env")"

# ------------------------------------------------------------------ stand-in and collection
t0=$(now)
"$repo/tests/fixtures/pg_tviews/build-standin.sh" "$work/standin" > "$work/logs/standin.log"
export PGTVIEWS_STANDIN_DIR=$work/standin

export HOME=$work/home
export ANSIBLE_HOME=$work/ansible-home
export ANSIBLE_LOCAL_TEMP=$work/ansible-home/tmp
: > "$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg      # no ansible.cfg from the current directory
export ANSIBLE_COLLECTIONS_PATH=$work/collections:$community
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 PY_COLORS=0 NO_COLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=0
export PATH=$venv/bin:$PATH
# Legacy spellings that would put another collections path first; unset is a no-op if absent.
unset ANSIBLE_COLLECTIONS_PATHS ANSIBLE_COLLECTIONS_PATHS_ENV 2>/dev/null || true

(cd "$work" && ansible-galaxy collection build --force --output-path "$work/dist" "$repo" >/dev/null)
tarball=$(ls "$work"/dist/pgtviews-ops-*.tar.gz)
(cd "$work" && ansible-galaxy collection install --offline --no-deps --force -p "$work/collections" "$tarball" \
    > "$work/logs/collection-install.log" 2>&1) || { cat "$work/logs/collection-install.log" >&2; exit 1; }

# The guard: no entry of the collections path may lead to the working tree.
IFS=: read -r -a cpaths <<< "$ANSIBLE_COLLECTIONS_PATH"
for p in "${cpaths[@]}"; do
    target=$p/ansible_collections/pgtviews/ops
    if [ -e "$target" ] && [ "$(cd "$target" && pwd -P)" = "$repo" ]; then
        echo "REFUSING: $p leads to the working tree ($repo)" >&2; exit 1
    fi
done
installed=$work/collections/ansible_collections/pgtviews/ops
if [ ! -f "$installed/MANIFEST.json" ] || [ -L "$installed" ]; then
    echo "REFUSING: the built collection is not installed in $work/collections" >&2; exit 1
fi
say "stand-in built, collection $(basename "$tarball") installed in $work/collections in $(( $(now) - t0 ))s"

# ------------------------------------------------------------------ scenarios
declare -A result elapsed
failed=0
cd "$repo"
for s in "${scenarios[@]}"; do
    say "=== scenario $s: start"
    t0=$(now)
    # shellcheck disable=SC2086
    if molecule ${PGTVIEWS_MOLECULE_COMMAND:-test} -s "$s" 2>&1 | tee "$work/logs/$s.log"; then
        result[$s]=passed
    else
        result[$s]=FAILED; failed=1
    fi
    elapsed[$s]=$(( $(now) - t0 ))
    say "=== scenario $s: ${result[$s]} in ${elapsed[$s]}s"
    # Tripwire: the working tree must still be there.
    if [ ! -f "$repo/galaxy.yml" ] || [ ! -d "$repo/plugins" ]; then
        echo "FATAL: the working tree $repo lost files during scenario $s" >&2; exit 3
    fi
done

say "summary (images ${t_images}s, total $(( $(now) - t_start ))s):"
for s in "${scenarios[@]}"; do
    printf 'molecule-run:   %-10s %-7s %5ss\n' "$s" "${result[$s]}" "${elapsed[$s]}"
done
[ "$keep" = 0 ] || say "work directory kept: $work"
exit "$failed"
