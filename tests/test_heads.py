"""Request heads read by the I/O thread: slow and silent clients hold no worker."""
from __future__ import annotations

import http.client as httpclient
import socket
import threading
import time

import pytest

import app.core as cherrypy
from app.core.heads import head_ready

from helpers import http, live


@pytest.mark.parametrize('buf, ready', [
    (b'GET / HTTP/1.1\r\nHost: x\r\n', False),
    (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', True),
    (b'\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n', False),  # empty lines first are skipped
    (b'\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', True),
    (b'GET / HTTP/1.1\nHost: x\n\n', True),  # bare LF: complete; the worker answers 400
    (b'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc', False),  # a small body, partial
    (b'POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde', True),
    (b'POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\nabc', True),  # too big: the worker reads it
    (b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', True),
    (b'POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', True),
])
def test_head_ready(buf, ready):
    assert head_ready(buf, 64 * 1024) is ready


class Root:
    @cherrypy.expose
    def healthcheck(self):
        return 'OK'

    @cherrypy.expose
    def echo(self, **kw):
        return '%s %d' % (cherrypy.request.method, len(cherrypy.request.body.read()))


@pytest.fixture
def server():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '', {'/echo': {'request.process_request_body': False}})
    with live(cherrypy.tree, head_timeout=1.5) as s:
        yield s


def _connect(server) -> socket.socket:
    s = socket.create_connection(server.bound_addr, timeout=10)
    return s


def _wait_heads(server, n: int) -> None:
    """Wait until the I/O thread holds ``n`` partial heads."""
    manager = server.httpserver._connections
    deadline = time.monotonic() + 5
    while manager.heads_waiting < n:
        assert time.monotonic() < deadline, manager.heads_waiting
        time.sleep(0.01)


def _read_until(s: socket.socket, done) -> bytes:
    data = b''
    while not done(data):
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    return data


def _probe(server) -> float:
    t0 = time.monotonic()
    status, _headers, body = http(server, '/healthcheck', timeout=5)
    assert (status, body) == (200, b'OK')
    return time.monotonic() - t0


def test_trickled_and_silent_heads_hold_no_worker(server):
    # live() runs 4 workers: 30 trickling and 30 silent connections would
    # hold every one of them if workers read heads.
    socks = [_connect(server) for _ in range(60)]
    stop = threading.Event()

    def trickle() -> None:
        head = b'GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: '
        for s in socks[:30]:
            s.sendall(head[:20])
        while not stop.wait(0.2):
            for s in socks[:30]:
                try:
                    s.sendall(b'a')
                except OSError:
                    pass
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        _wait_heads(server, 30)
        worst = max(_probe(server) for _ in range(5))
        assert worst < 1.0, worst
    finally:
        stop.set()
        t.join(5)
        for s in socks:
            s.close()


def test_a_head_not_done_in_time_gets_408_and_is_closed(server):
    s = _connect(server)
    t0 = time.monotonic()
    s.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: x\r\n')
    data = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    elapsed = time.monotonic() - t0
    s.close()
    assert data.startswith(b'HTTP/1.1 408 Request Timeout\r\n') and b'Connection: close' in data
    assert 1.4 < elapsed < 5, elapsed


def test_pipelined_requests_and_bodies_small_large_and_chunked(server):
    host, port = server.bound_addr
    s = _connect(server)
    small = b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc'
    s.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n' + small
              + b'GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n')
    data = _read_until(s, lambda d: d.count(b'\r\n\r\nOK') == 2 and b'\r\n\r\nPOST 3' in d)
    assert data.count(b'HTTP/1.1 200 OK') == 3
    assert data.index(b'\r\n\r\nPOST 3') < data.rindex(b'\r\n\r\nOK')  # in order
    s.close()

    conn = httpclient.HTTPConnection(host, port, timeout=10)
    big = b'x' * (300 * 1024)  # beyond the 64 KB body buffer: the worker reads it
    conn.request('POST', '/echo', body=big)
    assert conn.getresponse().read() == b'POST %d' % len(big)
    conn.request('POST', '/echo', body=iter([b'ab', b'cde']), encode_chunked=True,
                 headers={'Transfer-Encoding': 'chunked'})
    assert conn.getresponse().read() == b'POST 5'
    conn.request('PUT', '/echo', body=b'12345', headers={'Expect': '100-continue'})
    assert conn.getresponse().read() == b'PUT 5'
    conn.close()


def test_a_small_body_sent_slowly_holds_no_worker(server):
    socks = []
    for _ in range(10):
        s = _connect(server)
        s.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab')
        socks.append(s)
    try:
        _wait_heads(server, 10)
        assert _probe(server) < 1.0
        for s in socks:
            s.sendall(b'c' * 98)
        for s in socks:
            assert _read_until(s, lambda d: d.endswith(b'POST 100')).startswith(b'HTTP/1.1 200')
    finally:
        for s in socks:
            s.close()


def test_beyond_max_connections_a_clear_503_and_the_count(caplog):
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree, max_connections=5) as server:
        held = [_connect(server) for _ in range(5)]
        manager = server.httpserver._connections
        deadline = time.monotonic() + 5
        while manager.open < 5:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for _ in range(2):
            extra = _connect(server)
            data = _read_until(extra, lambda d: d.endswith(b'try again.'))
            assert data.startswith(b'HTTP/1.1 503 Service Unavailable\r\n')
            assert extra.recv(10) == b''  # and closed
            extra.close()
        stats = server.stats()
        assert stats['connections_refused'] == 2 and stats['connections_open'] == 5
        refusals = [r for r in caplog.records if 'refusing connections' in r.getMessage()]
        assert len(refusals) == 1  # once per episode
        held.pop().close()
        while manager.open > 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert _probe(server) < 1.0


def test_stats_count_heads_waiting_and_timed_out(server):
    s = _connect(server)
    s.sendall(b'GET /healthcheck HTTP/1.1\r\n')
    _wait_heads(server, 1)
    assert server.stats()['connections_reading_head'] == 1
    assert _read_until(s, lambda d: d.endswith(b'in time.')).startswith(b'HTTP/1.1 408')
    s.close()
    stats = server.stats()
    assert stats['request_heads_timed_out'] == 1 and stats['connections_reading_head'] == 0
    assert stats['workers'] == 4 and stats['workers_busy'] == 0


def test_no_header_size_limit_still_keeps_partial_heads_off_the_workers():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    # NOTE: 0 is cheroot's own default, and means no limit.
    with live(cherrypy.tree, max_request_header_size=0) as server:
        socks = [_connect(server) for _ in range(6)]
        try:
            for s in socks:
                s.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: x\r\n')
            _wait_heads(server, 6)
            assert server.stats()['workers_busy'] == 0
            assert _probe(server) < 1.0
        finally:
            for s in socks:
                s.close()


def test_a_body_over_the_servers_limit_is_refused_before_it_is_sent():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    # NOTE: 9999 is under body_buffer_size: without the limit the I/O thread would wait for it.
    with live(cherrypy.tree, max_request_body_size=1000) as server:
        s = _connect(server)
        try:
            s.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n'
                      b'Content-Length: 9999\r\n\r\n')
            data = _read_until(s, lambda d: d.endswith(b'maximum allowed bytes.'))
            assert data.startswith(b'HTTP/1.1 413 ')
        finally:
            s.close()
