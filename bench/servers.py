"""The bench virtualenv, and the target servers the harness starts and stops.

The real CherryPy lives only in ``bench/.venv``, never in the project's own
environment. Every target runs under that one interpreter, so raw, core and
cherrypy differ in nothing but the WSGI app.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from dataclasses import dataclass, field
from typing import IO, Sequence

from apps import Endpoint

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, '.venv')
PYTHON = os.path.join(VENV, 'bin', 'python')
REQUIREMENTS = ['cherrypy==18.10.0', 'cheroot', 'python-memcached']
_STAMP = os.path.join(VENV, '.bench-stamp')


class ServerError(RuntimeError):
    """A target server failed to start, answered wrongly, or failed to stop."""


def project_requirements() -> list[str]:
    """The project's own dependencies, from pyproject.toml (none if it has none)."""
    try:
        with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
            return list(tomllib.load(f).get('project', {}).get('dependencies', []))
    except FileNotFoundError:
        return []


def ensure_venv() -> str:
    """Create or refresh ``bench/.venv``; return its python.

    Installs REQUIREMENTS plus the project's declared dependencies, again
    whenever either list changes. The project itself is not installed: the
    servers get the repo root on PYTHONPATH, so nothing is written outside
    bench/ and the code under test is always the work tree's.
    """
    wanted = REQUIREMENTS + project_requirements()
    stamp = hashlib.sha256(repr(wanted).encode()).hexdigest()
    if os.path.exists(_STAMP):
        with open(_STAMP) as f:
            if f.read() == stamp:
                return PYTHON
    if not os.path.exists(PYTHON):
        print(f'creating {VENV} ...', file=sys.stderr)
        subprocess.run([sys.executable, '-m', 'venv', VENV], check=True)
    print(f'installing {" ".join(wanted)} into {VENV} ...', file=sys.stderr)
    subprocess.run([PYTHON, '-m', 'pip', 'install', '-q', *wanted], check=True)
    with open(_STAMP, 'w') as f:
        f.write(stamp)
    return PYTHON


@dataclass
class Server:
    """One running target: its process, port and log file."""

    target: str
    proc: subprocess.Popen
    log: IO[str]
    port: int = 0
    banner: str = ''
    returncode: int | None = field(default=None)

    def url(self, path: str) -> str:
        """The full URL of ``path`` on this server."""
        return f'http://127.0.0.1:{self.port}{path}'

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the server printed (stdout and stderr)."""
        self.log.flush()
        with open(self.log.name) as f:
            return ''.join(f.readlines()[-lines:])


def start(python: str, target: str, server_args: Sequence[str], wait: float = 30,
          cpu: str | None = None) -> Server:
    """Start ``serve.py --target target`` (pinned to ``cpu`` if given); wait until it listens."""
    log = tempfile.NamedTemporaryFile('w+', prefix=f'bench-{target}-', suffix='.log')
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE='1')
    env.pop('MEMCACHED_SERVERS', None)  # app.core would prefer it to --memcached
    cmd = [python, os.path.join(HERE, 'serve.py'), '--target', target, *server_args]
    if cpu is not None:
        cmd = ['taskset', '-c', cpu, *cmd]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    server = Server(target, proc, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        ready = [ln for ln in open(log.name) if ln.startswith('READY ')]
        if ready:
            server.banner = ready[0].split(' ', 2)[2].strip()
            server.port = int(ready[0].split()[1])
            return server
        if proc.poll() is not None:
            server.returncode = proc.returncode
            raise ServerError(f'{target} server exited {proc.returncode}:\n{server.log_tail()}')
        time.sleep(0.05)
    stop(server)
    raise ServerError(f'{target} server did not listen within {wait:.0f}s:\n{server.log_tail()}')


def terminate(proc: subprocess.Popen, wait: float) -> int:
    """SIGTERM ``proc`` by its PID, SIGKILL it if it lingers; return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def stop(server: Server, wait: float = 15) -> int:
    """Stop the server by its PID (see ``terminate``); return its exit code."""
    server.returncode = terminate(server.proc, wait)
    server.log.close()
    return server.returncode


def check(server: Server, endpoint: Endpoint) -> list[str]:
    """GET the endpoint once; list every way the answer differs from the spec.

    A gzip answer's body is compared after decompression (gzip headers carry
    a timestamp); a body of ``None`` is not compared.
    """
    conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10)
    try:
        conn.request('GET', endpoint.path, headers=dict(endpoint.headers))
        resp = conn.getresponse()
        body = resp.read()
    except OSError as ex:
        return [f'{server.target} {endpoint.path}: {type(ex).__name__}: {ex}']
    finally:
        conn.close()
    where = f'{server.target} GET {endpoint.path}'
    problems = []
    if resp.status != 200:
        problems.append(f'{where}: status {resp.status}, want 200')
    ctype = resp.getheader('Content-Type')
    if ctype != endpoint.content_type and ctype not in endpoint.also_ok:
        problems.append(f'{where}: Content-Type {ctype!r}, want {endpoint.content_type!r}')
    encoding = resp.getheader('Content-Encoding')
    if encoding != endpoint.encoding:
        problems.append(f'{where}: Content-Encoding {encoding!r}, want {endpoint.encoding!r}')
    elif encoding == 'gzip':
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as ex:
            problems.append(f'{where}: bad gzip body: {ex}')
    if endpoint.body is not None and body != endpoint.body:
        problems.append(f'{where}: body {body[:80]!r}, want {endpoint.body[:80]!r}')
    return problems
