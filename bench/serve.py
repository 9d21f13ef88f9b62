"""Serve one benchmark target on cheroot until SIGTERM.

    bench/.venv/bin/python bench/serve.py --target raw|core|cherrypy \\
        --port 0 --threads 16 --queue 128 --keepalive-limit 100 \\
        [--memcached 127.0.0.1:PORT]

Every target gets the very same ``cheroot.wsgi.Server`` settings. Once it
listens, the server prints one line ``READY <port> <framework>`` on stdout
(``--port 0`` picks a free port). SIGTERM or SIGINT stops it gracefully and it
exits 0. A target that can't be loaded exits 2 with the reason on stderr.
``--memcached`` enables the frameworks' ``/session/memcached`` endpoint.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:0] = [_HERE, _ROOT]  # apps.py, and the project for `import app.core`

import apps  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the server's command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--target', required=True, choices=list(apps.TARGETS))
    p.add_argument('--port', type=int, default=0, help='0 picks a free port')
    p.add_argument('--threads', type=int, default=16, help='cheroot numthreads')
    p.add_argument('--queue', type=int, default=128, help='cheroot request_queue_size')
    p.add_argument('--timeout', type=float, default=10, help='cheroot socket timeout, s')
    p.add_argument('--keepalive-limit', type=int, default=100,
                   help='cheroot keep_alive_conn_limit (cheroot default 10; app.core 100)')
    p.add_argument('--server', choices=('cheroot', 'core'), default='cheroot',
                   help="cheroot's stock wsgi.Server, or app.core's (heads read by the "
                        'I/O thread); same settings either way')
    p.add_argument('--probe-paths', default='',
                   help='with --server core: comma-separated paths served by its probe lane')
    p.add_argument('--memcached', metavar='HOST:PORT',
                   help='memcached for the session-mc endpoint (omitted: not served)')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Load the target, serve it, and stop cleanly on SIGTERM."""
    args = parse_args(argv)
    try:
        app = apps.TARGETS[args.target](args.memcached)
    except apps.TargetUnavailable as ex:
        print(f'serve.py: target {args.target!r} unavailable: {ex}', file=sys.stderr)
        return 2

    import cheroot
    import cheroot.wsgi

    server_class = cheroot.wsgi.Server
    if args.server == 'core':
        from app.core.server import HTTPServer as server_class  # noqa: N813
    server = server_class(('127.0.0.1', args.port), app, numthreads=args.threads,
                          request_queue_size=args.queue, timeout=args.timeout)
    server.keep_alive_conn_limit = args.keepalive_limit
    if args.server == 'core' and args.probe_paths:
        server.probe_paths = frozenset(p.encode() for p in args.probe_paths.split(','))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    server.prepare()  # binds and listens: the port answers from here on
    # NOTE: serve in a thread and stop from the main one, so server.stop()
    # (which joins the workers) never runs inside a signal handler.
    serving = threading.Thread(target=server.serve, name='cheroot-serve', daemon=True)
    serving.start()
    port = server.bind_addr[1]
    print(f'READY {port} {apps.framework_version(args.target)} '
          f'cheroot {cheroot.__version__}', flush=True)
    try:
        while not stop.wait(0.5) and serving.is_alive():
            pass
    finally:
        server.stop()
        serving.join(10)
    return 0


if __name__ == '__main__':
    sys.exit(main())
