"""Sessions in memcached, shared by every process and pod: ``MemcachedSession``.

The client is pymemcache's ``HashClient`` with pooling (its plain ``Client``
is not thread-safe), one per server list, shared by all requests. Keys are
``prefix + id``; a record expires in memcached ``timeout`` minutes after it
is written. The lock is an ``add`` of ``<key>.lock`` with ``noreply=False``
(with noreply, ``add`` always reports success); it expires by itself after
``lock_timeout`` seconds should its holder die.

Saves are compare-and-swap: under the lock (the default, ``locking =
'implicit'``) they never conflict; without it (``'explicit'``), a conflict
re-reads the record and reapplies this request's changed keys on top, so
concurrent writes of different keys are all kept.

When memcached is down, a request that needs its session gets a 503 within
about a second (``connect_timeout`` and ``socket_timeout``), requests that
do not use sessions are untouched, the outage is logged once per node and
episode, and counted in ``health``. ``HashClient`` takes a failed node out
for ``dead_timeout`` seconds and then tries it again, so service resumes by
itself. With several servers, a dead node's keys go to the others meanwhile
(those sessions start afresh), as ``HashClient`` does.
"""
from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time
from typing import Any, Callable

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import (MemcacheClientError, MemcacheError,
                                   MemcacheServerError, MemcacheUnexpectedCloseError)

from ..errors import HTTPError
from ..logs import log
from .session_base import SerializedSession, StorageUnavailable
from .session_json import dumps, loads, pack, unpack

__all__ = ['MemcachedSession', 'StorageHealth', 'health', 'servers_from', 'close_clients']

_THIRTY_DAYS = 30 * 24 * 3600


class StorageHealth:
    """Memcached failures: ``errors_total``, ``listeners`` and outage episodes.

    ``listeners`` are called as ``fn(node, exception)`` on every failure
    (e.g. to count a Prometheus metric). ``down`` maps each node in an
    outage to the time it went down.
    """

    def __init__(self) -> None:
        self.errors_total = 0
        self.listeners: list[Callable[[str, BaseException], None]] = []
        self.down: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, node: str | None, ex: BaseException, episode: bool = True) -> None:
        """Count a failure; log the first one of an outage of ``node``."""
        with self._lock:
            self.errors_total += 1
            label = node or '(all servers)'
            new = episode and label not in self.down and not (node is None and self.down)
            if new:
                self.down[label] = time.monotonic()
        if new:
            log('memcached %s is unavailable (%s: %s); requests that need a session get '
                '503 until it is back' % (label, type(ex).__name__, ex), 'SESSION',
                logging.WARNING)
        for fn in list(self.listeners):
            try:
                fn(label, ex)
            except Exception as lex:
                log('session error listener failed: %r' % (lex,), 'SESSION', logging.WARNING)

    def succeeded(self, node: str | None) -> None:
        """Note a success on ``node``; log the end of its outage."""
        with self._lock:
            since = self.down.pop(node, None) if node else None
            if since is not None:
                self.down.pop('(all servers)', None)
        if since is not None:
            log('memcached %s is reachable again after %.1fs' % (node, time.monotonic() - since),
                'SESSION', logging.WARNING)


health = StorageHealth()


class _Last(threading.local):
    #: The node the last command on this thread went to (for outage logs).
    node: str | None = None


_last = _Last()

_STALE = (MemcacheUnexpectedCloseError, ConnectionResetError, BrokenPipeError,
          ConnectionAbortedError)


