"""The request cycle: what happens to one request, top to bottom, in ``respond``.

``respond`` is the cycle: route, the hook points in order around the
handler, finalize, the error path and its failsafe. ``serve`` is
``Application.__call__``: it makes the request current, follows internal
redirects and hands the body to the server (``on_end_request`` runs when
the server closes it). Everything a route needs is resolved once, into its
plan (``plan.py``); the cycle only reads it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _serving
from .dispatch import test_callable_spec
from .errors import HTTPError, HTTPRedirect, InternalRedirect
from .hookpoints import run_hooks
from .lib.encoding import encode_body, encode_text, response_charset
from .lib.hosts import VALID_HOSTS, valid_host
from .lib.httputil import HeaderMap, safe_header_value, valid_status
from .logs import log
from .request_response import Request, Response

if TYPE_CHECKING:
    from .application import Application

__all__ = ['serve', 'respond', 'finalize', 'MAX_INTERNAL_REDIRECTS']

#: More internal redirects than this for one request is a loop: 500.
MAX_INTERNAL_REDIRECTS = 10


def serve(app: Application, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """Serve one WSGI request with ``app`` (an Application), following internal redirects."""
    request = app.request_class(environ, app)
    token = _serving.set_current(request)
    try:
        hops = 0
        while True:
            try:
                respond(app, request)
                break
            except InternalRedirect as ir:
                hops += 1
                if hops > MAX_INTERNAL_REDIRECTS:
                    log.error('internal redirect loop: more than %d internal redirects, '
                              'from %s' % (MAX_INTERNAL_REDIRECTS, ir.path), 'HTTP')
                    _bare_500(request.response)
                    break
                request = _redirected(request, ir)
                _serving.set_current(request)
        response = request.response
        start_response(response.output_status, response.header_list)
        body = response.body
        if body.__class__ is not list or request.method == 'HEAD' \
                or request.plan.hooks['on_end_request']:
            return _closing(request, response)  # on_end_request runs when the server closes it
        # PERF: a list body with nothing to run at close is logged now and handed over.
        if _access.handlers or _access_parent.handlers or _root_logger.handlers:
            log.access(request, response, _length(response))
        return body
    finally:
        _serving.reset_current(token)


def respond(app: Application, request: Request) -> None:
    """Run ``request`` through the cycle; leave a finalized response on it.

    The eighth hook point, ``on_end_request``, runs after the server has
    sent the body (``serve``). InternalRedirect propagates to ``serve``.
    """
    response = request.response
    try:
        try:
            try:
                # 1. Route: the handler and the route's plan, cached per path.
                host = request.environ.get('HTTP_HOST')
                if host is None:
                    if request.protocol >= (1, 1):
                        raise HTTPError(400, "HTTP/1.1 requires a 'Host' request header.")
                elif host not in VALID_HOSTS and host and not valid_host(host):
                    raise HTTPError(400, 'The Host header is not a valid host.')
                plan = app.route(request, request.path_info)
                if plan.hosts is not None and host and not plan.hosts(host):
                    raise HTTPError(400, 'This service does not answer for that host.')
                if plan.settings:
                    plan.apply(request, response)  # request.* / response.* config
                if request.namespaces:
                    request.namespaces(request.config)  # CherryPy's, per request
                for setup in plan.setups:
                    setup()  # Tool._setup: hooks attached for this request only
                # 2. The hook points in order. NOTE: read from request.plan at each
                # point, since a hook may attach others for this request; a point
                # with no hooks has None to run.
                if run := request.plan.run['on_start_resource']:
                    run()
                body = request.method in request.methods_with_bodies \
                    and request.process_request_body
                run = request.plan.run['before_request_body']
                if body:
                    request.body.check_size(app.max_request_body_size())
                elif run:
                    request.process_request_body = False  # hooks see no body is coming
                if run:
                    run()
                if body and request.process_request_body:
                    request.body.process()
                if run := request.plan.run['before_handler']:
                    run()
                # 3. The handler, unless a tool answered (then it is None).
                handler = request.handler
                if handler is not None:
                    request.stage = 'handler'
                    params = request._params
                    if params is None:
                        params = request.params
                    try:
                        response.body = handler(*request.args, **params)
                    except TypeError:
                        _check_arguments(request, handler, params)  # 404 or 400
                        raise
                    request.stage = 'before_finalize'
                    if request.plan.encode_early:
                        encode_body(request, response)  # the hooks see bytes, as in CherryPy
                if run := request.plan.run['before_finalize']:
                    run()
                finalize(request, response)
            except (HTTPRedirect, HTTPError) as ex:
                request.stage = 'before_finalize (HTTPError)'
                ex.set_response(response)
                if request.plan.encode_early:
                    encode_body(request, response)  # a list of bytes, as the hooks expect
                run_hooks(request, 'before_finalize')
                finalize(request, response)
        finally:
            if run := request.plan.run['on_end_resource']:
                run()
                if response.header_list is not None:
                    # NOTE: these hooks run after finalize and may add to the header list.
                    response.header_list = _wire_headers(response.header_list)
    except InternalRedirect:
        raise
    except request.throws:
        raise
    except Exception as ex:
        # 4. Errors: a 500, unless a hook or request.error_response answers.
        request.handled_error = ex
        log.error('%s %s' % (request.method, request.script_name + request.path_info),
                  'HTTP', traceback=True)
        try:
            run_hooks(request, 'before_error_response')
            if request.error_response is not None:
                request.error_response()
            else:
                HTTPError(500).set_response(response)
            run_hooks(request, 'after_error_response')
            finalize(request, response)
        except HTTPRedirect as redirect:
            redirect.set_response(response)
            finalize(request, response)
        except InternalRedirect:
            raise  # NOTE: serve the other path instead of the error (tools.err_redirect)
        except Exception:
            # 5. The failsafe: a plain 500, whatever happened above.
            log.error('error while handling an error', 'HTTP', traceback=True)
            _bare_500(response)


def _check_arguments(request: Request, handler: Any, params: dict[str, Any]) -> None:
    """After a handler's TypeError: 404/400 when the request's arguments don't fit."""
    body = request._body
    test_callable_spec(handler, request.args, params, body.params if body else None,
                       request.show_mismatched_params)


