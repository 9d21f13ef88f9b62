"""Memcached round trips per session request, counted by app.core's client.

    python3 bench/session_trips.py

Starts two private memcached processes (stopped by PID), mounts a session
counter and a read-only session page on app.core in-process, and counts the
round trips (one per batch of commands sent to a node) per request, and
the waits for them (batches sent to several nodes together overlap: one
wait): for a
read-modify-write and a read-only request of an existing session, with 1
and 2 replicas. Before this client (pymemcache, one command per round
trip) a read-modify-write took 5 (get to check the id, add the lock, get
under the lock, cas, delete the lock) and a read-only request 4.
"""
from __future__ import annotations

import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import memcached_proc  # noqa: E402

import app.core as cherrypy  # noqa: E402
from app.core.lib import memcache  # noqa: E402

N = 200


class Root:
    @cherrypy.expose
    def incr(self):
        cherrypy.session['n'] = cherrypy.session.get('n', 0) + 1
        return str(cherrypy.session['n'])

    @cherrypy.expose
    def read(self):
        return str(cherrypy.session.get('n', 0))


def request(path: str, cookie: str | None) -> tuple[str, str | None]:
    env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': path, 'SCRIPT_NAME': '', 'QUERY_STRING': '',
           'SERVER_PROTOCOL': 'HTTP/1.1', 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
           'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': '127.0.0.1', 'wsgi.url_scheme': 'http',
           'wsgi.input': io.BytesIO(), 'wsgi.errors': sys.stderr}
    if cookie:
        env['HTTP_COOKIE'] = cookie
    out: dict = {}

    def start_response(status, headers, exc_info=None):
        out['status'], out['headers'] = status, headers
    b''.join(cherrypy.tree(env, start_response))
    assert out['status'].startswith('200'), out['status']
    for k, v in out['headers']:
        if k == 'Set-Cookie':
            return out['status'], v.split(';')[0]
    return out['status'], cookie


def trips() -> tuple[int, int]:
    """Round trips (one per batch sent to a node), and the waits for them (batches to
    several nodes at once overlap: one wait)."""
    clients = memcache._shared.values()
    return (sum(n.round_trips for c in clients for n in c.nodes.values()),
            sum(c.waits for c in clients))


def main() -> int:
    nodes = [memcached_proc.start(), memcached_proc.start()]
    try:
        cherrypy.config.update({'log.screen': False, 'log.access_file': '',
                                'environment': 'production'})
        print('%-10s %-22s %-12s %s' % ('replicas', 'request', 'round trips', 'waits'))
        for replicas in (1, 2):
            cherrypy.tree.apps.clear()
            cherrypy.tree.mount(Root(), '', {'/': {
                'tools.sessions.on': True, 'tools.sessions.storage_type': 'memcached',
                'tools.sessions.servers': [n.address for n in nodes[:replicas]],
                'tools.sessions.replicas': replicas}})
            for label, path, first in (('new session, write', '/incr', False),
                                       ('read-modify-write', '/incr', True),
                                       ('read-only', '/read', True)):
                cookies = [request('/incr', None)[1] if first else None for _ in range(N)]
                before = trips()
                for c in cookies:
                    request(path, c)
                after = trips()
                print('%-10d %-22s %-12.2f %.2f' % (replicas, label, (after[0] - before[0]) / N,
                                                    (after[1] - before[1]) / N))
    finally:
        memcache.close_clients()
        for n in nodes:
            memcached_proc.stop(n)
    return 0


if __name__ == '__main__':
    sys.exit(main())
