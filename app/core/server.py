"""The HTTP server: cheroot, configured from ``server.*`` keys.

Two changes to cheroot's defaults, both for load balancers:

- No worker waits on the network for a request head (``connections.py``):
  the I/O thread reads heads, and small bodies, without blocking and hands
  a connection to a worker once they are complete; a head still partial
  after ``server.head_timeout`` gets 408. An ELB opens one idle connection
  per node, and a slow client trickles its head: with cheroot's behaviour
  either could starve the pool and stall health probes.
- ``socket_queue_size`` (listen backlog) and ``keep_alive_conn_limit``
  default higher than cheroot's 5 and 10, which put p99 near 1 s at 50
  concurrent clients.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot import wsgi as _wsgi
from cheroot.workers import threadpool as _threadpool

from .connections import STATS, BufferingConnectionManager, Connection
from .logs import log

__all__ = ['Server', 'HTTPServer', 'ExtraServers']


class HTTPServer(_wsgi.Server):
    """cheroot's WSGI server, its request heads read by the I/O thread."""

    #: Seconds from a head's first byte to its last before a 408.
    head_timeout = 10.0
    #: A body with a Content-Length up to this is read before a worker runs.
    body_buffer_size = 64 * 1024
    #: Paths (bytes) served by the probe lane's own workers, never queued.
    probe_paths: frozenset[bytes] = frozenset()
    probe_threads = 2
    probe_pool: Any = None
    #: Connections held open at most (idle, reading, queued or served); beyond, 503.
    max_connections = 1000
    ConnectionClass = Connection

    def prepare(self) -> None:
        super().prepare()
        old: Any = self._connections  # type: ignore[has-type]
        self._connections = BufferingConnectionManager(self)
        old._selector.close()
        if self.probe_paths:
            lane = _Lane(self)
            self.probe_pool = lane.requests = _threadpool.ThreadPool(
                lane, min=self.probe_threads, max=self.probe_threads)
            self.probe_pool.start()

    def stop(self) -> None:
        """Stop as cheroot does, then the probe lane."""
        super().stop()
        if self.probe_pool is not None:
            self.probe_pool.stop(self.shutdown_timeout)
            self.probe_pool = None

    def stalled(self, seconds: float) -> bool:
        """Whether the worker pool has made no progress for ``seconds`` with work waiting."""
        return self._connections.stalled(seconds)


class _Lane:
    """The server as the probe lane's workers see it: its own queue of connections."""

    requests: Any = None

    def __init__(self, server: HTTPServer) -> None:
        self._server = server

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class _AnnounceThreads:
    """The server's WSGI app: ``app``, publishing ``acquire_thread`` on ``bus``
    before a request on a thread not in ``threads`` (the thread manager's).

    PERF: one dict lookup a request once a thread is known.
    """

    __slots__ = ('app', 'bus', 'threads')

    def __init__(self, app: Callable, bus: Any, threads: dict[int, int]) -> None:
        self.app = app
        self.bus = bus
        self.threads = threads

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        if threading.get_ident() not in self.threads:
            self.bus.publish('acquire_thread')
        return self.app(environ, start_response)


class ExtraServers(dict):
    """``cherrypy.servers``: the extra servers ``server.<name>.<key>`` config makes.

    As in CherryPy, ``server.2.socket_port = 9877`` makes a second ``Server``
    (serving the same tree) on the first key naming ``2``, subscribed to the
    engine so that it starts and stops with it; its other keys are set on it.
    ``server.<name>.on = False`` is not needed: ``servers[name].unsubscribe()``.
    """

    def __init__(self, wsgi_app: Callable | None, bus: Any) -> None:
        super().__init__()
        self.wsgi_app = wsgi_app
        self.bus = bus

    def set_option(self, name: str, value: Any) -> None:
        """``<name>.<key> = value`` (the part after ``server.``) for the named server."""
        servername, _, key = name.partition('.')
        srv = self.get(servername)
        if srv is None:
            srv = self[servername] = Server(self.wsgi_app, self.bus)
            srv.subscribe()
        srv.set_option(key, value)


