"""Health-probe latency while slow clients or busy workers hold the server.

    python3 bench/probes.py [--targets core,cherrypy] [--threads 10] [--slow 200]
        [--silent 200] [--busy 20] [--probes 10] [--probe-timeout 5]

Each target serves the same app (``apps.build``) with ``--threads`` workers:
``core`` on app.core's server with ``/healthcheck`` in its probe lane,
``cherrypy`` (18.10, from ``bench/.venv``) on stock cheroot. Three
scenarios, one after the other, each bounded in time:

- ``idle``: nothing else;
- ``slowloris``: ``--slow`` connections each send a partial request head,
  then one more byte every 2 s, and ``--silent`` connections send nothing;
- ``saturated``: ``--busy`` concurrent ``GET /slow`` (3 s each).

A probe is ``GET /healthcheck`` on a fresh connection, as a kubelet or a
load balancer sends it; the table gives p50 and max latency in ms and the
probes that got no answer within ``--probe-timeout``. Loopback only; every
socket and server this starts is closed or stopped before it exits.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import sys
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE]

import servers  # noqa: E402


def probe(port: int, timeout: float) -> float | None:
    """Seconds for one ``GET /healthcheck`` on a new connection; None if it failed."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', '/healthcheck')
        r = conn.getresponse()
        ok = r.status == 200 and r.read() == b'OK'
    except OSError:
        return None
    finally:
        conn.close()
    return time.monotonic() - t0 if ok else None


def probes(port: int, n: int, timeout: float) -> list[float | None]:
    """``n`` probes, 0.1 s apart."""
    out = []
    for _ in range(n):
        out.append(probe(port, timeout))
        time.sleep(0.1)
    return out


def slowloris(port: int, slow: int, silent: int, stop: threading.Event) -> list[socket.socket]:
    """Open the slow and silent connections; a thread trickles a byte every 2 s until ``stop``."""
    socks = [socket.create_connection(('127.0.0.1', port), timeout=5) for _ in range(slow + silent)]
    for s in socks[:slow]:
        s.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: ')

    def trickle() -> None:
        while not stop.wait(2.0):
            for s in socks[:slow]:
                try:
                    s.sendall(b'a')
                except OSError:
                    pass
    threading.Thread(target=trickle, daemon=True).start()
    return socks


def busy(port: int, n: int) -> list[threading.Thread]:
    """``n`` concurrent 3 s requests, each on its own connection."""
    def one() -> None:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
        try:
            conn.request('GET', '/slow?seconds=3')
            conn.getresponse().read()
        except OSError:
            pass
        finally:
            conn.close()
    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def summary(latencies: list[float | None]) -> str:
    """``p50 ms  max ms  failed`` of a list of probe results."""
    ok = [x * 1000 for x in latencies if x is not None]
    failed = len(latencies) - len(ok)
    if not ok:
        return f'{"-":>8} {"-":>8} {failed:>6}'
    return f'{statistics.median(ok):8.1f} {max(ok):8.1f} {failed:>6}'


def run_target(python: str, target: str, args: argparse.Namespace) -> dict[str, str]:
    """The three scenarios against one target; its summary lines by scenario."""
    server_args = ['--port', '0', '--threads', str(args.threads), '--queue', '512',
                   '--timeout', '10', '--keepalive-limit', '1000']
    if target == 'core':
        server_args += ['--server', 'core', '--probe-paths', '/healthcheck']
    srv = servers.start(python, target, server_args)
    out = {}
    try:
        out['idle'] = summary(probes(srv.port, args.probes, args.probe_timeout))
        stop = threading.Event()
        socks = slowloris(srv.port, args.slow, args.silent, stop)
        try:
            time.sleep(1.0)  # NOTE: the server must have taken the connections in
            out['slowloris'] = summary(probes(srv.port, args.probes, args.probe_timeout))
        finally:
            stop.set()
            for s in socks:
                s.close()
        threads = busy(srv.port, args.busy)
        time.sleep(0.5)  # NOTE: let the busy requests reach the workers first
        out['saturated'] = summary(probes(srv.port, max(3, args.probes // 4), args.probe_timeout))
        for t in threads:
            t.join(60)
    finally:
        servers.stop(srv)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every target and print one table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--targets', default='core,cherrypy')
    p.add_argument('--threads', type=int, default=10)
    p.add_argument('--slow', type=int, default=200)
    p.add_argument('--silent', type=int, default=200)
    p.add_argument('--busy', type=int, default=20)
    p.add_argument('--probes', type=int, default=10)
    p.add_argument('--probe-timeout', type=float, default=5)
    args = p.parse_args(argv)
    python = servers.ensure_venv()
    rows = []
    for target in args.targets.split(','):
        for scenario, line in run_target(python, target, args).items():
            rows.append(f'{target:9} {scenario:10} {line}')
    print(f'threads={args.threads} slow={args.slow} silent={args.silent} busy={args.busy} '
          f'probe timeout {args.probe_timeout:g} s')
    print(f'{"target":9} {"scenario":10} {"p50 ms":>8} {"max ms":>8} {"failed":>6}')
    print('\n'.join(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
