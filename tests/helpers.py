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
from app.core.testing import Client, Result, call, http, live  # noqa: F401  (re-exported)
from app.core import testing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fresh_core() -> None:
    """Reset global config, unmount every app, empty shared state (between tests)."""
    testing.reset()


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


def http_get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET ``path`` from a server process on 127.0.0.1:``port``: (status, body)."""
    conn = httpclient.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_until(cond: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``cond()`` until it is true (returned); fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(interval)


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
