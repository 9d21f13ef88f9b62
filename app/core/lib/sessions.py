"""Sessions: ``tools.sessions`` and ``cherrypy.session``, as in CherryPy.

Switch them on with ``tools.sessions.on``; handlers then read and write
``cherrypy.session`` like a dict. Config keys (``tools.sessions.<key>``):

==================  ========================================================
key                 meaning (default)
==================  ========================================================
``storage_type``    ``'ram'`` (default), ``'file'`` or ``'memcached'``
``storage_class``   a Session subclass (overrides ``storage_type``)
``storage_path``    FileSession's directory
``servers``         MemcachedSession's ``['host:port', ...]`` or a comma
                    string; the ``MEMCACHED_SERVERS`` variable overrides it
``prefix``          file name / memcached key prefix (``'session-'``)
``timeout``         minutes a session lives after its last save (60)
``clean_freq``      minutes between sweeps of expired sessions (5)
``locking``         ``'implicit'``: locked before the handler, released when
                    saved; ``'early'``: locked before the request body is
                    read; ``'explicit'``: the handler calls
                    ``session.acquire_lock()`` / ``release_lock()``
``lock_wait``       seconds to wait for a lock before a 503 (10)
``lock_timeout``    seconds a file lock outlives a crashed holder (30)
``lock_lease``      seconds (plus up to 1) a memcached lock outlives a crashed
                    holder; renewed while its request runs (1)
``replicas``        memcached nodes that hold each session (1)
``name``            the cookie's name (``'session_id'``)
``path``            the cookie's path (``'/'``); ``path_header`` names a
                    request header to take it from instead
``domain``          the cookie's domain (none)
``secure``          mark the cookie Secure (False)
``httponly``        mark the cookie HttpOnly (True)
``samesite``        the cookie's SameSite (``'Lax'``; None leaves it out;
                    browsers accept ``'None'`` only with ``secure``)
``persistent``      False: a browser-session cookie, without an expiry (True)
``debug``           log the tool's decisions (False)
==================  ========================================================

A session id the server did not issue (malformed, unknown or expired) is
replaced by a fresh one, so a client cannot fix its id. Ids are 160 bits
from ``secrets``. A session is written only when its data changed; an
unchanged one is kept alive. Storage failures answer 503, never 500.
"""
from __future__ import annotations

import logging
import time
import types
from typing import Any

from .. import _serving
from ..config import resolve
from ..hooks import Tool, ToolHook
from ..logs import log
from ..priorities import PRIORITIES
from .httputil import HTTPDate
from .session_base import Session, StorageUnavailable
from .session_json import dumps, loads
from .session_memcached import MemcachedSession, StorageHealth, close_clients, health
from .session_serialized import SerializedSession
from .session_stores import FileSession, RamSession

__all__ = ['Session', 'RamSession', 'FileSession', 'MemcachedSession', 'SerializedSession',
           'StorageUnavailable', 'StorageHealth', 'health', 'close_clients', 'dumps',
           'loads', 'init', 'save', 'close', 'expire', 'set_response_cookie', 'SessionTool']

#: ``storage_type`` names.
STORAGE_TYPES: dict[str, type[Session]] = {
    'ram': RamSession, 'file': FileSession, 'memcached': MemcachedSession}

LOCKING_MODES = ('implicit', 'early', 'explicit')


def _storage_class(storage_class: Any, storage_type: str | None) -> type[Session]:
    if storage_class is not None:
        if isinstance(storage_class, str):
            storage_class = resolve(storage_class)
        return storage_class
    if storage_type is None:
        return RamSession
    try:
        return STORAGE_TYPES[storage_type.lower()]
    except KeyError:
        raise ValueError('tools.sessions.storage_type %r is not one of %s'
                         % (storage_type, ', '.join(STORAGE_TYPES))) from None


def init(storage_type: str | None = None, path: str | None = None,
         path_header: str | None = None, name: str = 'session_id', timeout: float = 60,
         domain: str | None = None, secure: bool = False, clean_freq: float = 5,
         persistent: bool = True, httponly: bool = True, samesite: str | None = 'Lax',
         debug: bool = False, storage_class: Any = None, **kwargs: Any) -> None:
    """Make ``request.session`` from the request's cookie and set the response cookie.

    Other keyword arguments (``storage_path``, ``servers``, ``prefix``,
    ``lock_wait``, ...) become attributes of the session object.
    """
    request = _serving.current()
    if request.session is not None:
        return  # NOTE: an InternalRedirect runs the hooks again
    morsel = request.cookie.get(name)
    cls = _storage_class(storage_class, storage_type)
    kwargs.pop('locking', None)
    sess = cls(morsel.value if morsel is not None else None, timeout=timeout,
               clean_freq=clean_freq, debug=debug, **kwargs)
    request.session = sess
    response = request.response

    def update_cookie(id: str) -> None:
        response.cookie[name] = id  # keeps the morsel's attributes

    sess.id_observers.append(update_cookie)
    set_response_cookie(path=path, path_header=path_header, name=name,
                        timeout=timeout if persistent else None, domain=domain,
                        secure=secure, httponly=httponly, samesite=samesite)
    if debug:
        log('session %s... (%s)' % (sess.id[:8], 'existing' if sess.id == sess.originalid
                                    else 'new'), 'TOOLS.SESSIONS', logging.DEBUG)


