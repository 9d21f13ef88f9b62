"""Compare a run of CherryPy's test suite on app.core with docs/compatibility.md.

    python3 .ci/cptests_check.py docs/compatibility.md WORK/*/results.json

Every test that does not pass on app.core must be listed in the document's
tables as ``| `test_x.py::Class::test_name` | reason |`` (``<collection>``
for a module that does not import). Fails (exit 1) when a test fails or is
skipped without being listed, or when a listed test now passes (take it out:
the list says what fails, nothing more), unless its reason says ``flaky``.
"""
from __future__ import annotations

import json
import re
import sys

ROW = re.compile(r'^\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|\s*$')


def documented(path: str) -> dict[str, str]:
    """Test id -> reason, from the document's table rows."""
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            m = ROW.match(line.strip())
            if m and '::' in m.group(1):
                out[m.group(1)] = m.group(2)
    return out


def outcomes(paths: list[str]) -> dict[str, str]:
    """Test id -> outcome on app.core (strict), from the harness's results files."""
    out = {}
    for p in paths:
        with open(p, encoding='utf-8') as f:
            results = json.load(f)
        for module, entry in results['modules'].items():
            core = entry.get('core')
            if core is None:
                continue
            if core['summary'].get('timed_out'):
                out['%s.py::<module timed out>' % module] = 'failed'
            for tid, outcome in core['tests'].items():
                if tid == '<collection>':
                    tid = '%s.py::<collection>' % module
                out[tid] = outcome
    return out


def main(argv: list[str]) -> int:
    listed = documented(argv[0])
    got = outcomes(argv[1:])
    passed = sorted(t for t, o in got.items() if o == 'passed')
    unexpected = sorted(t for t, o in got.items() if o != 'passed' and t not in listed)
    stale = sorted(t for t in passed if t in listed and 'flaky' not in listed[t].lower())
    print('cptests: %d passed on app.core; %d fail or skip as docs/compatibility.md lists'
          % (len(passed), sum(1 for t, o in got.items() if o != 'passed' and t in listed)))
    for t in unexpected:
        print('cptests: FAIL: %s %s, and docs/compatibility.md does not list it' % (t, got[t]))
    for t in stale:
        print('cptests: FAIL: %s passes now: take it out of docs/compatibility.md' % (t,))
    return 1 if unexpected or stale else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
