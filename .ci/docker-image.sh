#!/usr/bin/env bash
# Build the image with a real Docker engine and check the container.
#
#   bash .ci/docker-image.sh
#
# Where a Docker engine already answers (a user's CI, a laptop), it is used
# as it is, with the real base image. Where none runs (this project's CI
# machine), a private dockerd is started and stopped by PID, with settings
# that add no bridge, no private-range address and no firewall rule:
#   --bridge=none --iptables=false --ip-forward=false --ip-masq=false
# and its own data-root, exec-root, socket and pidfile. If no registry
# serves the Dockerfile's base image, a stand-in is made from Debian's
# packages (debootstrap bookworm: Python 3.11, venv, pip) and imported
# under the base's tag; it is cached in $CHERRY_CI_CACHE.
#
# Checks: the build; uid 10001; /healthcheck, /readyz and /version answer
# 200; the HEALTHCHECK reaches healthy; it serves with --read-only --tmpfs
# /tmp --cap-drop ALL --security-opt no-new-privileges; docker stop exits 0
# within the grace period; then ./run.sh docker end to end: it builds,
# passes ./testing.sh inside the image, serves, and exits 0 on docker stop.
# Prints the image's size and how long each step took.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
IMAGE=${IMAGE:-cherry-service:ci}
CACHE=${CHERRY_CI_CACHE:-/var/cache/cherry-ci}
GRACE=35   # docker stop --time, as run.sh passes it (the drain plus shutdown)
t0=$SECONDS
say() { echo "docker-image: $* ($((SECONDS - t0)) s)"; }
die() { echo "docker-image: FAIL: $*" >&2; exit 1; }

