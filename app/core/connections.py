"""The I/O thread's connections: no worker waits on the network for a request head.

cheroot hands a connection to a worker as soon as it is readable, and the
worker reads the request head with blocking reads, ``socket_timeout`` per
read and no overall deadline: a client that sends a byte every few seconds
holds a worker for ever, and a few dozen of them hold the pool. Here the
selector thread reads heads itself, without blocking, and queues a
connection for a worker only once its whole head has arrived, with its
body too when a ``Content-Length`` of at most ``server.body_buffer_size``
announces one (bodies that are chunked, larger, or wait for
``100-continue`` are read by the worker, as before). A head that is not
complete ``server.head_timeout`` seconds after its first byte gets a 408
from this thread and is closed.

A connection also waits here, without a worker, between keep-alive
requests and before its first byte.
"""
from __future__ import annotations

import logging
import os
import re
import selectors
import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot import connections as _connections
from cheroot import server as _server

from .heads import BadFraming, HeadReader, OriginRequest, head_ready
from .logs import log

__all__ = ['Connection', 'BufferingConnectionManager', 'STATS']

#: The names ``BufferingConnectionManager.stats`` reports.
STATS = ('connections_open', 'connections_reading_head', 'connections_queued', 'workers',
         'workers_busy', 'request_heads_timed_out', 'connections_refused')

_RECV_SIZE = 65536
_MAX_HEAD = 1 << 20
_PROBE_LINE = re.compile(rb'[\r\n]*(?:GET|HEAD) ([^ ?]+)')
_TIMEOUT_BODY = b'The request head did not arrive in time.'
_TIMEOUT = (b'HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n'
            b'Content-Length: %d\r\nConnection: close\r\n\r\n%s'
            % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))
_FULL_BODY = b'The server holds as many connections as it may; try again.'
_FULL = (b'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n'
         b'Retry-After: 1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'
         % (len(_FULL_BODY), _FULL_BODY))


def _bad_request(why: str) -> bytes:
    body = ('Bad request framing: %s.' % why).encode('ascii')
    return (b'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n'
            b'Content-Length: %d\r\nConnection: close\r\n\r\n%s' % (len(body), body))


class Connection(_server.HTTPConnection):
    """cheroot's connection, which tells the manager when it is done and closed."""

    RequestHandlerClass = OriginRequest
    in_pool = False
    counted = False

    def close(self) -> None:
        """Close; count a request the worker pool finished, and one connection fewer."""
        manager = self.server._connections
        if self.in_pool:
            self.in_pool = False
            manager.finished()
        if self.counted:
            self.counted = False
            manager.closed()
        super().close()


