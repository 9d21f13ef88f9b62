"""Exceptions that carry an HTTP answer, and the one error page renderer."""
from __future__ import annotations

import contextlib
import html
import logging
import sys
import traceback as _traceback
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import _serving
from .lib.httputil import valid_status
from .logs import log

if TYPE_CHECKING:
    from .request_response import Request, Response

__all__ = ['CherryPyException', 'HTTPError', 'HTTPRedirect', 'NotFound',
           'InternalRedirect', 'TimeoutError', 'format_exc', 'get_error_page',
           'NAME', 'VERSION', 'SERVER']

#: What the core calls itself: in error pages and the ``Server`` header.
NAME = 'app.core'
VERSION = '0.1.0'
SERVER = '%s/%s' % (NAME, VERSION)

ERROR_TEMPLATE = '''<!DOCTYPE html PUBLIC
"-//W3C//DTD XHTML 1.0 Transitional//EN"
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>%(status)s</title>
    <style type="text/css">
    #powered_by {
        margin-top: 20px;
        border-top: 2px solid black;
        font-style: italic;
    }

    #traceback {
        color: red;
    }
    </style>
</head>
    <body>
        <h2>%(status)s</h2>
        <p>%(message)s</p>
        <pre id="traceback">%(traceback)s</pre>
    <div id="powered_by">
      <span>
        Powered by %(server)s
      </span>
    </div>
    </body>
</html>
'''


class CherryPyException(Exception):
    """Base class for the exceptions the core raises on purpose."""


class TimeoutError(CherryPyException):
    """A request took longer than its response timeout."""


class InternalRedirect(CherryPyException):
    """Serve another path of the same application instead of this one.

    A relative ``path`` (``'cousin?t=6'``) is resolved against the current
    request's path, as a browser resolves a relative link.
    """

    def __init__(self, path: str, query_string: str = '') -> None:
        path, _, qs = path.partition('?')
        req = _serving.current()
        if req is not None and not path.startswith('/'):
            path = urllib.parse.urljoin(req.path_info, path)
        self.path = path
        self.query_string = qs or query_string
        super().__init__(path, self.query_string)


class HTTPRedirect(CherryPyException):
    """Redirect the client: raise ``HTTPRedirect(url_or_urls, status)``.

    The default status is 303 for HTTP/1.1 clients and 302 for HTTP/1.0,
    as in CherryPy. Relative URLs are made absolute against the request.
    """

    def __init__(self, urls: str | list[str], status: int | None = None,
                 encoding: str = 'utf-8') -> None:
        if isinstance(urls, (str, bytes)):
            urls = [urls]
        req = _serving.current()
        abs_urls = []
        for url in urls:
            if isinstance(url, bytes):
                url = url.decode(encoding)
            if req is not None:
                try:
                    url = urllib.parse.urljoin(req.base + req.script_name + req.path_info, url)
                except ValueError:  # NOTE: a Host such as '[::1' is no URL to join to
                    raise HTTPError(400, 'The Host header is not a valid host.') from None
            abs_urls.append(url)
        self.urls = abs_urls
        if status is None:
            status = 303 if req is not None and req.protocol >= (1, 1) else 302
        status = int(status)
        if status < 300 or status > 399:
            raise ValueError('status must be between 300 and 399.')
        self.status = status
        self.code = status
        self.encoding = encoding
        super().__init__(abs_urls, status)

    def set_response(self, response: Response | None = None) -> None:
        """Make ``response`` (default: the current one) a redirect."""
        if response is None:
            response = _serving.current().response
        response.status = status = self.status
        if status in (300, 301, 302, 303, 307, 308):
            response.headers['Content-Type'] = 'text/html;charset=utf-8'
            response.headers['Location'] = self.urls[0]
            msg = {
                300: 'This resource can be found at ',
                301: 'This resource has permanently moved to ',
                302: 'This resource resides temporarily at ',
                303: 'This resource can be found at ',
                307: 'This resource has moved temporarily to ',
                308: 'This resource has been moved to ',
            }[status]
            body = '<br />\n'.join('%s<a href="%s">%s</a>.' % (
                msg, html.escape(u, quote=True), html.escape(u, quote=False))
                for u in self.urls)
            response.body = body.encode('utf-8')
            response.headers.pop('Content-Length', None)
        elif status == 304:
            for key in ('Allow', 'Content-Encoding', 'Content-Language',
                        'Content-Length', 'Content-Location', 'Content-MD5',
                        'Content-Range', 'Content-Type', 'Expires',
                        'Last-Modified'):
                response.headers.pop(key, None)
            response.body = None
        else:
            response.headers['Location'] = self.urls[0]
            response.body = None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Raise this redirect (lets it stand in as ``request.handler``)."""
        raise self


class HTTPError(CherryPyException):
    """Answer with an HTTP error: ``raise HTTPError(404, 'No such item')``.

    ``status`` is an int or a ``'404 Reason'`` string; ``message`` is shown
    in the error page (escaped).
    """

    def __init__(self, status: int | str = 500, message: str | None = None) -> None:
        self.status = status
        try:
            self.code, self.reason, default_message = valid_status(status)
        except ValueError as ex:
            raise self.__class__(500, str(ex)) from None
        if self.code < 400 or self.code > 599:
            raise ValueError('status must be between 400 and 599.')
        self._message = message
        self.message = message or default_message
        super().__init__(status, message)

    def set_response(self, response: Response | None = None) -> None:
        """Write this error's status, headers and page into ``response``."""
        req = _serving.current()
        if response is None:
            response = req.response
        clean_headers(self.code, response)
        response.status = '%s %s' % (self.code, self.reason)
        tb = None
        if req is not None and req.show_tracebacks:
            tb = format_exc()
        response.headers.pop('Content-Length', None)
        response.headers.pop('Content-Encoding', None)
        # NOTE: before the page is rendered: a callable error_page may set its own.
        response.headers['Content-Type'] = 'text/html;charset=utf-8'
        content = get_error_page(self.code, self.reason, self.message, tb, req)
        pad = _IE_FRIENDLY_SIZES.get(self.code)
        if pad and 0 < len(content) <= pad \
                and response.headers.get('Content-Type', '').startswith('text/html'):
            # NOTE: as CherryPy: Internet Explorer shows its own "friendly"
            # page instead of a short HTML error page; spaces make it longer.
            content += b' ' * (pad + 1 - len(content))
        response.body = content
        response.headers['Content-Length'] = str(len(content))

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Raise this error (lets it stand in as ``request.handler``)."""
        raise self

    @classmethod
    def handle(cls, exception: type[BaseException] | tuple[type[BaseException], ...],
               status: int = 500, message: str = '') -> contextlib.AbstractContextManager[None]:
        """Context manager that turns ``exception`` into this HTTPError."""
        @contextlib.contextmanager
        def _cm() -> Iterator[None]:
            try:
                yield
            except exception as ex:
                raise cls(status, message or str(ex)) from ex
        return _cm()


class NotFound(HTTPError):
    """404 for the current (or given) path."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            req = _serving.current()
            path = (req.script_name + req.path_info) if req is not None else ''
        self.args = (path,)
        super().__init__(404, "The path '%s' was not found." % (path,))


