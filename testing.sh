#!/usr/bin/env bash
# Lint (ruff) and type-check (mypy) app/, then run the test suite under
# coverage, server subprocesses included; fail when either finds a problem,
# a test fails, or coverage is under the floor set in pyproject.toml.
#
#   ./testing.sh                 # whole suite
#   ./testing.sh -k healthcheck  # any pytest arguments pass through
#
# Needs only Python 3.11+ (python3 on PATH, or PYTHON=/path/to/python).
# Creates .venv beside this script on first use and reinstalls the project
# with its [test] extra only when pyproject.toml or the Python changes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$PWD"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

die() { echo "testing.sh: $*" >&2; exit 1; }

# --- the virtualenv -------------------------------------------------------
command -v "$PY" >/dev/null 2>&1 || die "$PY not found; install Python 3.11+ or set PYTHON"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PY" -V 2>&1) is too old; Python 3.11+ is required"

# A venv whose interpreter went away (Python upgraded or removed) is rebuilt.
if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    echo "testing.sh: $VENV is broken; recreating it" >&2
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3-venv)"
fi

# The stamp is keyed on pyproject.toml and the interpreter version.
stamp_key="$("$VENV/bin/python" -c '
import hashlib, sys
with open("pyproject.toml", "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest(), sys.version.split()[0])
')"
stamp="$VENV/.stamp-test"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$stamp_key" ]]; then
    echo "testing.sh: installing the project with its [test] extra into .venv" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' \
        || die "pip install -e '.[test]' failed"
    echo "$stamp_key" > "$stamp"
    # A superset of what ./run.sh installs: spare it a reinstall.
    echo "$stamp_key" > "$VENV/.stamp-run"
fi

# --- subprocess coverage ----------------------------------------------------
# Every Python started from .venv with COVERAGE_PROCESS_START set measures
# itself (the live tests start real servers as subprocesses). The hook is
# cheap when the variable is unset: it only reads the environment.
site_dir="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
hook='import os; os.environ.get("COVERAGE_PROCESS_START") and __import__("coverage").process_startup()'
if [[ "$(cat "$site_dir/cherry_service_coverage.pth" 2>/dev/null || true)" != "$hook" ]]; then
    echo "$hook" > "$site_dir/cherry_service_coverage.pth"
fi
export COVERAGE_PROCESS_START="$ROOT/pyproject.toml"
# NOTE: an absolute data file, so a subprocess started in another directory
# still writes its data where `coverage combine` looks for it.
export COVERAGE_FILE="$ROOT/.coverage"

# --- lint and types -------------------------------------------------------
# Configured in pyproject.toml ([tool.ruff], [tool.mypy]); either finding a
# problem in app/ fails the run before the tests start.
"$VENV/bin/ruff" check --quiet app || die "ruff found problems in app/ (see above)"
"$VENV/bin/mypy" || die "mypy found problems in app/ (see above)"

# --- run --------------------------------------------------------------------
"$VENV/bin/coverage" erase
rm -f "$ROOT"/.coverage.*

status=0
"$VENV/bin/coverage" run -m pytest "$@" || status=$?

# Combine and report even after a failure: the report still helps, but the
# exit code is the tests' when they failed. COVERAGE_FAIL_UNDER overrides the
# floor for a partial run, e.g. COVERAGE_FAIL_UNDER=0 ./testing.sh -k memcache.
report_status=0
if "$VENV/bin/coverage" combine -q; then
    "$VENV/bin/coverage" report -m ${COVERAGE_FAIL_UNDER:+--fail-under="$COVERAGE_FAIL_UNDER"} \
        || report_status=$?
else
    echo "testing.sh: coverage combine found no data" >&2
    report_status=1
fi

if (( status != 0 )); then
    echo "testing.sh: pytest failed (exit $status)" >&2
    exit "$status"
fi
if (( report_status != 0 )); then
    echo "testing.sh: coverage report failed or is under the floor (exit $report_status)" >&2
    exit "$report_status"
fi
echo "testing.sh: tests passed and coverage meets the floor" >&2