_NO_BODY = frozenset((204, 205, 304))


def finalize(request: Request, response: Response) -> None:
    """Fix the status line, body, Content-Length and header list for WSGI.

    Encodes text bodies (``tools.encode``: the Content-Type's charset, else
    the route's, declared on ``text/*`` types a handler produced).
    """
    status = response.status
    if status == 200:
        code = 200
        response.status = status = '200 OK'
    else:
        try:
            code, reason, _ = valid_status(status)
        except ValueError as ex:
            raise HTTPError(500, ex.args[0]) from None
        response.status = status = '%d %s' % (code, reason)
    headers = response.headers
    body = response.body
    cls = body.__class__
    if (cls is str or cls is bytes) and code == 200 and not response.stream:
        # PERF: the common case (a page handler returned text or bytes).
        if cls is str:
            charset = response_charset(request, headers, body)
            try:
                body = body.encode(charset)
            except (UnicodeEncodeError, LookupError):
                body = encode_text(body, charset)  # raises the 500 that names it
        elif (dict.get(headers, 'Content-Type') or '')[:5] == 'text/':
            response_charset(request, headers, body)  # declares the charset of text/* bytes
        response.body = [body]
        if dict.get(headers, 'Content-Length') is None:
            dict.__setitem__(headers, 'Content-Length', str(len(body)))
    else:
        encode_body(request, response)
        if not response.stream:
            if code < 200 or code in _NO_BODY:
                dict.pop(headers, 'Content-Length', None)
                response.body = []
            elif dict.get(headers, 'Content-Length') is None:
                body = response.body
                if body.__class__ is not list:
                    body = response.body = [b''.join(body)]
                n = 0
                for chunk in body:
                    n += len(chunk)
                dict.__setitem__(headers, 'Content-Length', str(n))
    response.output_status = status
    if log.json:
        headers['X-Request-ID'] = request.unique_id  # NOTE: the id its log line carries
    h = list(dict.items(headers))
    # NOTE: HeaderMap makes text values safe as they are set; anything else
    # (an int, bytes, a plain dict put in place of the HeaderMap) is made
    # safe here, so no value reaches the server unchecked.
    if headers.__class__ is not HeaderMap:
        h = _safe_headers(h)
    else:
        for value in dict.values(headers):
            if value.__class__ is not str:
                h = _safe_headers(h)
                break
    response.header_list = h
    cookie = response._cookie
    if cookie:
        # NOTE: one header per cookie, never split on what a value may hold.
        h.extend(_safe_headers(('Set-Cookie', m.OutputString())
                               for _k, m in sorted(cookie.items())))


