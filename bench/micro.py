"""In-process CPU per request: what each target adds over raw, without sockets.

    bench/.venv/bin/python bench/micro.py [--targets raw,core,cherrypy]
        [--endpoints basic] [--requests 20000] [--profile core:json]

Calls each target's WSGI callable directly with a cheroot-like environ, as
many times as asked, and prints process CPU time per request (µs) and the
difference to raw. This is the framework's own cost; ``run.py`` measures
what it does to req/s through a real server. ``--profile target:endpoint``
prints the cProfile top entries for one pair instead. A tool for finding
where the time goes, not a speed goal.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.dirname(_HERE)]

import apps  # noqa: E402


def environ(ep: apps.Endpoint) -> dict:
    """The environ cheroot builds for wrk's request to ``ep``."""
    env = {
        'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': ep.path,
        'QUERY_STRING': '', 'SERVER_PROTOCOL': 'HTTP/1.1', 'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '8080', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '40000',
        'HTTP_HOST': '127.0.0.1:8080', 'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(b''), 'wsgi.errors': sys.stderr,
        'wsgi.version': (1, 0), 'wsgi.multithread': True, 'wsgi.multiprocess': False,
        'wsgi.run_once': False, 'ACTUAL_SERVER_PROTOCOL': 'HTTP/1.1',
    }
    for name, value in ep.headers:
        env['HTTP_' + name.upper().replace('-', '_')] = value
    return env


def _start_response(status: str, headers: list, exc_info: object = None) -> None:
    if not status.startswith('200'):
        raise SystemExit('unexpected status %s' % status)


def run(app: apps.WSGIApp, ep: apps.Endpoint, n: int) -> float:
    """Serve ``ep`` ``n`` times in-process; return CPU µs per request."""
    base = environ(ep)
    t0 = time.process_time()
    for _ in range(n):
        body = app(dict(base), _start_response)
        for _chunk in body:
            pass
        close = getattr(body, 'close', None)
        if close is not None:
            close()
    return (time.process_time() - t0) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print µs per request for each target and endpoint (or one profile)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--targets', default='raw,core')
    p.add_argument('--endpoints', default='basic')
    p.add_argument('--requests', type=int, default=20000)
    p.add_argument('--profile', metavar='TARGET:ENDPOINT')
    args = p.parse_args(argv)
    names = [n for part in args.endpoints.split(',') for n in apps.GROUPS.get(part, [part])]
    eps = {e.name: e for e in apps.ENDPOINTS if e.name in names and e.raw}
    if args.profile:
        target, name = args.profile.split(':')
        app = apps.TARGETS[target](None)
        run(app, eps[name], 1000)
        prof = cProfile.Profile()
        prof.runcall(run, app, eps[name], args.requests)
        pstats.Stats(prof).sort_stats('tottime').print_stats(25)
        return 0
    loaded = {t: apps.TARGETS[t](None) for t in args.targets.split(',')}
    for ep in eps.values():
        raw = None
        for target, app in loaded.items():
            run(app, ep, min(1000, args.requests))  # warm caches and routes
            us = run(app, ep, args.requests)
            raw = us if target == 'raw' else raw
            extra = '' if raw is None or target == 'raw' else '  +%.1f' % (us - raw)
            print('%-10s %-8s %7.1f us%s' % (ep.name, target, us, extra), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
