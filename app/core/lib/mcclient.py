"""A small memcached client: a ketama ring, pooled connections, pipelined meta commands.

Why our own: sessions need what pymemcache 4 lacks. memcached's meta
protocol (1.6+) returns a lock's CAS value from the ``add`` that takes it
and deletes a key only if its CAS still matches, so a lease is taken, read
and released without a second look; and commands to one node can be sent
together and answered in one round trip (a lock and the session it
guards, a save and the release).

- ``Ring``: keys to nodes by consistent hashing (ketama: 160 points per
  node from MD5), so adding a third node to two moves about a third of the
  keys. ``nodes_for(key, n)`` gives ``n`` distinct nodes, in ring order.
- ``Node``: one server's pooled sockets. ``run(commands)`` sends them in
  one write and reads every reply (``Reply``); ``send`` and ``receive`` are
  its two halves, so that batches to several nodes are in flight together.
  A reused socket that the server closed (it restarted) is retried once on
  a fresh one.
- The command builders (``mg``, ``ms``, ``md``, ``ma``) make meta commands.

Errors: ``NodeDown`` (no complete answer: refused, timed out, hung up),
``ServerError`` (memcached answered an error, e.g. a value too large) and
``ClientError`` (a bad key or command: a bug).
"""
from __future__ import annotations

import bisect
import hashlib
import re
import socket
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ['Ring', 'Node', 'Pending', 'Reply', 'NodeDown', 'ServerError', 'ClientError', 'mg',
           'ms', 'md', 'ma', 'split_address']

#: Ring points per node (ketama's 160: 40 MD5 digests, 4 points each).
POINTS = 160
_KEY = re.compile(rb'[\x21-\x7e\x80-\xff]{1,250}')
_MAX_IDLE = 32


class ClientError(Exception):
    """A bad key or command: a bug, not an outage."""


class ServerError(Exception):
    """memcached answered with an error (e.g. a value too large): not an outage."""


class NodeDown(OSError):
    """No complete answer from a node: refused, timed out or hung up."""


class Reply(NamedTuple):
    """One meta reply: ``code`` (``HD``, ``VA``, ``EN``, ``NS``, ``EX``, ``NF``), value, flags."""

    code: bytes
    value: bytes | None
    flags: tuple[bytes, ...]

    @property
    def cas(self) -> int | None:
        """The CAS value the reply carries (asked for with the ``c`` flag)."""
        for f in self.flags:
            if f[:1] == b'c':
                return int(f[1:])
        return None


def key_bytes(key: str) -> bytes:
    """``key`` as memcached takes it; ClientError if it cannot be a key."""
    b = key.encode('utf-8')
    if _KEY.fullmatch(b) is None:
        raise ClientError('not a memcached key (1 to 250 bytes, no whitespace or control '
                          'characters): %r' % (key[:80],))
    return b


def mg(key: str, cas: bool = False) -> bytes:
    """Get the value (and its CAS)."""
    return b'mg %s v%s\r\n' % (key_bytes(key), b' c' if cas else b'')


def ms(key: str, value: bytes, ttl: int, mode: bytes = b'', cas: int | None = None,
       want_cas: bool = False) -> bytes:
    """Store ``value`` for ``ttl`` seconds (0: no expiry).

    ``mode``: b'' sets, b'E' adds (only if absent); ``cas``: only if the
    stored CAS is this; ``want_cas``: the reply carries the new CAS.
    """
    flags = b' T%d' % ttl
    if mode:
        flags += b' M' + mode
    if cas is not None:
        flags += b' C%d' % cas
    if want_cas:
        flags += b' c'
    return b'ms %s %d%s\r\n%s\r\n' % (key_bytes(key), len(value), flags, value)


def md(key: str, cas: int | None = None) -> bytes:
    """Delete (only if the stored CAS is ``cas``, when given)."""
    return b'md %s%s\r\n' % (key_bytes(key), b' C%d' % cas if cas is not None else b'')


def ma(key: str, delta: int, ttl: int) -> bytes:
    """Add ``delta`` (>= 0) to a counter and return it; a missing one starts at ``delta``."""
    return b'ma %s N%d J%d D%d v\r\n' % (key_bytes(key), ttl, delta, delta)


def split_address(address: str) -> tuple[str, int]:
    """``'host:port'`` (or ``'[v6]:port'``; the port defaults to 11211)."""
    if address.startswith('['):
        host, _, rest = address[1:].partition(']')
        return host, int(rest[1:]) if rest.startswith(':') else 11211
    host, sep, port = address.rpartition(':')
    if not sep:
        return address, 11211
    return host, int(port)


