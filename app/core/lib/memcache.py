"""The memcached client layer shared by sessions and response caching.

- ``servers_from``: the server list, from ``MEMCACHED_SERVERS`` if set, else
  from config (a list or a string of ``host:port`` entries separated by
  commas or spaces).
- ``shared_client``: one pooled ``HashClient`` per server list and timeouts,
  shared by every thread (pymemcache's plain ``Client`` is not thread-safe).
  A failed node is taken out for ``dead_timeout`` seconds and then tried
  again, so service resumes by itself when it returns; with several servers
  its keys go to the others meanwhile.
- ``health``: one per process. Every failure is counted (``errors_total``)
  and passed to ``listeners`` (``fn(node, exception)``, e.g. a Prometheus
  counter); an outage of a node is logged once when it starts and once when
  the node answers again, however many stores and threads see it.

``SharedClient.call`` runs a command and raises ``Unavailable`` (no
answer: the node is down or hung up) or ``Refused`` (the server answered
with an error, e.g. a value too large); a ``MemcacheClientError`` (a bad
key, i.e. a bug) passes through. Each user turns these into its own
documented answer: sessions a 503, caching a miss.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import (
    MemcacheClientError,
    MemcacheError,
    MemcacheServerError,
    MemcacheUnexpectedCloseError,
)

from ..logs import log

__all__ = ['DEFAULT_SERVERS', 'Health', 'health', 'MemcacheFailure', 'Unavailable', 'Refused',
           'SharedClient', 'shared_client', 'close_clients', 'servers_from']

DEFAULT_SERVERS = ('127.0.0.1:11211',)


class Health:
    """Memcached failures in this process: ``errors_total``, ``listeners``, outages.

    ``listeners`` are called as ``fn(node, exception)`` on every failure; one
    that raises is logged and skipped. ``down`` maps each node in an outage
    to the time it went down. ``effects`` holds what users of memcached
    registered as the consequence of an outage (said in its log line).
    """

    def __init__(self) -> None:
        self.errors_total = 0
        self.listeners: list[Callable[[str, BaseException], None]] = []
        self.down: dict[str, float] = {}
        self.effects: set[str] = set()
        self._lock = threading.Lock()

    def failed(self, node: str, ex: BaseException, episode: bool = True) -> None:
        """Count a failure on ``node``; log it if it starts an outage (``episode``)."""
        with self._lock:
            self.errors_total += 1
            new = episode and node not in self.down
            if new:
                self.down[node] = time.monotonic()
                effects = ' and '.join(sorted(self.effects)) or 'its commands fail'
        if new:
            log('memcached %s is unavailable (%s: %s); until it returns, %s'
                % (node, type(ex).__name__, ex, effects), 'MEMCACHED', logging.WARNING)
        for fn in list(self.listeners):
            try:
                fn(node, ex)
            except Exception as lex:
                log('memcached error listener failed: %r' % (lex,), 'MEMCACHED', logging.WARNING)

    def add_effect(self, effect: str) -> None:
        """Register what an outage means to a user (e.g. ``'sessions get 503'``)."""
        if effect not in self.effects:
            with self._lock:
                self.effects.add(effect)

    def succeeded(self, node: str) -> None:
        """Note that ``node`` answered; log the end of its outage, if it had one."""
        with self._lock:
            since = self.down.pop(node, None)
        if since is not None:
            log('memcached %s is back, reachable again after %.1fs'
                % (node, time.monotonic() - since), 'MEMCACHED', logging.WARNING)


health = Health()


class MemcacheFailure(Exception):
    """memcached did not do what was asked; ``node`` is the server concerned."""

    def __init__(self, message: str, node: str) -> None:
        super().__init__(message)
        self.node = node


class Unavailable(MemcacheFailure):
    """No answer: the node is down, timed out or hung up (an outage)."""


class Refused(MemcacheFailure):
    """The server answered with an error (e.g. a value too large): not an outage."""


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


class SharedClient:
    """A client for one server list whose commands report to ``health``.

    ``client`` is the pooled ``HashClient`` (or one given, e.g. in tests).
    """

    def __init__(self, servers: tuple[str, ...], connect_timeout: float = 0.5,
                 timeout: float = 0.5, dead_timeout: float = 2.0, client: Any = None) -> None:
        self.servers = tuple(servers)
        self.label = ','.join(self.servers)
        if client is None:
            client = _HashClient(
                list(self.servers), use_pooling=True, connect_timeout=connect_timeout,
                timeout=timeout, retry_attempts=0, dead_timeout=dead_timeout,
                default_noreply=False, no_delay=True)
        self.client = client

    @property
    def available(self) -> bool:
        """False while one of these servers is in an outage (between its log lines)."""
        down = health.down
        return not (down and any(s in down for s in self.servers + (self.label,)))

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Return ``client.<op>(*args, **kwargs)``; raise ``Unavailable`` or ``Refused``."""
        _last.node = None
        try:
            result = getattr(self.client, op)(*args, **kwargs)
        except MemcacheClientError:
            raise  # a bug (bad key or command), not an outage
        except (MemcacheError, OSError) as ex:
            node, episode = self._node()
            if isinstance(ex, MemcacheServerError) \
                    and not isinstance(ex, MemcacheUnexpectedCloseError):
                health.failed(node, ex, episode=False)
                raise Refused(str(ex), node) from None
            health.failed(node, ex, episode)
            raise Unavailable('memcached %s is unavailable' % (node,), node) from None
        if health.down:
            node = self._node()[0]
            if node in health.down:
                health.succeeded(node)
        return result

    def _node(self) -> tuple[str, bool]:
        """The node of the last command on this thread, and whether a failure there
        may start an outage.

        NOTE: our HashClient fails without choosing a node only when it holds
        them all dead, i.e. after failures that were already counted (perhaps
        in an outage another client has seen end since): not a new outage.
        """
        if _last.node is not None:
            return _last.node, True
        return self.label, not isinstance(self.client, _HashClient)

    def close(self) -> None:
        """Close the pooled connections (they reopen when next needed)."""
        clients = getattr(self.client, 'clients', None)
        for c in list(clients.values()) if clients is not None else [self.client]:
            c.close()


