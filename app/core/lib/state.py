"""Shared state for applications: small values every pod sees, in memcached.

A process-local list or dict is wrong as soon as the service runs as more
than one pod: each pod sees its own. ``store()`` is the process's store of
JSON values, chosen by global config:

=====================  ==========  ==============================================
key                    default     meaning
=====================  ==========  ==============================================
``state.storage``      ``"ram"``   ``"ram"`` (this process only: development and
                                   tests) or ``"memcached"`` (every pod)
``state.servers``      local node  memcached nodes; ``MEMCACHED_SERVERS`` wins
``state.prefix``       ``"st:"``   prefix of every key in memcached
``state.timeout``      ``0.5``     seconds to wait for a node before a 503
=====================  ==========  ==============================================

Operations (``key`` is a string; values are anything ``json`` encodes):

- ``get(key, default=None)``, ``get_many(keys)`` (the nodes asked together: one round trip's wait);
- ``set(key, value, expire=0)``; ``add(...)`` stores only if absent (False
  if present); ``delete(key)`` (False if absent); ``expire`` is seconds,
  0 for no expiry;
- ``incr(key, delta=1, expire=0)``: an atomic counter (a missing one
  starts at ``delta``), the new value;
- ``gets(key)`` gives ``(value, token)`` and ``cas(key, value, token)``
  stores only if nobody stored since (False if someone did);
  ``update(key, fn, default)`` is that loop: it stores ``fn(current)``.

RAM and memcached behave alike: values go through JSON both ways (a tuple
comes back a list), values over 1 MB are refused, keys follow memcached's
rules (1 to 250 bytes with the prefix, no spaces or control characters;
else ``ValueError``).

Outages follow the sessions' rules: a key lives on one node of the ring
(``state.servers``); while that node does not answer, operations on its keys
raise ``StateUnavailable``, a 503 with ``Retry-After`` and a message. The
outage is counted and logged once when it starts and once when it ends
(``memcache.health``), and service resumes by itself. memcached is memory:
a node that restarts comes back empty. Keep what must survive a restart
in a database; keep counters, short lists and coordination here.

``reset()`` empties the RAM stores (``app.core.testing`` does it between
tests).
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..config import ConfigError
from . import memcache
from .mcclient import ClientError, key_bytes, ma, md, mg, ms, value_of
from .session_base import StorageUnavailable

__all__ = ['store', 'reset', 'configure', 'DEFAULTS', 'Store', 'RamStore', 'MemcachedStore',
           'StateUnavailable', 'MAX_VALUE']

#: The largest encoded value stored (memcached's default item size).
MAX_VALUE = 1024 * 1024 - 512

_EFFECT = 'requests that use shared state get 503'


class StateUnavailable(StorageUnavailable):
    """503 with ``Retry-After``: the memcached node that holds a key does not answer."""


def _encode(value: Any) -> bytes:
    data = json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    if len(data) > MAX_VALUE:
        raise ValueError('a shared state value is limited to %d bytes; this one is %d'
                         % (MAX_VALUE, len(data)))
    return data


def _decode(data: bytes | None, default: Any = None) -> Any:
    return default if data is None else json.loads(data)


def _ttl(expire: float) -> int:
    if expire < 0:
        raise ValueError('expire must be seconds >= 0 (0: no expiry), not %r' % (expire,))
    return int(expire + 0.999)


class Store:
    """The operations; subclasses keep the encoded values (see the module doc)."""

    prefix = 'st:'

    def _key(self, key: str) -> str:
        if not isinstance(key, str):
            raise TypeError('shared state keys are strings, not %s' % (type(key).__name__,))
        full = self.prefix + key
        try:
            key_bytes(full)
        except ClientError as ex:
            raise ValueError(str(ex)) from None
        return full

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        return _decode(self._get([self._key(key)])[0], default)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """``{key: value}`` for those of ``keys`` that are stored."""
        keys = list(keys)
        found = self._get([self._key(k) for k in keys])
        return {k: _decode(v) for k, v in zip(keys, found, strict=True) if v is not None}

    def set(self, key: str, value: Any, expire: float = 0) -> None:
        """Store ``value`` under ``key`` (``expire`` seconds, 0: no expiry)."""
        self._store(self._key(key), _encode(value), _ttl(expire), add=False, token=None)

    def add(self, key: str, value: Any, expire: float = 0) -> bool:
        """Store ``value`` only if ``key`` is absent; False if it is present."""
        return self._store(self._key(key), _encode(value), _ttl(expire), add=True, token=None)

    def cas(self, key: str, value: Any, token: Any, expire: float = 0) -> bool:
        """Store ``value`` only if ``key`` is unchanged since ``gets`` gave ``token``."""
        if token is None:
            return self.add(key, value, expire)
        return self._store(self._key(key), _encode(value), _ttl(expire), add=False,
                           token=token)

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None,
               expire: float = 0, attempts: int = 20) -> Any:
        """Store ``fn(current value or default)`` without losing a concurrent update.

        Retries while another writer gets in first, after a short random
        pause that doubles each time (up to 50 ms), so that the writer that
        just won does not win every race; returns the stored value. ``fn``
        may run more than once and must not have side effects.
        """
        for n in range(attempts):
            current, token = self.gets(key)
            new = fn(default if token is None else current)
            if self.cas(key, new, token, expire):
                return new
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** n)))
        raise StateUnavailable('shared state key %r is too busy: %d concurrent updates '
                               'in a row won' % (key, attempts))

    def gets(self, key: str) -> tuple[Any, Any]:
        """``(value, token)`` for ``cas``; ``(None, None)`` when absent."""
        data, token = self._gets(self._key(key))
        return _decode(data), token

    def incr(self, key: str, delta: int = 1, expire: float = 0) -> int:
        """Add ``delta`` (>= 0) to the counter ``key`` and return it; absent, it becomes ``delta``.

        Atomic across pods. A value that is not a non-negative integer is
        a ``ValueError``.
        """
        if not isinstance(delta, int) or isinstance(delta, bool) or delta < 0:
            raise ValueError('incr takes a delta that is an integer >= 0, not %r' % (delta,))
        return self._incr(self._key(key), delta, _ttl(expire))

    def delete(self, key: str) -> bool:
        """Remove ``key``; False if it was absent."""
        return self._delete(self._key(key))

    # The storage: encoded values under full keys.
    def _get(self, keys: list[str]) -> list[bytes | None]:
        raise NotImplementedError

    def _gets(self, key: str) -> tuple[bytes | None, Any]:
        raise NotImplementedError

    def _store(self, key: str, data: bytes, ttl: int, add: bool, token: Any) -> bool:
        raise NotImplementedError

    def _incr(self, key: str, delta: int, ttl: int) -> int:
        raise NotImplementedError

    def _delete(self, key: str) -> bool:
        raise NotImplementedError


class RamStore(Store):
    """This process's memory: for development and tests (one process sees it)."""

    def __init__(self, prefix: str = 'st:') -> None:
        self.prefix = prefix
        #: Full key -> (encoded value, expiry on the monotonic clock or 0, token).
        self._data: dict[str, tuple[bytes, float, int]] = {}
        self._lock = threading.Lock()
        self._tokens = 0

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._data.clear()

    def _live(self, key: str) -> tuple[bytes, float, int] | None:
        item = self._data.get(key)
        if item is not None and item[1] and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    def _put(self, key: str, data: bytes, ttl: int) -> None:
        self._tokens += 1
        self._data[key] = (data, time.monotonic() + ttl if ttl else 0, self._tokens)

    def _get(self, keys: list[str]) -> list[bytes | None]:
        with self._lock:
            items = [self._live(k) for k in keys]
        return [None if i is None else i[0] for i in items]

    def _gets(self, key: str) -> tuple[bytes | None, Any]:
        with self._lock:
            item = self._live(key)
        return (None, None) if item is None else (item[0], item[2])

    def _store(self, key: str, data: bytes, ttl: int, add: bool, token: Any) -> bool:
        with self._lock:
            item = self._live(key)
            if (add and item is not None) or (token is not None and
                                              (item is None or item[2] != token)):
                return False
            self._put(key, data, ttl)
        return True

    def _incr(self, key: str, delta: int, ttl: int) -> int:
        with self._lock:
            item = self._live(key)
            if item is None:
                n = delta
                self._put(key, b'%d' % n, ttl)
                return n
            if not item[0].isdigit():
                raise ValueError('shared state key %r does not hold a counter' % (key,))
            n = int(item[0]) + delta
            self._tokens += 1
            self._data[key] = (b'%d' % n, item[1], self._tokens)
        return n

    def _delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None


