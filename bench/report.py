"""Summarize the wrk samples: medians, spreads and ratios, as rows and a table.

Two ratios per row, both against raw WSGI in the same run and at the same
concurrency: ``x raw`` over raw's answer to the same endpoint (``-`` where raw
has none, as for sessions), and ``x hello`` over raw's hello world ``GET /``.
"""
from __future__ import annotations

import statistics
from typing import Any, Sequence

import apps
import loadgen

Key = tuple[str, str, int]  # target, endpoint name, concurrency
Plan = list[tuple[apps.Endpoint, list[str]]]  # endpoint, the targets that serve it


def _median_rps(samples: dict[Key, list[loadgen.WrkResult]], key: Key) -> float | None:
    runs = samples.get(key)
    return statistics.median(r.rps for r in runs) if runs else None


def summarize(plan: Plan, concurrency: Sequence[int],
              samples: dict[Key, list[loadgen.WrkResult]]) -> list[dict[str, Any]]:
    """Medians over rounds per (target, endpoint, concurrency), with both ratios."""
    rows = []
    for ep, targets in plan:
        for conns in concurrency:
            raw_rps = _median_rps(samples, ('raw', ep.name, conns))
            hello_rps = _median_rps(samples, ('raw', apps.HELLO.name, conns))
            for target in targets:
                runs = samples[target, ep.name, conns]
                rps = statistics.median(r.rps for r in runs)
                raw_runs = samples.get(('raw', ep.name, conns))
                # NOTE: rounds interleave the targets, so round i of raw and of this
                # target ran back to back: their ratio cancels drift in the machine.
                paired = (statistics.median(r.rps / q.rps for r, q in zip(runs, raw_runs))
                          if raw_runs and len(raw_runs) == len(runs) else None)
                rows.append({
                    'target': target, 'endpoint': ep.name, 'path': ep.path,
                    'concurrency': conns, 'rps': rps,
                    'p50_ms': statistics.median(r.p50_ms for r in runs),
                    'p99_ms': statistics.median(r.p99_ms for r in runs),
                    'ratio': paired if paired is not None else (rps / raw_rps if raw_rps else None),
                    'ratio_hello': rps / hello_rps if hello_rps else None,
                    'spread': (max(r.rps for r in runs) - min(r.rps for r in runs)) / rps,
                    'non_2xx': sum(r.non_2xx for r in runs),
                    'errors': sum(r.errors for r in runs),
                    'runs': [r.to_dict() for r in runs],
                })
    return rows


def _ratio(value: float | None) -> str:
    return f'{value:.2f}' if value is not None else '-'


def table(rows: list[dict[str, Any]]) -> str:
    """Render the summary rows as a fixed-width text table."""
    width = max([22] + [len(r['endpoint']) + len(r['path']) + 2 for r in rows])
    tw = max([9] + [len(r['target']) + 1 for r in rows])
    head = (f'{"target":<{tw}}{"endpoint":<{width}}{"conc":>5}{"req/s":>10}{"spread":>8}'
            f'{"p50 ms":>9}{"p99 ms":>9}{"x raw":>7}{"x hello":>9}{"errors":>8}')
    lines = [head, '-' * len(head)]
    for r in rows:
        lines.append(f'{r["target"]:<{tw}}{r["endpoint"] + " " + r["path"]:<{width}}'
                     f'{r["concurrency"]:>5}{r["rps"]:>10.1f}{r["spread"]:>7.0%} '
                     f'{r["p50_ms"]:>9.2f}{r["p99_ms"]:>9.2f}{_ratio(r["ratio"]):>7}'
                     f'{_ratio(r["ratio_hello"]):>9}{r["errors"]:>8}')
    return '\n'.join(lines)
