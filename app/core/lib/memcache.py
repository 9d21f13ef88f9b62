"""The memcached client layer shared by sessions and response caching.

- ``servers_from``: the server list, from ``MEMCACHED_SERVERS`` if set, else
  from config (a list or a string of ``host:port`` entries separated by
  commas or spaces).
- ``shared_client``: one ``SharedClient`` per server list and timeouts,
  shared by every thread: a consistent-hash ring over the nodes and each
  node's pooled sockets (``mcclient``). A failed node is skipped for
  ``dead_timeout`` seconds and then tried again, so service resumes by
  itself when it returns; ``call`` sends a key to the next node on the ring
  meanwhile, and sessions keep replicas on several nodes (``run``).
- ``health``: one per process. Every failure is counted (``errors_total``)
  and passed to ``listeners`` (``fn(node, exception)``, e.g. a Prometheus
  counter); an outage of a node is logged once when it starts and once when
  the node answers again, however many stores and threads see it.

``SharedClient.call`` runs a command on a key's node and ``run`` sends
meta commands to a given node together (``run_all``: to several nodes,
their round trips overlapping); they raise ``Unavailable`` (no
answer: the node is down or hung up) or ``Refused`` (the server answered
with an error, e.g. a value too large); a ``ClientError`` (a bad key, i.e.
a bug) passes through. Each user turns these into its own
documented answer: sessions a 503, caching a miss.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..logs import log
from . import mcclient
from .mcclient import ClientError, NodeDown, Reply, Ring, ServerError, md, mg, ms, value_of

__all__ = ['DEFAULT_SERVERS', 'Health', 'health', 'MemcacheFailure', 'Unavailable', 'Refused',
           'ClientError', 'SharedClient', 'shared_client', 'close_clients', 'servers_from']

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


class SharedClient:
    """The nodes of one server list, on a ring, whose failures report to ``health``.

    ``client`` (tests only) is an object with pymemcache's get/set/add/delete
    methods to use instead of the nodes.
    """

    def __init__(self, servers: tuple[str, ...], connect_timeout: float = 0.5,
                 timeout: float = 0.5, dead_timeout: float = 2.0, client: Any = None) -> None:
        self.servers = tuple(servers)
        self.label = ','.join(self.servers)
        self.ring = Ring(self.servers)
        self.nodes = {a: mcclient.Node(a, connect_timeout, timeout) for a in self.ring.nodes}
        self.dead_timeout = dead_timeout
        #: Node -> when it may be tried again after a failure.
        self.dead: dict[str, float] = {}
        self.client = client if client is not None else self
        #: Batches whose round trips were waited for (one per ``run``/``run_all``).
        self.waits = 0

    @property
    def available(self) -> bool:
        """False while one of these servers is in an outage (between its log lines)."""
        down = health.down
        return not (down and any(s in down for s in self.servers))

    def alive(self, node: str) -> bool:
        """Whether ``node`` may be used now (not failed in the last ``dead_timeout``)."""
        until = self.dead.get(node)
        return until is None or time.monotonic() >= until

    def run(self, node: str, commands: list[bytes]) -> list[Reply]:
        """Send ``commands`` to ``node`` in one round trip; their replies."""
        outcome = self.run_all({node: commands})[node]
        if isinstance(outcome, MemcacheFailure):
            raise outcome
        return outcome

    def run_all(self, batches: dict[str, list[bytes]]) -> dict[str, list[Reply] | MemcacheFailure]:
        """Each node's commands, all sent before any reply is read: one round trip's wait.

        Per node, the replies or the failure (``Unavailable``, ``Refused``) that
        ``run`` would raise. ``waits`` counts the calls.
        """
        self.waits += 1
        out: dict[str, list[Reply] | MemcacheFailure] = {}
        pending = []
        for node, commands in batches.items():
            if self.dead and not self.alive(node):
                # NOTE: counted like any failure (an outage in progress: no new log line).
                out[node] = self._failed(node, NodeDown('%s failed in the last %gs; not tried'
                                                        % (node, self.dead_timeout)), False)
                continue
            try:
                pending.append((node, self.nodes[node].send(commands)))
            except NodeDown as ex:
                out[node] = self._failed(node, ex, True)
        bug: ClientError | None = None
        for node, p in pending:
            try:
                out[node] = self.nodes[node].receive(p)
            except ClientError as ex:
                bug = bug or ex  # NOTE: read the other nodes' replies first
            except NodeDown as ex:
                out[node] = self._failed(node, ex, True)
            except ServerError as ex:
                health.failed(node, ex, episode=False)
                out[node] = Refused(str(ex), node)
            else:
                if self.dead:
                    self.dead.pop(node, None)
                if health.down and node in health.down:
                    health.succeeded(node)
        if bug is not None:
            raise bug
        return out

    def _failed(self, node: str, ex: NodeDown, fresh: bool) -> Unavailable:
        if fresh:
            self.dead[node] = time.monotonic() + self.dead_timeout
        health.failed(node, ex)
        return Unavailable('memcached %s is unavailable' % (node,), node)

    def node_for(self, key: str) -> str:
        """The first node on the ring for ``key`` that is not out after a failure."""
        nodes = self.ring.nodes_for(key, len(self.servers)) if self.dead else \
            self.ring.nodes_for(key)
        for node in nodes:
            if self.alive(node):
                return node
        return nodes[0]

    def call(self, op: str, key: str, *args: Any, **kwargs: Any) -> Any:
        """pymemcache-style ``get``/``set``/``add``/``delete``/``gets``/``cas`` on ``key``."""
        if self.client is not self:
            return getattr(self.client, op)(key, *args, **kwargs)
        return _OPS[op](self, key, *args, **kwargs)

    def close(self) -> None:
        """Close the pooled connections (they reopen when next needed)."""
        for node in self.nodes.values():
            node.close()


def _ttl(expire: Any) -> int:
    return int(expire or 0)


def _get(c: SharedClient, key: str) -> bytes | None:
    return value_of(c.run(c.node_for(key), [mg(key)])[0])


def _gets(c: SharedClient, key: str) -> tuple[bytes | None, int | None]:
    r = c.run(c.node_for(key), [mg(key, cas=True)])[0]
    return (r.value, r.cas) if r.code == b'VA' else (None, None)


def _set(c: SharedClient, key: str, value: bytes, expire: Any = 0, noreply: Any = None) -> bool:
    return c.run(c.node_for(key), [ms(key, value, _ttl(expire))])[0].code == b'HD'


def _add(c: SharedClient, key: str, value: bytes, expire: Any = 0, noreply: Any = None) -> bool:
    return c.run(c.node_for(key), [ms(key, value, _ttl(expire), b'E')])[0].code == b'HD'


def _cas(c: SharedClient, key: str, value: bytes, cas: Any, expire: Any = 0,
         noreply: Any = None) -> bool | None:
    code = c.run(c.node_for(key), [ms(key, value, _ttl(expire), cas=int(cas))])[0].code
    return True if code == b'HD' else (None if code == b'NF' else False)


def _delete(c: SharedClient, key: str, noreply: Any = None) -> bool:
    return c.run(c.node_for(key), [md(key)])[0].code == b'HD'


_OPS: dict[str, Any] = {'get': _get, 'gets': _gets, 'set': _set, 'add': _add, 'cas': _cas,
                        'delete': _delete}


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