class MemcachedStore(Store):
    """memcached nodes on a consistent-hash ring: every pod sees the same values.

    A key lives on its first node on the ring (no failover: a value read
    from another node while its own is down would be a different value).
    """

    def __init__(self, client: memcache.SharedClient, prefix: str = 'st:') -> None:
        self.client = client
        self.prefix = prefix

    def _node(self, key: str) -> str:
        return self.client.ring.nodes_for(key)[0]

    def _run(self, node: str, commands: list[bytes]) -> list[Any]:
        return self._run_all({node: commands})[node]

    def _run_all(self, batches: dict[str, list[bytes]]) -> dict[str, list[Any]]:
        answers = {}
        for node, outcome in self.client.run_all(batches).items():
            if isinstance(outcome, memcache.Refused):
                raise ValueError('memcached refused the value: %s' % (outcome,))
            if isinstance(outcome, memcache.MemcacheFailure):
                raise StateUnavailable('Shared state is unavailable (%s); try again shortly.'
                                       % (outcome,))
            answers[node] = outcome
        return answers

    def _get(self, keys: list[str]) -> list[bytes | None]:
        by_node: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            by_node.setdefault(self._node(k), []).append(i)
        out: list[bytes | None] = [None] * len(keys)
        answers = self._run_all({n: [mg(keys[i]) for i in idx] for n, idx in by_node.items()})
        for node, idx in by_node.items():
            for i, r in zip(idx, answers[node], strict=True):
                out[i] = value_of(r)
        return out

    def _gets(self, key: str) -> tuple[bytes | None, Any]:
        r = self._run(self._node(key), [mg(key, cas=True)])[0]
        return (r.value, r.cas) if r.code == b'VA' else (None, None)

    def _store(self, key: str, data: bytes, ttl: int, add: bool, token: Any) -> bool:
        cmd = ms(key, data, ttl, b'E' if add else b'', cas=None if token is None else int(token))
        return bool(self._run(self._node(key), [cmd])[0].code == b'HD')

    def _incr(self, key: str, delta: int, ttl: int) -> int:
        try:
            r = self._run(self._node(key), [ma(key, delta, ttl)])[0]
        except ClientError:
            raise ValueError('shared state key %r does not hold a counter' % (key,)) from None
        return int(r.value)

    def _delete(self, key: str) -> bool:
        return bool(self._run(self._node(key), [md(key)])[0].code == b'HD')


