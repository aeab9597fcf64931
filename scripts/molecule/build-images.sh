#!/usr/bin/env bash
# Build (or find in the local cache) the images of the molecule scenarios. No registry is used:
#   1. base image:    debootstrap --variant=minbase SUITE  +  docker import
#   2. derived image: docker build --network host  (PostgreSQL, server-dev, build tools, psycopg2)
#
#   scripts/molecule/build-images.sh [--env-file FILE] FLAVOUR...
#
# FLAVOUR is a directory under scripts/molecule/images/ (bookworm-pg15, trixie-pg17). Each image is
# tagged with a hash of its recipe (recipe.env, common/Dockerfile, common/pg-container-init and, for
# the derived image, the base image's tag); when `docker image inspect` finds that tag the build is
# skipped. Older tags of the same images are removed after a build. Flavours build in parallel.
# Prints FLAVOUR=IMAGE lines; with --env-file also writes MOLECULE_IMAGE_<FLAVOUR>=IMAGE lines there.
#
# Environment: DEBIAN_MIRROR (default: the first URI in /etc/apt/sources.list.d/debian.sources),
# DEBIAN_SECURITY_MIRROR (default: its debian-security URI; set it empty for none),
# PGTVIEWS_MOLECULE_DEB_CACHE (debootstrap's package cache, default /var/cache/pgtviews-molecule/debs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images=$here/images
# Bump when the way the base rootfs is made changes (not its inputs: those are hashed).
BASE_PROCEDURE=2

env_file=
if [ "${1:-}" = --env-file ]; then env_file=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--env-file FILE] FLAVOUR..." >&2; exit 2; }

log() { echo "build-images: $*" >&2; }

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found: set DEBIAN_MIRROR" >&2; exit 1; }
security_mirror=${DEBIAN_SECURITY_MIRROR-}
if [ -z "${DEBIAN_SECURITY_MIRROR+set}" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    security_mirror=$(awk '/^URIs:/ && /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
deb_cache=${PGTVIEWS_MOLECULE_DEB_CACHE:-/var/cache/pgtviews-molecule/debs}

hash_of() { sha256sum | cut -c1-12; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Remove the other tags of REPO (stale recipes); images still used by containers stay.
prune_repo() { # prune_repo REPO KEEP_TAG
    docker image ls --format '{{.Repository}}:{{.Tag}}' "$1" | while read -r ref; do
        # Stale tags of an older recipe: best effort (an image still used by a container stays).
        [ "$ref" = "$1:$2" ] || docker image rm "$ref" >/dev/null 2>&1 || true
    done
}

build_base() { # build_base SUITE INCLUDE TAG
    local suite=$1 include=$2 ref=$3 rootfs t0
    t0=$(date +%s)
    [ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
    command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 1; }
    [ -e "/usr/share/debootstrap/scripts/$suite" ] || { echo "this debootstrap does not know $suite" >&2; exit 1; }
    rootfs=$(mktemp -d /var/tmp/pgtviews-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$rootfs'" EXIT
    mkdir -p "$deb_cache/$suite"
    log "debootstrap $suite (minbase, +$include) from $mirror"
    # Two stages so that dpkg runs with force-unsafe-io (no fsync per file: 2x faster here). The
    # setting stays in the image: these are throwaway test containers.
    if ! debootstrap --foreign --variant=minbase --include="$include" --cache-dir="$deb_cache/$suite" \
            "$suite" "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
        || ! mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" \
        || ! echo force-unsafe-io > "$rootfs/etc/dpkg/dpkg.cfg.d/unsafe-io" \
        || ! chroot "$rootfs" /debootstrap/debootstrap --second-stage >> "$rootfs.log" 2>&1; then
        tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"
        echo "debootstrap $suite failed" >&2; exit 1
    fi
    rm -f "$rootfs.log"
    # Smaller image: no apt lists or package cache, no docs or man pages.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
           "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    {
        printf 'deb %s %s main\n' "$mirror" "$suite" "$mirror" "$suite-updates"
        [ -z "$security_mirror" ] || printf 'deb %s %s-security main\n' "$security_mirror" "$suite"
    } > "$rootfs/etc/apt/sources.list"
    rm -f "$rootfs"/etc/apt/sources.list.d/*
    log "docker import $ref"
    tar --numeric-owner -C "$rootfs" -cf - . \
        | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$ref" >/dev/null
    rm -rf "$rootfs"; trap - EXIT
    log "base $ref built in $(( $(date +%s) - t0 ))s"
}

build_flavour() { # build_flavour FLAVOUR -> prints the image reference
    local flavour=$1 dir=$images/$1 SUITE PG_MAJOR BASE_INCLUDE PACKAGES base_ref ref h t0 ctx
    [ -f "$dir/recipe.env" ] || { echo "unknown flavour $flavour (no $dir/recipe.env)" >&2; exit 2; }
    # shellcheck disable=SC1091
    . "$dir/recipe.env"

    h=$(printf '%s\n' "$BASE_PROCEDURE" "$SUITE" "$BASE_INCLUDE" | hash_of)
    base_ref=pgtviews-molecule/$SUITE-base:$h
    if have_image "$base_ref"; then
        log "cached: $base_ref"
    else
        build_base "$SUITE" "$BASE_INCLUDE" "$base_ref"
        prune_repo "pgtviews-molecule/$SUITE-base" "$h"
    fi

    h=$( { echo "$base_ref"; cat "$dir/recipe.env" "$images/common/Dockerfile" "$images/common/pg-container-init"; } | hash_of)
    ref=pgtviews-molecule/$flavour:$h
    if have_image "$ref"; then
        log "cached: $ref"
    else
        t0=$(date +%s)
        ctx=$(mktemp -d /var/tmp/pgtviews-ctx.XXXXXX)
        cp "$images/common/Dockerfile" "$images/common/pg-container-init" "$ctx/"
        log "docker build $ref"
        if ! DOCKER_BUILDKIT=0 docker build --network host --quiet \
                --build-arg "BASE=$base_ref" --build-arg "PG_MAJOR=$PG_MAJOR" --build-arg "PACKAGES=$PACKAGES" \
                --label "org.pgtviews.recipe=$h" -t "$ref" "$ctx" > "$ctx.log" 2>&1; then
            tail -n 30 "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"
            echo "docker build $ref failed" >&2; exit 1
        fi
        rm -rf "$ctx" "$ctx.log"
        prune_repo "pgtviews-molecule/$flavour" "$h"
        log "image $ref built in $(( $(date +%s) - t0 ))s"
    fi
    echo "$ref"
}

"$here/dockerd.sh"
# One build at a time on this machine (make runs in two clones share the daemon).
exec 9>/var/lock/pgtviews-molecule-images.lock
flock 9

# The flavours build in parallel (downloads and dpkg of one overlap the CPU work of the other).
results=$(mktemp -d /var/tmp/pgtviews-images.XXXXXX)
# shellcheck disable=SC2064
trap "rm -rf '$results'" EXIT
pids=()
for flavour in "$@"; do
    build_flavour "$flavour" > "$results/$flavour" &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "build-images: an image build failed" >&2; exit 1; }

[ -z "$env_file" ] || : > "$env_file"
for flavour in "$@"; do
    ref=$(cat "$results/$flavour")
    echo "$flavour=$ref"
    if [ -n "$env_file" ]; then
        var=MOLECULE_IMAGE_$(echo "$flavour" | tr 'a-z-' 'A-Z_')
        echo "$var=$ref" >> "$env_file"
    fi
done
