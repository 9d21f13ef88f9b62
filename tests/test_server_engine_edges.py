"""Server and engine corners: unix sockets, addresses before start, stop/wait, channels, signals."""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

import pytest

import app.core as cherrypy
from app.core.server import HTTPServer
from app.core.engine import Engine, SignalHandler, states
from app.core.server import Server


def hello_app(environ, start_response):
    body = ('hello %s' % environ['PATH_INFO']).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def unix_get(path: str, target: str = '/') -> bytes:
    """One HTTP/1.1 GET over a unix socket; returns the raw response."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(('GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
                   % target).encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b''.join(chunks)


@pytest.fixture
def quiet():
    cherrypy.config.update({'log.screen': False})


# == server ========================================================================

def test_serving_on_a_unix_socket(tmp_path, quiet):
    path = str(tmp_path / 'app.sock')
    s = Server(hello_app)
    s.socket_file = path
    assert s.bind_addr == path and s.bound_addr == path
    s.start()
    try:
        assert s.running
        # The address is the socket's path, not a (host, port) pair.
        assert s.bound_addr == path and s.base() == path
        raw = unix_get(path, '/via-unix')
        assert raw.startswith(b'HTTP/1.1 200 OK\r\n') and raw.endswith(b'\r\n\r\nhello /via-unix')
    finally:
        s.stop()
    assert not s.running
    # A stale socket file left behind does not stop the next server.
    s2 = Server(hello_app)
    s2.socket_file = path
    s2.start()
    try:
        assert unix_get(path).endswith(b'hello /')
    finally:
        s2.stop()


def test_the_tree_served_on_a_unix_socket(tmp_path, quiet):
    class R:
        @cherrypy.expose
        def index(self):
            return 'tree over unix'
    cherrypy.tree.mount(R(), '')
    path = str(tmp_path / 'tree.sock')
    s = Server(cherrypy.tree)
    s.configure({'server.socket_file': path, 'server.thread_pool': 2, 'other.key': 1})
    assert s.socket_file == path and s.thread_pool == 2
    s.start()
    try:
        raw = unix_get(path)
        assert b'200 OK' in raw.split(b'\r\n', 1)[0] and raw.endswith(b'tree over unix')
    finally:
        s.stop()


def test_addresses_before_start():
    s = Server(hello_app)
    assert s.bound_addr == ('127.0.0.1', 8080) and s.base() == 'http://127.0.0.1:8080'
    s.socket_host, s.socket_port = '127.0.0.2', '9001'
    assert s.bind_addr == ('127.0.0.2', 9001)
    assert s.base() == 'http://127.0.0.2:9001'


def test_port_zero_reports_the_real_port(quiet):
    s = Server(hello_app)
    s.socket_port = 0
    s.start()
    try:
        host, port = s.bound_addr
        assert host == '127.0.0.1' and port > 0
        assert s.base() == 'http://127.0.0.1:%d' % port
    finally:
        s.stop()
    assert s.bound_addr == ('127.0.0.1', 0)


def test_stop_when_not_started_and_start_twice(quiet):
    s = Server(hello_app)
    s.stop()  # nothing to stop: no error
    assert s.httpserver is None and not s.running
    s.socket_port = 0
    s.start()
    try:
        first = s.httpserver
        s.start()  # already running: the same server
        assert s.httpserver is first
        s.wait(5)
        assert s.httpserver.ready
    finally:
        s.stop()
        s.stop()
    assert s.httpserver is None


def test_start_without_an_application_is_an_error():
    with pytest.raises(RuntimeError, match='no WSGI application'):
        Server().start()


def test_wait_times_out_when_the_server_never_starts():
    s = Server(hello_app)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match='did not start in 0.2 s'):
        s.wait(0.2)
    assert time.monotonic() - t0 < 2


def test_a_serve_loop_that_dies_marks_the_server_not_running(monkeypatch, caplog, quiet):
    def broken_serve(self):
        raise OSError('accept loop died')
    monkeypatch.setattr(HTTPServer, 'serve', broken_serve)
    s = Server(hello_app)
    s.socket_port = 0
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        s.start()
        s._thread.join(5)
    try:
        assert not s.running
        assert 'HTTP server stopped on an error' in caplog.text
    finally:
        s.stop()


# == engine ========================================================================

def test_subscribe_orders_by_priority_and_ignores_duplicates():
    e = Engine()
    calls = []

    def a():
        calls.append('a')

    def b():
        calls.append('b')

    def c():
        calls.append('c')
    c.priority = 10
    e.subscribe('go', a, priority=70)
    e.subscribe('go', b)
    e.subscribe('go', c)
    e.subscribe('go', a, priority=1)  # already subscribed: ignored
    e.publish('go')
    assert calls == ['c', 'b', 'a']
    e.unsubscribe('go', b)
    e.unsubscribe('go', b)
    e.unsubscribe('never', a)
    calls.clear()
    assert e.publish('go') == [None, None]
    assert calls == ['c', 'a']


def test_publish_returns_results_and_logs_failures_outside_start(caplog):
    e = Engine()

    def bad():
        raise ValueError('listener broke')
    e.subscribe('graceful', bad, priority=1)
    e.subscribe('graceful', lambda: 'still called')
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        # NOTE: the engine's thread manager listens on graceful too (its None).
        assert e.publish('graceful')[-1] == 'still called'
    assert 'listener broke' in caplog.text
    e.subscribe('start', bad)
    with pytest.raises(ValueError):
        e.publish('start')


def test_publish_lets_keyboard_interrupt_through():
    e = Engine()
    after = []

    def interrupt():
        raise KeyboardInterrupt
    e.subscribe('ch', interrupt, priority=1)
    e.subscribe('ch', lambda: after.append(1))
    with pytest.raises(KeyboardInterrupt):
        e.publish('ch')
    assert after == []


def test_start_stop_and_exit_are_idempotent():
    e = Engine()
    seen = []
    for ch in ('start', 'stop', 'exit'):
        e.subscribe(ch, lambda ch=ch: seen.append(ch))
    e.stop()  # not started: nothing published
    assert seen == [] and e.state == states.STOPPED
    e.start()
    e.start()
    assert seen == ['start'] and e.state == states.STARTED and not e.draining
    e.stop()
    e.stop()
    assert seen == ['start', 'stop'] and e.state == states.STOPPED and e.draining
    e.exit()
    e.exit()
    assert seen == ['start', 'stop', 'exit'] and e.state == states.EXITING


def test_stop_drains_for_drain_seconds_before_stopping_the_server():
    e = Engine()
    e.drain_seconds = 0.3
    at_stop = []
    e.subscribe('stop', lambda: at_stop.append((e.draining, time.monotonic())))
    e.start()
    t0 = time.monotonic()
    e.stop()
    assert at_stop and at_stop[0][0] is True
    assert at_stop[0][1] - t0 >= 0.29


def test_wait_for_a_state_and_its_timeout():
    e = Engine()
    with pytest.raises(TimeoutError, match='did not reach STARTED'):
        e.wait(states.STARTED, interval=0.01, timeout=0.1)
    threading.Timer(0.1, e.start).start()
    e.wait(states.STARTED, interval=0.01, timeout=5)
    assert e.state == states.STARTED


def test_block_exits_on_keyboard_interrupt():
    e = Engine()
    exited = []
    e.subscribe('exit', lambda: exited.append(True))
    e.start()

    class Interrupted:
        def wait(self, timeout):
            raise KeyboardInterrupt

        def set(self):
            pass

        def clear(self):
            pass
    e._exit_requested = Interrupted()
    e.block()
    assert exited == [True] and e.state == states.EXITING


def test_sighup_publishes_graceful_and_sigterm_ends_block():
    assert threading.current_thread() is threading.main_thread()
    e = Engine()
    graceful = []
    e.subscribe('graceful', lambda: graceful.append(True))
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT,
                                                      signal.SIGHUP)}
    e.signal_handler.subscribe()
    try:
        assert signal.getsignal(signal.SIGHUP) == e.signal_handler._graceful
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not graceful and time.monotonic() < deadline:
            time.sleep(0.01)
        assert graceful == [True]
        e.start()
        os.kill(os.getpid(), signal.SIGTERM)
        t0 = time.monotonic()
        e.block(interval=0.05)
        assert time.monotonic() - t0 < 5
        assert e.draining and e.state == states.EXITING
    finally:
        e.signal_handler.unsubscribe()
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_signal_handlers_need_the_main_thread(caplog):
    e = Engine()
    handler = SignalHandler(e)
    before = signal.getsignal(signal.SIGHUP)
    with caplog.at_level(logging.INFO, logger='cherrypy.error'):
        t = threading.Thread(target=handler.subscribe)
        t.start()
        t.join(5)
    assert signal.getsignal(signal.SIGHUP) == before and handler._old == {}
    assert 'not in the main thread' in caplog.text
    # Restoring from another thread cannot work either: logged, not raised.
    handler._old = {signal.SIGHUP: before}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger='cherrypy.error'):
        t = threading.Thread(target=handler.unsubscribe)
        t.start()
        t.join(5)
    assert 'cannot restore handler' in caplog.text and handler._old == {}


def test_server_keys_reach_cherrypy_server_at_config_update():
    """As in CherryPy: no engine start is needed for cherrypy.server and url() to follow."""
    assert cherrypy.server.socket_port == 8080
    cherrypy.config.update({'server.socket_port': 9123, 'server.thread_pool': 3})
    assert (cherrypy.server.socket_port, cherrypy.server.thread_pool) == (9123, 3)
    assert cherrypy.url('/x') == 'http://127.0.0.1:9123/x'
    cherrypy.config['server.socket_host'] = '127.0.0.2'
    assert cherrypy.server.socket_host == '127.0.0.2'
    from app.core import testing
    testing.reset()
    assert (cherrypy.server.socket_port, cherrypy.server.socket_host) == (8080, '127.0.0.1')
