"""``cherrypy._cache``: CherryPy programs' handle on the response cache.

``compat_cache.clear()`` empties every store this process holds;
``compat_cache.store[uri].clear()`` drops one URI's cached variants.
"""
from __future__ import annotations

from .caching import caches

__all__ = ['CompatCache', 'compat_cache']


class _UriEntries:
    """``cherrypy._cache.store[uri]``: the cached variants of one URI."""

    __slots__ = ('uri',)

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def clear(self) -> None:
        """Drop every variant of the URI from every store (memcached's too)."""
        for cache in caches():
            cache.delete(self.uri)


class _UriIndex:
    """``cherrypy._cache.store``: indexed by full URI (``request.base + path?query``)."""

    def __getitem__(self, uri: str) -> _UriEntries:
        return _UriEntries(uri)


class CompatCache:
    """``cherrypy._cache``: CherryPy programs' handle on the response cache.

    CherryPy keeps one store per process there; here each set of store
    settings has its own, so both act on every store this process created:
    ``clear()`` empties them (memcached's entries are shared and stay),
    ``store[uri].clear()`` drops one URI's variants (memcached's too).
    """

    store = _UriIndex()

    def clear(self) -> None:
        """Empty every store this process holds."""
        for cache in caches():
            cache.clear()


#: What ``cherrypy._cache`` returns.
compat_cache = CompatCache()