class BufferingConnectionManager(_connections.ConnectionManager):
    """cheroot's connection manager, with request heads read in its thread.

    Its ``_run`` loop (cheroot's, with the readable-connection case
    replaced) is the server's I/O thread. NOTE: it overrides cheroot's
    private ``_run`` and ``_from_server_socket``; pinned in pyproject.
    """

    # cheroot's private state, which its type stubs leave out.
    _selector: Any
    _stop_requested: bool
    _remove_invalid_sockets: Callable[[], None]

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        #: fd -> (connection, when its head's first byte came) for partial heads.
        self._partial: dict[int, tuple[Any, float]] = {}
        self.heads_timed_out = 0
        #: When a pool worker last finished a request (for ``stalled``).
        self.last_progress = time.monotonic()
        #: Connections open now, and those refused for ``max_connections``.
        self.open = 0
        self._open_lock = threading.Lock()  # NOTE: workers close, the I/O thread accepts
        self.refused = 0
        self._refusing = False
        #: Since when every worker has been busy with work waiting (None: not so).
        self.saturated_since: float | None = None

    def closed(self) -> None:
        """A connection this manager accepted was closed."""
        with self._open_lock:
            self.open -= 1

    def finished(self) -> None:
        """A pool worker finished a request: the pool makes progress."""
        self.last_progress = time.monotonic()

    def stats(self) -> dict[str, int]:
        """What the server holds now: connections by state, workers, and counters."""
        pool = self.server.requests
        workers = len(pool._threads)
        busy = workers - pool.idle
        return {'connections_open': self.open, 'connections_reading_head': len(self._partial),
                'connections_queued': pool.qsize, 'workers': workers, 'workers_busy': busy,
                'request_heads_timed_out': self.heads_timed_out,
                'connections_refused': self.refused}

    def saturated(self, seconds: float) -> bool:
        """Whether every worker has been busy, with work waiting, for ``seconds``."""
        since = self.saturated_since
        return since is not None and time.monotonic() - since >= seconds

    def _pool_full(self) -> bool:
        """Work waits for a worker and none is free."""
        pool = self.server.requests
        return pool.qsize > 0 and pool.idle == 0

    def _sample_saturation(self) -> None:
        if not self._pool_full():
            self.saturated_since = None
        elif self.saturated_since is None:
            self.saturated_since = time.monotonic()

    def stalled(self, seconds: float) -> bool:
        """Whether work waits while every pool worker has been busy ``seconds`` without a finish."""
        return self._pool_full() and time.monotonic() - self.last_progress > seconds

    @property
    def heads_waiting(self) -> int:
        """Connections whose request head has begun to arrive but is not complete."""
        return len(self._partial)

    def _from_server_socket(self, server_socket: Any) -> None:
        conn = super()._from_server_socket(server_socket)  # type: ignore[misc]
        if conn is not None and self.open >= self.server.max_connections:
            self._refuse(conn)
        elif conn is not None:
            with self._open_lock:
                self.open += 1
            conn.counted = True
            if self._refusing:
                self._refusing = False
                log('accepting connections again (%d open)' % self.open, 'HTTP')
            conn.rfile = HeadReader(conn.rfile)
            conn.head = bytearray()
            conn.last_used = time.time()
            if conn.socket.gettimeout() is None:
                conn.socket.settimeout(self.server.timeout or 10)  # NOTE: keeps it O_NONBLOCK
            self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)
        return None

    def _answer_and_close(self, conn: Any, response: bytes) -> None:
        """Write a short response from this thread (never blocking) and close."""
        self._partial.pop(conn.socket.fileno(), None)
        try:
            os.write(conn.socket.fileno(), response)
        except OSError:
            pass  # NOTE: a client that cannot take a few hundred bytes gets the close
        conn.close()

    def _refuse(self, conn: Any) -> None:
        """503 and close: the server holds ``max_connections`` already."""
        self.refused += 1
        if not self._refusing:
            # NOTE: once per episode, not once per connection.
            self._refusing = True
            log('refusing connections: %d open, server.max_connections is %d'
                % (self.open, self.server.max_connections), 'HTTP', logging.WARNING)
        self._answer_and_close(conn, _FULL)

    def put(self, conn: Any) -> None:
        """A worker is done with ``conn``: wait here for its next head."""
        if conn.in_pool:
            conn.in_pool = False
            self.finished()
        conn.last_used = time.time()
        conn.head = bytearray(conn.rfile.take_buffered())
        if conn.head and self._ready(conn):
            return
        if conn.head:
            self._partial[conn.socket.fileno()] = (conn, conn.last_used)
        self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)

    def _ready(self, conn: Any) -> bool:
        limit = self.server.body_buffer_size
        most = self.server.max_request_body_size
        if 0 < most < limit:
            # NOTE: a body the server refuses is not waited for: the worker
            # answers 413 at once, before the client sends it.
            limit = most
        try:
            ready = head_ready(conn.head, limit)
        except BadFraming as ex:
            self._answer_and_close(conn, _bad_request(str(ex)))
            return True
        if not ready:
            # NOTE: cheroot's 0 means no limit; memory still needs one here.
            if len(conn.head) <= (self.server.max_request_header_size or _MAX_HEAD):
                return False
            # NOTE: too long to be a head; the worker answers the 431 or 414.
        head = bytes(conn.head)
        conn.rfile.feed(head)
        conn.head = bytearray()
        probes = self.server.probe_paths
        if probes:
            m = _PROBE_LINE.match(head)
            if m is not None and m.group(1) in probes:
                # NOTE: probes have workers of their own, so no amount of work
                # queued for the pool delays them.
                self.server.probe_pool.put(conn)
                return True
        conn.in_pool = True
        self.server.process_conn(conn)
        return True

    def _read_head(self, fd: int, conn: Any) -> None:
        try:
            # NOTE: os.read, not recv: a socket with a timeout is O_NONBLOCK,
            # and recv would first wait up to that timeout on a false wake-up.
            data = os.read(fd, _RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            self._selector.register(fd, selectors.EVENT_READ, data=conn)
            return
        except OSError:
            data = b''
        if not data:  # the client closed, or the socket failed
            self._partial.pop(fd, None)
            conn.close()
            return
        conn.head += data
        if self._ready(conn):
            self._partial.pop(fd, None)
            return
        if fd not in self._partial:
            self._partial[fd] = (conn, time.time())
        self._selector.register(fd, selectors.EVENT_READ, data=conn)

    def _time_out_heads(self, now: float) -> None:
        limit = now - self.server.head_timeout
        late = [(fd, conn) for fd, (conn, since) in list(self._partial.items()) if since < limit]
        for fd, conn in late:
            self._partial.pop(fd, None)
            try:
                self._selector.unregister(fd)
            except KeyError:
                pass  # NOTE: already dropped as an invalid socket
            self.heads_timed_out += 1  # NOTE: counted before the client can see the 408
            try:
                os.write(fd, _TIMEOUT)
            except OSError:
                pass  # NOTE: a client that sends nothing may read nothing either
            conn.close()
        if late:
            log('%d request head(s) timed out after %g s' % (len(late), self.server.head_timeout),
                'HTTP')

    def _run(self, expiration_interval: float) -> None:
        if self.server.ssl_adapter is not None:
            # NOTE: TLS records hide from select(); let cheroot read those heads.
            super()._run(expiration_interval)  # type: ignore[misc]
            return
        last_check = time.time()
        while not self._stop_requested:
            try:
                active = self._selector.select(timeout=expiration_interval)
            except OSError:
                self._remove_invalid_sockets()
                continue
            for fd, conn in active:
                if conn is self.server:
                    self._from_server_socket(self.server.socket)
                else:
                    self._selector.unregister(fd)
                    self._read_head(fd, conn)
            now = time.time()
            if now - last_check > expiration_interval:
                self._time_out_heads(now)
                self._sample_saturation()
                idle = now - self.server.timeout
                for fd, conn in [(fd, c) for fd, c in self._selector.connections
                                 if c is not self.server and fd not in self._partial
                                 and c.last_used < idle]:
                    self._selector.unregister(fd)
                    conn.close()
                last_check = now
