"""Small built-in tools: trailing_slash, proxy, allow, response_headers, logging."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from .. import _serving
from ..errors import HTTPError, HTTPRedirect, InternalRedirect
from ..logs import log
from .httputil import HeaderMap

__all__ = ['trailing_slash', 'proxy', 'allow', 'response_headers',
           'log_traceback', 'log_request_headers', 'referer', 'redirect',
           'accept', 'autovary', 'flatten', 'ignore_headers']


def trailing_slash(missing: bool = True, extra: bool = False, status: int | None = None,
                   debug: bool = False) -> None:
    """Redirect (301) an index URL without its slash; optionally strip extra ones.

    The query string is kept.
    """
    request = _serving.current()
    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith('/'):
            new_url = _url(request, pi + '/')
            raise HTTPRedirect(new_url, status=status or 301)
    elif request.is_index is False:
        if extra and pi.endswith('/') and pi != '/':
            new_url = _url(request, pi[:-1])
            raise HTTPRedirect(new_url, status=status or 301)


def _url(request: Any, path: str) -> str:
    qs = request.query_string
    return request.base + request.script_name + path + ('?' + qs if qs else '')


def proxy(base: str | None = None, local: str = 'X-Forwarded-Host', remote: str = 'X-Forwarded-For',
          scheme: str = 'X-Forwarded-Proto', debug: bool = False) -> None:
    """Trust a proxy's ``X-Forwarded-*`` headers for ``remote.ip``, ``base``, ``scheme``.

    Only switch it on behind a proxy you control (an ELB): clients can send
    these headers themselves. The client address is the first listed. The
    host comes from ``local`` (X-Forwarded-Host), else the configured
    ``base``, else the Host header.
    """
    request = _serving.current()
    headers = request.headers
    if scheme:
        s = headers.get(scheme)
        if s:
            s = s.split(',')[0].strip().lower()
            if s == 'on' and 'ssl' in scheme.lower():
                s = 'https'  # X-Forwarded-Ssl: on
            if s in ('http', 'https'):
                request.scheme = s
    if local:
        lbase = headers.get(local)
        if lbase:
            base = lbase.split(',')[0].strip()
    if not base:
        base = headers.get('Host') or request.base.partition('://')[2] or '127.0.0.1'
    if base.find('://') == -1:
        base = request.scheme + '://' + base
    request.base = base
    if remote:
        xff = headers.get(remote)
        if xff and remote == 'X-Forwarded-For':
            xff = xff.split(',')[0].strip()
        if xff:
            request.remote.ip = xff
            request.remote.name = xff


def allow(methods: Iterable[str] | str | None = None, debug: bool = False) -> None:
    """Answer 405 (with ``Allow``) for a method not in ``methods`` (default GET, HEAD)."""
    if not methods:
        methods = ['GET', 'HEAD']
    elif isinstance(methods, str):
        methods = [methods]
    methods = [m.upper() for m in methods if m]
    if 'GET' in methods and 'HEAD' not in methods:
        methods.append('HEAD')
    request = _serving.current()
    request.response.headers['Allow'] = ', '.join(methods)
    if request.method not in methods:
        raise HTTPError(405)


def response_headers(headers: Iterable[tuple[str, str]] | dict | None = None,
                     debug: bool = False) -> None:
    """Set the given ``(name, value)`` headers on every response of the route."""
    if not headers:
        return
    items = headers.items() if isinstance(headers, dict) else headers
    h = _serving.current().response.headers
    for name, value in items:
        h[name] = value


response_headers.failsafe = True  # type: ignore[attr-defined]


def log_traceback(severity: int = logging.ERROR, debug: bool = False) -> None:
    """Log the current exception's traceback (the core already does; kept for config)."""


def log_request_headers(debug: bool = False) -> None:
    """Log the request headers to the error log."""
    request = _serving.current()
    h = ['  %s: %s' % (k, v) for k, v in request.headers.items()]
    log('\nRequest Headers:\n' + '\n'.join(h), 'HTTP')


def referer(pattern: str, accept: bool = True, accept_missing: bool = False,
            error: int = 403, message: str = 'Forbidden Referer header.',
            debug: bool = False) -> None:
    """Refuse (403) requests whose Referer does (or does not) match ``pattern``."""
    request = _serving.current()
    ref = request.headers.get('Referer')
    if ref is None:
        if accept_missing:
            return
    elif bool(re.match(pattern, ref)) == accept:
        return
    raise HTTPError(error, message)


def redirect(url: str = '', internal: bool = True, debug: bool = False) -> None:
    """Redirect to ``url`` (internally by default)."""
    if internal:
        raise InternalRedirect(url)
    raise HTTPRedirect(url)


def accept(media: Iterable[str] | str | None = None, debug: bool = False) -> str | None:
    """406 unless the client accepts one of ``media``; return the best match."""
    if not media:
        return None
    if isinstance(media, str):
        media = [media]
    request = _serving.current()
    header = request.headers.get('Accept')
    if not header:
        return list(media)[0]
    for element in request.headers.elements('Accept'):
        if element.qvalue <= 0:
            continue
        for m in media:
            if element.value in ('*/*', m) or (element.value.endswith('/*') and
                                               m.startswith(element.value[:-1])):
                return m
    raise HTTPError(406, 'Your client sent this Accept header: %s. But this resource only '
                    'emits these media types: %s.' % (header, ', '.join(media)))


class MonitoredHeaderMap(HeaderMap):
    """Request headers that remember which names were read (for autovary)."""

    __slots__ = ('accessed_headers',)

    def __init__(self, headers: Any = ()) -> None:
        super().__init__()
        dict.update(self, headers)
        self.accessed_headers: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.accessed_headers.add(key.title())
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.accessed_headers.add(str(key).title())
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed_headers.add(key.title())
        return super().get(key, default)


_AUTOVARY_IGNORED = frozenset(('Content-Disposition', 'Content-Length', 'Content-Type'))


def autovary(ignore: Iterable[str] | None = None, debug: bool = False) -> None:
    """Add a ``Vary`` header naming the request headers the handler read.

    ``ignore`` lists names never added (default: Content-Disposition,
    Content-Length, Content-Type), as in CherryPy.
    """
    request = _serving.current()
    headers = MonitoredHeaderMap(request.headers)
    request.headers = headers
    skip = _AUTOVARY_IGNORED if ignore is None else {h.title() for h in ignore}

    def set_response_header() -> None:
        resp_h = request.response.headers
        vary = {e.value for e in resp_h.elements('Vary')}
        vary.update(headers.accessed_headers)
        vary.difference_update(skip)
        if vary:
            resp_h['Vary'] = ', '.join(sorted(vary))
    request.hooks.attach('before_finalize', set_response_header, priority=95)


def flatten(debug: bool = False) -> None:
    """Flatten nested generator bodies into one (bodies are flattened by finalize)."""
    response = _serving.current().response
    body = response.body

    def _flat(it: Any) -> Any:
        for x in it:
            if isinstance(x, (str, bytes)):
                yield x
            else:
                yield from _flat(x)
    if body is not None and not isinstance(body, (str, bytes)):
        response.body = _flat(body)


def ignore_headers(headers: Iterable[str] = ('Range',), debug: bool = False) -> None:
    """Drop the named request headers before the handler sees them."""
    request = _serving.current()
    for name in headers:
        request.headers.pop(name, None)
        request.environ.pop('HTTP_' + name.upper().replace('-', '_'), None)
