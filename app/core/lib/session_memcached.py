"""Sessions in memcached, shared by every process and pod: ``MemcachedSession``.

The client comes from ``memcache`` (shared with response caching): a pooled
``HashClient`` per server list and timeouts, shared by all requests. Keys
are ``prefix + id``; a record expires in memcached ``timeout`` minutes after
it is written. The lock is an ``add`` of ``<key>.lock`` with
``noreply=False`` (with noreply, ``add`` always reports success); it expires
by itself after ``lock_timeout`` seconds should its holder die.

Saves are compare-and-swap: under the lock (the default, ``locking =
'implicit'``) they never conflict; without it (``'explicit'``), a conflict
re-reads the record and reapplies this request's changed keys on top, so
concurrent writes of different keys are all kept.

When memcached is down, a request that needs its session gets a 503 within
about a second (``connect_timeout`` and ``socket_timeout``), requests that
do not use sessions are untouched, and ``memcache.health`` (re-exported
here as ``health``) logs the outage once per node and episode and counts
it. A failed node is out for ``dead_timeout`` seconds and then tried again,
so service resumes by itself. With several servers, a dead node's keys go
to the others meanwhile (those sessions start afresh), as ``HashClient``
does.
"""
from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any

from ..errors import HTTPError
from ..logs import log
from .memcache import (
    DEFAULT_SERVERS,
    Refused,
    SharedClient,
    Unavailable,
    close_clients,
    health,
    servers_from,
    shared_client,
)
from .memcache import Health as StorageHealth
from .session_base import SerializedSession, StorageUnavailable
from .session_json import dumps, loads, pack, unpack

__all__ = ['MemcachedSession', 'StorageHealth', 'health', 'servers_from', 'close_clients']

_THIRTY_DAYS = 30 * 24 * 3600
#: What a memcached outage means to sessions (said in its log line).
_EFFECT = 'requests that need a session get 503'


class MemcachedSession(SerializedSession):
    """Sessions in memcached: ``tools.sessions.storage_type = 'memcached'``.

    ``servers`` (``tools.sessions.servers``, overridden by the environment
    variable ``MEMCACHED_SERVERS``) lists ``'host:port'`` entries.
    """

    servers: Any = DEFAULT_SERVERS
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

    def store(self) -> SharedClient:
        """The shared client for this session's servers and timeouts."""
        return shared_client(self.servers, self.connect_timeout, self.socket_timeout,
                             self.dead_timeout, effect=_EFFECT)

    def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Run a memcached command; StorageUnavailable (a 503) when it fails."""
        try:
            return self._store.call(op, *args, **kwargs)
        except Refused as ex:
            raise StorageUnavailable('Session storage refused the request: %s' % (ex,)) \
                from None
        except Unavailable:
            raise StorageUnavailable('Session storage (memcached) is unavailable; '
                                     'try again in a few seconds.') from None

    def _key(self, id: str | None = None) -> str:
        return self.prefix + (id or self.id)

    def _expire(self, seconds: float) -> int:
        secs = max(1, math.ceil(seconds))
        # memcached reads more than 30 days as an absolute time.
        return secs if secs <= _THIRTY_DAYS else int(time.time()) + secs

    def _read(self) -> bytes | None:
        raw, self._cas = self._call('gets', self._key())
        return raw

    def _write(self, record: bytes) -> None:
        key = self._key()
        exp = self._expire(self.timeout * 60)
        if self._cas is None:
            ok = self._call('add', key, record, expire=exp, noreply=False)
        else:
            ok = self._call('cas', key, record, self._cas, expire=exp, noreply=False)
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
        key = self._key()
        for _ in range(self.cas_attempts):
            raw, cas = self._call('gets', key)
            if raw is None:
                return
            fresh = loads(unpack(raw)[1])
            fresh.update(changed)
            for k in removed:
                fresh.pop(k, None)
            ok = self._call('cas', key, pack(expires, dumps(fresh)), cas,
                            expire=self._expire(self.timeout * 60), noreply=False)
            if ok or ok is None:
                self._data = fresh
                return
        raise HTTPError(503, 'The session is being changed by too many requests at once.')

    def _delete(self) -> None:
        self._call('delete', self._key(), noreply=False)

    def _forget_stored(self) -> None:
        super()._forget_stored()
        self._cas = None

    def acquire_lock(self) -> None:
        """Take the shared lock (waits up to ``lock_wait`` s, then 503)."""
        if self.locked:
            return
        key = self._key() + '.lock'
        token = secrets.token_hex(8).encode('ascii')
        exp = self._expire(self.lock_timeout)
        deadline = time.monotonic() + self.lock_wait
        delay = 0.002
        while not self._call('add', key, token, expire=exp, noreply=False):
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
            self._call('delete', self._key() + '.lock', noreply=False)
        except StorageUnavailable:
            pass  # logged by memcache.health; the lock expires after lock_timeout