#: Global config ``state.*``, as ``configure`` last saw it.
_settings: tuple = ('ram', 'st:', None, 0.5)
_stores: dict[tuple, Store] = {}
_stores_lock = threading.Lock()

#: The keys of the ``state`` namespace and their defaults (declared by ``app.core``).
DEFAULTS: dict[str, Any] = {'storage': 'ram', 'servers': None, 'prefix': 'st:', 'timeout': 0.5}


def configure(config: Any) -> None:
    """Take ``state.*`` from global config (a config watcher); ConfigError if wrong."""
    global _settings
    kind = config.get('state.storage', 'ram')
    if kind not in ('ram', 'memcached'):
        raise ConfigError('state.storage must be "ram" or "memcached", not %r' % (kind,))
    servers = None
    if kind == 'memcached':
        try:
            servers = memcache.servers_from(config.get('state.servers'))
        except ValueError as ex:
            raise ConfigError('state.servers: %s' % (ex,)) from None
    _settings = (kind, config.get('state.prefix', 'st:'), servers,
                 float(config.get('state.timeout', 0.5)))


def store() -> Store:
    """The process's store, as global config (``state.*``) chooses it."""
    key = _settings
    s = _stores.get(key)
    if s is not None:
        return s
    kind, prefix, servers, timeout = key
    with _stores_lock:
        s = _stores.get(key)
        if s is None:
            if kind == 'ram':
                s = RamStore(prefix)
            else:
                client = memcache.shared_client(servers, connect_timeout=timeout,
                                                timeout=timeout, effect=_EFFECT)
                s = MemcachedStore(client, prefix)
            _stores[key] = s
    return s


def reset() -> None:
    """Empty every RAM store and forget the stores (the next ``store()`` makes one)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for s in stores:
        if isinstance(s, RamStore):
            s.clear()
