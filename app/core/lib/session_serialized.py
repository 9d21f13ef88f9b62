"""``SerializedSession``: the base of the stores that keep sessions as bytes.

A record is ``session_json.pack(expires, dumps(data))``; files and memcached
store records, and this class does the reading, change tracking and
refreshing they share.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..logs import log
from .session_base import Session
from .session_json import dumps, loads, pack, unpack

__all__ = ['SerializedSession']

_NOT_READ = object()


class SerializedSession(Session):
    """Base of the stores that keep sessions as bytes (files, memcached).

    A record is ``pack(expires, dumps(data))``. The bytes read are kept, so
    a session is written back only when its serialized form differs, and
    an unchanged one only when ``refresh_fraction`` of its life has passed.
    The record read by ``_exists`` is reused by ``_load`` unless a lock was
    taken in between (then it is read again, under the lock).
    """

    _raw: bytes | None = None
    _expires: float | None = None
    _dump = b'{}'

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        self._record: Any = _NOT_READ
        super().__init__(id, **kwargs)

    def _read(self) -> bytes | None:
        """The stored record for ``self.id``, or None."""
        raise NotImplementedError

    def _write(self, record: bytes) -> None:
        """Store ``record`` for ``self.id``."""
        raise NotImplementedError

    def _fetch(self) -> tuple[float, bytes] | None:
        return self._parse(self._read())

    def _parse(self, raw: bytes | None) -> tuple[float, bytes] | None:
        """``(expires, data_json)`` of a stored record; None if absent, unreadable or expired."""
        if raw is None:
            return None
        try:
            expires, data_json = unpack(raw)
        except ValueError as ex:
            log('unreadable session record %s...: %s' % (self.id[:8], ex), 'TOOLS.SESSIONS',
                logging.WARNING)
            return None
        return (expires, data_json) if expires > time.time() else None

    def _exists(self) -> bool:
        self._record = self._fetch()
        return self._record is not None

    def _load(self) -> dict[Any, Any] | None:
        rec = self._record
        self._record = _NOT_READ
        if rec is _NOT_READ:
            rec = self._fetch()
        self._raw = self._expires = None
        if rec is None:
            return None
        try:
            data = loads(rec[1])
            if not isinstance(data, dict):
                raise ValueError('not a dict')
        except ValueError as ex:
            log('unreadable session data %s...: %s' % (self.id[:8], ex), 'TOOLS.SESSIONS',
                logging.WARNING)
            return None
        self._expires, self._raw = rec
        return data

    def _snapshot(self) -> None:
        pass

    def _forget_stored(self) -> None:
        self._raw = self._expires = None

    def _changed(self) -> bool:
        self._dump = dumps(self._data)
        return self._dump != (self._raw if self._raw is not None else b'{}')

    def _save(self, expires: float) -> None:
        self._write(pack(expires, self._dump))

    def _refresh(self, expires: float) -> None:
        if self._raw is None:
            return  # new and still empty: nothing worth storing
        life = self.timeout * 60
        if self._expires is not None and self._expires - time.time() > life * (
                1 - self.refresh_fraction):
            return
        self._save(expires)

    def _lock_taken(self) -> None:
        # Whatever was read before the lock may be stale by now.
        self._record = _NOT_READ
