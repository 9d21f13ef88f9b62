"""The session object handlers see: the ``Session`` base class and its storage protocol.

``Session`` is the dict-like base class (``cherrypy.session`` proxies to an
instance of one of its subclasses). It loads lazily, saves only what
changed, and leaves storage, locking and clean-up to subclasses through a
small protocol:

=====================  ==================================================
method                 what a storage class provides
=====================  ==================================================
``_exists()``          True when ``self.id`` names a live stored session
``_load()``            the live data for ``self.id`` (a dict), or None
``_save(expires)``     store ``self._data``, alive until ``expires`` (epoch s)
``_refresh(expires)``  extend an unchanged session's life (default: _save)
``_delete()``          remove the stored session
``acquire_lock()``     lock ``self.id`` (bounded wait, else 503)
``release_lock()``     unlock it
``clean_up()``         remove expired sessions
=====================  ==================================================

``session_serialized.SerializedSession`` is the common base of the stores
that keep sessions as bytes.
"""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .. import _serving
from ..errors import HTTPError
from ..logs import log

if TYPE_CHECKING:
    from ..request_response import Response

__all__ = ['Session', 'StorageUnavailable']

#: Ids this server issues are 40 hex digits; anything else in a cookie is
#: replaced, never looked up (so a huge or garbage cookie is harmless).
_ID_RE = re.compile(r'[0-9a-f]{32,128}\Z')


class StorageUnavailable(HTTPError):
    """503: the session store cannot be reached, or a session lock is busy."""

    retry_after = 2

    def __init__(self, message: str) -> None:
        super().__init__(503, message)

    def set_response(self, response: Response | None = None) -> None:
        """Write the 503 page, with ``Retry-After`` so clients back off."""
        super().set_response(response)
        if response is None:
            response = _serving.current().response
        response.headers['Retry-After'] = str(self.retry_after)


# -- sessions ---------------------------------------------------------------

