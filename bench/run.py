"""Benchmark raw WSGI, app.core and real CherryPy on identical cheroot servers.

    python3 bench/run.py [--targets raw,core,cherrypy] [--concurrency 1,50]
                         [--duration 5] [--rounds 3] [--json out.json]

Each target runs in its own ``serve.py`` subprocess under ``bench/.venv``'s
python (created on first use) with the same cheroot settings. Runs are
interleaved: every round loads each endpoint and concurrency on every target
back to back, so drift hits all targets alike. The table shows medians over
rounds and each target's req/s as a ratio of raw's. Exits 1 if any request
failed (non-2xx/3xx or socket error).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

import apps
import loadgen
import servers

Key = tuple[str, str, int]  # target, endpoint name, concurrency


def _names(text: str, known: list[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(',') if n.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(f'unknown {what} {bad}; choose from {known}')
    return names


def _ints(text: str) -> list[int]:
    try:
        return [_positive(c) for c in text.split(',')]
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f'want comma-separated positive integers, got {text!r}') from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'want a positive integer, got {text!r}')
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the harness's command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--targets', default=','.join(apps.TARGETS),
                   type=lambda s: _names(s, list(apps.TARGETS), 'targets'))
    p.add_argument('--endpoints', default=','.join(e.name for e in apps.ENDPOINTS),
                   type=lambda s: _names(s, [e.name for e in apps.ENDPOINTS], 'endpoints'))
    p.add_argument('--concurrency', default='1,50',
                   type=_ints,
                   help='wrk connections per run, comma-separated (default 1,50)')
    p.add_argument('--duration', type=_positive, default=5, help='seconds per wrk run')
    p.add_argument('--rounds', type=_positive, default=3)
    p.add_argument('--warmup', type=int, default=1,
                   help='seconds of unmeasured load per target and endpoint first (0: none)')
    p.add_argument('--threads', type=int, default=16, help='cheroot numthreads')
    p.add_argument('--queue', type=int, default=128, help='cheroot request_queue_size')
    p.add_argument('--timeout', type=float, default=10, help='cheroot socket timeout, s')
    p.add_argument('--keepalive-limit', type=int, default=100,
                   help='cheroot keep_alive_conn_limit: 100 as app.core serves '
                        "(cheroot's own 10 makes clients past 10 reconnect, which "
                        'swamps framework cost at -c50)')
    p.add_argument('--wrk-threads', type=int, default=2,
                   help='wrk threads, capped at the concurrency (-c1 -t1, -c50 -t2)')
    p.add_argument('--json', metavar='PATH', help='also write the results as JSON')
    return p.parse_args(argv)


def _server_args(args: argparse.Namespace) -> list[str]:
    out = ['--port', '0', '--threads', str(args.threads), '--queue', str(args.queue),
           '--timeout', str(args.timeout), '--keepalive-limit', str(args.keepalive_limit)]
    return out


def measure(args: argparse.Namespace, running: dict[str, servers.Server],
            endpoints: list[apps.Endpoint]) -> dict[Key, list[loadgen.WrkResult]]:
    """Warm up, then load every (endpoint, concurrency, target) once per round."""
    def load(target: str, ep: apps.Endpoint, conns: int, seconds: int) -> loadgen.WrkResult:
        return loadgen.run(running[target].url(ep.path), conns, seconds,
                           threads=args.wrk_threads, headers=ep.headers)

    if args.warmup > 0:
        for ep in endpoints:
            for target in args.targets:
                load(target, ep, max(args.concurrency), args.warmup)
    samples: dict[Key, list[loadgen.WrkResult]] = defaultdict(list)
    total, n = args.rounds * len(endpoints) * len(args.concurrency) * len(args.targets), 0
    for rnd in range(1, args.rounds + 1):
        for ep in endpoints:
            for conns in args.concurrency:
                for target in args.targets:
                    res = load(target, ep, conns, args.duration)
                    samples[target, ep.name, conns].append(res)
                    n += 1
                    print(f'[{n}/{total}] round {rnd} {target:<8} {ep.name:<7} c={conns:<3}'
                          f' {res.rps:9.1f} req/s  p50 {res.p50_ms:.2f}ms  p99 {res.p99_ms:.2f}ms'
                          + (f'  ERRORS {res.errors}' if res.errors else ''),
                          file=sys.stderr, flush=True)
    return samples


def summarize(args: argparse.Namespace, endpoints: list[apps.Endpoint],
              samples: dict[Key, list[loadgen.WrkResult]]) -> list[dict[str, Any]]:
    """Medians over rounds per (target, endpoint, concurrency), with ratio to raw."""
    rows = []
    for ep in endpoints:
        for conns in args.concurrency:
            raw = samples.get(('raw', ep.name, conns))
            raw_rps = statistics.median(r.rps for r in raw) if raw else None
            for target in args.targets:
                runs = samples[target, ep.name, conns]
                rps = statistics.median(r.rps for r in runs)
                rows.append({
                    'target': target, 'endpoint': ep.name, 'path': ep.path,
                    'concurrency': conns, 'rps': rps,
                    'p50_ms': statistics.median(r.p50_ms for r in runs),
                    'p99_ms': statistics.median(r.p99_ms for r in runs),
                    'ratio': rps / raw_rps if raw_rps else None,
                    'spread': (max(r.rps for r in runs) - min(r.rps for r in runs)) / rps,
                    'non_2xx': sum(r.non_2xx for r in runs),
                    'errors': sum(r.errors for r in runs),
                    'runs': [r.to_dict() for r in runs],
                })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Render the summary rows as a fixed-width text table."""
    head = (f'{"target":<9}{"endpoint":<22}{"conc":>5}{"req/s":>10}{"spread":>8}'
            f'{"p50 ms":>9}{"p99 ms":>9}{"x raw":>7}{"errors":>8}')
    lines = [head, '-' * len(head)]
    for r in rows:
        ratio = f'{r["ratio"]:.2f}' if r['ratio'] is not None else '-'
        lines.append(f'{r["target"]:<9}{r["endpoint"] + " " + r["path"]:<22}'
                     f'{r["concurrency"]:>5}{r["rps"]:>10.1f}{r["spread"]:>7.0%} '
                     f'{r["p50_ms"]:>9.2f}{r["p99_ms"]:>9.2f}{ratio:>7}{r["errors"]:>8}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start the targets, verify their answers, load them, print the table."""
    args = parse_args(argv)
    # A SIGTERM must still run the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    endpoints = [e for e in apps.ENDPOINTS if e.name in args.endpoints]
    python = servers.ensure_venv()
    running: dict[str, servers.Server] = {}
    started = time.time()
    try:
        for target in args.targets:
            running[target] = servers.start(python, target, _server_args(args))
            print(f'{target}: port {running[target].port}, {running[target].banner}',
                  file=sys.stderr)
        problems = [p for s in running.values() for e in endpoints for p in servers.check(s, e)]
        if problems:
            raise servers.ServerError('targets answer differently:\n  ' + '\n  '.join(problems))
        samples = measure(args, running, endpoints)
    except (servers.ServerError, loadgen.WrkError) as ex:
        print(f'bench: {ex}', file=sys.stderr)
        if 'core' in args.targets and 'core' not in running:
            print('bench: to run without it: --targets raw,cherrypy', file=sys.stderr)
        return 2
    finally:
        codes = {t: servers.stop(s) for t, s in running.items()}
        for target, code in codes.items():
            if code != 0:
                print(f'bench: {target} server exited {code}', file=sys.stderr)
    unclean = any(codes.values())

    rows = summarize(args, endpoints, samples)
    print(f'\ncheroot numthreads={args.threads} request_queue_size={args.queue} '
          f'timeout={args.timeout:g} keep_alive_conn_limit={args.keepalive_limit}; '
          f'wrk {args.duration}s x {args.rounds} rounds; medians; '
          f'spread = (max-min)/median req/s')
    print(table(rows))
    if args.json:
        meta = {'args': {k: v for k, v in vars(args).items() if k != 'json'},
                'servers': {t: s.banner for t, s in running.items()},
                'python': platform.python_version(), 'started': started,
                'loadavg_at_end': os.getloadavg(),
                'elapsed_s': round(time.time() - started, 1)}
        with open(args.json, 'w') as f:
            json.dump({'meta': meta, 'results': rows}, f, indent=2)
    failed = [r for r in rows if r['errors']]
    for r in failed:
        print(f'bench: {r["target"]} {r["path"]} c={r["concurrency"]}: {r["non_2xx"]} '
              f'non-2xx/3xx, {r["errors"] - r["non_2xx"]} socket errors', file=sys.stderr)
    return 1 if failed or unclean else 0


if __name__ == '__main__':
    sys.exit(main())
