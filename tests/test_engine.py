"""The engine and server in-process: channels, server.* keys, start/stop/exit."""
from __future__ import annotations

import threading

import pytest

import app.core as cherrypy
from app.core.config import ConfigError

from helpers import http


class Root:
    @cherrypy.expose
    def index(self):
        return 'engine up'


@pytest.fixture
def engine_run():
    cherrypy.config.update({'server.socket_port': 0, 'server.socket_host': '127.0.0.1',
                            'log.screen': False})
    yield cherrypy.engine
    cherrypy.engine.exit()
    cherrypy.engine.listeners.get('start', []).sort(key=lambda x: x[0])


def test_start_serves_and_channels_are_published(engine_run):
    events = []
    start_cb = lambda: events.append('start')  # noqa: E731
    stop_cb = lambda: events.append('stop')  # noqa: E731
    graceful_cb = lambda: events.append('graceful')  # noqa: E731
    cherrypy.engine.subscribe('start', start_cb)
    cherrypy.engine.subscribe('stop', stop_cb)
    cherrypy.engine.subscribe('graceful', graceful_cb)
    try:
        cherrypy.tree.mount(Root(), '')
        cherrypy.engine.start()
        assert cherrypy.engine.state == cherrypy.engine.states.STARTED
        assert http(cherrypy.server, '/')[::2] == (200, b'engine up')
        cherrypy.engine.graceful()
        cherrypy.engine.exit()
        assert events == ['start', 'graceful', 'stop']
        assert cherrypy.engine.state == cherrypy.engine.states.EXITING
        assert cherrypy.server.httpserver is None
    finally:
        cherrypy.engine.unsubscribe('start', start_cb)
        cherrypy.engine.unsubscribe('stop', stop_cb)
        cherrypy.engine.unsubscribe('graceful', graceful_cb)


def test_server_keys_reach_cheroot(engine_run):
    cherrypy.config.update({'server.thread_pool': 3, 'server.socket_queue_size': 64,
                            'server.socket_timeout': 7, 'server.max_request_header_size': 4096,
                            'server.shutdown_timeout': 2, 'server.max_request_body_size': 1000})
    cherrypy.tree.mount(Root(), '')
    cherrypy.engine.start()
    s = cherrypy.server.httpserver
    assert s.requests.min == 3
    assert s.request_queue_size == 64
    assert s.timeout == 7
    assert s.max_request_header_size == 4096
    assert s.shutdown_timeout == 2
    assert s.max_request_body_size == 1000
    status, _h, _b = http(cherrypy.server, '/', headers={'X-Big': 'x' * 8000})
    assert status in (413, 431, 400)


def test_block_returns_after_exit_from_another_thread(engine_run):
    cherrypy.tree.mount(Root(), '')
    cherrypy.engine.start()
    t = threading.Timer(0.3, cherrypy.engine.request_exit)
    t.start()
    cherrypy.engine.block()
    assert cherrypy.engine.state == cherrypy.engine.states.EXITING
    assert cherrypy.engine.draining


def test_unknown_tool_in_global_config_fails_at_start(engine_run):
    cherrypy.config.update({'tools.no_such_tool.on': True})
    cherrypy.tree.mount(Root(), '')
    with pytest.raises(ConfigError, match='tools.no_such_tool.on'):
        cherrypy.engine.start()


def test_failing_start_listener_stops_the_engine(engine_run):
    def bad():
        raise RuntimeError('cannot warm up')
    cherrypy.engine.subscribe('start', bad, priority=5)
    try:
        with pytest.raises(RuntimeError):
            cherrypy.engine.start()
        assert cherrypy.server.httpserver is None
    finally:
        cherrypy.engine.unsubscribe('start', bad)


def test_compat_plugins_are_accepted():
    cherrypy.engine.autoreload.unsubscribe()
    cherrypy.engine.autoreload.on = False
    cherrypy.engine.timeout_monitor.unsubscribe()
    cherrypy.engine.signals.subscribe()
    cherrypy.engine.signals.unsubscribe()
    cherrypy.engine.unsubscribe('graceful', cherrypy.log.reopen_files)
    assert cherrypy.log.reopen_files not in [cb for _p, cb in cherrypy.engine.listeners['graceful']]
    cherrypy.engine.subscribe('graceful', cherrypy.log.reopen_files)
    cherrypy.config.update({'engine.autoreload.on': False, 'checker.on': False})


class PerThread:
    """CherryPy's documented pattern: a connection per request thread."""

    def __init__(self):
        self.local = threading.local()
        self.started = []
        self.stopped = []

    def start_thread(self, index):
        self.local.conn = 'conn-%d' % index
        self.started.append((index, threading.get_ident()))

    def stop_thread(self, index):
        self.stopped.append(index)

    @cherrypy.expose
    def index(self):
        return '%s %d' % (self.local.conn, threading.get_ident())


def test_start_thread_runs_in_each_request_thread_before_its_first_request(engine_run):
    root = PerThread()
    cherrypy.engine.subscribe('start_thread', root.start_thread)
    cherrypy.engine.subscribe('stop_thread', root.stop_thread)
    try:
        cherrypy.config.update({'server.thread_pool': 3})
        cherrypy.tree.mount(root, '')
        cherrypy.engine.start()
        bodies = []
        threads = [threading.Thread(target=lambda: bodies.append(http(cherrypy.server, '/')[2]))
                   for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(bodies) == 6
        by_thread = dict((ident, index) for index, ident in root.started)
        for body in bodies:
            conn, ident = body.decode().split()
            assert conn == 'conn-%d' % by_thread[int(ident)]    # set in that very thread
        indices = sorted(by_thread.values())
        assert indices == list(range(1, len(indices) + 1))
        cherrypy.engine.exit()
        assert sorted(root.stopped) == indices
    finally:
        cherrypy.engine.unsubscribe('start_thread', root.start_thread)
        cherrypy.engine.unsubscribe('stop_thread', root.stop_thread)
    assert cherrypy.serving.request is None


class CtrlC:
    @cherrypy.expose
    def index(self):
        raise KeyboardInterrupt()


def test_a_keyboard_interrupt_in_a_handler_stops_the_engine(engine_run):
    cherrypy.tree.mount(CtrlC(), '')
    cherrypy.engine.start()
    fallback = threading.Timer(15, cherrypy.engine.request_exit)   # only if it never stops
    fallback.start()
    client = threading.Thread(target=lambda: pytest.raises(Exception, http, cherrypy.server,
                                                           '/', timeout=5))
    client.start()
    try:
        cherrypy.engine.block()
    finally:
        fired = not fallback.is_alive()
        fallback.cancel()
        client.join(10)
    assert not fired, 'the interrupt did not stop the engine'
    assert cherrypy.engine.state == cherrypy.engine.states.EXITING
    assert not cherrypy.server.running