def format_exc(exc: BaseException | tuple | None = None) -> str:
    """Return the current (or given) exception's traceback as text.

    ``exc`` is an exception or a ``sys.exc_info()`` tuple (CherryPy's form);
    with none given and none being handled, the result is ``''``.
    """
    if exc is None:
        exc = sys.exc_info()
    if isinstance(exc, tuple):
        if exc[0] is None:
            return ''
        return ''.join(_traceback.format_exception(*exc))
    return ''.join(_traceback.format_exception(exc))


#: An HTML error page shorter than this is padded with spaces past it, as
#: CherryPy does: Internet Explorer shows its own page instead of a short one
#: (KB 218155). Only HTML: an API's short JSON error stays as it is.
_IE_FRIENDLY_SIZES = {400: 512, 403: 256, 404: 512, 405: 256, 406: 512, 408: 512, 409: 512,
                      410: 256, 500: 512, 501: 512, 505: 512}


def _page_bytes(result: Any) -> bytes:
    """What a callable error page returned, as bytes: text, bytes, or chunks of either.

    ``static.serve_file(...)`` in an error page returns the file's chunks.
    """
    if isinstance(result, str):
        return result.encode('utf-8')
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    try:
        return b''.join(c.encode('utf-8') if isinstance(c, str) else bytes(c) for c in result)
    finally:
        close = getattr(result, 'close', None)
        if close is not None:
            close()


def get_error_page(code: int, reason: str, message: str, tb: str | None,
                   req: Request | None = None) -> bytes:
    """Render the error page: ``error_page.<code>`` (file or callable) or ours."""
    status = '%s %s' % (code, reason)
    # NOTE: escaped as CherryPy does (quotes left alone).
    kwargs = {'status': html.escape(status, False), 'message': html.escape(message or '', False),
              'traceback': html.escape(tb or '', False), 'version': VERSION, 'server': SERVER}
    page: Any = None
    if req is not None:
        pages = req.error_page
        page = pages.get(code) or pages.get(str(code)) or pages.get('default')
    if page is not None:
        try:
            if callable(page):
                result = page(status=status, message=message or '',
                              traceback=tb or '', version=VERSION)
                return _page_bytes(result)
            with open(page, 'rb') as f:
                template = f.read().decode('utf-8')
            return (template % kwargs).encode('utf-8')
        except Exception as ex:  # NOTE: a broken error page must not hide the error
            log.error('error_page for %s failed: %r' % (code, ex), 'HTTP', logging.ERROR,
                      traceback=True)
            # NOTE: as CherryPy words it ("FileNotFoundError: [Errno 2] ..."), escaped.
            failed = _traceback.format_exception_only(type(ex), ex)[-1].rstrip('\n')
            kwargs['message'] += '%sIn addition, the custom error page failed:\n<br />%s' % (
                '<br />' if kwargs['message'] else '', html.escape(failed, False))
    return (ERROR_TEMPLATE % kwargs).encode('utf-8')


#: Headers that describe the resource or how to cache it: an error page is
#: neither, so an error response drops them (the route may have set them).
_NOT_FOR_ERRORS = ('Accept-Ranges', 'Age', 'ETag', 'Location', 'Retry-After', 'Vary',
                   'Content-Encoding', 'Content-Length', 'Expires', 'Content-Location',
                   'Content-MD5', 'Last-Modified', 'Cache-Control', 'Pragma',
                   'Content-Disposition', 'Content-Language')


def clean_headers(status: int, response: Response) -> None:
    """Drop the headers that must not go with an error page.

    CherryPy's list, plus the caching headers a route sets for its content
    (``Cache-Control``, ``Pragma``): an error must not be cached as the
    resource was meant to be. A 416 keeps its ``Content-Range``
    (``bytes */length``).
    """
    for key in _NOT_FOR_ERRORS:
        response.headers.pop(key, None)
    if status != 416:
        response.headers.pop('Content-Range', None)

