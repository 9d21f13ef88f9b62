#!/usr/bin/env bash
# Check the Dockerfile by running its steps without Docker (no engine runs on
# the CI machines). .ci/dockerfile_replay.py reads the Dockerfile itself, so
# what runs here is what the image build runs, in the same order:
#   1. ENV / WORKDIR / COPY / RUN replayed in a temp dir (the WORKDIR, /app,
#      becomes $WORK/rootfs/app; root-only steps such as useradd are skipped);
#   2. CMD started in the background with PORT set to a free port;
#   3. HEALTHCHECK's command polled until it passes;
#   4. STOPSIGNAL sent to the server's PID; it must exit 0.
# KEEP_WORK=1 keeps the temp dir for a look afterwards.
# The subshells below set PORT and source the generated run.env on purpose.
# shellcheck disable=SC1091,SC2030,SC2031
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CONTEXT="$PWD"
export REPLAY="$CONTEXT/.ci/dockerfile_replay.py"
export HOST_PY
HOST_PY="$(command -v "${PYTHON:-python3}")" || { echo "dockerfile-steps: python3 not found" >&2; exit 1; }
START_TIMEOUT="${START_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-25}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockerfile-steps.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then
        echo "dockerfile-steps: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
fail() {
    echo "dockerfile-steps: FAIL: $*" >&2
    if [[ -s "$WORK/server.log" ]]; then
        echo "--- last lines of the server's output ---" >&2
        tail -n 40 "$WORK/server.log" >&2
    fi
    exit 1
}

# The image's `python` is its Python 3; the host may only have `python3`.
mkdir -p "$WORK/shim"
ln -s "$HOST_PY" "$WORK/shim/python"
export PATH="$WORK/shim:$PATH"

echo "dockerfile-steps: replaying Dockerfile in $WORK"
"$HOST_PY" "$REPLAY" translate Dockerfile "$WORK/rootfs" "$WORK"

# 1. Build, in a subshell so its ENV and cd stay there.
( bash "$WORK/build.sh" ) || fail "a build step failed (see above)"

# 2. Run the CMD with the image's final ENV and WORKDIR.
port="$("$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cmd="$(cat "$WORK/cmd")"
health="$(cat "$WORK/healthcheck")"
sig="$(cat "$WORK/stopsignal")"
[[ -n "$health" ]] || fail "the Dockerfile has no HEALTHCHECK"
echo "dockerfile-steps: + CMD $cmd  (PORT=$port)"
(
    source "$WORK/run.env"
    export PORT="$port"
    eval "exec $cmd"
) >"$WORK/server.log" 2>&1 &
server_pid=$!

# 3. Poll the HEALTHCHECK command, as Docker would, until it passes.
healthy=0
deadline=$((SECONDS + START_TIMEOUT))
while (( SECONDS < deadline )); do
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited before it was healthy"
    if ( source "$WORK/run.env"; export PORT="$port"; eval "$health" ) >/dev/null 2>&1; then
        healthy=1
        break
    fi
    sleep 0.5
done
(( healthy )) || fail "HEALTHCHECK did not pass within ${START_TIMEOUT}s: $health"
echo "dockerfile-steps: HEALTHCHECK passes on port $port"

# 4. Stop it the way Docker does, and expect a clean exit.
kill -s "${sig#SIG}" "$server_pid"
deadline=$((SECONDS + STOP_TIMEOUT))
while kill -0 "$server_pid" 2>/dev/null && (( SECONDS < deadline )); do
    sleep 0.2
done
if kill -0 "$server_pid" 2>/dev/null; then
    fail "the server did not exit within ${STOP_TIMEOUT}s of $sig"
fi
status=0
wait "$server_pid" || status=$?
server_pid=""
(( status == 0 )) || fail "the server exited with status $status after $sig (want 0)"
echo "dockerfile-steps: OK: built, healthy, and exited 0 on $sig"
