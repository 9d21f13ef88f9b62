"""The SIGTERM timeline, on a real process: readiness fails, keep-alive ends, nothing is lost."""
from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import threading
import time

from app.core.config import parse_file

from helpers import ROOT, start_app_process

SLOW_APP = os.path.join(ROOT, 'tests', 'programs', 'slow_app.py')


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, str | None]:
    conn.request('GET', path)
    r = conn.getresponse()
    return r.status, r.read(), r.getheader('Connection')


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for ' + what)
        time.sleep(0.02)


def _start(drain: float) -> tuple[subprocess.Popen, int, list[bytes]]:
    """The slow app with ``drain`` seconds of drain; its output is read as it comes.

    NOTE: read at once, or the access log fills the pipe and the server blocks.
    """
    proc, port = start_app_process([SLOW_APP], env={'APP_ENGINE__DRAIN_SECONDS': str(drain)})
    out: list[bytes] = []
    threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, b'')),
                     daemon=True).start()
    return proc, port, out


def _finish(proc: subprocess.Popen, out: list[bytes], timeout: float = 20) -> tuple[int, str]:
    try:
        code = proc.wait(timeout)
        proc.stdout.close()
        return code, b''.join(out).decode('utf-8', 'replace')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sigterm_drains_with_connection_close_and_loses_no_request():
    drain = 2.0
    proc, port, out = _start(drain)
    try:
        kept = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        assert _get(kept, '/') == (200, b'up', None)  # a keep-alive connection
        probe = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        assert _get(probe, '/ready')[:2] == (200, b'ready')

        # A request in flight across the end of the drain still finishes.
        slow: dict = {}

        def slow_request() -> None:
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=20)
            slow['answer'] = _get(c, '/slow?seconds=%s' % (drain + 1.0))
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _wait_for(lambda: _get(http.client.HTTPConnection('127.0.0.1', port, timeout=5),
                               '/ready')[1] == b'draining', 1.0, 'readiness to fail')
        worker = threading.Thread(target=slow_request)
        worker.start()

        # The connection kept from before SIGTERM is told to close.
        assert _get(kept, '/') == (200, b'up', 'close')
        # A client that follows Connection: close keeps being served.
        served = 0
        while time.monotonic() - t0 < drain * 0.7:
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
            status, body, connection = _get(c, '/')
            assert (status, body, connection) == (200, b'up', 'close')
            c.close()
            served += 1
        assert served > 10

        worker.join(drain + 10)
        assert slow['answer'] == (200, ('finished after %s' % (drain + 1.0)).encode(), 'close')
        code, text = _finish(proc, out)
        assert code == 0, text
        assert 'Draining for 2 s' in text
        # The listener stayed open for the whole drain.
        assert time.monotonic() - t0 >= drain
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_a_second_sigterm_ends_the_drain_at_once():
    proc, port, out = _start(60)
    try:
        proc.send_signal(signal.SIGTERM)
        _wait_for(lambda: _get(http.client.HTTPConnection('127.0.0.1', port, timeout=5),
                               '/ready')[1] == b'draining', 2.0, 'readiness to fail')
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, text = _finish(proc, out, timeout=15)
        assert code == 0, text
        assert time.monotonic() - t0 < 10
        assert 'while draining: stopping now' in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_the_pods_grace_period_covers_the_drain_and_the_shutdown():
    manifest = open(os.path.join(ROOT, 'k8s', 'deployment.yaml')).read()
    grace = int(re.search(r'^\s*terminationGracePeriodSeconds:\s*(\d+)', manifest, re.M).group(1))
    pre_stop = re.search(r'command:\s*\["sleep",\s*"(\d+)"\]', manifest)
    prod = parse_file(os.path.join(ROOT, 'conf', 'prod.conf'))['global']
    drain = prod['engine.drain_seconds']
    shutdown = prod['server.shutdown_timeout']
    assert drain >= 5, 'a balancer checking every few seconds needs a drain of several'
    needed = (int(pre_stop.group(1)) if pre_stop else 0) + drain + shutdown + 5
    assert grace >= needed, 'the kubelet would SIGKILL the pod %d s too early' % (needed - grace)
