"""Sessions in memcached, shared by every process and pod: ``MemcachedSession``.

Keys are ``prefix + id``; a record expires in memcached ``timeout`` minutes
after it is written. The client (``memcache``, shared with response
caching) puts keys on a consistent-hash ring of the nodes.

**Replicas.** ``replicas`` (default 1) is how many distinct nodes, the
key's next ones on the ring, hold each session. Every save writes all of
them; a read asks each and keeps the newest record (records carry a
version), so a node that was down, or restarted empty, loses nothing and is
repaired by the next save. Losing one node of ``replicas = 2`` logs no
one out and answers no 503.

**Leases.** A session's lock is ``<key>.lock``, a lease of ``lock_lease``
seconds (default 1; memcached's whole-second clock adds up to one more),
taken with an add on each replica node that answers: two requests overlap
on at least one node while one node is down, so they agree. A request
holds the lease as long as it runs: a process-wide thread renews every
lease a quarter of ``lock_lease`` after it was taken or last renewed,
comparing the CAS it got, so a live holder never loses its lock to expiry,
and a holder that died frees it within ``lock_lease`` + 1 seconds. Renewal
and release act only on a lock whose CAS is still this request's: a
request whose lease was lost cannot delete another's. ``lock_wait`` bounds
the wait for a busy lock (then 503).

**Round trips.** The lock and the read go to a node in one round trip, and
so do the save and the release: a request that reads and writes its
session costs two per replica, and the replicas' round trips overlap (all
nodes are sent to before any reply is read), so it waits for two. A
session this process just created needs no lock (no one else knows its
id).

When memcached is down, a request that needs its session gets a 503 within
about a second (``connect_timeout`` and ``socket_timeout``), requests that
do not use sessions are untouched, and ``memcache.health`` (re-exported
here as ``health``) logs the outage once per node and episode and counts
it. A failed node is skipped for ``dead_timeout`` seconds, then tried again.
"""
from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from typing import Any

from ..errors import HTTPError
from ..logs import log
from .mcclient import md, mg, ms
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
from .session_base import StorageUnavailable
from .session_json import dumps, loads, pack, unpack, version_of
from .session_leases import leases
from .session_serialized import SerializedSession

__all__ = ['MemcachedSession', 'StorageHealth', 'health', 'servers_from', 'close_clients',
           'leases']

