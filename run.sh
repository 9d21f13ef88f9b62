#!/usr/bin/env bash
# Serve the app locally, or build, test and run it in Docker.
#
#   ./run.sh                  # dev server from .venv with conf/dev.conf
#   ./run.sh docker [args]    # build the image, run ./testing.sh inside it,
#                             # then run it on ${PORT:-8080}; args go to the
#                             # container (they replace its CMD)
#   ./run.sh rename NAME      # rename the service everywhere (then commit)
#
# Needs only Python 3.11+ (python3 on PATH, or PYTHON=/path/to/python) for the
# first form, and a running Docker engine for the second. DOCKER_NETWORK=host
# builds, tests and serves on the host's network (an engine without a
# bridge, as on this project's CI machine); the test run inside the image
# installs the [test] extra from PyPI, so it needs a network either way.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
SELF="$PWD/$(basename "${BASH_SOURCE[0]}")"
IMAGE="${IMAGE:-cherry-service}"

die() { echo "run.sh: $*" >&2; exit 1; }

run_docker() {
    command -v docker >/dev/null 2>&1 \
        || die "docker is not installed; install Docker, or use ./run.sh to serve from .venv"
    docker info >/dev/null 2>&1 \
        || die "no Docker engine answers (is the daemon running? can this user reach it?)"

    # An old container of the same name would make `docker run --name` fail.
    docker rm -f "$IMAGE" >/dev/null 2>&1 || true
    local net=()
    [[ -n "${DOCKER_NETWORK:-}" ]] && net=(--network "$DOCKER_NETWORK")
    docker build "${net[@]}" -t "$IMAGE" \
        --build-arg GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
        --build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
    # Test the very image that is about to run; a failure stops here.
    docker run --rm "${net[@]}" "$IMAGE" ./testing.sh
    local tty=(-i)
    [[ -t 0 && -t 1 ]] && tty=(-ti)
    local publish=(-p "${PORT:-8080}:8080")
    if [[ "${DOCKER_NETWORK:-}" == host ]]; then
        publish=(-e "HOST=${HOST:-127.0.0.1}" -e "PORT=${PORT:-8080}")
    fi
    # NOTE: docker stop waits 10 s before SIGKILL; the image's drain (10 s)
    # plus shutdown timeout (20 s) needs more.
    exec docker run --rm "${tty[@]}" --stop-timeout 35 --name "$IMAGE" \
        "${net[@]}" "${publish[@]}" "$IMAGE" "$@"
}

run_local() {
    local py="${PYTHON:-python3}" venv="$PWD/.venv"
    command -v "$py" >/dev/null 2>&1 || die "$py not found; install Python 3.11+ or set PYTHON"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$("$py" -V 2>&1) is too old; Python 3.11+ is required"

    if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        echo "run.sh: $venv is broken; recreating it" >&2
        rm -rf "$venv"
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        "$py" -m venv "$venv" || die "could not create $venv (on Debian: apt-get install python3-venv)"
    fi

    # Editable, so the server runs the checkout's code and app/static as they
    # are edited. Reinstalled only when pyproject.toml or the Python changes.
    local key stamp="$venv/.stamp-run"
    key="$("$venv/bin/python" -c '
import hashlib, sys
with open("pyproject.toml", "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest(), sys.version.split()[0])
')"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$key" ]]; then
        echo "run.sh: installing the project into .venv" >&2
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -e . \
            || die "pip install -e . failed"
        echo "$key" > "$stamp"
    fi
    exec "$venv/bin/python" -m app --config conf/dev.conf
}

case "${1:-}" in
    "") run_local ;;
    docker) shift; run_docker "$@" ;;
    rename) shift; exec "${PYTHON:-python3}" scripts/rename.py "$@" ;;
    -h|--help) sed -n '2,14p' "$SELF" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown argument '$1' (try ./run.sh --help)" ;;
esac