def set_response_cookie(path: str | None = None, path_header: str | None = None,
                        name: str = 'session_id', timeout: float | None = 60,
                        domain: str | None = None, secure: bool = False,
                        httponly: bool = True, samesite: str | None = 'Lax') -> None:
    """Set the session cookie on the response (``timeout`` in minutes; None: no expiry)."""
    request = _serving.current()
    cookie = request.response.cookie
    cookie[name] = request.session.id
    m = cookie[name]
    m['path'] = path or (request.headers.get(path_header) if path_header else None) or '/'
    if timeout:
        secs = int(timeout * 60)
        m['max-age'] = secs
        m['expires'] = _expires(secs)
    if domain is not None:
        m['domain'] = domain
    if secure:
        m['secure'] = True
    if httponly:
        m['httponly'] = True
    if samesite:
        m['samesite'] = samesite


_expires_cache: dict[int, tuple[int, str]] = {}


def _expires(secs: int) -> str:
    # PERF: formatting a date costs more than the rest of the cookie; the
    # value changes once a second.
    now = int(time.time())
    hit = _expires_cache.get(secs)
    if hit is None or hit[0] != now:
        hit = _expires_cache[secs] = (now, HTTPDate(now + secs))
    return hit[1]


def _lock_session() -> None:
    sess = _serving.current().session
    if sess is not None:
        sess.acquire_lock()


def save() -> None:
    """Save the session if it changed, then release its lock (before_finalize).

    A streamed response is saved after it is sent (by ``close``); a
    generator body is run first, since it may still change the session.
    """
    request = _serving.current()
    sess = request.session
    if sess is None or request.session_saved:
        return
    request.session_saved = True
    response = request.response
    if response.stream:
        request.session_save_late = True
        return
    if isinstance(response.body, types.GeneratorType):
        response.collapse_body()
    sess.save()


save.failsafe = True  # type: ignore[attr-defined]


def close() -> None:
    """Save a streamed response's session; release a lock still held (on_end_request)."""
    request = _serving.current()
    sess = request.session
    if sess is None:
        return
    if request.session_save_late:
        request.session_save_late = False
        sess.save()
    elif sess.locked:
        sess.release_lock()


close.failsafe = True  # type: ignore[attr-defined]


def expire() -> None:
    """End the session: delete it from storage and expire the client's cookie."""
    request = _serving.current()
    name = request.config.get('tools.sessions.name', 'session_id')
    sess = request.session
    if sess is not None:
        sess.delete()
    cookie = request.response.cookie
    if name not in cookie:
        cookie[name] = ''
        cookie[name]['path'] = request.config.get('tools.sessions.path') or '/'
    m = cookie[name]
    m['expires'] = HTTPDate(time.time() - 365 * 24 * 3600)
    m['max-age'] = 0


class SessionTool(Tool):
    """``tools.sessions``: init at before_request_body (50), lock per ``locking``,
    save at before_finalize (50), release at on_end_request (50).
    """

    def __init__(self) -> None:
        super().__init__(*PRIORITIES['sessions'][:1], init, priority=PRIORITIES['sessions'][1])

    def accepts(self, arg: str) -> bool:
        """Init's arguments, ``locking``, and any storage class's ``config_keys``."""
        if arg in ('on', 'priority', 'locking') or arg in self._params()[0]:
            return True
        return any(arg in cls.config_keys for cls in _subclasses(Session))  # type: ignore[attr-defined]

    def route_hooks(self, conf: dict[str, Any]) -> list[ToolHook]:
        """Init, the lock for ``locking``, save and close; the storage class resolved once."""
        conf = dict(conf)
        conf.pop('on', None)
        p = conf.pop('priority', None)
        locking = conf.pop('locking', 'implicit')
        if locking not in LOCKING_MODES:
            raise ValueError('tools.sessions.locking %r is not one of %s'
                             % (locking, ', '.join(LOCKING_MODES)))
        # Resolved here, once per route, so a bad value fails at the first request.
        cls = conf['storage_class'] = _storage_class(conf.get('storage_class'),
                                                     conf.pop('storage_type', None))
        if issubclass(cls, FileSession) and not conf.get('storage_path', cls.storage_path):
            raise ValueError('tools.sessions.storage_path is required for file sessions')
        if locking != 'explicit' and 'lock_at_init' in getattr(cls, 'config_keys', ()):
            conf['lock_at_init'] = True  # NOTE: the lock taken with the first read
        hooks = [ToolHook(self._point, self._priority if p is None else p, init, conf)]
        if locking == 'implicit':
            hooks.append(ToolHook(*PRIORITIES['sessions.lock'], _lock_session, {}))
        elif locking == 'early':
            hooks.append(ToolHook(*PRIORITIES['sessions.lock_early'], _lock_session, {}))
        hooks.append(ToolHook(*PRIORITIES['sessions.save'], save, {}))
        hooks.append(ToolHook(*PRIORITIES['sessions.close'], close, {}))
        return hooks

    def regenerate(self) -> None:
        """Give the current session a new id (keeping its data); the cookie follows."""
        _serving.current().session.regenerate()


def _subclasses(cls: type) -> list[type]:
    out: list[type] = [cls]
    subclass: type
    for subclass in type.__subclasses__(cls):
        out.extend(_subclasses(subclass))
    return out