class _Conn(Client):
    """A pooled connection that retries once when a reused socket was closed.

    NOTE: after memcached restarts, idle pooled sockets are dead; without
    this the first use of each would count as an outage of a healthy node.
    """

    def _again(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        reused = self.sock is not None
        try:
            return fn(*args, **kwargs)
        except _STALE:
            if not reused:
                raise
        return fn(*args, **kwargs)  # Client closed the socket: this reconnects

    def _fetch_cmd(self, *args: Any, **kwargs: Any) -> Any:
        return self._again(super()._fetch_cmd, args, kwargs)

    def _store_cmd(self, *args: Any, **kwargs: Any) -> Any:
        return self._again(super()._store_cmd, args, kwargs)

    def _misc_cmd(self, *args: Any, **kwargs: Any) -> Any:
        return self._again(super()._misc_cmd, args, kwargs)


class _HashClient(HashClient):
    """``HashClient`` whose dead-node bookkeeping is safe across threads.

    NOTE: upstream mutates its failed/dead tables without a lock; two
    threads failing on one node at once can raise KeyError or ValueError.
    """

    client_class = _Conn

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._book = threading.RLock()
        super().__init__(*args, **kwargs)

    def _get_client(self, key: str) -> Any:
        _last.node = None
        nodes = self.hasher.nodes
        client = None
        if len(nodes) == 1 and not self._dead_clients:
            # PERF: rendezvous hashing costs ~12 us a call in pure Python;
            # with one server there is nothing to choose.
            try:
                node = nodes[0]
                client = self.clients[node]
            except (IndexError, KeyError):
                client = None   # changed under us: take the long way
        if client is None:
            client = super()._get_client(key)
            node = self._make_client_key(client.server) if client is not None else None
        _last.node = node
        return client

    def add_server(self, server: Any, port: Any = None) -> None:
        with self._book:
            old = self.clients.get(self._make_client_key(server))
            super().add_server(server, port)
            if old is not None:
                # A node is re-added dead_timeout after it failed: nothing
                # still uses the old pool's (dead) sockets.
                old.close()

    def remove_server(self, server: Any, port: Any = None) -> None:
        with self._book:
            if server in self._dead_clients:
                self._failed_clients.pop(server, None)
                return
            super().remove_server(server, port)

    def _mark_failed_server(self, server: Any) -> None:
        with self._book:
            if server not in self._dead_clients:
                super()._mark_failed_server(server)

    def _retry_dead(self) -> None:
        with self._book:
            super()._retry_dead()


class _Store:
    """One shared client for a server list, with failures turned into 503s."""

    def __init__(self, servers: tuple[str, ...], connect_timeout: float, timeout: float,
                 dead_timeout: float) -> None:
        self.servers = servers
        self.client = _HashClient(
            list(servers), use_pooling=True, connect_timeout=connect_timeout,
            timeout=timeout, retry_attempts=0, dead_timeout=dead_timeout,
            default_noreply=False, no_delay=True)

    def call(self, op: str, key: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``client.<op>(key, ...)``; StorageUnavailable when memcached fails."""
        try:
            result = getattr(self.client, op)(key, *args, **kwargs)
        except MemcacheClientError:
            raise  # a bug (bad key or command), not an outage
        except MemcacheServerError as ex:
            if not isinstance(ex, MemcacheUnexpectedCloseError):
                # The server answered, with an error (e.g. value too large).
                health.failed(_last.node, ex, episode=False)
                raise StorageUnavailable('Session storage refused the request: %s' % (ex,)) \
                    from None
            health.failed(_last.node, ex)
            raise _unavailable() from None
        except (MemcacheError, OSError) as ex:
            health.failed(_last.node, ex)
            raise _unavailable() from None
        if health.down:
            health.succeeded(_last.node)
        return result


def _unavailable() -> StorageUnavailable:
    return StorageUnavailable('Session storage (memcached) is unavailable; '
                              'try again in a few seconds.')


_stores: dict[tuple, _Store] = {}
_stores_lock = threading.Lock()


def close_clients() -> None:
    """Close every shared memcached client and its pooled connections.

    For a clean shutdown (``engine.subscribe('stop', close_clients)``); the
    next session request makes new ones.
    """
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for s in stores:
        for c in list(s.client.clients.values()):
            c.close()


def servers_from(value: Any) -> tuple[str, ...]:
    """The server list: ``MEMCACHED_SERVERS`` if set, else ``value``.

    Either may be a list of ``'host:port'`` or one comma-separated string.
    """
    env = os.environ.get('MEMCACHED_SERVERS')
    if env:
        value = env
    if isinstance(value, str):
        value = value.split(',')
    servers = tuple(s.strip() for s in value if s and s.strip())
    if not servers:
        raise ValueError('tools.sessions.servers lists no memcached server')
    return servers


class MemcachedSession(SerializedSession):
    """Sessions in memcached: ``tools.sessions.storage_type = 'memcached'``.

    ``servers`` (``tools.sessions.servers``, overridden by the environment
    variable ``MEMCACHED_SERVERS``) lists ``'host:port'`` entries.
    """

    servers: Any = ('127.0.0.1:11211',)
    prefix = 'session-'
    connect_timeout = 0.5
    socket_timeout = 0.5
    #: Seconds a failed node stays out before it is tried again.
    dead_timeout = 2.0
    #: Attempts at a compare-and-swap save before giving up with a 503.
    cas_attempts = 5
    config_keys = SerializedSession.config_keys | {
        'servers', 'prefix', 'connect_timeout', 'socket_timeout', 'dead_timeout',
        'cas_attempts'}

    _cas: Any = None
    _lock_started = 0.0

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        for k in ('servers', 'connect_timeout', 'socket_timeout', 'dead_timeout'):
            if k in kwargs:
                setattr(self, k, kwargs.pop(k))
        self._store = self.store()
        super().__init__(id, **kwargs)

    def store(self) -> _Store:
        """The shared client for this session's servers and timeouts."""
        key = (servers_from(self.servers), self.connect_timeout, self.socket_timeout,
               self.dead_timeout)
        s = _stores.get(key)
        if s is None:
            with _stores_lock:
                s = _stores.get(key)
                if s is None:
                    s = _stores[key] = _Store(*key)
        return s

    def _key(self, id: str | None = None) -> str:
        return self.prefix + (id or self.id)

    def _expire(self, seconds: float) -> int:
        secs = max(1, math.ceil(seconds))
        # memcached reads more than 30 days as an absolute time.
        return secs if secs <= _THIRTY_DAYS else int(time.time()) + secs

    def _read(self) -> bytes | None:
        raw, self._cas = self._store.call('gets', self._key())
        return raw

    def _write(self, record: bytes) -> None:
        store, key = self._store, self._key()
        exp = self._expire(self.timeout * 60)
        if self._cas is None:
            ok = store.call('add', key, record, expire=exp, noreply=False)
        else:
            ok = store.call('cas', key, record, self._cas, expire=exp, noreply=False)
        if ok is None:
            # Deleted (a logout elsewhere) or expired since we read it:
            # writing it back would resurrect it.
            log('session %s... vanished before it was saved; not saved' % (self.id[:8],),
                'SESSION', logging.INFO)
        elif not ok:
            self._merge(float(record.partition(b'\n')[0]))

    def _merge(self, expires: float) -> None:
        """Reapply this request's changes on top of a concurrent write."""
        orig = loads(self._raw) if self._raw is not None else {}
        mine = self._data
        changed = {k: v for k, v in mine.items() if k not in orig or dumps(v) != dumps(orig[k])}
        removed = [k for k in orig if k not in mine]
        store, key = self._store, self._key()
        for _ in range(self.cas_attempts):
            raw, cas = store.call('gets', key)
            if raw is None:
                return
            fresh = loads(unpack(raw)[1])
            fresh.update(changed)
            for k in removed:
                fresh.pop(k, None)
            ok = store.call('cas', key, pack(expires, dumps(fresh)), cas,
                            expire=self._expire(self.timeout * 60), noreply=False)
            if ok or ok is None:
                self._data = fresh
                return
        raise HTTPError(503, 'The session is being changed by too many requests at once.')

    def _delete(self) -> None:
        self._store.call('delete', self._key(), noreply=False)

    def _forget_stored(self) -> None:
        super()._forget_stored()
        self._cas = None

    def acquire_lock(self) -> None:
        """Take the shared lock (waits up to ``lock_wait`` s, then 503)."""
        if self.locked:
            return
        store, key = self._store, self._key() + '.lock'
        token = secrets.token_hex(8).encode('ascii')
        exp = self._expire(self.lock_timeout)
        deadline = time.monotonic() + self.lock_wait
        delay = 0.002
        while not store.call('add', key, token, expire=exp, noreply=False):
            if time.monotonic() >= deadline:
                raise StorageUnavailable('The session %s... is locked by another request; '
                                         'try again shortly.' % (self.id[:8],))
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        self.locked = True
        self._lock_started = time.monotonic()
        self._lock_taken()

    def release_lock(self) -> None:
        """Delete the lock key (a failure is logged; the lock then expires)."""
        if not self.locked:
            return
        self.locked = False
        held = time.monotonic() - self._lock_started
        if held > self.lock_timeout:
            log('session %s... was locked for %.1fs, longer than lock_timeout (%ss): '
                'another request may have entered' % (self.id[:8], held, self.lock_timeout),
                'SESSION', logging.WARNING)
        try:
            self._store.call('delete', self._key() + '.lock', noreply=False)
        except StorageUnavailable:
            pass  # logged by health; the lock expires after lock_timeout
