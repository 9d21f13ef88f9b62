"""Probes never queue behind work, and liveness fails only when the pool is stuck."""
from __future__ import annotations

import http.client as httpclient
import threading
import time

import pytest

import app.core as cherrypy

from helpers import http, live

RELEASE = threading.Event()


class Root:
    @cherrypy.expose
    def work(self):
        RELEASE.wait(10)  # NOTE: a busy worker, held until the test lets it go
        return 'done'

    @cherrypy.expose
    def healthcheck(self):
        return 'stalled' if SERVER.stalled() else 'OK'

    @cherrypy.expose
    def readyz(self):
        return 'saturated' if SERVER.saturated() else 'ready'

    @cherrypy.expose
    def other(self):
        return 'other'


SERVER: cherrypy.Server


@pytest.fixture
def server():
    global SERVER
    RELEASE.clear()
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree, probe_paths=('/healthcheck', '/readyz'), stall_timeout=1.0,
              saturation_timeout=0.5) as s:
        SERVER = s
        yield s
        RELEASE.set()


def _busy(server, n: int) -> list[threading.Thread]:
    """``n`` requests that hold a worker each until RELEASE."""
    def one() -> None:
        c = httpclient.HTTPConnection(*server.bound_addr, timeout=20)
        c.request('GET', '/work')
        assert c.getresponse().read() == b'done'
        c.close()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    pool = server.httpserver.requests
    deadline = time.monotonic() + 5
    while pool.idle > 0 or pool.qsize < n - 4:  # live() runs 4 workers
        assert time.monotonic() < deadline, (pool.idle, pool.qsize)
        time.sleep(0.01)
    return threads


def _timed(server, path: str) -> tuple[float, int, bytes]:
    t0 = time.monotonic()
    status, _headers, body = http(server, path, timeout=10)
    return time.monotonic() - t0, status, body


def test_probes_answer_at_once_while_every_worker_is_busy(server):
    threads = _busy(server, 8)  # 4 busy, 4 queued
    try:
        for _ in range(5):
            elapsed, status, body = _timed(server, '/healthcheck')
            assert (status, body) == (200, b'OK') and elapsed < 0.5, elapsed
        # Another path queues behind the work, as it should.
        c = httpclient.HTTPConnection(*server.bound_addr, timeout=0.5)
        c.request('GET', '/other')
        with pytest.raises(TimeoutError):
            c.getresponse()
        c.close()
    finally:
        RELEASE.set()
        for t in threads:
            t.join(10)
    assert _timed(server, '/other')[1:] == (200, b'other')


def test_liveness_fails_only_when_the_pool_makes_no_progress(server):
    assert _timed(server, '/other')[1:] == (200, b'other')  # progress, just now
    threads = _busy(server, 6)
    try:
        # Busy, but not yet stuck for stall_timeout (1 s): still alive.
        assert _timed(server, '/healthcheck')[1:] == (200, b'OK')
        deadline = time.monotonic() + 5
        while _timed(server, '/healthcheck')[2] != b'stalled':
            assert time.monotonic() < deadline, 'the stuck pool was never reported'
            time.sleep(0.1)
    finally:
        RELEASE.set()
        for t in threads:
            t.join(10)
    # The pool finished its work: alive again.
    assert _timed(server, '/healthcheck')[1:] == (200, b'OK')


def test_readiness_can_report_a_saturated_pool(server):
    assert _timed(server, '/readyz')[1:] == (200, b'ready')
    threads = _busy(server, 6)
    try:
        deadline = time.monotonic() + 5
        while _timed(server, '/readyz')[2] != b'saturated':
            assert time.monotonic() < deadline, 'saturation was never reported'
            time.sleep(0.1)
    finally:
        RELEASE.set()
        for t in threads:
            t.join(10)
    deadline = time.monotonic() + 5
    while _timed(server, '/readyz')[2] != b'ready':
        assert time.monotonic() < deadline, 'still saturated after the work finished'
        time.sleep(0.1)


def test_saturation_is_not_reported_unless_asked():
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree) as s:
        assert s.saturation_timeout == 0 and s.saturated() is False
