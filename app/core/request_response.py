"""Request and response objects, with CherryPy's attribute names.

Both are built once per request from the WSGI environ; the costly parts
(headers, cookies, query parameters) are parsed on first use.
"""
from __future__ import annotations

import http.cookies
import re
from collections.abc import Callable
from time import perf_counter as _perf_counter
from typing import TYPE_CHECKING, Any
from uuid import uuid4 as _uuid4

from . import _serving
from .body import RequestBody, parse_query_string
from .hookpoints import RequestHooks
from .http_response import Response
from .lib.httputil import HeaderMap, Host, decode_TEXT
from .plan import EMPTY_PLAN, Plan
from .request_parts import RequestCookie, RequestNamespaces

if TYPE_CHECKING:
    from .application import Application

__all__ = ['Request', 'Response', 'Host', 'parse_query_string']

_EMPTY: dict = {}
_METHODS_WITH_BODIES = ('POST', 'PUT', 'PATCH')
_THROWS = (KeyboardInterrupt, SystemExit)


#: What a new Request holds for each settable attribute (``request.<attr>``
#: config equal to its default is skipped when a route's plan is built).
#: An incoming X-Request-ID kept as this request's id (else one is made).
_REQUEST_ID = re.compile(r'[A-Za-z0-9._:-]{1,128}')

REQUEST_DEFAULTS: dict[str, Any] = {
    'session': None, 'show_tracebacks': True, 'show_mismatched_params': True,
    'error_page': _EMPTY, 'process_request_body': True, 'closed': False,
    'methods_with_bodies': _METHODS_WITH_BODIES, 'throws': _THROWS, 'dispatch': None,
    'login': None, 'json': None, 'error_response': None, 'handled_error': None,
    'cached': False, 'cacheable': False,
}