private=""
cleanup() {
    local status=$?
    if [[ -n "${CID:-}" ]]; then docker rm -f "$CID" >/dev/null 2>&1 || true; fi
    if [[ -n "${RUN_PID:-}" ]]; then
        docker rm -f "$RUN_NAME" >/dev/null 2>&1 || true
        kill -TERM "$RUN_PID" 2>/dev/null || true
    fi
    if [[ -n "$private" && -f "$private/dockerd.pid" ]]; then
        local pid
        pid=$(cat "$private/dockerd.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        # dockerd leaves its network namespace mounted under exec-root.
        awk -v d="$private" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r \
            | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf "$private" 2>/dev/null || true
        say "private dockerd (pid $pid) stopped"
    fi
    exit "$status"
}
trap cleanup EXIT

command -v docker >/dev/null || die "no docker client (apt-get install docker.io)"
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || die "no Docker engine and no dockerd to start (apt-get install docker.io)"
    private=$(mktemp -d /tmp/cherry-dockerd.XXXXXX)
    dockerd --data-root "$private/data" --exec-root "$private/exec" \
        --host "unix://$private/docker.sock" --pidfile "$private/dockerd.pid" \
        --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        >"$private/dockerd.log" 2>&1 &
    export DOCKER_HOST="unix://$private/docker.sock"
    for _ in $(seq 1 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
    docker info >/dev/null 2>&1 || { tail -20 "$private/dockerd.log" >&2; die "the private dockerd did not start"; }
    say "private dockerd (pid $(cat "$private/dockerd.pid")) answers on $DOCKER_HOST"
fi

base=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull -q "$base" >/dev/null 2>&1; then
    rootfs="$CACHE/rootfs"
    if [[ ! -x "$rootfs/usr/bin/python3" ]]; then
        command -v debootstrap >/dev/null || die "no $base and no debootstrap to make a stand-in (apt-get install debootstrap)"
        mkdir -p "$CACHE"
        rm -rf "$rootfs.tmp"
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$rootfs.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
        rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb "$rootfs.tmp/var/cache/apt/"*.bin
        mv "$rootfs.tmp" "$rootfs"
    fi
    ln -sf python3 "$rootfs/usr/bin/python"
    # The host's CA bundle, with any extra CAs this network needs (pip in the
    # build reaches PyPI through them); the Dockerfile itself stays unchanged.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null || die "docker import of the stand-in failed"
    say "no registry serves $base: imported a debootstrap stand-in under its tag"
fi

build_start=$SECONDS
docker build -q --network host -t "$IMAGE" \
    --build-arg GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" . >/dev/null \
    || die "docker build failed"
say "built $IMAGE in $((SECONDS - build_start)) s"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' "$base")
say "image size: $((size / 1000000)) MB ($(((size - base_size) / 1000000)) MB on top of $base)"

uid=$(docker run --rm --network host --entrypoint id "$IMAGE" -u)
[[ "$uid" == 10001 ]] || die "the container runs as uid $uid, not 10001"
say "runs as uid 10001"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CID=$(docker run -d --network host -e HOST=127.0.0.1 -e PORT="$port" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges "$IMAGE")
get() { python3 -c 'import sys, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=3)
    print(r.status)
except Exception as ex:
    print(getattr(ex, "code", 0))' "$port" "$1"; }
for _ in $(seq 1 150); do [[ "$(get /healthcheck)" == 200 ]] && break; sleep 0.2; done
for path in /healthcheck /readyz /version; do
    code=$(get "$path")
    [[ "$code" == 200 ]] || { docker logs "$CID" | tail -20 >&2; die "$path answered $code"; }
done
say "/healthcheck, /readyz and /version answer 200 (read-only root, no capabilities, no-new-privileges)"
for _ in $(seq 1 300); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$CID")
    [[ "$health" == healthy ]] && break
    [[ "$health" == unhealthy ]] && die "the HEALTHCHECK reports unhealthy"
    sleep 0.2
done
[[ "$health" == healthy ]] || die "the HEALTHCHECK did not reach healthy (status: $health)"
say "HEALTHCHECK: healthy"
stop_start=$SECONDS
docker stop --time "$GRACE" "$CID" >/dev/null
took=$((SECONDS - stop_start))
code=$(docker inspect -f '{{.State.ExitCode}}' "$CID")
[[ "$code" == 0 ]] || { docker logs "$CID" | tail -20 >&2; die "the container exited $code on docker stop"; }
(( took < GRACE )) || die "docker stop took $took s: the grace period ran out"
say "docker stop: exit 0 after $took s (grace $GRACE s)"
docker rm "$CID" >/dev/null
CID=""

# ./run.sh docker end to end, as a user runs it: build (the layers are
# cached by now), ./testing.sh inside the very image (it installs the [test]
# extra from PyPI first; memcached is in the image), then serve. Then
# docker stop, as for any container: run.sh must exit 0.
RUN_NAME=cherry-service-ci-run
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="${TMPDIR:-/tmp}/cherry-run-docker.log"
test_start=$SECONDS
IMAGE=$RUN_NAME DOCKER_NETWORK=host HOST=127.0.0.1 PORT=$port ./run.sh docker </dev/null >"$log" 2>&1 &
RUN_PID=$!
until [[ "$(get /healthcheck)" == 200 ]]; do
    if ! kill -0 "$RUN_PID" 2>/dev/null; then
        tail -40 "$log" >&2
        die "./run.sh docker exited before it served (log: $log)"
    fi
    (( SECONDS - test_start < 1200 )) || { tail -40 "$log" >&2; die "./run.sh docker did not serve within 1200 s"; }
    sleep 1
done
say "./run.sh docker: ./testing.sh passed inside the image ($(grep -E '^=+ .* in ' "$log" | tail -1 | tr -d '=' | sed 's/^ *//;s/ *$//')) and it serves, after $((SECONDS - test_start)) s"
docker stop --time "$GRACE" "$RUN_NAME" >/dev/null
rc=0
wait "$RUN_PID" || rc=$?
RUN_PID=""
[[ "$rc" == 0 ]] || { tail -20 "$log" >&2; die "./run.sh docker exited $rc after docker stop"; }
docker rmi "$RUN_NAME" >/dev/null 2>&1 || true
say "./run.sh docker exited 0 after docker stop"
say "OK"
