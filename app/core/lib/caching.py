"""Response caching: ``tools.caching`` and ``tools.expires``.

``tools.caching`` keeps whole responses to GET (and answers HEAD from them),
keyed on the full URI plus the request headers the response's ``Vary``
names. Its hooks (see the priority table in ``priorities``):

- ``before_handler`` 20: POST, PUT and DELETE (``invalid_methods``) drop the
  URI; a fresh entry is served (with ``Age``) and the handler skipped. A
  miss *claims* the key: concurrent misses on it wait up to
  ``antistampede_timeout`` for the first to finish, so a slow handler runs
  once, not once per client. ``Cache-Control: no-cache`` (or ``Pragma``)
  bypasses the lookup and refreshes the entry.
- ``before_finalize`` 100, after gzip (80): a 200 response is stored with
  its final headers, so a compressed body is kept with its
  ``Content-Encoding`` and served only to requests of the same variant.
  Streamed bodies are captured as they stream.
- ``on_end_request`` (failsafe): releases the claim whatever happened.

Not stored: responses that set cookies, carry ``Cache-Control: no-store``
or ``private``, ``Vary: *``, bodies over ``maxobj_size``, and responses to
requests with ``Authorization`` or a session unless they are ``public`` or
vary on that header (``Authorization``, ``Cookie``).
Switch caching on for a path (not only its GET method) so writes invalidate.

Stores: ``MemoryCache`` (per process, the default) and ``MemcachedCache``
(``tools.caching.store = 'memcached'``), shared by every process and pod.
Caching is an optimisation: when memcached is down, requests are served
uncached and the outage is logged once, until it comes back.
Programs clear it as on CherryPy, through ``cherrypy._cache``
(``cache_compat``): ``clear()``, or ``store[uri].clear()`` for one URI.
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .. import _serving
from ..errors import HTTPRedirect
from ..hooks import Tool, ToolHook
from ..logs import log
from ..priorities import PRIORITIES
from .cache_store import Cache, CachedResponse, MemoryCache, variant_key
from .encoding import encode_body
from .httputil import HTTPDate, parse_http_date, valid_status
from .memcache import servers_from
from .memcached_cache import MemcachedCache

__all__ = ['CachedResponse', 'Cache', 'MemoryCache', 'MemcachedCache', 'CachingTool',
           'get', 'get_cache', 'caches', 'clear_caches', 'expires']

_UNSTORED = frozenset(('Date', 'Content-Length', 'Age', 'Set-Cookie'))


_caches: dict[tuple, Cache] = {}
_caches_lock = threading.Lock()


def get_cache(cache_class: Any = None, store: str = 'memory', servers: Any = None,
              key_prefix: str = 'cache:', dead_timeout: float = 5.0,
              maxobjects: int = 1000, maxsize: int = 10_000_000) -> Cache:
    """Return the process-wide store for these settings, creating it once.

    ``cache_class`` may be a class or an instance (used as is). A memcached
    store takes its servers from env ``MEMCACHED_SERVERS`` or ``servers``.
    """
    if cache_class is not None and not isinstance(cache_class, type):
        return cache_class
    if cache_class is None:
        if store not in ('memory', 'memcached'):
            raise ValueError("tools.caching.store must be 'memory' or 'memcached', not %r"
                             % (store,))
        cache_class = MemcachedCache if store == 'memcached' else MemoryCache
    if issubclass(cache_class, MemcachedCache):
        srv = servers_from(servers)
        key: tuple = (cache_class, srv, key_prefix, dead_timeout)
        args: dict[str, Any] = dict(servers=srv, key_prefix=key_prefix, dead_timeout=dead_timeout)
    elif issubclass(cache_class, MemoryCache):
        key = (cache_class, maxobjects, maxsize)
        args = dict(maxobjects=maxobjects, maxsize=maxsize)
    else:
        key, args = (cache_class,), {}
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = cache_class(**args)
        return cache


def clear_caches() -> None:
    """Empty and forget every store this process created (tests use it)."""
    with _caches_lock:
        for cache in _caches.values():
            cache.clear()
        _caches.clear()


def caches() -> list[Cache]:
    """Every store ``get_cache`` has made in this process."""
    with _caches_lock:
        return list(_caches.values())


def _uri(req: Any) -> str:
    qs = req.query_string
    return req.base + req.script_name + req.path_info + ('?' + qs if qs else '')


def _directives(req: Any) -> dict[str, str]:
    d = {}
    for name in ('Cache-Control', 'Pragma'):
        for part in (req.headers.get(name) or '').split(','):
            k, _, v = part.strip().partition('=')
            d[k.lower()] = v.strip()
    return d


def get(invalid_methods: Iterable[str] = ('POST', 'PUT', 'DELETE'), debug: bool = False,
        delay: float = 300, maxobj_size: int = 100_000, maxsize: int = 10_000_000,
        maxobjects: int = 1000, antistampede_timeout: float = 5, cache_class: Any = None,
        store: str = 'memory', servers: Any = None, key_prefix: str = 'cache:',
        dead_timeout: float = 5.0) -> bool:
    """Serve the current request from the cache; True on a hit (handler skipped).

    These are the ``tools.caching.*`` keys. ``delay`` is the lifetime of an
    entry in seconds; ``maxsize``/``maxobjects`` bound a memory store.
    """
    cache = get_cache(cache_class, store, servers, key_prefix, dead_timeout, maxobjects, maxsize)
    return _fetch(cache, tuple(invalid_methods), antistampede_timeout, debug)


def _fetch(cache: Cache, invalid_methods: tuple, timeout: float, debug: bool) -> bool:
    req = _serving.current()
    req.cached = req.cacheable = False
    method = req.method
    if method in invalid_methods:
        cache.delete(_uri(req))
        return False
    if method not in ('GET', 'HEAD'):
        return False
    d = _directives(req)
    req.cacheable = method == 'GET' and 'no-store' not in d
    if 'no-cache' in d:
        return False
    uri = _uri(req)
    entry = _lookup(cache, req, uri, timeout, req.cacheable)
    if entry is None:
        return False
    age = max(0.0, time.time() - entry.created)
    if d.get('max-age', '').isdigit() and age > int(d['max-age']):
        return False
    if debug:
        log('serving %s from the cache (age %d s)' % (uri, age), 'TOOLS.CACHING')
    _serve(req, entry, age)
    return True


def _lookup(cache: Cache, req: Any, uri: str, timeout: float,
            may_claim: bool) -> CachedResponse | None:
    """Find a fresh entry; on a miss, leave the request holding the claim if it can."""
    deadline = time.monotonic() + timeout
    waited = None
    while True:
        variant, entry = cache.lookup(uri, req.headers)
        key = (uri, variant)
        if entry is not None or not may_claim or key == waited:
            return entry  # NOTE: after a wait with no entry, compute unclaimed
        token = cache.claim(key, timeout)
        if token is not None:
            req.cache_claim = (cache, key, token)
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not cache.wait(key, remaining):
            log('timed out waiting for %s to be cached; computing it' % uri,
                'TOOLS.CACHING', logging.WARNING)
            return None
        waited = key


def _serve(req: Any, entry: CachedResponse, age: float) -> None:
    resp = req.response
    h = resp.headers
    date = dict.get(h, 'Date') or HTTPDate()
    dict.clear(h)
    for k, v in entry.headers:
        dict.__setitem__(h, k, v)
    dict.__setitem__(h, 'Date', date)
    dict.__setitem__(h, 'Age', str(int(age)))
    resp.status = entry.status
    resp.body = [entry.body]
    req.cached = True
    since = parse_http_date(req.headers.get('If-Modified-Since'))
    modified = parse_http_date(h.get('Last-Modified'))
    if since is not None and modified is not None and modified <= since:
        raise HTTPRedirect([], 304)


def _release(req: Any) -> None:
    claim = req.cache_claim
    req.cache_claim = None
    if claim is not None:
        cache, key, token = claim
        cache.release(key, token)


def _release_hook() -> None:
    _release(_serving.current())


_release_hook.failsafe = True  # type: ignore[attr-defined]


def _storable_names(req: Any, resp: Any) -> tuple[str, ...] | None:
    try:
        if valid_status(resp.status)[0] != 200:
            return None
    except ValueError:
        return None
    h = resp.headers
    if resp._cookie or 'Set-Cookie' in h:
        return None
    cc = (h.get('Cache-Control') or '').lower()
    if 'no-store' in cc or 'private' in cc:
        return None
    names = tuple(sorted({e.value.lower() for e in h.elements('Vary')}))
    if '*' in names:
        return None
    if 'Authorization' in req.headers and 'authorization' not in names and 'public' not in cc:
        return None
    if req.session is not None and 'cookie' not in names and 'public' not in cc:
        return None  # NOTE: a page built with a session is that user's, unless it says not
    return names


def _store_hook(cache: Cache, invalid_methods: tuple, delay: float, maxobj_size: int,
                debug: bool = False) -> None:
    req = _serving.current()
    if req.method in invalid_methods:
        cache.delete(_uri(req))  # NOTE: again, after the write: drops entries stored meanwhile
        return
    if not req.cacheable or req.cached:
        return
    resp = req.response
    streaming = False
    try:
        names = _storable_names(req, resp)
        if names is None:
            return
        cl = resp.headers.get('Content-Length')
        if cl is not None and (not cl.isdigit() or int(cl) > maxobj_size):
            return
        encode_body(req, resp)
        now = time.time()
        status = '%d %s' % valid_status(resp.status)[:2]
        headers = [(k, v) for k, v in resp.headers.output() if k not in _UNSTORED]
        args = (cache, _uri(req), names, variant_key(req.headers, names), status, headers,
                now, now + delay, maxobj_size)
        if resp.stream:
            resp.body = _tee(resp.body, req, *args)
            streaming = True
            return
        data = b''.join(resp.body)
        resp.body = [data]
        _put(data, *args)
    finally:
        if not streaming:
            _release(req)


def _put(data: bytes, cache: Cache, uri: str, names: tuple, variant: tuple, status: str,
         headers: list, created: float, expires_at: float, maxobj_size: int) -> None:
    if len(data) <= maxobj_size:
        cache.put(uri, names, variant, CachedResponse(status, headers, data, created,
                                                      expires_at))


def _tee(body: Iterable[bytes], req: Any, *args: Any) -> Iterator[bytes]:
    chunks: list[bytes] | None = []
    size = 0
    limit = args[-1]
    try:
        for chunk in body:
            if chunks is not None:
                size += len(chunk)
                if size > limit:
                    chunks = None
                else:
                    chunks.append(chunk)
            yield chunk
        if chunks is not None:
            _put(b''.join(chunks), *args)
    finally:
        close = getattr(body, 'close', None)
        if close is not None:
            close()
        _release(req)


class CachingTool(Tool):
    """``tools.caching``: a lookup hook, a store hook and a failsafe release.

    The store is resolved once per route (when its plan is built).
    """

    def __init__(self) -> None:
        super().__init__(*PRIORITIES['caching'][:1], get, priority=PRIORITIES['caching'][1])

    def route_hooks(self, conf: dict[str, Any]) -> list[ToolHook]:
        """The lookup (``before_handler``), store and release hooks, one store per route."""
        conf = dict(conf)
        conf.pop('on', None)
        prio = conf.pop('priority', self._priority)
        store_keys = ('cache_class', 'store', 'servers', 'key_prefix', 'dead_timeout',
                      'maxobjects', 'maxsize')
        cache = get_cache(**{k: conf.pop(k) for k in store_keys if k in conf})
        invalid = tuple(conf.get('invalid_methods', ('POST', 'PUT', 'DELETE')))
        debug = bool(conf.get('debug', False))
        get_kw = dict(cache=cache, invalid_methods=invalid, debug=debug,
                      timeout=float(conf.get('antistampede_timeout', 5)))
        store_kw = dict(cache=cache, invalid_methods=invalid, debug=debug,
                        delay=float(conf.get('delay', 300)),
                        maxobj_size=int(conf.get('maxobj_size', 100_000)))
        return [ToolHook(self._point, prio, _get_hook, get_kw),
                ToolHook(*PRIORITIES['caching.store'], _store_hook, store_kw),
                ToolHook(*PRIORITIES['caching.release'], _release_hook, {})]


def _get_hook(cache: Cache, invalid_methods: tuple, timeout: float, debug: bool) -> None:
    if _fetch(cache, invalid_methods, timeout, debug):
        _serving.current().handler = None


def expires(secs: float | datetime.timedelta = 0, force: bool = False,
            debug: bool = False) -> None:
    """``tools.expires``: set ``Expires`` (and ``Cache-Control``) on the response.

    As in CherryPy, unless ``force`` is set the headers are only added to a
    response that already carries ``ETag``, ``Last-Modified``, ``Age`` or
    ``Expires``, and existing headers are kept. ``secs`` > 0 sets
    ``Expires`` to now + secs and ``Cache-Control: max-age=secs``; ``secs``
    = 0 sets an ``Expires`` in the past, ``Pragma: no-cache`` and
    ``Cache-Control: no-cache, must-revalidate``.
    """
    req = _serving.current()
    response = req.response
    headers = response.headers
    if not force and not any(h in headers for h in ('ETag', 'Last-Modified', 'Age', 'Expires')):
        return
    if isinstance(secs, datetime.timedelta):
        secs = secs.total_seconds()
    secs = int(secs)
    if secs == 0:
        if force or 'Pragma' not in headers:
            headers['Pragma'] = 'no-cache'
        if req.protocol >= (1, 1) and (force or 'Cache-Control' not in headers):
            headers['Cache-Control'] = 'no-cache, must-revalidate'
        expiry = HTTPDate(1169942400.0)
    else:
        if force or 'Cache-Control' not in headers:
            headers['Cache-Control'] = 'max-age=%d' % secs
        expiry = HTTPDate((response.time or time.time()) + secs)
    if force or 'Expires' not in headers:
        headers['Expires'] = expiry