class Request:
    """The request being served. ``cherrypy.request`` proxies to it.

    Config keys ``request.<attr>`` set attributes here for the route. Every
    attribute is declared in ``__slots__``; what a program sets that is not
    declared (CherryPy programs set their own on ``cherrypy.request``) lives
    in ``extra``, which reads through ``cherrypy.request`` fall back to.

    PERF: no ``__getattr__`` here: defining one stops CPython from
    specializing attribute access on the class, which costs more than
    everything else the core does per request.
    """

    __slots__ = (
        # The request as it arrived, and where it is going.
        'environ', 'app', 'method', 'path_info', 'script_name', 'config', 'handler',
        'response', 'is_index', 'args', 'plan', 'stage', 'closed', 'prev',
        # CherryPy's settable attributes (REQUEST_DEFAULTS).
        'session', '_show_tracebacks', '_show_mismatched_params', '_query_string_encoding',
        'error_page',
        'process_request_body', 'methods_with_bodies', 'throws', 'dispatch', 'login',
        'json', 'error_response', 'handled_error',
        # Tool state: caching (CherryPy's names, then the stampede claim to
        # release), sessions (saved yet; save after streaming), json_out
        # (CherryPy's name: custom JSON handlers call it).
        'cached', 'cacheable', 'cache_claim', 'session_saved', 'session_save_late',
        '_json_inner_handler',
        # Parsed from the environ on first use, or set to override it.
        '_params', '_headers', '_cookie', '_body', '_remote', '_local', '_base',
        # When the request arrived (perf_counter), and its id (unique_id).
        'started', '_unique_id', '_request_line',
        # Attributes a program sets that are not declared above.
        'extra',
    )

    def __init__(self, environ: dict[str, Any], app: Application | None = None) -> None:
        self.environ: dict[str, Any] = environ
        self.app: Application | None = app
        self.method: str = environ.get('REQUEST_METHOD', 'GET')
        sn: str = environ.get('SCRIPT_NAME', '')
        self.script_name: str = sn
        # NOTE: '' at a mount point's own URL (/blog), so trailing_slash redirects it.
        path: str = environ.get('PATH_INFO') or ('' if sn else '/')
        self.path_info: str = path
        if app is not None and not sn and app.script_name and path.startswith(app.script_name):
            # An Application called directly rather than through the tree.
            self.script_name = app.script_name
            self.path_info = path = path[len(app.script_name):]
        if not path.isascii():
            self.path_info = _recode(path)
        self.config: dict[str, Any] = _EMPTY
        self.handler: Callable[..., Any] | None = None
        self.response: Response = Response()
        self.is_index: bool | None = None
        self.args: tuple[str, ...] = ()
        self.plan: Plan = EMPTY_PLAN
        self.stage: str | None = None
        self.closed: bool = False
        #: The request this one replaces after an InternalRedirect (else None).
        self.prev: Request | None = None
        # PERF: one store per slot, no loop: this runs on every request.
        self.session: Any = None
        self._show_tracebacks: bool | None = None
        self._show_mismatched_params: bool | None = None
        self._query_string_encoding: str | None = None
        self.error_page: dict[Any, Any] = _EMPTY
        self.process_request_body: bool = True
        self.methods_with_bodies: tuple[str, ...] = _METHODS_WITH_BODIES
        self.throws: tuple[type[BaseException], ...] = _THROWS
        self.dispatch: Any = None
        self.login: str | None = None
        self.json: Any = None
        self.error_response: Callable[[], Any] | None = None
        self.handled_error: BaseException | None = None
        self.cached: bool = False
        self.cacheable: bool = False
        self.cache_claim: tuple[Any, Any, Any] | None = None
        self.session_saved: bool = False
        self.session_save_late: bool = False
        # NOTE: _json_inner_handler is set by json_out before anything reads it.
        self._json_inner_handler: Callable[..., Any] | None
        # PERF: no query string, no parsing: most requests never call params.
        self._params: dict[str, Any] | None = {} if not environ.get('QUERY_STRING') else None
        self._headers: HeaderMap | None = None
        self._cookie: RequestCookie | None = None
        self._body: RequestBody | None = None
        self._remote: Host | None = None
        self._local: Host | None = None
        self._base: str | None = None
        self.started = _perf_counter()
        self._unique_id: str | None = None
        self._request_line: str | None = None
        self.extra: dict[str, Any] | None = None

    # NOTE: query_string, server_protocol, protocol and scheme live in the
    # environ: setting one (the proxy tool sets scheme) rewrites its entry
    # there, so an internal redirect's copy of the environ keeps it too.
    @property
    def query_string(self) -> str:
        """The query string, without its ``?``."""
        return self.environ.get('QUERY_STRING', '')

    @query_string.setter
    def query_string(self, value: str) -> None:
        self.environ['QUERY_STRING'] = value
        self._params = None  # parsed again from the new query string

    @property
    def server_protocol(self) -> str:
        """The request's protocol as sent: ``'HTTP/1.1'``."""
        return self.environ.get('SERVER_PROTOCOL', 'HTTP/1.1')

    @server_protocol.setter
    def server_protocol(self, value: str) -> None:
        self.environ['SERVER_PROTOCOL'] = value

    @property
    def protocol(self) -> tuple[int, int]:
        """``server_protocol`` as a tuple: ``(1, 1)``."""
        sp = self.environ.get('SERVER_PROTOCOL', 'HTTP/1.1')
        return (1, 1) if sp == 'HTTP/1.1' else _parse_protocol(sp)

    @protocol.setter
    def protocol(self, value: tuple[int, int]) -> None:
        self.environ['SERVER_PROTOCOL'] = 'HTTP/%d.%d' % tuple(value)

    @property
    def scheme(self) -> str:
        """``'http'`` or ``'https'``."""
        return self.environ.get('wsgi.url_scheme', 'http')

    @scheme.setter
    def scheme(self, value: str) -> None:
        self.environ['wsgi.url_scheme'] = value

    @property
    def unique_id(self) -> str:
        """This request's id: a well-formed ``X-Request-ID`` it came with, else a new UUID4.

        The JSON logs carry it, and with ``log.json`` on it is echoed as the
        response's ``X-Request-ID``. A value of 1 to 128 letters, digits
        and ``-_.:`` is kept; anything else is replaced (no forged log field).
        """
        rid = self._unique_id
        if rid is None:
            given = self.environ.get('HTTP_X_REQUEST_ID')
            rid = self._unique_id = given if given and _REQUEST_ID.fullmatch(given) \
                else str(_uuid4())
        return rid

    @property
    def request_line(self) -> str:
        """The request line as the client sent it: ``'GET /path?q=1 HTTP/1.1'``.

        A program may set it (the access log then shows what it set).
        """
        if self._request_line is not None:
            return self._request_line
        qs = self.query_string
        return '%s %s%s%s %s' % (self.method, self.script_name, self.path_info,
                                 '?' + qs if qs else '', self.server_protocol)

    @request_line.setter
    def request_line(self, value: str) -> None:
        self._request_line = value

    @property
    def hooks(self) -> RequestHooks:
        """This request's hooks: ``request.hooks.attach(point, callback, ...)``."""
        return RequestHooks(self)

    @property
    def virtual_path(self) -> tuple:
        """The path segments left over after the handler (its positional args)."""
        return self.args

    @property
    def remote(self) -> Host:
        """The client address (``ip``, ``port``, ``name``)."""
        r = self._remote
        if r is None:
            env = self.environ
            try:
                port = int(env.get('REMOTE_PORT') or 0)
            except ValueError:
                port = 0
            r = self._remote = Host(env.get('REMOTE_ADDR', ''), port, env.get('REMOTE_HOST'))
        return r

    @remote.setter
    def remote(self, value: Host) -> None:
        self._remote = value

    @property
    def local(self) -> Host:
        """The server address this request arrived on."""
        h = self._local
        if h is None:
            env = self.environ
            try:
                port = int(env.get('SERVER_PORT') or 80)
            except ValueError:
                port = 80
            name = env.get('SERVER_NAME', '')
            h = self._local = Host(name, port, name)
        return h

    @local.setter
    def local(self, value: Host) -> None:
        self._local = value

    @property
    def base(self) -> str:
        """``scheme://host[:port]`` as the client addressed us."""
        b = self._base
        if b is None:
            host = self.environ.get('HTTP_HOST')
            if not host:
                local = self.local
                host = local.ip
                if local.port not in (80, 443):
                    host = '%s:%s' % (host, local.port)
            b = self._base = '%s://%s' % (self.scheme, host)
        return b

    @base.setter
    def base(self, value: str) -> None:
        self._base = value

    def setup_addresses(self) -> None:
        """Compute ``remote``, ``local`` and ``base`` now (they are lazy otherwise)."""
        self.remote, self.local, self.base  # noqa: B018

    # -- lazily parsed parts ---------------------------------------------
    @property
    def headers(self) -> HeaderMap:
        """Request headers; keys compare case-insensitively.

        Values holding RFC 2047 encoded-words (``=?utf-8?q?...?=``) are decoded.
        """
        h = self._headers
        if h is None:
            h = self._headers = HeaderMap()
            for k, v in self.environ.items():
                if k.startswith('HTTP_'):
                    if '=?' in v:
                        v = decode_TEXT(v)  # NOTE: an RFC 2047 value, as CherryPy reads it
                    dict.__setitem__(h, k[5:].replace('_', '-').title(), v)
            ct = self.environ.get('CONTENT_TYPE')
            if ct:
                dict.__setitem__(h, 'Content-Type', ct)
            cl = self.environ.get('CONTENT_LENGTH')
            if cl:
                dict.__setitem__(h, 'Content-Length', cl)
        return h

    @headers.setter
    def headers(self, value: HeaderMap) -> None:
        self._headers = value

    @property
    def header_list(self) -> list[tuple[str, str]]:
        """The request headers as ``[(name, value)]``."""
        return list(self.headers.items())

    @property
    def cookie(self) -> RequestCookie:
        """Request cookies (a SimpleCookie); see ``RequestCookie`` for malformed ones."""
        c = self._cookie
        if c is None:
            c = self._cookie = RequestCookie()
            raw = self.environ.get('HTTP_COOKIE')
            if raw:
                try:
                    c.load(raw)
                except http.cookies.CookieError as ex:
                    # NOTE: a bad cookie header is the client's problem; the
                    # cookies that did parse are kept, as browsers expect.
                    c.malformed = str(ex)
        return c

    #: CherryPy's per-request namespace handlers: ``handler(key, value)`` for
    #: each ``ns.key`` of the route's config, on every request (none by default;
    #: the core's own namespaces are resolved once per route, in its plan).
    #: A Toolbox set here becomes a toolbox (see ``RequestNamespaces``).
    namespaces: RequestNamespaces

    #: Attributes read from the route's config (``request.<name>``) unless
    #: set on the request: a plan sets nothing per request for them.
    #: PERF: the production environment sets both on every route.
    config_read = frozenset(('show_tracebacks', 'show_mismatched_params',
                             'query_string_encoding'))

    @property
    def show_tracebacks(self) -> bool:
        """Whether error pages show the traceback (config ``request.show_tracebacks``)."""
        v = self._show_tracebacks
        return self.config.get('request.show_tracebacks', True) if v is None else v

    @show_tracebacks.setter
    def show_tracebacks(self, value: bool) -> None:
        self._show_tracebacks = value

    @property
    def show_mismatched_params(self) -> bool:
        """Whether a 404/400 for arguments that don't fit the handler names them."""
        v = self._show_mismatched_params
        return self.config.get('request.show_mismatched_params', True) if v is None else v

    @show_mismatched_params.setter
    def show_mismatched_params(self, value: bool) -> None:
        self._show_mismatched_params = value

    @property
    def query_string_encoding(self) -> str:
        """The encoding query strings are decoded with (``request.query_string_encoding``).

        CherryPy's default, ``'utf8'``; a query string that does not decode is a 404.
        """
        v = self._query_string_encoding
        return self.config.get('request.query_string_encoding', 'utf8') if v is None else v

    @query_string_encoding.setter
    def query_string_encoding(self, value: str) -> None:
        self._query_string_encoding = value

    @property
    def query_params(self) -> dict[str, Any]:
        """The parsed query string only."""
        qs = self.query_string
        return parse_query_string(qs, self.query_string_encoding) if qs else {}

    @property
    def params(self) -> dict[str, Any]:
        """Query string and form fields, merged; a repeated field is a list."""
        p = self._params
        if p is None:
            # PERF: query_params inlined; this runs for every handler call.
            qs = self.environ.get('QUERY_STRING', '')
            p = self._params = parse_query_string(qs, self.query_string_encoding) if qs else {}
        return p

    @params.setter
    def params(self, value: dict[str, Any]) -> None:
        self._params = value

    @property
    def body(self) -> RequestBody:
        """The request body: ``read()``, ``fp``, ``params``, ``length``."""
        b = self._body
        if b is None:
            b = self._body = RequestBody(self)
        return b

    @body.setter
    def body(self, value: Any) -> None:
        self._body = value

    @property
    def rfile(self) -> Any:
        """The raw input stream."""
        return self.environ.get('wsgi.input')

    @property
    def wsgi_environ(self) -> dict[str, Any]:
        """The WSGI environ of this request."""
        return self.environ

    def __repr__(self) -> str:
        return '<Request %s %s%s>' % (self.method, self.script_name, self.path_info)


def _recode(path: str) -> str:
    # WSGI gives PATH_INFO as latin-1 text of the raw bytes; URLs are UTF-8.
    try:
        return path.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path


def _parse_protocol(sp: str) -> tuple[int, int]:
    try:
        major, minor = sp[5:].split('.')
        return int(major), int(minor)
    except ValueError:
        return (1, 0)


_serving.fast_attributes(_serving.request, Request)


Request.namespaces = RequestNamespaces()
