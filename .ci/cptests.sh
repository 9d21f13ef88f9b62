#!/usr/bin/env bash
# CherryPy 18.10.0's own test suite against app.core (strict mode), as CI runs it.
#
#   bash .ci/cptests.sh            # every module, in two parallel halves
#   CPTESTS_MODULES=test_core,test_config bash .ci/cptests.sh
#
# The harness is .ci/cptests/ (see its README.md): it copies the tests out of
# the CherryPy wheel at run time, so nothing of CherryPy's is in this repo.
# CherryPy is installed only into its own venv (.ci/.cp-ref); the project and
# the tests' dependencies into another (.ci/.cp-core), never the project's.
# Fails when a test fails that docs/compatibility.md does not list, with
# its reason (.ci/cptests_check.py).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
say() { echo "cptests: $*"; }
die() { echo "cptests: FAIL: $*" >&2; exit 1; }

DEPS=(pytest pytest-timeout requests-toolbelt path.py objgraph portend pytest-forked
      'pytest-services>=2' setuptools)
CORE_VENV="$ROOT/.ci/.cp-core"
REF_VENV="$ROOT/.ci/.cp-ref"
if [[ ! -x "$REF_VENV/bin/python" ]]; then
    python3 -m venv "$REF_VENV"
    "$REF_VENV/bin/pip" install -q --disable-pip-version-check cherrypy==18.10.0 "${DEPS[@]}" \
        || die "could not install CherryPy 18.10.0 into $REF_VENV"
fi
if [[ ! -x "$CORE_VENV/bin/python" ]]; then
    python3 -m venv "$CORE_VENV"
    "$CORE_VENV/bin/pip" install -q --disable-pip-version-check "${DEPS[@]}" \
        || die "could not install the test dependencies into $CORE_VENV"
fi
# The checkout itself comes first on the harness's PYTHONPATH; its run-time
# dependencies come from here.
"$CORE_VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT" \
    || die "could not install the project into $CORE_VENV"

tests_dir="$("$REF_VENV/bin/python" -c 'import os, cherrypy; print(os.path.join(os.path.dirname(cherrypy.__file__), "test"))')"
if [[ -n "${CPTESTS_MODULES:-}" ]]; then
    IFS=, read -r -a modules <<< "$CPTESTS_MODULES"
else
    mapfile -t modules < <(cd "$tests_dir" && ls test_*.py | sed 's/\.py$//' | sort)
fi
# Two halves, alternating, so the slow modules (test_conn, test_session,
# test_states) do not all land on one side.
half=("" "")
for i in "${!modules[@]}"; do
    half[$((i % 2))]+="${half[$((i % 2))]:+,}${modules[$i]}"
done

WORK="${TMPDIR:-/tmp}/cherry-cptests"
rm -rf "$WORK"
mkdir -p "$WORK"
start=$SECONDS
pids=()
for n in 0 1; do
    [[ -n "${half[$n]}" ]] || continue
    python3 .ci/cptests/run.py --project "$ROOT" --python "$CORE_VENV/bin/python" \
        --cherrypy-python "$REF_VENV/bin/python" --work "$WORK/$n" --mode strict \
        --skip-reference --port $((55611 + 100 * n)) --modules "${half[$n]}" \
        > "$WORK/run$n.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=$?
done
cat "$WORK"/run*.log | grep -E '^test_' | sort || true
(( status == 0 )) || die "the harness failed (exit $status; logs in $WORK/run*.log)"
say "ran ${#modules[@]} modules in $((SECONDS - start)) s"
python3 .ci/cptests_check.py docs/compatibility.md "$WORK"/*/results.json