class Server:
    """``cherrypy.server``: the HTTP server the engine starts and stops.

    Attributes mirror the ``server.*`` config keys; ``bound_addr`` is the
    address actually bound (useful with ``socket_port = 0``).
    """

    socket_host = '127.0.0.1'
    socket_port = 8080
    socket_file = None
    socket_queue_size = 128
    socket_timeout = 10
    accepted_queue_size = -1
    accepted_queue_timeout = 10
    shutdown_timeout = 5
    thread_pool = 10
    thread_pool_max = -1
    max_request_header_size = 500 * 1024
    max_request_body_size = 100 * 1024 * 1024
    keep_alive_conn_limit = 100
    # NOTE: the defaults of the I/O thread's settings are HTTPServer's own.
    head_timeout = HTTPServer.head_timeout
    body_buffer_size = HTTPServer.body_buffer_size
    probe_paths: tuple[str, ...] = ()
    probe_threads = HTTPServer.probe_threads
    stall_timeout = 30.0
    saturation_timeout = 0.0
    max_connections = HTTPServer.max_connections
    expiration_interval = 0.5
    nodelay = True
    statistics = False
    server_name = None

    def __init__(self, wsgi_app: Callable | None = None, bus: Any = None) -> None:
        self.wsgi_app = wsgi_app
        #: The engine: told of request threads (``acquire_thread``) and of a
        #: KeyboardInterrupt in the server (it exits), as in CherryPy.
        self.bus = bus
        self.httpserver: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.running = False

    def configure(self, config: dict[str, Any]) -> None:
        """Copy ``server.*`` keys from ``config`` onto this object."""
        for key, value in config.items():
            # NOTE: ``server.<name>.<key>`` belongs to an extra server (``extra_servers``).
            if key.startswith('server.') and '.' not in key[7:]:
                setattr(self, key[7:], value)

    def subscribe(self) -> None:
        """Have the engine (``bus``) start and stop this server, as CherryPy's ``Server``."""
        self.bus.subscribe('start', self.start, priority=75)
        self.bus.subscribe('drain', self.drain)
        self.bus.subscribe('stop', self.stop, priority=25)

    def unsubscribe(self) -> None:
        """Undo ``subscribe``: the engine no longer starts or stops this server."""
        for channel, callback in (('start', self.start), ('drain', self.drain),
                                  ('stop', self.stop)):
            self.bus.unsubscribe(channel, callback)

    def set_option(self, name: str, value: Any) -> None:
        """``server.<name> = value`` from a config update (a namespace handler).

        Takes effect at the next ``start``; a running server keeps its socket.
        """
        setattr(self, name, value)

    def reset_options(self) -> None:
        """Back to the class's defaults (tests: what config.reset() is to config)."""
        for name in [n for n in vars(self) if hasattr(type(self), n)]:
            delattr(self, name)

    @property
    def bind_addr(self) -> Any:
        """``(host, port)`` or a unix socket path."""
        if self.socket_file:
            return self.socket_file
        return (self.socket_host, int(self.socket_port))

    @property
    def bound_addr(self) -> Any:
        """The address bound, with the real port when ``socket_port`` was 0."""
        if self.httpserver is not None and self.httpserver.socket is not None:
            name = self.httpserver.socket.getsockname()
            # NOTE: a unix socket's name is its path, not (host, port).
            return name if isinstance(name, str) else name[:2]
        return self.bind_addr

    def base(self) -> str:
        """``http://host:port`` of this server (the socket path for a unix socket)."""
        if self.socket_file:
            return self.socket_file
        host, port = self.bound_addr
        return 'http://%s:%s' % (host, port)

    def build_httpserver(self) -> HTTPServer:
        """A new HTTP server with this object's settings, not yet bound."""
        app = self.wsgi_app
        if app is None:
            raise RuntimeError('server has no WSGI application')
        manager = getattr(self.bus, 'thread_manager', None)
        if manager is not None:
            app = _AnnounceThreads(app, self.bus, manager.threads)
        s = HTTPServer(self.bind_addr, app, numthreads=int(self.thread_pool),
                       max=int(self.thread_pool_max),
                       request_queue_size=int(self.socket_queue_size),
                       timeout=self.socket_timeout,
                       shutdown_timeout=self.shutdown_timeout,
                       accepted_queue_size=int(self.accepted_queue_size),
                       accepted_queue_timeout=self.accepted_queue_timeout,
                       server_name=self.server_name)
        s.max_request_header_size = int(self.max_request_header_size)
        s.max_request_body_size = int(self.max_request_body_size or 0)
        s.keep_alive_conn_limit = self.keep_alive_conn_limit
        s.head_timeout = float(self.head_timeout)
        s.body_buffer_size = int(self.body_buffer_size)
        s.probe_paths = frozenset(p.encode('latin-1') for p in self.probe_paths)
        s.probe_threads = int(self.probe_threads)
        s.max_connections = int(self.max_connections)
        s.expiration_interval = self.expiration_interval
        s.nodelay = self.nodelay
        s.stats['Enabled'] = bool(self.statistics)
        return s

    def start(self) -> None:
        """Bind and serve in a background thread; return once listening."""
        if self.running:
            return
        if self.wsgi_app is None:
            raise RuntimeError('server has no WSGI application')
        # NOTE: a program may set ``httpserver`` itself before start (CherryPy's
        # ``server.httpserver = CPHTTPServer(server)``); it is used once.
        s = self.httpserver if self.httpserver is not None else self.build_httpserver()
        s.prepare()
        self.httpserver = s
        self._thread = threading.Thread(target=self._serve, name='HTTPServer', daemon=True)
        # NOTE: before the thread starts, or a serve loop dying at once would
        # have its ``running = False`` overwritten.
        self.running = True
        self._thread.start()
        log('Serving on %s' % (self.base(),), 'ENGINE')

    def _serve(self) -> None:
        s = self.httpserver
        try:
            s.serve()  # type: ignore[union-attr]
        except (KeyboardInterrupt, SystemExit) as ex:
            # NOTE: a handler (or httpserver.interrupt) raised it: the engine
            # exits, from another thread since exiting joins this one.
            log('%s in the HTTP server: exiting' % type(ex).__name__, 'ENGINE')
            self.running = False
            if self.bus is not None:
                threading.Thread(target=self.bus.exit, name='interrupt-exit').start()
        except Exception:  # NOTE: the engine notices through self.running
            log('HTTP server stopped on an error', 'ENGINE', 40, traceback=True)
            self.running = False

    def drain(self) -> None:
        """Keep serving, but end every connection after its response (``Connection: close``).

        cheroot answers ``Connection: close`` and closes once it may keep no
        more connections alive; a limit of 0 says so for every response.
        """
        s = self.httpserver
        if s is not None:
            s.keep_alive_conn_limit = 0

    def stats(self) -> dict[str, int]:
        """Connections and workers now, heads timed out, connections refused (0s when stopped)."""
        s = self.httpserver
        return dict.fromkeys(STATS, 0) if s is None else s._connections.stats()

    def stalled(self) -> bool:
        """Whether the worker pool has made no progress for ``stall_timeout`` with work waiting.

        A liveness probe answers 503 then, so that a deadlocked process is
        restarted; a pool that is merely busy keeps finishing requests.
        """
        s = self.httpserver
        return s is not None and s.stalled(float(self.stall_timeout))

    def saturated(self) -> bool:
        """Whether the pool has been full with work waiting for ``saturation_timeout``.

        Off (False) while ``saturation_timeout`` is 0, the default: see the
        README for why a readiness probe should rarely use it.
        """
        s = self.httpserver
        t = float(self.saturation_timeout or 0)
        return t > 0 and s is not None and s._connections.saturated(t)

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, then return."""
        s = self.httpserver
        if s is None:
            return
        s.stop()
        if self._thread is not None:
            self._thread.join(self.shutdown_timeout + 5)
        self.httpserver = None
        self.running = False
        log('HTTP server stopped', 'ENGINE')

    def wait(self, timeout: float = 10.0) -> None:
        """Block until the server answers on its socket."""
        deadline = time.monotonic() + timeout
        while self.httpserver is None or not self.httpserver.ready:
            if time.monotonic() > deadline:
                raise RuntimeError('server did not start in %s s' % timeout)
            time.sleep(0.01)
