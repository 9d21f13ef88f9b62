"""Benchmark raw WSGI, app.core and real CherryPy on identical cheroot servers.

    python3 bench/run.py [--targets raw,core,cherrypy] [--endpoints basic,tools]
                         [--concurrency 1,50] [--duration 5] [--rounds 3]
                         [--session-ids 1] [--json out.json]

Each target runs in its own ``serve.py`` subprocess under ``bench/.venv``'s
python (created on first use) with the same cheroot settings. Runs are
interleaved: every round loads each endpoint and concurrency on every target
back to back, so drift hits all targets alike. Raw's hello world ``GET /`` is
loaded in every round even when not selected: it is the ``x hello``
denominator. Session endpoints get pre-created session cookies, and
``session-mc`` a private memcached (skipped if memcached is not installed).
The table shows medians over rounds and ratios to raw. Exits 1 if any
request failed (non-2xx/3xx or socket error).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import time
from collections import defaultdict

import apps
import cookies
import loadgen
import memcached_proc
import report
import servers
from report import Key, Plan


#: The HTTP servers serve.py offers: cheroot's stock one and app.core's.
_SERVERS = ('cheroot', 'core')

def _endpoint_names(text: str) -> list[str]:
    """Endpoint and group names, comma-separated, expanded to endpoint names."""
    known = [e.name for e in apps.ENDPOINTS]
    names: list[str] = []
    for n in (n.strip() for n in text.split(',')):
        if not n:
            continue
        if n not in known and n not in apps.GROUPS:
            raise argparse.ArgumentTypeError(
                f'unknown endpoint {n!r}; choose from groups {list(apps.GROUPS)} '
                f'or endpoints {known}')
        names += [m for m in apps.GROUPS.get(n, [n]) if m not in names]
    if not names:
        raise argparse.ArgumentTypeError('no endpoints given')
    return names


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
    # NOTE: TARGET@SERVER serves a target on that server in the same run,
    # e.g. --targets raw,core,raw@core,core@core beside stock cheroot.
    p.add_argument('--targets', default=','.join(apps.TARGETS),
                   type=lambda s: _names(s, list(apps.TARGETS) + [
                       '%s@%s' % (t, srv) for t in apps.TARGETS for srv in _SERVERS],
                       'targets'))
    p.add_argument('--endpoints', default=','.join(apps.GROUPS), type=_endpoint_names,
                   help='endpoints or groups, comma-separated: ' + '; '.join(
                       f'{g} = {",".join(ns)}' for g, ns in apps.GROUPS.items())
                   + ' (default: all)')
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
    p.add_argument('--pin', choices=('auto', 'off'), default='auto',
                   help='auto: with taskset and 2+ CPUs, servers run on CPU 0 and wrk on '
                        'CPU 1, so they do not steal each other\'s core (much less noise)')
    p.add_argument('--wrk-threads', type=int, default=2,
                   help='wrk threads, capped at the concurrency (-c1 -t1, -c50 -t2)')
    p.add_argument('--session-ids', type=_positive, default=1,
                   help='sessions primed per target and session endpoint; wrk sends '
                        'them in turn (1: every connection shares one session)')
    p.add_argument('--server', choices=_SERVERS, default='cheroot',
                   help="HTTP server for every target: cheroot's stock one or app.core's")
    p.add_argument('--json', metavar='PATH', help='also write the results as JSON')
    return p.parse_args(argv)


def _server_args(args: argparse.Namespace, mc: list[memcached_proc.Memcached],
                 server: str) -> list[str]:
    out = ['--port', '0', '--threads', str(args.threads), '--queue', str(args.queue),
           '--timeout', str(args.timeout), '--keepalive-limit', str(args.keepalive_limit),
           '--server', server]
    return out + (['--memcached', ','.join(m.address for m in mc)] if mc else [])


def make_plan(args: argparse.Namespace, memcached: bool) -> Plan:
    """Each selected endpoint with the selected targets that serve it.

    Drops (and says so) what can't run: memcached sessions without memcached,
    sessions without a framework target. Puts raw's hello world first when
    raw runs but ``index`` was not selected, for the ``x hello`` ratios.
    """
    plan: Plan = []
    for ep in (e for e in apps.ENDPOINTS if e.name in args.endpoints):
        if (ep.session or '').startswith('memcached') and not memcached:
            print(f'bench: skipping {ep.name}: memcached is not installed '
                  f'(apt-get install memcached)', file=sys.stderr)
            continue
        targets = [t for t in args.targets if ep.raw or t.partition('@')[0] != 'raw']
        if targets:
            plan.append((ep, targets))
        else:
            print(f'bench: skipping {ep.name}: raw has no equivalent', file=sys.stderr)
    if 'raw' in args.targets and apps.HELLO.name not in args.endpoints:
        plan.insert(0, (apps.HELLO, ['raw']))
    return plan


def verify(args: argparse.Namespace, running: dict[str, servers.Server],
           plan: Plan) -> dict[tuple[str, str], list[str]]:
    """Check every answer; prime sessions. Returns (target, endpoint) -> cookies."""
    problems: list[str] = []
    primed: dict[tuple[str, str], list[str]] = {}
    for ep, targets in plan:
        for target in targets:
            if ep.session:
                primed[target, ep.name], found = cookies.prime(running[target], ep,
                                                               args.session_ids)
            else:
                found = servers.check(running[target], ep)
            problems += found
    if problems:
        raise servers.ServerError('targets answer wrongly:\n  ' + '\n  '.join(problems))
    return primed


def measure(args: argparse.Namespace, running: dict[str, servers.Server], plan: Plan,
            primed: dict[tuple[str, str], list[str]]) -> dict[Key, list[loadgen.WrkResult]]:
    """Warm up, then load every (endpoint, concurrency, target) once per round."""
    def load(target: str, ep: apps.Endpoint, conns: int, seconds: int) -> loadgen.WrkResult:
        threads = min(args.wrk_threads, conns)
        extra, script, script_args = cookies.wrk_options(primed.get((target, ep.name), []),
                                                         threads)
        return loadgen.run(running[target].url(ep.path), conns, seconds, threads=threads,
                           cpu=cpus[1],
                           headers=ep.headers + extra, script=script,
                           script_args=script_args)

    if args.warmup > 0:
        for ep, targets in plan:
            for target in targets:
                load(target, ep, max(args.concurrency), args.warmup)
    samples: dict[Key, list[loadgen.WrkResult]] = defaultdict(list)
    total = args.rounds * len(args.concurrency) * sum(len(t) for _, t in plan)
    n = 0
    for rnd in range(1, args.rounds + 1):
        for ep, targets in plan:
            for conns in args.concurrency:
                for target in targets:
                    res = load(target, ep, conns, args.duration)
                    samples[target, ep.name, conns].append(res)
                    n += 1
                    print(f'[{n}/{total}] round {rnd} {target:<8} {ep.name:<11} c={conns:<3}'
                          f' {res.rps:9.1f} req/s  p50 {res.p50_ms:.2f}ms  p99 {res.p99_ms:.2f}ms'
                          + (f'  ERRORS {res.errors}' if res.errors else ''),
                          file=sys.stderr, flush=True)
    return samples


def _start_memcached(args: argparse.Namespace) -> list[memcached_proc.Memcached]:
    """One memcached for session-mc, two when session-mc2 runs too."""
    wanted = [e for e in ('session-mc', 'session-mc2') if e in args.endpoints]
    if not wanted or not set(args.targets) - {'raw'} or memcached_proc.binary() is None:
        return []
    out = []
    for _ in range(2 if 'session-mc2' in wanted else 1):
        mc = memcached_proc.start()
        print(f'memcached: {mc.address}, pid {mc.proc.pid}', file=sys.stderr)
        out.append(mc)
    return out


#: (server CPUs, wrk CPUs) for taskset, or (None, None) when not pinning.
cpus: tuple[str | None, str | None] = (None, None)


def _pick_cpus(mode: str) -> tuple[str | None, str | None]:
    if mode == 'off' or not shutil.which('taskset') or (os.cpu_count() or 1) < 2:
        return None, None
    return '0', '1'


def main(argv: list[str] | None = None) -> int:
    """Start the targets, verify their answers, load them, print the table."""
    global cpus
    args = parse_args(argv)
    cpus = _pick_cpus(args.pin)
    # A SIGTERM must still run the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    python = servers.ensure_venv()
    running: dict[str, servers.Server] = {}
    mc: list[memcached_proc.Memcached] = []
    started = time.time()
    try:
        mc = _start_memcached(args)
        plan = make_plan(args, memcached=bool(mc))
        for target in args.targets:
            name, _, server = target.partition('@')
            running[target] = servers.start(python, name, _server_args(args, mc,
                                                                       server or args.server),
                                            cpu=cpus[0])
            print(f'{target}: port {running[target].port}, {running[target].banner}',
                  file=sys.stderr)
        primed = verify(args, running, plan)
        samples = measure(args, running, plan, primed)
    except (servers.ServerError, loadgen.WrkError, memcached_proc.MemcachedError) as ex:
        print(f'bench: {ex}', file=sys.stderr)
        if 'core' in args.targets and 'core' not in running:
            print('bench: to run without it: --targets raw,cherrypy', file=sys.stderr)
        return 2
    finally:
        codes = {t: servers.stop(s) for t, s in running.items()}
        for target, code in codes.items():
            if code != 0:
                print(f'bench: {target} server exited {code}', file=sys.stderr)
        for m in mc:
            memcached_proc.stop(m)
    unclean = any(codes.values())

    rows = report.summarize(plan, args.concurrency, samples)
    print(f'\nserver={args.server} numthreads={args.threads} request_queue_size={args.queue} '
          f'timeout={args.timeout:g} keep_alive_conn_limit={args.keepalive_limit}; '
          f'wrk {args.duration}s x {args.rounds} rounds; medians; '
          f'spread = (max-min)/median req/s; sessions: {args.session_ids} id(s) per target; '
          f'x raw = median of per-round ratios; pinned: server CPU {cpus[0]}, wrk CPU {cpus[1]}')
    print(report.table(rows))
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
