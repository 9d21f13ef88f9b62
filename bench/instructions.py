"""CPU instructions per request, counted by callgrind: raw vs core vs cherrypy.

    python3 bench/instructions.py [--targets raw,core,cherrypy] [--endpoints basic]
        [--n1 200] [--n2 1200] [--threads 4] [--project DIR] [--json OUT]

For every target and endpoint, starts ``serve.py`` (cheroot, same settings for
all targets) under ``valgrind --tool=callgrind`` in an empty private working
directory, with ``sys.setswitchinterval(1.0)`` (valgrind's slowdown would
otherwise multiply forced GIL hand-offs) and ``PYTHONHASHSEED=0``. A client in
this process, outside valgrind, sends N1 requests over one keep-alive
connection, has ``callgrind_control --dump`` the counts (start-up and warm-up),
sends N2-N1 more and dumps again: a dump zeroes the counters, so the second
dump's total Ir (all threads) over N2-N1 is instructions per request. The
table gives them per endpoint and target, with raw/core and raw/cherrypy
(higher is better, 1.0 = no overhead). ``--project DIR`` serves another
checkout (e.g. a ``git worktree`` of an older commit): its own
``bench/serve.py`` if it has one, else this one with DIR's ``app`` package.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE]

import apps  # noqa: E402
import servers  # noqa: E402

VALGRIND = '/usr/bin/valgrind'
CALLGRIND_CONTROL = '/usr/bin/callgrind_control'
# Run as `python -c LAUNCHER SERVE_PY PRELOAD_DIR ARGS...` inside valgrind.
LAUNCHER = '''import runpy, sys
sys.setswitchinterval(1.0)
serve, preload = sys.argv[1], sys.argv[2]
if preload:
    sys.path.insert(0, preload)
    import app
sys.argv = [serve] + sys.argv[3:]
runpy.run_path(serve, run_name='__main__')
'''


def deadline_left(deadline: float, what: str) -> float:
    """Seconds left until ``deadline``; raise TimeoutError past it."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f'timed out waiting for {what}')
    return left


def wait_ready(proc: subprocess.Popen, timeout: float) -> int:
    """Read the server's stdout until a ``READY <port> ...`` line; return the port."""
    deadline, seen = time.monotonic() + timeout, b''
    assert proc.stdout is not None
    while b'READY ' not in seen or not seen.split(b'READY ', 1)[1].count(b'\n'):
        ready, _, _ = select.select([proc.stdout], [], [], deadline_left(deadline, 'READY'))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b''
        if ready and not chunk:
            raise RuntimeError(f'server exited {proc.wait(10)} before READY: {seen!r}')
        seen += chunk
    return int(seen.split(b'READY ', 1)[1].split()[0])


def dump_total(pid: int, out: str, n: int, timeout: float = 120) -> int:
    """Have callgrind dump (and zero) its counters; return dump ``n``'s total Ir."""
    subprocess.run([CALLGRIND_CONTROL, '--dump', str(pid)], check=True, timeout=timeout,
                   capture_output=True)
    path, deadline = f'{out}.{n}', time.monotonic() + timeout
    while True:  # the dump is complete once its last line, `totals:`, is there
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith('totals:'):
                        return int(line.split()[1])
        except FileNotFoundError:
            pass
        time.sleep(min(0.05, deadline_left(deadline, path)))


def send(conn: http.client.HTTPConnection, ep: apps.Endpoint, n: int) -> None:
    """GET ``ep`` ``n`` times on ``conn``; every answer must be a keep-alive 200."""
    for _ in range(n):
        conn.request('GET', ep.path, headers=dict(ep.headers))
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or resp.will_close:
            raise RuntimeError(f'GET {ep.path}: {resp.status}, will_close={resp.will_close}, '
                               f'{body[:80]!r}')


