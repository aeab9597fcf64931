#!/usr/bin/env bash
# Make sure a Docker daemon answers on /var/run/docker.sock; start Debian's docker.io dockerd if not.
#
#   scripts/molecule/dockerd.sh [LOGFILE]
#
# Idempotent: returns at once when `docker info` works. The daemon is started with
#   --bridge=none --iptables=false   no default bridge network, no NAT rules: containers here use
#                                    host networking (or none), never the bridge
#   --ip-forward=false --ip-masq=false
# and its data root /var/lib/docker. No registry is reachable, and none must be tried: the daemon
# gets HTTP(S)_PROXY=http://127.0.0.1:9 (nothing listens there), so an accidental pull fails at
# once on loopback instead of resolving a registry name through the network. It is detached (setsid) so it outlives this script; its pid is
# written to /var/run/pgtviews-dockerd.pid (stop it with: kill "$(cat /var/run/pgtviews-dockerd.pid)").
set -euo pipefail

log=${1:-/var/log/pgtviews-dockerd.log}
pidfile=/var/run/pgtviews-dockerd.pid
timeout=${DOCKERD_TIMEOUT:-60}

if docker info >/dev/null 2>&1; then
    exit 0
fi
command -v dockerd >/dev/null || { echo "dockerd not found: apt-get install docker.io" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "the Docker daemon is not running and starting it needs root" >&2; exit 1; }

# A daemon we started earlier may still be coming up: wait for it rather than start a second one.
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "dockerd (pid $(cat "$pidfile")) is starting; waiting" >&2
else
    mkdir -p "$(dirname "$log")"
    echo "starting dockerd (log: $log)" >&2
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY='' \
        http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy='' \
        setsid dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        --data-root /var/lib/docker </dev/null >>"$log" 2>&1 &
    echo $! > "$pidfile"
fi

for _ in $(seq "$timeout"); do
    if docker info >/dev/null 2>&1; then
        echo "dockerd is up" >&2
        exit 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "dockerd exited; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "dockerd did not answer within ${timeout}s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
