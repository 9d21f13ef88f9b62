"""Small built-in tools: trailing_slash, proxy, allow, response_headers, logging."""
from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Any

from .. import _serving
from ..errors import HTTPError, HTTPRedirect, InternalRedirect
from ..logs import log
from .encoding import reads_accept_charset
from .etags import validate_etags
from .hosts import valid_host
from .httputil import HeaderMap
from .params import convert_params
from .session_auth import SessionAuth, session_auth

__all__ = ['trailing_slash', 'proxy', 'allow', 'response_headers',
           'log_traceback', 'log_request_headers', 'referer', 'redirect',
           'accept', 'autovary', 'flatten', 'ignore_headers', 'validate_etags',
           'convert_params', 'log_hooks', 'SessionAuth', 'session_auth']


def trailing_slash(missing: bool = True, extra: bool = False, status: int | None = None,
                   debug: bool = False) -> None:
    """Redirect an index URL without its slash; optionally strip extra ones.

    The query string is kept. The redirect is 301 for GET and HEAD and 308
    for other methods: clients turn a 301 to a POST into a GET and drop its
    body, while a 308 keeps the method and the body (RFC 9110 15.4.9).
    CherryPy answers 301 to every method. ``status`` overrides both.
    """
    request = _serving.current()
    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith('/'):
            raise HTTPRedirect(_url(request, pi + '/'), status=status or _status(request))
    elif request.is_index is False:
        if extra and pi.endswith('/') and pi != '/':
            raise HTTPRedirect(_url(request, pi[:-1]), status=status or _status(request))


def _status(request: Any) -> int:
    return 301 if request.method in ('GET', 'HEAD') else 308


def _url(request: Any, path: str) -> str:
    qs = request.query_string
    return request.base + request.script_name + path + ('?' + qs if qs else '')


def proxy(base: str | None = None, local: str | None = None,
          remote: str | None = 'X-Forwarded-For', scheme: str | None = 'X-Forwarded-Proto',
          hops: int = 1, debug: bool = False) -> None:
    """Take the client's address, scheme and host from the proxies in front.

    Only what the deployment's own proxies wrote is believed. Each of the
    ``hops`` trusted proxies (default 1: the ELB) appends the address it
    was connected from to ``X-Forwarded-For``, so the client is the
    ``hops``-th entry from the right; entries further left were written by
    the client and may say anything. ``hops = 0`` believes no forwarded
    header. ``X-Forwarded-Proto`` is read the same way: ``https`` from a
    TLS-terminating ELB makes ``base``, and so every redirect, https.

    The host is ``base`` when configured, else the ``local`` header when one
    is configured (``X-Forwarded-Host``: only behind a proxy that sets it),
    else the Host header. A forwarded host must be a valid host and one of
    ``request.allowed_hosts`` when that is set, or the request gets 400.
    CherryPy's tool believes the leftmost entries and ``X-Forwarded-Host``
    by default; this one does not.
    """
    request = _serving.current()
    headers = request.headers
    if hops > 0 and scheme:
        s = _trusted(headers.get(scheme), hops)
        if s:
            s = s.lower()
            if s == 'on' and 'ssl' in scheme.lower():
                s = 'https'  # X-Forwarded-Ssl: on
            if s in ('http', 'https'):
                request.scheme = s
    if not base and local and hops > 0:
        forwarded = _trusted(headers.get(local), hops)
        if forwarded:
            hosts = request.plan.hosts
            if not valid_host(forwarded) or (hosts is not None and not hosts(forwarded)):
                raise HTTPError(400, 'This service does not answer for that host.')
            base = forwarded
    if not base:
        base = headers.get('Host') or request.base.partition('://')[2] or '127.0.0.1'
    if base.find('://') == -1:
        base = request.scheme + '://' + base
    request.base = base
    if hops > 0 and remote:
        ip = _address(_trusted(headers.get(remote), hops))
        if ip:
            request.remote.ip = ip
            request.remote.name = ip


def _trusted(value: str | None, hops: int) -> str:
    """The entry of a comma-separated forwarded header that the ``hops``-th proxy wrote."""
    if not value:
        return ''
    entries = value.split(',')
    return entries[-hops if hops <= len(entries) else 0].strip()


def _address(entry: str) -> str:
    """``entry`` as an IP address (a port dropped), or '' if it is none."""
    if entry.startswith('['):
        entry = entry[1:entry.find(']')] if ']' in entry else ''
    elif entry.count(':') == 1:
        entry = entry.partition(':')[0]
    try:
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return ''


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
        if reads_accept_charset(request):
            vary.add('Accept-Charset')  # NOTE: read by tools.encode, from the environ
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


def log_hooks(debug: bool = False) -> None:
    """``tools.log_hooks``: write this request's hooks, point by point, to the error log."""
    request = _serving.current()
    lines = ['Request Hooks for %s:' % (request.base + request.script_name + request.path_info,)]
    plan = request.plan
    for point, hooks in plan.hooks.items():
        names = [getattr(fn, '__name__', repr(fn)) for fn, _kw, _fs in hooks]
        lines.append('    %s:%s' % (point, ''.join('\n        ' + n for n in names)))
    log('\n'.join(lines), 'HTTP', logging.DEBUG if not debug else logging.INFO)