_THIRTY_DAYS = 30 * 24 * 3600
#: What a memcached outage means to sessions (said in its log line).
_EFFECT = 'requests that need a session get 503'
_UNAVAILABLE = 'Session storage (memcached) is unavailable; try again in a few seconds.'


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
    #: Attempts at a compare-and-swap save (without a lock) before a 503.
    cas_attempts = 5
    #: Distinct nodes that hold each session.
    replicas = 1
    #: Seconds a lock outlives a holder that died, plus up to one more (memcached's
    #: clock ticks in whole seconds); renewed every quarter of it while it lives.
    lock_lease: float = 1
    #: The sessions tool sets this for implicit and early locking: the lock
    #: is then taken with the first read, in the same round trip.
    lock_at_init = False
    config_keys = SerializedSession.config_keys | {
        'servers', 'prefix', 'connect_timeout', 'socket_timeout', 'dead_timeout',
        'cas_attempts', 'replicas', 'lock_lease', 'lock_at_init'}

    _cas: Any = None
    _placed: tuple[str, list[str]] | None = None
    _own_id: str | None = None
    _version = 0
    _lock_started = 0.0

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        for k in ('servers', 'connect_timeout', 'socket_timeout', 'dead_timeout'):
            if k in kwargs:
                setattr(self, k, kwargs.pop(k))
        self._store = self.store()
        #: Node -> the CAS of the lock this request holds there.
        self._lease: dict[str, int] = {}
        self._token = b''
        self._lease_lock = threading.Lock()
        #: Replica nodes whose copy is missing or older than the one read.
        self._behind: set[str] = set()
        super().__init__(id, **kwargs)

    def store(self) -> SharedClient:
        """The shared client for this session's servers and timeouts."""
        return shared_client(self.servers, self.connect_timeout, self.socket_timeout,
                             self.dead_timeout, effect=_EFFECT)

    # -- where the session lives -----------------------------------------
    def _key(self, id: str | None = None) -> str:
        return self.prefix + (id or self.id)

    def _nodes(self) -> list[str]:
        """The session's replica nodes (memoized per key: a request asks several times)."""
        key = self._key()
        if self._placed is None or self._placed[0] != key:
            self._placed = (key, self._store.ring.nodes_for(key, max(1, int(self.replicas))))
        return self._placed[1]

    def _expire(self, seconds: float) -> int:
        secs = max(1, math.ceil(seconds))
        # memcached reads more than 30 days as an absolute time.
        return secs if secs <= _THIRTY_DAYS else int(time.time()) + secs

    def _lease_ttl(self) -> int:
        # NOTE: memcached's clock ticks in whole seconds: a TTL of 1 may end at once.
        return self._expire(self.lock_lease) + 1

    def _run(self, node: str, commands: list[bytes]) -> Any:
        """Commands to one node; None when it is unavailable; 503 when it refuses."""
        return self._run_all({node: commands})[node]

    def _run_all(self, batches: dict[str, list[bytes]]) -> dict[str, Any]:
        """Commands to several nodes, their round trips overlapping: ``_run`` for each."""
        out: dict[str, Any] = {}
        refused = None
        for node, outcome in self._store.run_all(batches).items():
            if isinstance(outcome, Refused):
                refused = outcome
            out[node] = None if isinstance(outcome, Unavailable) else outcome
        if refused is not None:
            raise StorageUnavailable('Session storage refused the request: %s' % (refused,))
        return out

    def generate_id(self) -> str:
        """A fresh id (see Session); no other request can know it yet."""
        self._own_id = new = super().generate_id()
        return new

    # -- reading -------------------------------------------------------------
    def _newest(self, found: dict[str, bytes | None]) -> bytes | None:
        """The newest record of those read per node; the nodes behind it noted."""
        best = None
        best_version = -1
        for raw in found.values():
            if raw is not None and version_of(raw) > best_version:
                best, best_version = raw, version_of(raw)
        self._behind = {n for n, raw in found.items()
                        if raw is None or version_of(raw) < best_version} if best else set()
        self._version = max(best_version, 0)
        return best

    def _read(self) -> bytes | None:
        if self._id is not None and self._id == self._own_id:
            return None  # NOTE: an id made here just now has nothing stored yet
        found: dict[str, bytes | None] = {}
        self._cas = None
        nodes = self._nodes()
        get = [mg(self._key(), cas=True)]
        for node, replies in self._run_all({n: get for n in nodes}).items():
            if replies is not None:
                found[node] = replies[0].value
                if node == nodes[0]:
                    self._cas = replies[0].cas  # NOTE: for a save without the lock
        if not found:
            raise StorageUnavailable(_UNAVAILABLE)
        return self._newest(found)

    def _exists(self) -> bool:
        if not self.lock_at_init:
            return super()._exists()
        self.acquire_lock()  # NOTE: reads the record under the lock, one round trip
        if self._record is not None:
            return True
        self._release()      # an unknown id: nothing to guard (a fresh one follows)
        self.locked = False
        return False

    # -- the lease -------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Take the lease on each replica node that answers, reading the session with it.

        Waits up to ``lock_wait`` seconds for a busy lock, then 503.
        """
        if self.locked:
            return
        if self._id is not None and self._id == self._own_id:
            self.locked = True  # NOTE: a new id no other request can know
            return
        lock_key = self._key() + '.lock'
        ttl = self._lease_ttl()
        deadline = time.monotonic() + self.lock_wait
        delay = 0.002
        while True:
            self._token = secrets.token_hex(8).encode('ascii')
            found: dict[str, bytes | None] = {}
            busy = False
            take = [ms(lock_key, self._token, ttl, b'E', want_cas=True), mg(self._key())]
            for node, replies in self._run_all({n: take for n in self._nodes()}).items():
                if replies is None:
                    continue
                if replies[0].code != b'HD':
                    busy = True
                    continue
                self._lease[node] = replies[0].cas or 0
                found[node] = replies[1].value
            if not busy and self._lease:
                break
            self._release()
            if not busy:
                raise StorageUnavailable(_UNAVAILABLE)
            if time.monotonic() >= deadline:
                raise StorageUnavailable('The session %s... is locked by another request; '
                                         'try again shortly.' % (self.id[:8],))
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        self.locked = True
        self._lock_started = time.monotonic()
        leases.hold(self)
        raw = self._newest(found)
        self._record = self._parse(raw)

    def _lock_taken(self) -> None:
        pass  # NOTE: acquire_lock has just read the record under the lock

    def renew(self) -> bool:
        """Extend the lease on each node where this request still holds it.

        False if it was lost on every node (it expired and was taken).
        """
        lock_key = self._key() + '.lock'
        ttl = self._lease_ttl()
        with self._lease_lock:
            cases = dict(self._lease)
            answers = self._run_all({node: [ms(lock_key, self._token, ttl, cas=cas,
                                               want_cas=True)] for node, cas in cases.items()})
            for node, replies in answers.items():
                cas = cases[node]
                if replies is None:
                    continue  # NOTE: the node is down; the others keep the lock
                if replies[0].code == b'HD':
                    self._lease[node] = replies[0].cas or cas
                else:
                    del self._lease[node]
                    log('session %s...: the lock on %s was lost (held %.1fs); another '
                        'request may have entered' % (self.id[:8], node,
                                                      time.monotonic() - self._lock_started),
                        'SESSION', logging.WARNING)
            return bool(self._lease)

    def _release_commands(self) -> dict[str, list[bytes]]:
        lock_key = self._key() + '.lock'
        with self._lease_lock:
            lease, self._lease = self._lease, {}
        return {node: [md(lock_key, cas=cas)] for node, cas in lease.items()}

    def _release(self) -> None:
        release = self._release_commands()
        if release:
            self._run_all(release)  # NOTE: a node that is down lets the lease expire

    def release_lock(self) -> None:
        """Release the lease (only where this request still holds it)."""
        if not self.locked:
            return
        self.locked = False
        leases.drop(self)
        self._release()

    # -- writing ---------------------------------------------------------------
    def save(self) -> None:
        """Write the session where it changed or is behind, and release the lease, together."""
        record = None
        try:
            if self.loaded and not self._deleted:
                expires = time.time() + self.timeout * 60
                if self._changed():
                    record = pack(expires, self._dump, self._version + 1)
                elif self._raw is not None and (self._behind or self._expires is None or
                                                self._expires - time.time() <
                                                self.timeout * 60 * (1 - self.refresh_fraction)):
                    record = pack(expires, self._raw, self._version + 1)
        finally:
            self._write_and_release(record)

    def _write_and_release(self, record: bytes | None) -> None:
        was_locked = self.locked
        self.locked = False
        leases.drop(self)
        release = self._release_commands() if was_locked else {}
        if record is not None and not was_locked:
            self._save_unlocked(record)
            record = None
        batches = release
        if record is not None:
            write = ms(self._key(), record, self._expire(self.timeout * 60))
            batches = {node: [write] + release.get(node, []) for node in self._nodes()}
            batches.update((node, c) for node, c in release.items() if node not in batches)
        answers = self._run_all(batches) if batches else {}
        written = sum(1 for node in self._nodes() if answers.get(node) is not None)
        if record is not None and not written:
            raise StorageUnavailable(_UNAVAILABLE)
        if record is not None:
            self._version += 1
            self._behind = set()

    def _save_unlocked(self, record: bytes) -> None:
        """Without the lock (``locking = 'explicit'``): compare-and-swap, merging on conflict."""
        key = self._key()
        exp = self._expire(self.timeout * 60)
        nodes = self._nodes()
        cmd = ms(key, record, exp, b'E') if self._cas is None else ms(key, record, exp,
                                                                     cas=self._cas)
        replies = self._run(nodes[0], [cmd])
        if replies is None:
            raise StorageUnavailable(_UNAVAILABLE)
        code = replies[0].code
        if code == b'NF':
            # Deleted (a logout elsewhere) or expired since we read it:
            # writing it back would resurrect it.
            log('session %s... vanished before it was saved; not saved' % (self.id[:8],),
                'SESSION', logging.INFO)
            return
        if code != b'HD':
            record = self._merge(float(record.partition(b'\n')[0].partition(b' ')[0]))
        if nodes[1:]:
            self._run_all({node: [ms(key, record, exp)] for node in nodes[1:]})

    def _merge(self, expires: float) -> bytes:
        """Reapply this request's changes on top of a concurrent write."""
        orig = loads(self._raw) if self._raw is not None else {}
        mine = self._data
        changed = {k: v for k, v in mine.items() if k not in orig or dumps(v) != dumps(orig[k])}
        removed = [k for k in orig if k not in mine]
        key = self._key()
        exp = self._expire(self.timeout * 60)
        primary = self._nodes()[0]
        for _ in range(self.cas_attempts):
            replies = self._run(primary, [mg(key, cas=True)])
            if replies is None:
                raise StorageUnavailable(_UNAVAILABLE)
            raw = replies[0].value
            fresh = loads(unpack(raw)[1]) if raw is not None else {}
            fresh.update(changed)
            for k in removed:
                fresh.pop(k, None)
            record = pack(expires, dumps(fresh), version_of(raw or b'') + 1)
            cmd = ms(key, record, exp, cas=replies[0].cas) if raw is not None \
                else ms(key, record, exp, b'E')
            done = self._run(primary, [cmd])
            if done is not None and done[0].code == b'HD':
                self._data = fresh
                return record
        raise HTTPError(503, 'The session is being changed by too many requests at once.')

    def _delete(self) -> None:
        answers = self._run_all({node: [md(self._key())] for node in self._nodes()})
        if all(replies is None for replies in answers.values()):
            raise StorageUnavailable(_UNAVAILABLE)

    def _forget_stored(self) -> None:
        super()._forget_stored()
        self._behind = set()
        self._version = 0
        self._cas = None
