"""A rolling restart behind a real load balancer loses no request and no session.

HAProxy (Debian's) stands in for the ELB and kube-proxy, with ``retries 0``
so that nothing is hidden; memcached holds the sessions. Three replicas of
``python -m app --config conf/prod.conf`` are replaced one by one as
``k8s/deployment.yaml`` does (maxSurge 1, maxUnavailable 0) while a client
keeps a session counter going, in three variants of how the balancer learns
that a replica is going: 1.5 s after its SIGTERM (Kubernetes' endpoint
removal), only from its own health checks on ``/readyz``, or at once.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which('haproxy') is None,
                                reason='haproxy not installed (apt-get install haproxy)')

DRAIN = 3.0  # seconds: above HAProxy's 2 x 0.5 s checks to mark a server down
SLOTS = 6  # three replicas and their three replacements


class Replica:
    """``python -m app`` on port 0; its output is read as it comes."""

    def __init__(self, memcached: str) -> None:
        env = dict(os.environ, HOST='127.0.0.1', PORT='0', MEMCACHED_SERVERS=memcached,
                   APP_ENGINE__DRAIN_SECONDS=str(DRAIN), PYTHONPATH=ROOT)
        self.proc = subprocess.Popen([sys.executable, '-m', 'app', '--config', 'conf/prod.conf'],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._port = threading.Event()
        self.port = 0
        threading.Thread(target=self._read, daemon=True).start()
        assert self._port.wait(20), ''.join(self.lines)

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b''):
            line = raw.decode('utf-8', 'replace')
            self.lines.append(line)
            m = re.search(r'Serving on http://127\.0\.0\.1:(\d+)', line)
            if m:
                self.port = int(m.group(1))
                self._port.set()

    def stop(self) -> int:
        """SIGTERM, and the exit code once it has drained and stopped."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(DRAIN + 25)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


class HAProxy:
    """HAProxy on a port of its own, SLOTS backend servers driven by its runtime API."""

    def __init__(self, tmp_path) -> None:
        self.sock_path = str(tmp_path / 'haproxy.sock')
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        # NOTE: HAProxy binds the port itself, so it is chosen just before;
        # every backend server address comes over the runtime API instead.
        servers = '\n'.join('    server s%d 127.0.0.1:9 disabled' % i for i in range(SLOTS))
        (tmp_path / 'haproxy.cfg').write_text(f'''
global
    stats socket {self.sock_path} mode 600 level admin
defaults
    mode http
    retries 0
    timeout connect 2s
    timeout client 20s
    timeout server 20s
    timeout http-keep-alive 20s
frontend web
    bind 127.0.0.1:{self.port}
    default_backend app
backend app
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 500 fall 2 rise 1
{servers}
''')
        self.proc = subprocess.Popen(['haproxy', '-db', '-f', str(tmp_path / 'haproxy.cfg')],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock_path):
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                self.proc.stdout.read().decode()
            time.sleep(0.02)

    def command(self, line: str) -> str:
        """One runtime API command; its answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.sock_path)
            s.sendall(line.encode() + b'\n')
            out = b''
            while chunk := s.recv(4096):
                out += chunk
        return out.decode()

    def up(self, slot: int, port: int) -> None:
        """Point slot at a replica and wait until its health check passes."""
        self.command('set server app/s%d addr 127.0.0.1 port %d' % (slot, port))
        self.command('set server app/s%d state ready' % slot)
        deadline = time.monotonic() + 10
        while 'UP' not in self.status(slot):
            assert time.monotonic() < deadline, self.status(slot)
            time.sleep(0.05)

    def status(self, slot: int) -> str:
        """The slot's check status line."""
        for line in self.command('show stat').splitlines():
            fields = line.split(',')
            if len(fields) > 17 and fields[0] == 'app' and fields[1] == 's%d' % slot:
                return fields[17]
        return ''

    def stop(self) -> None:
        """Stop it by its PID."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()


class Client:
    """Keeps a session counter going through the balancer until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.served = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        cookie = None
        expected = 1
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
            try:
                conn.request('GET', '/api/visits', headers={'Cookie': cookie} if cookie else {})
                r = conn.getresponse()
                body = r.read()
                set_cookie = r.getheader('Set-Cookie')
                if set_cookie and cookie is None:
                    cookie = set_cookie.split(';', 1)[0]
                if r.status != 200:
                    self.failures.append('%d %r' % (r.status, body[:80]))
                elif json.loads(body) != {'visits': expected}:
                    self.failures.append('session lost: %r, expected %d' % (body, expected))
                    expected = json.loads(body)['visits'] + 1
                else:
                    expected += 1
                    self.served += 1
                if r.getheader('Connection', '').lower() == 'close' or r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError) as ex:
                self.failures.append(repr(ex))
                conn.close()
                conn = None
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        """Stop the load."""
        self._stop.set()
        self._thread.join(15)


@pytest.mark.parametrize('told', ['after 1.5 s', 'by health checks only', 'at once'])
def test_rolling_restart_loses_no_request_and_no_session(memcached, tmp_path, told):
    lb = HAProxy(tmp_path)
    replicas: dict[int, Replica] = {}
    client = None
    try:
        for slot in range(3):
            replicas[slot] = Replica(memcached.address)
            lb.up(slot, replicas[slot].port)
        client = Client(lb.port)
        deadline = time.monotonic() + 10
        while client.served < 20:
            assert time.monotonic() < deadline and not client.failures, client.failures
            time.sleep(0.05)
        for old in range(3):
            new = old + 3
            replicas[new] = Replica(memcached.address)  # maxSurge 1: the new one first
            lb.up(new, replicas[new].port)
            served = client.served
            if told == 'at once':
                lb.command('set server app/s%d state maint' % old)
            timer = None
            if told == 'after 1.5 s':
                timer = threading.Timer(1.5, lb.command, ['set server app/s%d state maint' % old])
                timer.start()
            assert replicas[old].stop() == 0, ''.join(replicas[old].lines[-20:])
            if timer is not None:
                timer.join()
            assert client.served > served, 'no traffic while replica %d drained' % old
        client.stop()
        assert client.failures == []
        assert client.served > 50
    finally:
        if client is not None:
            client.stop()
        for r in replicas.values():
            if r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait(5)
        lb.stop()
