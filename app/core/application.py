"""An application: a handler tree, its config, and the request cycle.

``Application`` is a WSGI callable. ``respond`` is the whole lifecycle on
one screen: route (dispatch + cached plan), then the hook points in order,
the handler, finalize; errors are handled at one boundary.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable

from . import _serving
from .config import check_keys, merge
from .dispatch import Dispatcher, test_callable_spec
from .errors import HTTPError, HTTPRedirect, InternalRedirect
from .plan import Plan, build_plan
from .lib.cptools import trailing_slash as _trailing_slash
from .lib.encoding import finalize
from .logs import log
from .request_response import Request

__all__ = ['Application']

_PLAN_CACHE_SIZE = 4096
_ROUTE_CACHE_SIZE = 4096


class Application:
    """A mounted handler tree: ``Application(root, script_name, config)``.

    ``config`` is ``{'/path': {...}}`` or a ``.conf`` path; custom sections
    are readable as ``app.config['section']['key']``.
    """

    def __init__(self, root: Any, script_name: str = '', config: Any = None,
                 *, global_config: Any = None, toolboxes: dict | None = None) -> None:
        self.root = root
        self.script_name = script_name.rstrip('/')
        self.config: dict[str, dict[str, Any]] = {}
        self.namespaces: dict[str, Callable] = {}
        self.global_config = global_config
        self.toolboxes = toolboxes or {}
        self.log = log
        self._plans: dict[tuple, Plan] = {}
        self._routes: dict[Any, tuple] = {}
        self._plan_lock = threading.Lock()
        self._generation = None
        self._dispatch_sections: dict[str, Any] = {}
        self.merge(config)

    # -- config ------------------------------------------------------------
    def merge(self, config: Any) -> None:
        """Merge per-path config (dict or ``.conf`` file) into this app."""
        merge(self.config, config)
        for section, values in self.config.items():
            if section.startswith('/') or section == 'global':
                check_keys(values.items(), 'app %r [%s]' % (self.script_name or '/', section),
                           self.toolboxes.get('tools'))
        self._dispatch_sections = {s: v['request.dispatch'] for s, v in self.config.items()
                                   if 'request.dispatch' in v}
        self.clear_routes()

    def find_config(self, path: str, key: str, default: Any = None) -> Any:
        """Return the most specific value of ``key`` for ``path`` in this app."""
        trail = path or '/'
        while True:
            conf = self.config.get(trail)
            if conf is not None and key in conf:
                return conf[key]
            if trail == '/' or not trail:
                break
            trail = trail.rsplit('/', 1)[0] or '/'
        gc = self.global_config
        return gc.get(key, default) if gc is not None else default

    # -- routing -----------------------------------------------------------
    def _dispatcher(self, path: str) -> Any:
        d = self.find_config(path, 'request.dispatch')
        return d if d is not None else self._global_dispatch

    def route(self, request: Request, path: str, dispatcher: Any = None) -> None:
        """Find the handler and the route's plan; set them on ``request``.

        PERF: the walk and the plan are cached per path (and method, for
        dispatchers that vary on it), so a repeated request costs one dict
        lookup. Config changes clear the cache; a handler tree changed at
        run time needs ``clear_routes()``. Paths that went through
        ``_cp_dispatch`` are never cached, nor are misses.
        """
        gc = self.global_config
        if gc is not None and gc.generation != self._generation:
            self.clear_routes()
            self._generation = gc.generation
        if dispatcher is None:
            dispatcher = self._dispatcher(path) if self._dispatch_sections else self._global_dispatch
        key = (path, request.method) if dispatcher.vary_method else path
        entry = self._routes.get(key)
        if entry is None or entry[0] is not dispatcher:
            handler, vpath, sources, is_index, cacheable, headers = dispatcher.resolve(request, path)
            pkey = tuple([id(d) for _s, d in sources])
            plan = self._plans.get(pkey)
            if plan is None:
                plan = self._build_plan(pkey, sources)
            entry = (dispatcher, handler, tuple(vpath), is_index, plan, headers,
                     _fold_trailing_slash(plan, is_index, path))
            if cacheable:
                routes = self._routes
                if len(routes) >= _ROUTE_CACHE_SIZE:
                    routes.clear()
                routes[key] = entry
        _d, request.handler, request.args, request.is_index, plan, headers, folded = entry
        # NOTE: the folded plan assumed the trailing-slash check sees ``path``.
        request.plan = plan = folded if path is request.path_info else plan
        request.config = plan.config
        if headers:
            rh = request.response.headers
            for name, value in headers:
                rh[name] = value

    def clear_routes(self) -> None:
        """Forget cached routes and plans (after changing the handler tree)."""
        self._routes = {}
        self._plans = {}
        gc = self.global_config
        d = gc.get('request.dispatch') if gc is not None else None
        self._global_dispatch = d if d is not None else _DEFAULT_DISPATCHER

    def _build_plan(self, key: tuple, sources: list) -> Plan:
        conf: dict[str, Any] = dict(self.global_config or {})
        for section, d in sources:
            conf.update(d)
            if 'tools.staticdir.dir' in d:
                conf['tools.staticdir.section'] = section
        plan = build_plan(conf, self.toolboxes, tuple(d for _s, d in sources),
                          defaults=Request)
        with self._plan_lock:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans = {}
            self._plans[key] = plan
        return plan

    # -- the request cycle -------------------------------------------------
    def respond(self, request: Request) -> None:
        """Run one request through the lifecycle; leaves a final response."""
        response = request.response
        try:
            try:
                try:
                    self._respond(request, response)
                except (HTTPRedirect, HTTPError) as ex:
                    request.stage = 'before_finalize (HTTPError)'
                    ex.set_response(response)
                    _run(request, 'before_finalize')
                    finalize(request, response)
            finally:
                if request.plan.hooks['on_end_resource']:
                    _run(request, 'on_end_resource')
        except InternalRedirect:
            raise
        except request.throws:
            raise
        except Exception as ex:
            self.handle_error(request, response, ex)

    def _respond(self, request: Request, response: Any) -> None:
        if 'HTTP_HOST' not in request.environ and request.protocol >= (1, 1):
            raise HTTPError(400, "HTTP/1.1 requires a 'Host' request header.")
        self.route(request, request.path_info)
        plan = request.plan
        if plan.settings:
            if plan.request_dict:
                request.__dict__.update(plan.request_dict)
            for attr, value in plan.request_attrs:
                setattr(request, attr, value)
            for attr, value in plan.response_attrs:
                setattr(response, attr, value)
            for name, value in plan.response_headers:
                response.headers[name] = value
            if plan.error_page:
                request.error_page = plan.error_page
        if plan.setups:
            for setup in plan.setups:
                setup()  # tools that attach their own hooks (request.hooks.attach)
        # NOTE: hooks are read from request.plan at each point, since a hook
        # may attach others for this request.
        if request.plan.hooks['on_start_resource']:
            _run(request, 'on_start_resource')
        if request.method in request.methods_with_bodies and request.process_request_body:
            body = request.body
            body.check_size(self.global_config.get('server.max_request_body_size')
                            if self.global_config is not None else None)
            if request.plan.hooks['before_request_body']:
                _run(request, 'before_request_body')
            if request.process_request_body:
                body.process()
        elif request.plan.hooks['before_request_body']:
            request.process_request_body = False
            _run(request, 'before_request_body')
        if request.plan.hooks['before_handler']:
            _run(request, 'before_handler')
        handler = request.handler
        if handler is not None:
            params = request._params
            if params is None:
                params = request.params
            request.stage = 'handler'
            try:
                response.body = handler(*request.args, **params)
            except TypeError:
                test_callable_spec(handler, request.args, params,
                                   request._body.params if request._body else None,
                                   request.show_mismatched_params)
                raise
            request.stage = 'before_finalize'
        hooks = request.plan.hooks['before_finalize']
        if hooks:
            if len(hooks) == 1:
                fn, kw, _failsafe = hooks[0]  # PERF: _run's common case, inline
                fn(**kw)
            else:
                _run(request, 'before_finalize')
        finalize(request, response)

    def handle_error(self, request: Request, response: Any, ex: BaseException) -> None:
        """Turn an unexpected exception into a 500 (hooks may change that)."""
        request.handled_error = ex
        log.error('%s %s' % (request.method, request.script_name + request.path_info),
                  'HTTP', logging.ERROR, traceback=True)
        try:
            _run(request, 'before_error_response')
            if request.error_response is not None:
                request.error_response()
            else:
                HTTPError(500).set_response(response)
            _run(request, 'after_error_response')
            finalize(request, response)
        except HTTPRedirect as redirect:
            redirect.set_response(response)
            finalize(request, response)
        except Exception:  # NOTE: the failsafe: a plain 500 whatever happened
            log.error('error while handling an error', 'HTTP', logging.ERROR, traceback=True)
            _bare_500(request, response)

    # -- WSGI --------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ, self)
        token = _serving.set_current(request)
        try:
            if self.script_name and not environ.get('SCRIPT_NAME'):
                # Called directly rather than through the tree.
                path = request.path_info
                if path.startswith(self.script_name):
                    request.script_name = self.script_name
                    request.path_info = path[len(self.script_name):]
            path = request.path_info
            if not path.isascii():
                request.path_info = _recode(path)
            try:
                self.respond(request)
            except InternalRedirect as ir:
                try:
                    request = self._internal_redirect(request, ir)
                except RuntimeError:
                    # NOTE: a redirect loop; answer 500 as CherryPy's
                    # ExceptionTrapper does, not an exception out of WSGI.
                    log.error('internal redirect loop', 'HTTP', logging.ERROR, traceback=True)
                    _bare_500(request, request.response)
            response = request.response
            start_response(response.output_status, response.header_list)
            body = response.body
            if request.method == 'HEAD':
                close = getattr(body, 'close', None)
                if close is not None:
                    close()  # NOTE: a file body would stay open until collected
                body = ()
            if not request.plan.hooks['on_end_request']:
                # PERF: the access logger's only ancestors are 'cherrypy' and
                # the root; with no handler on any of them, nothing would log.
                if _access.handlers or _access.parent.handlers or _root_logger.handlers:
                    log.access(request, response, _length(response))
                return body if body.__class__ is list else _Closing(body, request)
            return _Closing(body, request)
        finally:
            _serving.reset_current(token)

    def _internal_redirect(self, request: Request, ir: InternalRedirect) -> Request:
        for _ in range(10):
            request = _redirected(request, ir)
            _serving.set_current(request)
            try:
                self.respond(request)
                return request
            except InternalRedirect as again:
                ir = again
        raise RuntimeError('more than 10 internal redirects, from %s' % (ir.path,))


_DEFAULT_DISPATCHER = Dispatcher()
_access = log.access_log
_root_logger = logging.getLogger()


def _fold_trailing_slash(plan: Plan, is_index: Any, path: str) -> Plan:
    """``plan`` without the trailing-slash hook when it can't act on ``path``.

    PERF: the check depends only on the route (``is_index``, the path and
    the tool's arguments), so it is decided once here, not per request.
    Only when it runs first in ``before_handler``: an earlier tool there
    may change ``is_index`` (staticdir does, at its section's own URL). A
    hook at an earlier point that rewrites ``path_info`` or ``is_index``
    would not be seen; none of the built-in tools does.
    """
    before = plan.hooks['before_handler']
    if before:
        fn, kw, _failsafe = before[0]
        if fn is _trailing_slash:
            if is_index is True:
                acts = kw.get('missing', True) and not path.endswith('/')
            elif is_index is False:
                acts = kw.get('extra', False) and path.endswith('/') and path != '/'
            else:
                acts = False
            return plan if acts else plan.without(fn)
    return plan


def _run(request: Request, point: str) -> None:
    """Run a hook point's callbacks; after a failure, only failsafe ones."""
    hooks = request.plan.hooks[point]
    if len(hooks) == 1:
        # PERF: the common case; an exception propagates as it would below.
        fn, kw, _failsafe = hooks[0]
        fn(**kw)
        return
    exc = None
    for fn, kw, failsafe in hooks:
        if exc is None or failsafe:
            try:
                fn(**kw)
            except (HTTPRedirect, HTTPError, InternalRedirect, KeyboardInterrupt, SystemExit):
                raise
            except Exception as ex:
                if exc is None:
                    exc = ex
                log.error('hook %s failed' % (point,), 'HOOK', logging.ERROR, traceback=True)
    if exc is not None:
        raise exc


def _length(response: Any) -> int | None:
    cl = dict.get(response.headers, 'Content-Length')
    try:
        return int(cl) if cl is not None else None
    except ValueError:
        return None


def _recode(path: str) -> str:
    # WSGI gives PATH_INFO as latin-1 text of the raw bytes; URLs are UTF-8.
    try:
        return path.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path


def _redirected(request: Request, ir: InternalRedirect) -> Request:
    env = dict(request.environ)
    env['PATH_INFO'] = ir.path
    env['QUERY_STRING'] = ir.query_string
    env['REQUEST_METHOD'] = 'GET'
    new = Request(env, request.app)
    new.script_name = request.script_name
    new.session = request.session  # NOTE: one session (and its lock) per client request
    return new


def _bare_500(request: Request, response: Any) -> None:
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

    def __iter__(self):
        req = self.request
        token = _serving.set_current(req)
        try:
            for chunk in self.it:
                yield chunk
        except Exception as ex:
            # NOTE: headers are sent; all we can do is log and cut the stream.
            log.error('error while streaming the response: %r' % (ex,), 'HTTP',
                      logging.ERROR, traceback=True)
            raise
        finally:
            _serving.reset_current(token)

    def close(self) -> None:
        req = self.request
        if req.closed:
            return
        req.closed = True
        token = _serving.set_current(req)
        try:
            close = getattr(self.it, 'close', None)
            if close is not None:
                close()
            if req.plan is not None:
                try:
                    _run(req, 'on_end_request')
                except Exception:
                    log.error('on_end_request failed', 'HTTP', logging.ERROR, traceback=True)
            log.access(req, req.response, _length(req.response))
        finally:
            _serving.reset_current(token)