class Ring:
    """Keys to nodes by consistent hashing (ketama-style, with virtual nodes)."""

    def __init__(self, nodes: Sequence[str], points: int = POINTS) -> None:
        if not nodes:
            raise ValueError('a ring needs at least one node')
        self.nodes = tuple(dict.fromkeys(nodes))
        entries = []
        for node in self.nodes:
            for i in range(max(1, points // 4)):
                d = hashlib.md5(b'%s-%d' % (node.encode('utf-8'), i)).digest()
                for j in range(4):
                    entries.append((int.from_bytes(d[4 * j:4 * j + 4], 'little'), node))
        entries.sort()
        self._hashes = [h for h, _ in entries]
        self._owners = [n for _, n in entries]

    def nodes_for(self, key: str, n: int = 1) -> list[str]:
        """The ``n`` distinct nodes (at most all of them) for ``key``, in ring order."""
        if len(self.nodes) == 1:
            return [self.nodes[0]]
        h = int.from_bytes(hashlib.md5(key.encode('utf-8')).digest()[:4], 'little')
        i = bisect.bisect(self._hashes, h)
        owners = self._owners
        size = len(owners)
        want = min(n, len(self.nodes))
        out: list[str] = []
        while len(out) < want:
            node = owners[i % size]
            if node not in out:
                out.append(node)
            i += 1
        return out


class _Conn:
    __slots__ = ('sock', 'rfile')

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile('rb')

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


class _Stale(Exception):
    """A reused connection the server had closed."""


class Pending:
    """Commands ``Node.send`` has sent, whose replies ``Node.receive`` reads."""

    __slots__ = ('conn', 'commands', 'reused')

    def __init__(self, conn: _Conn | None, commands: Sequence[bytes]) -> None:
        self.conn = conn
        self.commands = commands
        #: Whether ``conn`` came from the pool (and may be one the server closed).
        self.reused = conn is not None


class Node:
    """One memcached server: pooled sockets, commands sent together."""

    def __init__(self, address: str, connect_timeout: float = 0.5,
                 timeout: float = 0.5) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()
        #: Round trips made (one per ``send``), for benchmarks and tests.
        self.round_trips = 0

    def _connect(self) -> _Conn:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as ex:
            raise NodeDown('cannot connect to %s: %s' % (self.address, ex)) from None
        sock.settimeout(self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(sock)

    def send(self, commands: Sequence[bytes]) -> Pending:
        """Send ``commands`` in one write, on a pooled socket or a new one.

        ``receive`` reads their replies: sending to several nodes before
        reading any makes their round trips overlap. NodeDown if no socket
        can be had.
        """
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        self.round_trips += 1
        pending = Pending(conn, commands)
        if conn is None:
            pending.conn = self._send(self._connect(), commands)
        else:
            try:
                self._send(conn, commands)
            except NodeDown:
                pending.conn = None  # NOTE: the server closed it; receive() sends again
        return pending

    def receive(self, pending: Pending) -> list[Reply]:
        """The replies to what ``send`` sent, in order (NodeDown, ServerError, ClientError)."""
        conn = pending.conn
        if conn is not None:
            try:
                replies, error = self._read(conn, pending.commands, pending.reused)
            except _Stale:
                conn = None
        if conn is None:  # a pooled socket the server had closed: once more on a new one
            conn = self._send(self._connect(), pending.commands)
            replies, error = self._read(conn, pending.commands, reused=False)
        with self._lock:
            if len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        if error is not None:
            raise error
        return replies

    def run(self, commands: Sequence[bytes]) -> list[Reply]:
        """Send ``commands`` in one write; return their replies in order."""
        return self.receive(self.send(commands))

    def _send(self, conn: _Conn, commands: Sequence[bytes]) -> _Conn:
        try:
            conn.sock.sendall(b''.join(commands))
        except OSError as ex:
            conn.close()
            raise NodeDown('%s: %s' % (self.address, ex)) from None
        return conn

    def _read(self, conn: _Conn, commands: Sequence[bytes],
              reused: bool) -> tuple[list[Reply], Exception | None]:
        replies: list[Reply] = []
        error: Exception | None = None
        try:
            for _ in commands:
                line = conn.rfile.readline(65536)
                if not line.endswith(b'\r\n'):
                    if reused and not line and not replies:
                        raise _Stale()
                    raise NodeDown('%s hung up' % (self.address,))
                parts = line.split()
                code = parts[0] if parts else b''
                if code == b'VA':
                    size = int(parts[1])
                    data = conn.rfile.read(size + 2)
                    if len(data) != size + 2:
                        raise NodeDown('%s hung up' % (self.address,))
                    replies.append(Reply(code, data[:-2], tuple(parts[2:])))
                elif code in (b'HD', b'EN', b'NS', b'EX', b'NF', b'MN'):
                    replies.append(Reply(code, None, tuple(parts[1:])))
                elif code == b'SERVER_ERROR':
                    error = error or ServerError(line.decode('latin-1').strip())
                    replies.append(Reply(code, None, ()))
                elif code in (b'CLIENT_ERROR', b'ERROR'):
                    error = error or ClientError(line.decode('latin-1').strip())
                    replies.append(Reply(code, None, ()))
                else:
                    raise NodeDown('%s answered %r' % (self.address, line[:80]))
        except (_Stale, NodeDown):
            conn.close()
            raise
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as ex:
            conn.close()
            if reused and not replies:
                raise _Stale() from None
            raise NodeDown('%s: %s' % (self.address, ex)) from None
        except (OSError, ValueError) as ex:
            conn.close()
            raise NodeDown('%s: %s' % (self.address, ex)) from None
        return replies, error

    def close(self) -> None:
        """Close the idle sockets (new ones open when next needed)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __repr__(self) -> str:
        return 'Node(%r)' % (self.address,)


def value_of(reply: Reply) -> Any:
    """The value of a get's reply, or None for a miss."""
    return reply.value if reply.code == b'VA' else None
