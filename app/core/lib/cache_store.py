"""Response stores for ``tools.caching``: the interface and the in-memory one.

A store keeps ``CachedResponse`` objects per URI and *variant* (the values
of the request headers the response's ``Vary`` names), and offers the
anti-stampede lock the tool takes on a miss. ``MemcachedCache`` (in
``memcached_cache``) is the shared one.
"""
from __future__ import annotations

import abc
import collections
import threading
import time
from collections.abc import Iterable
from typing import Any

__all__ = ['CachedResponse', 'Cache', 'MemoryCache', 'variant_key']


class CachedResponse:
    """One stored response: status line, header list, body bytes, times (epoch s)."""

    __slots__ = ('status', 'headers', 'body', 'created', 'expires')

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes,
                 created: float, expires: float) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.created, self.expires = created, expires

    @property
    def size(self) -> int:
        """Approximate memory use in bytes."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64


class Cache(abc.ABC):
    """The interface of a response store. ``variant`` is a tuple of header values.

    ``lookup`` finds the entry for a request; ``claim``/``wait``/``release``
    implement the anti-stampede lock on a ``(uri, variant)`` key.
    """

    @abc.abstractmethod
    def lookup(self, uri: str, headers: Any) -> tuple[tuple, CachedResponse | None]:
        """Return ``(variant, entry or None)`` for a request's headers."""

    @abc.abstractmethod
    def put(self, uri: str, names: tuple[str, ...], variant: tuple,
            entry: CachedResponse) -> None:
        """Store ``entry``; ``names`` are the lower-cased ``Vary`` header names."""

    @abc.abstractmethod
    def delete(self, uri: str) -> None:
        """Drop every variant of ``uri``."""

    @abc.abstractmethod
    def claim(self, key: tuple, timeout: float) -> Any:
        """Take the compute lock on ``key``: a token, or None if another holds it."""

    @abc.abstractmethod
    def wait(self, key: tuple, timeout: float) -> bool:
        """Wait until ``key`` is released; False on timeout."""

    @abc.abstractmethod
    def release(self, key: tuple, token: Any) -> None:
        """Release a claim taken with ``claim`` (wakes the waiters)."""

    def clear(self) -> None:  # noqa: B027 (a store holding nothing locally keeps this)
        """Forget everything this process holds."""


def variant_key(headers: Any, names: Iterable[str]) -> tuple:
    """The variant key of a request: its values of the headers ``names``."""
    return tuple(headers.get(n, '') for n in names)


class MemoryCache(Cache):
    """A per-process store: LRU beyond ``maxobjects`` entries or ``maxsize`` bytes."""

    def __init__(self, maxobjects: int = 1000, maxsize: int = 10_000_000) -> None:
        self.maxobjects = maxobjects
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple, CachedResponse] = collections.OrderedDict()
        self._index: dict[str, tuple[tuple, set]] = {}
        self._pending: dict[tuple, tuple[threading.Event, float]] = {}
        self._size = 0
        self._swept = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, uri: str, headers: Any) -> tuple[tuple, CachedResponse | None]:
        with self._lock:
            names = self._index.get(uri, ((), None))[0]
            key = (uri, variant_key(headers, names))
            entry = self._entries.get(key)
            if entry is not None:
                if entry.expires > time.time():
                    self._entries.move_to_end(key)
                    return key[1], entry
                self._drop(key)
        return key[1], None

    def put(self, uri: str, names: tuple[str, ...], variant: tuple,
            entry: CachedResponse) -> None:
        if entry.size > self.maxsize:
            return
        with self._lock:
            old = self._index.get(uri)
            if old is not None and old[0] != names:
                self._delete(uri)
            self._drop((uri, variant))
            self._index.setdefault(uri, (names, set()))[1].add(variant)
            self._entries[(uri, variant)] = entry
            self._size += entry.size
            now = time.time()
            if now - self._swept > 1.0:
                self._swept = now
                for key in [k for k, e in self._entries.items() if e.expires <= now]:
                    self._drop(key)
            while len(self._entries) > self.maxobjects or self._size > self.maxsize:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._size -= entry.size
            idx = self._index.get(key[0])
            if idx is not None:
                idx[1].discard(key[1])
                if not idx[1]:
                    del self._index[key[0]]

    def _delete(self, uri: str) -> None:
        idx = self._index.get(uri)
        for variant in list(idx[1]) if idx else ():
            self._drop((uri, variant))

    def delete(self, uri: str) -> None:
        with self._lock:
            self._delete(uri)

    def claim(self, key: tuple, timeout: float) -> Any:
        now = time.monotonic()
        with self._lock:
            cur = self._pending.get(key)
            if cur is not None:
                if now - cur[1] < timeout:
                    return None
                cur[0].set()  # NOTE: a claim older than the timeout is abandoned
            ev = threading.Event()
            self._pending[key] = (ev, now)
            return ev

    def wait(self, key: tuple, timeout: float) -> bool:
        with self._lock:
            cur = self._pending.get(key)
        return True if cur is None else cur[0].wait(timeout)

    def release(self, key: tuple, token: Any) -> None:
        with self._lock:
            cur = self._pending.get(key)
            if cur is not None and cur[0] is token:
                del self._pending[key]
        token.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._index.clear()
            self._size = 0
