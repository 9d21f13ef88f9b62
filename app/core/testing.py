"""A test client for applications on app.core: in-process and live.

- ``call(app, path, ...)`` runs one request through a WSGI app (the tree
  by default) in-process and returns a ``Result``: ``status`` (int),
  ``headers`` (case-insensitive), ``body`` (bytes), ``text``, ``json()``.
- ``Client`` does the same and keeps cookies between requests, with
  ``get``/``post``/``put``/``patch``/``delete`` and ``json=`` bodies.
- ``live(app)`` serves a WSGI app on 127.0.0.1 and a free port (port 0)
  for the block, and ``http(server, path, ...)`` sends it one request.
- ``reset()`` returns the core to a clean start between tests: global
  config back to its defaults, no app mounted, shared state
  (``lib.state``) empty, no memcached node remembered as down.

Tests use them as ``from app.core.testing import Client, call, live``.
"""
from __future__ import annotations

import contextlib
import http.client as httpclient
import io
import json as _json
import sys
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import app.core as _core

from .lib import memcache as _memcache
from .lib import state as _state
from .lib.httputil import HeaderMap
from .server import Server

__all__ = ['Result', 'call', 'Client', 'live', 'http', 'reset']


class Result:
    """A response seen by a test: ``status`` (int), ``headers``, ``body`` (bytes)."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_line = status
        self.status = int(status.split(' ', 1)[0])
        self.header_list = headers
        self.headers = HeaderMap()
        for k, v in headers:
            if k in self.headers and k.lower() == 'set-cookie':
                self.headers[k] = self.headers[k] + '\n' + v
            else:
                self.headers[k] = v
        self.body = body

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode('utf-8')

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return '<Result %s %r>' % (self.status_line, self.body[:80])


def call(app: Any, path: str = '/', method: str = 'GET', headers: dict | None = None,
         body: bytes | str = b'', query: str = '', protocol: str = 'HTTP/1.1',
         script_name: str = '') -> Result:
    """Call a WSGI app in-process (the tree by default) and collect the response."""
    if '?' in path and not query:
        path, query = path.split('?', 1)
    if isinstance(body, str):
        body = body.encode('utf-8')
    env: dict[str, Any] = {
        'REQUEST_METHOD': method, 'SCRIPT_NAME': script_name,
        'PATH_INFO': path.encode('utf-8').decode('latin-1'), 'QUERY_STRING': query,
        'SERVER_PROTOCOL': protocol, 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
        'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '5555', 'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(body), 'wsgi.errors': sys.stderr,
        'wsgi.version': (1, 0), 'wsgi.multithread': True,
        'wsgi.multiprocess': False, 'wsgi.run_once': False,
    }
    if protocol == 'HTTP/1.1':
        env['HTTP_HOST'] = '127.0.0.1'
    if body or method in ('POST', 'PUT', 'PATCH'):
        env['CONTENT_LENGTH'] = str(len(body))  # NOTE: as HTTP clients send it
    for k, v in (headers or {}).items():
        key = k.upper().replace('-', '_')
        if key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            env[key] = v
        else:
            env['HTTP_' + key] = v
    out: dict[str, Any] = {}

    def start_response(status: str, hdrs: list, exc_info: Any = None) -> Any:
        out['status'] = status
        out['headers'] = hdrs
        return lambda data: None

    it = (app or _default_app())(env, start_response)
    try:
        data = b''.join(it)
    finally:
        close = getattr(it, 'close', None)
        if close is not None:
            close()
    return Result(out['status'], out['headers'], data)


def _default_app() -> Any:
    return _core.tree


class Client:
    """In-process requests to ``app`` (the tree by default) that keep cookies.

    ``client.post('/api/orders', json={'item': 'x'})`` sends a JSON body;
    ``Set-Cookie`` answers are kept and sent with the next requests.
    """

    def __init__(self, app: Any = None, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, json: Any = None, body: bytes | str = b'',
                headers: dict[str, str] | None = None) -> Result:
        """One request; JSON-encodes ``json`` and sets its Content-Type."""
        h = dict(self.headers)
        h.update(headers or {})
        if json is not None:
            body = _json.dumps(json).encode('utf-8')
            h.setdefault('Content-Type', 'application/json')
        if self.cookies:
            h['Cookie'] = '; '.join('%s=%s' % kv for kv in self.cookies.items())
        r = call(self.app, path, method=method, headers=h, body=body)
        for name, value in r.header_list:
            if name.lower() == 'set-cookie':
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for key, morsel in jar.items():
                    if morsel['max-age'] == '0' or morsel.value == '':
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
        return r

    def get(self, path: str, **kw: Any) -> Result:
        return self.request('GET', path, **kw)

    def post(self, path: str, **kw: Any) -> Result:
        return self.request('POST', path, **kw)

    def put(self, path: str, **kw: Any) -> Result:
        return self.request('PUT', path, **kw)

    def patch(self, path: str, **kw: Any) -> Result:
        return self.request('PATCH', path, **kw)

    def delete(self, path: str, **kw: Any) -> Result:
        return self.request('DELETE', path, **kw)


@contextlib.contextmanager
def live(app: Any, **server_keys: Any) -> Iterator[Server]:
    """Serve ``app`` (a WSGI callable) on 127.0.0.1, a free port; yield the Server."""
    s = Server(app)
    s.socket_host = '127.0.0.1'
    s.socket_port = 0
    s.thread_pool = 4
    for k, v in server_keys.items():
        setattr(s, k, v)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def http(server: Server, path: str, method: str = 'GET', body: bytes | None = None,
         headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    """One HTTP request to a live server; returns ``(status, headers, body)``."""
    host, port = server.bound_addr
    conn = httpclient.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def reset() -> None:
    """A clean core for the next test: default config, no apps, empty shared state.

    For a test suite's autouse fixture (``yield`` between two calls).
    """
    _core.config.reset()
    if not _core.server.running:
        _core.server.reset_options()
    for name, extra in list(_core.servers.items()):
        if not extra.running:
            extra.unsubscribe()
            del _core.servers[name]
    _core.tree.apps.clear()
    _core.tree._order = []
    if _core.engine.state != _core.engine.states.STARTED:
        _core.engine.draining = False  # NOTE: a stopped engine stays draining
    _state.reset()
    # NOTE: a memcached node a test left "down" must not swallow the next
    # test's outage log line (a new server may get the same port).
    _memcache.health.down.clear()
