"""Test helpers: call a WSGI app in-process, run a real server, start memcached."""
from __future__ import annotations

import contextlib
import http.client as httpclient
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import app.core as cherrypy
from app.core.lib.httputil import HeaderMap
from app.core.server import Server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
        return json.loads(self.body)

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

    it = (app or cherrypy.tree)(env, start_response)
    try:
        data = b''.join(it)
    finally:
        close = getattr(it, 'close', None)
        if close is not None:
            close()
    return Result(out['status'], out['headers'], data)


def fresh_core() -> None:
    """Reset global config and unmount every app (between tests)."""
    cherrypy.config.reset()
    cherrypy.tree.apps.clear()
    cherrypy.tree._order = []
    if cherrypy.engine.state != cherrypy.engine.states.STARTED:
        cherrypy.engine.draining = False  # NOTE: a stopped engine stays draining


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


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError('nothing listens on port %d' % port)


def require_memcached() -> None:
    """Skip the calling test when the memcached binary is not installed (as the fixture)."""
    import pytest
    if shutil.which('memcached') is None:
        pytest.skip('memcached binary not installed (apt-get install memcached)')


class Memcached:
    """A real memcached on a free loopback port, stopped by PID."""

    def __init__(self) -> None:
        self.binary = shutil.which('memcached')
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return '127.0.0.1:%d' % self.port

    def start(self) -> 'Memcached':
        """Start the server and wait until it listens."""
        args = [self.binary, '-l', '127.0.0.1', '-p', str(self.port), '-U', '0', '-m', '32']
        if os.geteuid() == 0:
            args += ['-u', 'root']
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        """Kill it by its PID (as a crashed node would go; SIGTERM takes ~1 s)."""
        p = self.proc
        if p is None:
            return
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        self.proc = None


def wait_for_output(proc: subprocess.Popen, text: str, timeout: float = 15) -> list[bytes]:
    """Read ``proc``'s stdout until a line holds ``text``; return the lines read."""
    deadline = time.monotonic() + timeout
    lines: list[bytes] = []
    fd = proc.stdout.fileno()
    buf = b''
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no %r in the output: %r' % (text, b''.join(lines)))
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError('exited before %r: %r' % (text, b''.join(lines)))
            buf += chunk
            *done, buf = buf.split(b'\n')
            lines += [ln + b'\n' for ln in done]
            if any(text.encode() in ln for ln in done):
                return lines


def start_app_process(args: list[str], env: dict | None = None, port: int | None = None,
                      timeout: float = 20) -> tuple[subprocess.Popen, int]:
    """Start ``python <args>`` with ``PORT`` set; wait until it listens."""
    port = port or free_port()
    e = dict(os.environ)
    e.update(env or {})
    e['PORT'] = str(port)
    e.setdefault('PYTHONPATH', ROOT)
    proc = subprocess.Popen([sys.executable] + args, cwd=ROOT, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout)
    except TimeoutError:
        proc.kill()
        out = proc.communicate(timeout=5)[0]
        raise RuntimeError('app did not start: %s' % out.decode('utf-8', 'replace'))
    return proc, port