_shared: dict[tuple, SharedClient] = {}
_shared_lock = threading.Lock()


def shared_client(servers: Any, connect_timeout: float = 0.5, timeout: float = 0.5,
                  dead_timeout: float = 2.0, effect: str | None = None) -> SharedClient:
    """The process's client for these servers (see ``servers_from``) and timeouts.

    ``effect`` says what an outage means to the caller (e.g. ``'responses
    are served uncached'``); the outage log line lists every such effect.
    """
    if effect:
        health.add_effect(effect)
    key = (servers_from(servers), connect_timeout, timeout, dead_timeout)
    s = _shared.get(key)
    if s is None:
        with _shared_lock:
            s = _shared.get(key)
            if s is None:
                s = _shared[key] = SharedClient(*key)
    return s


def close_clients() -> None:
    """Close every shared client and its pooled connections, and forget them.

    For a clean shutdown (``engine.subscribe('stop', close_clients)``); the
    next user makes new ones.
    """
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for s in clients:
        s.close()


def servers_from(value: Any) -> tuple[str, ...]:
    """The server list: ``MEMCACHED_SERVERS`` if set, else ``value``.

    Either may be a list of ``'host:port'`` or one string of them separated
    by commas or spaces. None means ``DEFAULT_SERVERS``; an empty list is an
    error (ValueError).
    """
    env = os.environ.get('MEMCACHED_SERVERS')
    if env and env.strip():
        value = env
    elif value is None:
        return DEFAULT_SERVERS
    items = value.replace(',', ' ').split() if isinstance(value, str) else value
    servers = tuple(str(s).strip() for s in items if s is not None and str(s).strip())
    if not servers:
        raise ValueError('the memcached servers setting lists no memcached server: %r'
                         % (value,))
    return servers