def _safe_headers(items: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Header pairs made safe for the wire; a header with an unusable name is dropped."""
    out = []
    for name, value in items:
        if not (name.isascii() and name.isprintable()) or ':' in name or ' ' in name:
            log.error('dropped a response header with an invalid name: %r' % (name,), 'HTTP')
            continue
        if value.__class__ is not str:
            value = value.decode('latin-1') if isinstance(value, bytes) else str(value)
        out.append((name, safe_header_value(name, value)))
    return out


def _wire_headers(items: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """``_safe_headers`` for a header list a hook changed: bytes names and values are Latin-1.

    A name that is neither text nor bytes is a TypeError (a 500 naming it).
    """
    out = []
    for name, value in items:
        if name.__class__ is bytes:
            name = name.decode('latin-1')
        elif name.__class__ is not str:
            raise TypeError('response.header_list key %r is not a byte string. Header names '
                            'must be str or bytes.' % (name,))
        out.append((name, value))
    return _safe_headers(out)


def _closing(request: Request, response: Response) -> Iterable[bytes]:
    """The body as a ``_Closing``; a HEAD request's is closed now and sent empty."""
    body = response.body
    if request.method == 'HEAD':
        close = getattr(body, 'close', None)
        if close is not None:
            close()  # NOTE: a file body would stay open until collected
        body = response.body = ()
    return _Closing(body, request)


#: PERF: with no handler on the access logger or its ancestors, nothing logs.
_access = log.access_log
_root_logger = logging.getLogger()
_access_parent = _access.parent or _root_logger


def _length(response: Response) -> int | None:
    cl = dict.get(response.headers, 'Content-Length')
    try:
        return int(cl) if cl is not None else None
    except ValueError:
        return None


def _redirected(request: Request, ir: InternalRedirect) -> Request:
    env = dict(request.environ)
    env['PATH_INFO'] = ir.path
    env['QUERY_STRING'] = ir.query_string
    env['REQUEST_METHOD'] = 'GET'
    new = type(request)(env, request.app)
    new.script_name = request.script_name
    new.prev = request
    # NOTE: superseded: nothing more happens to it (its on_end_request hooks
    # do not run; the new request's do).
    request.closed = True
    new.session = request.session  # NOTE: one session (and its lock) per client request
    return new


def _bare_500(response: Response) -> None:
    body = b'Unrecoverable error in the server.'
    response.status = 500
    response.output_status = '500 Internal Server Error'
    response.header_list = [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(body)))]
    response.body = [body]


class _Closing:
    """The WSGI body iterable: runs ``on_end_request`` and logs when closed."""

    __slots__ = ('it', 'request')

    def __init__(self, body: Any, request: Request) -> None:
        self.it = body
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        req = self.request
        token = _serving.set_current(req)
        try:
            yield from self.it
        except Exception as ex:
            # NOTE: headers are sent; all we can do is log and cut the stream.
            log.error('error while streaming the response: %r' % (ex,), 'HTTP',
                      traceback=True)
            raise
        finally:
            _serving.reset_current(token)

    def close(self) -> None:
        """Close the body, run ``on_end_request`` and write the access line, once."""
        req = self.request
        if req.closed:
            return
        req.closed = True
        token = _serving.set_current(req)
        try:
            close = getattr(self.it, 'close', None)
            if close is not None:
                close()
            try:
                run_hooks(req, 'on_end_request')
            except Exception:
                log.error('on_end_request failed', 'HTTP', traceback=True)
            log.access(req, req.response, _length(req.response))
        finally:
            _serving.reset_current(token)
