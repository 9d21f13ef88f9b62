"""The response being built: status, headers (with the server's defaults), body."""
from __future__ import annotations

import http.cookies
from time import time as _time
from typing import Any

from . import _serving
from .errors import SERVER
from .lib.httputil import HeaderMap, HTTPDate

__all__ = ['Response']


_template: list = [0, HeaderMap()]
_new_headers = dict.__new__


def _default_headers() -> HeaderMap:
    """The default header set of a response, rebuilt at most once a second.

    PERF: formatting a date costs more than the rest of the headers; each
    response copies this set.
    """
    now = int(_time())
    t = _template
    if t[0] != now:
        h = HeaderMap()
        dict.__setitem__(h, 'Content-Type', 'text/html')
        dict.__setitem__(h, 'Server', SERVER)
        dict.__setitem__(h, 'Date', HTTPDate(now))
        t[1] = h
        t[0] = now
    return t[1]


class Response:
    """The response being built. ``cherrypy.response`` proxies to it.

    ``body`` holds what the handler returned until the response is
    finalized (str, bytes, a list of them, or an iterable/generator).
    As on Request, what a program sets that is not declared lives in ``extra``.
    """

    __slots__ = ('status', 'headers', 'body', 'header_list', 'output_status', 'stream',
                 'time', 'timeout', '_cookie', 'extra')

    def __init__(self) -> None:
        self.status: int | str = 200
        # PERF: _default_headers().copy(), inlined: two calls fewer per request.
        t = _template
        if t[0] != int(_time()):
            _default_headers()
        self.headers: HeaderMap = _new_headers(HeaderMap)
        dict.update(self.headers, t[1])
        self.body: Any = None
        self.header_list: list[tuple[str, str]] | None = None
        self.output_status: str | None = None
        self.stream = False
        self.time: float | None = None
        self.timeout = 300
        self._cookie: http.cookies.SimpleCookie | None = None
        self.extra: dict[str, Any] | None = None

    @property
    def cookie(self) -> http.cookies.SimpleCookie:
        """Cookies to send (a SimpleCookie)."""
        c = self._cookie
        if c is None:
            c = self._cookie = http.cookies.SimpleCookie()
        return c

    @cookie.setter
    def cookie(self, value: http.cookies.SimpleCookie) -> None:
        self._cookie = value

    def collapse_body(self) -> bytes:
        """Read the body into bytes; store it as ``[data]`` (as CherryPy) and return it."""
        body = self.body
        if body is None:
            data = b''
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode('utf-8')
        else:
            data = b''.join(c.encode('utf-8') if isinstance(c, str) else c for c in body)
        self.body = [data]
        return data

    def __repr__(self) -> str:
        return '<Response %s>' % (self.status,)


_serving.fast_attributes(_serving.response, Response)