class Session:
    """A user's session: dict-like, loaded on first use, saved when changed.

    ``Session(id, **attrs)``: ``id`` is the id the client sent (or None);
    an id that is malformed or names no live stored session is replaced by
    a fresh one (so a client cannot choose its id). ``attrs`` set
    attributes, e.g. ``timeout`` (minutes) from ``tools.sessions.*``.
    """

    #: Minutes a session lives after its last save.
    timeout: float = 60
    #: Minutes between sweeps of expired sessions (0: never); run by requests.
    clean_freq: float = 5
    #: Seconds a request waits for a session's lock before a 503.
    lock_wait: float = 10
    #: Seconds a lock lives in shared storage, so a crashed holder cannot
    #: block its session for longer.
    lock_timeout: float = 30
    #: An unchanged stored session is rewritten only once this fraction of
    #: its lifetime has passed: idle expiry is then within 10% of ``timeout``.
    refresh_fraction: float = 0.1
    debug = False
    #: Config keys (``tools.sessions.<key>``) this class understands.
    config_keys = frozenset({'timeout', 'clean_freq', 'lock_wait', 'lock_timeout',
                             'refresh_fraction', 'debug'})

    locked = False
    loaded = False
    missing = False
    regenerated = False
    #: CherryPy's per-class clean-up thread; None here: expired sessions are
    #: cleaned up by the requests themselves (every ``clean_freq`` minutes).
    clean_thread = None

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        self.id_observers: list[Callable[[str], None]] = []
        self._data: dict[Any, Any] = {}
        self._deleted = False
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.originalid = id
        self._maybe_clean_up()
        self._id = id
        if id is not None and self._valid_id(id) and self._exists():
            return
        # NOTE: the client's id is never kept unless storage knows it: no fixation.
        self.missing = id is not None
        self._id = self.generate_id()
        if self.debug and self.missing:
            log('replaced an unknown or malformed session id', 'TOOLS.SESSIONS', logging.DEBUG)

    # -- id ----------------------------------------------------------------
    @property
    def id(self) -> str:
        """The session id; setting it notifies ``id_observers`` (the cookie)."""
        return self._id  # type: ignore[return-value]

    @id.setter
    def id(self, value: str) -> None:
        self._id = value
        for o in self.id_observers:
            o(value)

    def generate_id(self) -> str:
        """A fresh id: 160 random bits from ``secrets``, as 40 hex digits."""
        return secrets.token_hex(20)

    def _valid_id(self, id: Any) -> bool:
        return isinstance(id, str) and _ID_RE.match(id) is not None

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data (call it after a login)."""
        self._ensure_loaded()
        self.regenerated = True
        was_locked = self.locked
        self._delete()
        if was_locked:
            self.release_lock()
        self._forget_stored()
        self._deleted = False
        self.id = self.generate_id()
        if was_locked:
            self.acquire_lock()

    # -- life cycle --------------------------------------------------------
    def load(self) -> None:
        """Read the session from storage (expired or missing: empty)."""
        data = self._load()
        self._data = {} if data is None else data
        self._snapshot()
        self.loaded = True

    def save(self) -> None:
        """Store the data if it changed (else just keep it alive); release the lock."""
        try:
            if self.loaded and not self._deleted:
                expires = time.time() + self.timeout * 60
                if self._changed():
                    self._save(expires)
                else:
                    self._refresh(expires)
        finally:
            if self.locked:
                self.release_lock()

    def delete(self) -> None:
        """Delete the stored session; this request will not save it again."""
        self._delete()
        self._data = {}
        self.loaded = True
        self._deleted = True

    def _ensure_loaded(self) -> None:
        if not self.loaded:
            self.load()

    # -- change tracking (stores that serialize override these) -------------
    def _snapshot(self) -> None:
        self._orig: dict[Any, Any] = dict(self._data)

    def _forget_stored(self) -> None:
        self._orig = {}

    def _changed(self) -> bool:
        # Identity, not equality: nested objects are shared with the store,
        # so only replacing or removing a top-level value is a change here.
        orig, data = self._orig, self._data
        return len(orig) != len(data) or any(
            k not in orig or orig[k] is not v for k, v in data.items())

    def _refresh(self, expires: float) -> None:
        self._save(expires)

    # -- clean-up ----------------------------------------------------------
    def _clean_key(self) -> Any:
        return type(self)

    def _maybe_clean_up(self) -> None:
        freq = self.clean_freq
        if not freq:
            return
        key = self._clean_key()
        now = time.monotonic()
        last = _last_clean.setdefault(key, now)
        if now - last < freq * 60 or not _clean_lock.acquire(blocking=False):
            return
        try:
            _last_clean[key] = now
            self.clean_up()
        except Exception as ex:
            log('session clean-up failed: %r' % (ex,), 'TOOLS.SESSIONS', logging.WARNING,
                traceback=True)
        finally:
            _clean_lock.release()

    # -- the storage protocol (see the module docstring) -------------------
    def _exists(self) -> bool:
        raise NotImplementedError

    def _load(self) -> dict[Any, Any] | None:
        raise NotImplementedError

    def _save(self, expires: float) -> None:
        raise NotImplementedError

    def _delete(self) -> None:
        raise NotImplementedError

    def acquire_lock(self) -> None:
        """Lock this session against other requests (bounded wait, then 503)."""
        raise NotImplementedError

    def release_lock(self) -> None:
        """Release the lock taken by ``acquire_lock``."""
        raise NotImplementedError

    def clean_up(self) -> None:
        """Remove expired sessions from storage."""

    # -- the dict interface ------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        self._ensure_loaded()
        return self._data[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ensure_loaded()
        self._data[key] = value

    def __delitem__(self, key: Any) -> None:
        self._ensure_loaded()
        del self._data[key]

    def __contains__(self, key: Any) -> bool:
        self._ensure_loaded()
        return key in self._data

    def __iter__(self) -> Iterator[Any]:
        self._ensure_loaded()
        return iter(list(self._data))

    def __len__(self) -> int:
        """The number of keys in this session (CherryPy counted sessions)."""
        self._ensure_loaded()
        return len(self._data)

    def get(self, key: Any, default: Any = None) -> Any:
        """``session.get(key, default)``, as for a dict."""
        self._ensure_loaded()
        return self._data.get(key, default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``session.setdefault(key, default)``, as for a dict."""
        self._ensure_loaded()
        return self._data.setdefault(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        """``session.pop(key[, default])``, as for a dict."""
        self._ensure_loaded()
        return self._data.pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``session.update(...)``, as for a dict."""
        self._ensure_loaded()
        self._data.update(*args, **kwargs)

    def clear(self) -> None:
        """Remove every key (the session itself lives on)."""
        self._ensure_loaded()
        self._data.clear()

    def keys(self) -> Any:
        """The session's keys."""
        self._ensure_loaded()
        return self._data.keys()

    def values(self) -> Any:
        """The session's values."""
        self._ensure_loaded()
        return self._data.values()

    def items(self) -> Any:
        """The session's ``(key, value)`` pairs."""
        self._ensure_loaded()
        return self._data.items()

    def __repr__(self) -> str:
        return '<%s %s...>' % (type(self).__name__, (self._id or '')[:8])


_last_clean: dict[Any, float] = {}
_clean_lock = threading.Lock()
