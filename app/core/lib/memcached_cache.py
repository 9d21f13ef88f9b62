"""``MemcachedCache``: the response cache in memcached, shared by every process.

Select it with ``tools.caching.store = 'memcached'`` (or ``cache_class``);
servers come from env ``MEMCACHED_SERVERS`` or ``tools.caching.servers``
(``'host:port,host:port'`` or a list). The client is the process's shared
one from ``memcache`` (a pooled ``HashClient``, 0.5 s timeouts, a dead node
retried every ``dead_timeout`` seconds), as sessions use.

Keys (``key_prefix`` + SHA-1 hex, so any URI fits memcached's key rules):

- ``v:`` + h(uri): JSON ``{"n": [vary names], "e": epoch}``. Deleting it
  invalidates every variant of the URI at once (their keys include the epoch).
- ``r:`` + h(uri, epoch, variant): one response, a JSON head line then the
  body bytes. Nothing is unpickled: a malformed value is a miss.
- ``l:`` + h(uri, variant): the anti-stampede lock, taken with ``add``
  (``noreply=False``, so it reports whether it won) and expiring by itself.

Failure rule: caching is an optimisation. When memcached cannot answer,
every operation degrades to "miss, don't wait, don't store", so requests are
served uncached. ``memcache.health`` logs the outage of a node once when it
starts and once when the node answers again, counts it and calls its
listeners; ``failures`` counts this store's failed operations.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import threading
import time
from typing import Any

from ..logs import log
from .cache_store import Cache, CachedResponse, variant_key
from .memcache import MemcacheFailure, SharedClient, servers_from, shared_client

__all__ = ['MemcachedCache']

_ERROR = object()
_MONTH = 30 * 24 * 3600  # NOTE: memcached reads a longer expiry as a timestamp
#: What a memcached outage means to caching (said in its log line).
_EFFECT = 'responses are served uncached'


def _h(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts).encode('utf-8')).hexdigest()


def _dump(entry: CachedResponse) -> bytes:
    head = json.dumps({'s': entry.status, 'h': entry.headers, 'c': entry.created,
                       'x': entry.expires}, separators=(',', ':'))
    return head.encode('utf-8') + b'\n' + entry.body


def _load(data: bytes) -> CachedResponse | None:
    head, sep, body = data.partition(b'\n')
    try:
        if not sep:
            raise ValueError('no head line')
        d = json.loads(head)
        headers = [(str(k), str(v)) for k, v in d['h']]
        return CachedResponse(str(d['s']), headers, body, float(d['c']), float(d['x']))
    except (ValueError, KeyError, TypeError) as ex:
        log('ignoring a malformed cache entry: %r' % (ex,), 'TOOLS.CACHING', logging.WARNING)
        return None


def _ttl(expires_at: float) -> int:
    ttl = max(1, math.ceil(expires_at - time.time()))
    return ttl if ttl <= _MONTH else int(expires_at)


class MemcachedCache(Cache):
    """A response store in memcached (see the module doc for keys and failures)."""

    def __init__(self, servers: Any = None, key_prefix: str = 'cache:',
                 dead_timeout: float = 5.0, connect_timeout: float = 0.5,
                 timeout: float = 0.5, client: Any = None) -> None:
        if not key_prefix.isascii() or any(c.isspace() or ord(c) < 33 for c in key_prefix) \
                or len(key_prefix) > 200:
            raise ValueError('tools.caching.key_prefix must be printable ASCII without '
                             'spaces, at most 200 characters: %r' % (key_prefix,))
        self.servers = list(servers_from(servers))
        self.key_prefix = key_prefix
        if client is None:
            self.shared = shared_client(self.servers, connect_timeout, timeout, dead_timeout,
                                        effect=_EFFECT)
        else:
            self.shared = SharedClient(tuple(self.servers), client=client)
        self._own = client is not None
        self.client = self.shared.client
        #: Failed memcached operations of this store since start (for metrics).
        self.failures = 0
        self._count = threading.Lock()

    @property
    def available(self) -> bool:
        """False while memcached is failing (between the two log lines).

        Requests are cached again as soon as memcached answers.
        """
        return self.shared.available

    def _call(self, op: str, default: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.shared.call(op, *args, **kwargs)
        except Exception as ex:  # NOTE: any client failure means: serve uncached
            with self._count:
                self.failures += 1
            if not isinstance(ex, MemcacheFailure):  # not counted by health: a bug
                log('memcached cache %s failed: %r; served uncached' % (op, ex),
                    'TOOLS.CACHING', logging.WARNING)
            return default

    def _meta(self, uri: str) -> tuple[tuple[str, ...], str] | None:
        raw = self._call('get', None, self.key_prefix + 'v:' + _h(uri))
        if raw is None:
            return None
        try:
            d = json.loads(raw)
            return tuple(str(n) for n in d['n']), str(d['e'])
        except (ValueError, KeyError, TypeError) as ex:
            log('ignoring malformed cache metadata: %r' % (ex,), 'TOOLS.CACHING',
                logging.WARNING)
            return None

    def lookup(self, uri: str, headers: Any) -> tuple[tuple, CachedResponse | None]:
        meta = self._meta(uri)
        if meta is None:
            return (), None
        names, epoch = meta
        var = variant_key(headers, names)
        data = self._call('get', None, self.key_prefix + 'r:' + _h(uri, epoch, var))
        entry = _load(data) if data is not None else None
        if entry is None or entry.expires <= time.time():
            return var, None
        return var, entry

    def put(self, uri: str, names: tuple[str, ...], variant: tuple,
            entry: CachedResponse) -> None:
        ttl = _ttl(entry.expires)
        meta = self._meta(uri)
        epoch = meta[1] if meta is not None and meta[0] == names else secrets.token_hex(8)
        value = json.dumps({'n': list(names), 'e': epoch}).encode('utf-8')
        if self._call('set', _ERROR, self.key_prefix + 'v:' + _h(uri), value,
                      expire=ttl) is _ERROR:
            return
        self._call('set', _ERROR, self.key_prefix + 'r:' + _h(uri, epoch, variant),
                   _dump(entry), expire=ttl)

    def delete(self, uri: str) -> None:
        self._call('delete', False, self.key_prefix + 'v:' + _h(uri))

    def claim(self, key: tuple, timeout: float) -> Any:
        token = secrets.token_hex(8)
        won = self._call('add', _ERROR, self.key_prefix + 'l:' + _h(*key), token.encode(),
                         expire=max(1, math.ceil(timeout)), noreply=False)
        return token if won is _ERROR or won else None

    def wait(self, key: tuple, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        lock_key = self.key_prefix + 'l:' + _h(*key)
        while self._call('get', None, lock_key) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.02, left))
        return True

    def release(self, key: tuple, token: Any) -> None:
        lock_key = self.key_prefix + 'l:' + _h(*key)
        if self._call('get', None, lock_key) == token.encode():
            self._call('delete', False, lock_key)

    def clear(self) -> None:
        """Close a client given to this store (the entries stay in memcached).

        The shared client is closed by ``memcache.close_clients``.
        """
        if self._own:
            self.shared.close()