def measure(python: str, target: str, ep: apps.Endpoint, args: argparse.Namespace) -> float:
    """Serve ``ep`` from ``target`` under callgrind; return instructions per request."""
    project = os.path.abspath(args.project or servers.ROOT)
    serve_py = os.path.join(project, 'bench', 'serve.py')
    preload = ''
    if not os.path.exists(serve_py):
        serve_py, preload = os.path.join(_HERE, 'serve.py'), project
    cwd, outdir = tempfile.mkdtemp(prefix='instr-cwd-'), tempfile.mkdtemp(prefix='instr-out-')
    out = os.path.join(outdir, 'callgrind.out')
    env = dict(os.environ, PYTHONPATH=project, PYTHONDONTWRITEBYTECODE='1', PYTHONHASHSEED='0')
    env.pop('MEMCACHED_SERVERS', None)
    cmd = [VALGRIND, '--tool=callgrind', f'--callgrind-out-file={out}', '--separate-threads=no',
           f'--log-file={outdir}/valgrind.log', python, '-c', LAUNCHER, serve_py, preload,
           '--target', target, '--port', '0', '--threads', str(args.threads),
           '--server', args.server]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE)
    try:
        port = wait_ready(proc, args.start_timeout)
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=args.request_timeout)
        send(conn, ep, args.n1)
        dump_total(proc.pid, out, 1)
        send(conn, ep, args.n2 - args.n1)
        ir = dump_total(proc.pid, out, 2)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        if proc.wait(args.stop_timeout) != 0:
            raise RuntimeError(f'{target} server exited {proc.returncode}')
        return ir / (args.n2 - args.n1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        shutil.rmtree(cwd)
        shutil.rmtree(outdir)


def table(results: dict[str, dict[str, float]], targets: list[str]) -> str:
    """Instructions per request per endpoint and target, and raw's ratios to the others."""
    others = [t for t in targets if t != 'raw'] if 'raw' in targets else []
    head = ['endpoint', 'path'] + [f'{t} Ir/req' for t in targets] + [f'raw/{t}' for t in others]
    rows = [head]
    for name, by_target in results.items():
        path = next(e.path for e in apps.ENDPOINTS if e.name == name)
        rows.append([name, 'GET ' + path] + [f'{by_target[t]:,.0f}' for t in targets]
                    + [f'{by_target["raw"] / by_target[t]:.3f}' for t in others])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    just = [str.ljust, str.ljust] + [str.rjust] * (len(head) - 2)  # text left, numbers right
    return '\n'.join('  '.join(j(c, w) for j, c, w in zip(just, r, widths, strict=True))
                     for r in rows)


def main(argv: list[str] | None = None) -> int:
    """Measure every target on every endpoint; print the table (and write JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--targets', default='raw,core,cherrypy')
    p.add_argument('--endpoints', default='basic', help='endpoint or group names')
    p.add_argument('--n1', type=int, default=200, help='requests before the first dump')
    p.add_argument('--n2', type=int, default=1200, help='requests before the second dump')
    p.add_argument('--threads', type=int, default=4, help='cheroot numthreads')
    p.add_argument('--server', choices=('cheroot', 'core'), default='cheroot',
                   help="the HTTP server for every target: cheroot's stock one or app.core's")
    p.add_argument('--project', metavar='DIR', help='checkout to serve (default: this one)')
    p.add_argument('--json', metavar='OUT', help='also write the results here')
    p.add_argument('--start-timeout', type=float, default=600)
    p.add_argument('--request-timeout', type=float, default=120)
    p.add_argument('--stop-timeout', type=float, default=120)
    args = p.parse_args(argv)
    if not 0 <= args.n1 < args.n2:
        p.error('need 0 <= n1 < n2')
    targets = args.targets.split(',')
    names = [n for part in args.endpoints.split(',') for n in apps.GROUPS.get(part, [part])]
    eps = [e for e in apps.ENDPOINTS if e.name in names and e.raw]
    unknown = set(targets) - set(apps.TARGETS) or set(names) - {e.name for e in eps}
    if unknown:
        p.error(f'unknown target or endpoint (session endpoints are not served by raw): '
                f'{", ".join(sorted(unknown))}')
    python = servers.ensure_venv()
    t0 = time.monotonic()
    results: dict[str, dict[str, float]] = {}
    for ep in eps:
        for target in targets:
            t = time.monotonic()
            ir = results.setdefault(ep.name, {})[target] = measure(python, target, ep, args)
            print(f'{ep.name:8} {target:9} {ir:12,.0f} Ir/req  ({time.monotonic() - t:.0f} s)',
                  file=sys.stderr, flush=True)
    print(table(results, targets))
    print(f'n1={args.n1} n2={args.n2} threads={args.threads} server={args.server} '
          f'project={args.project or servers.ROOT}  {time.monotonic() - t0:.0f} s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'n1': args.n1, 'n2': args.n2, 'threads': args.threads,
                       'project': os.path.abspath(args.project or servers.ROOT),
                       'instructions_per_request': results,
                       'raw_over': {e: {t: r['raw'] / r[t] for t in r if t != 'raw'}
                                    for e, r in results.items() if 'raw' in r}}, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
