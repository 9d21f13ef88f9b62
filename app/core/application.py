"""An application: a handler tree, its config, and its routes' cached plans.

``Application`` is a WSGI callable; what it does with a request is the
cycle in ``cycle.py``. Here: config (merged per path), route lookup (the
dispatcher's walk and the route's plan, both cached), and the caches'
invalidation.
"""
from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._cpwsgi import CPWSGIApp
from .conffile import ConfigError, as_dict, merge, source_name
from .config import check_keys
from .cycle import serve
from .dispatch import Dispatcher
from .lib.cptools import trailing_slash as _trailing_slash
from .logs import log
from .namespaces import NamespaceSet, check_declared
from .plan import Plan, build_plan
from .request_response import REQUEST_DEFAULTS, Request

__all__ = ['Application']

_PLAN_CACHE_SIZE = 4096
_ROUTE_CACHE_SIZE = 4096
_SLASHES = re.compile('/{2,}')


class Application:
    """A mounted handler tree: ``Application(root, script_name, config)``.

    ``config`` is ``{'/path': {...}}`` or a ``.conf`` path; custom sections
    are readable as ``app.config['section']['key']``. ``namespaces`` is
    CherryPy's: its handlers get the ``/`` section's keys after each merge.
    ``script_name=None`` (CherryPy's "take it from each request's WSGI
    ``SCRIPT_NAME``", for an app grafted or served by another WSGI server) is
    the same as ``''``: a request's ``script_name`` always comes from its environ.

    Without ``global_config`` or ``toolboxes`` it uses ``default_global_config``
    and ``default_toolboxes``, which the package sets to ``cherrypy.config``
    and the tree's toolboxes: an Application made directly (say, for a
    ``VirtualHost``) runs like a mounted one, as in CherryPy.
    """

    #: The global config and toolboxes of an Application given none (the package sets them).
    default_global_config: Any = None
    default_toolboxes: dict[str, Any] = {}

    def __init__(self, root: Any, script_name: str | None = '', config: Any = None,
                 *, global_config: Any = None, toolboxes: dict | None = None) -> None:
        self.root = root
        self.script_name = (script_name or '').rstrip('/')
        self.config: dict[str, dict[str, Any]] = {}
        self.namespaces = NamespaceSet()
        self.namespaces['wsgi'] = self._wsgi_namespace
        self.global_config = self.default_global_config if global_config is None \
            else global_config
        self.toolboxes = self.default_toolboxes if toolboxes is None else toolboxes
        self.log = log
        self._plans: dict[tuple, Plan] = {}
        self._routes: dict[Any, tuple] = {}
        self._plan_lock = threading.Lock()
        self._generation = None
        self._dispatch_sections: dict[str, Any] = {}
        #: ``APP_CONFIG_OVERRIDES`` sections under this app's mount point.
        self._env_sections: dict[str, dict[str, Any]] = {}
        self.merge(config)

    #: The class of this app's requests. Its ``namespaces`` (CherryPy's
    #: ``request.namespaces``) take per-request handlers and toolboxes.
    request_class = Request

    # -- config ------------------------------------------------------------
    def merge(self, config: Any) -> None:
        """Merge per-path config (dict or ``.conf`` file) into this app.

        Every key is checked first (a typo names the key, the file and the
        section); the environment's path sections are applied over the result.
        """
        incoming = as_dict(config)
        source = ' ' + source_name(config) if not isinstance(config, Mapping) else ''
        gc = self.global_config
        declared = getattr(gc, 'declared', None)
        for section, values in incoming.items():
            if not isinstance(values, Mapping):
                raise ConfigError('section %r must map keys to values, got %r'
                                  % (section, values))
            if section.startswith('/') or section == 'global':
                where = 'app %r%s [%s]' % (self.script_name or '/', source, section)
                incoming[section] = check_keys(values.items(), where,
                                               self.toolboxes.get('tools'), declared)
        merge(self.config, incoming)
        self.clear_routes()
        self.namespaces(self.config.get('/', {}))

    def _apply_env_sections(self) -> None:
        """Merge the environment's ``[/path]`` sections (URL paths) under this app's mount point."""
        gc = self.global_config
        env = getattr(gc, 'env', None)
        sections = env.sections if env is not None else {}
        sn = self.script_name
        mine = {}
        for path, values in sections.items():
            if sn == '' or path == sn or path.startswith(sn + '/'):
                mine[path[len(sn):] or '/'] = values
        self._env_sections = mine
        merge(self.config, mine)
        self._dispatch_sections = {s: v['request.dispatch'] for s, v in self.config.items()
                                   if 'request.dispatch' in v}

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
        if '//' in path:  # NOTE: dispatchers skip empty segments; so must this lookup
            path = _SLASHES.sub('/', path)
        d = self.find_config(path, 'request.dispatch')
        return d if d is not None else self._global_dispatch

    def route(self, request: Request, path: str, dispatcher: Any = None) -> Plan:
        """Find the handler and the route's plan; set them on ``request``; return the plan.

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
            dispatcher = (self._dispatcher(path) if self._dispatch_sections
                          else self._global_dispatch)
        key = (path, request.method) if dispatcher.vary_method else path
        entry = self._routes.get(key)
        if entry is None or entry[0] is not dispatcher:
            resolved = dispatcher.resolve(request, path)
            handler, vpath, sources, is_index, cacheable, headers = resolved
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
        return plan

    def clear_routes(self) -> None:
        """Forget cached routes and plans (after changing the handler tree)."""
        self._routes = {}
        self._plans = {}
        self._apply_env_sections()
        gc = self.global_config
        d = gc.get('request.dispatch') if gc is not None else None
        self._global_dispatch = d if d is not None else _DEFAULT_DISPATCHER

    def _build_plan(self, key: tuple, sources: list) -> Plan:
        gc = self.global_config
        declared = getattr(gc, 'declared', None)
        conf: dict[str, Any] = dict(gc or {})
        sections = self.config
        for section, d in sources:
            if declared and sections.get(section) is not d:  # a _cp_config
                d = check_declared(d.items(), '_cp_config at %s%s' % (self.script_name, section),
                                   declared)
            conf.update(d)
            if 'tools.staticdir.dir' in d:
                conf['tools.staticdir.section'] = section
        # The environment wins: declared keys everywhere, then its [/path] sections.
        if declared:
            conf.update(gc.final_env())
        env_sections = self._env_sections
        if env_sections:
            for section, d in sources:
                if section in env_sections and sections.get(section) is d:
                    conf.update(env_sections[section])
        plan = build_plan(conf, self.toolboxes, tuple(d for _s, d in sources),
                          defaults=REQUEST_DEFAULTS, request_class=self.request_class)
        with self._plan_lock:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans = {}
            self._plans[key] = plan
        return plan

    def max_request_body_size(self) -> int | None:
        """``server.max_request_body_size`` from the global config (None: no limit)."""
        gc = self.global_config
        return gc.get('server.max_request_body_size') if gc is not None else None

    #: The WSGI entry point: the request cycle, in ``cycle.py``.
    __call__ = serve

    # -- WSGI middleware ---------------------------------------------------
    _wsgiapp: CPWSGIApp | None = None

    @property
    def wsgiapp(self) -> CPWSGIApp:
        """CherryPy's ``app.wsgiapp``: WSGI middleware around this app's cycle.

        PERF: an app whose pipeline was never used calls the cycle directly;
        the first use gives this app a subclass whose ``__call__`` goes
        through the pipeline.
        """
        w = self._wsgiapp
        if w is None:
            w = self._wsgiapp = CPWSGIApp(self, functools.partial(serve, self))
            self.__class__ = _piped(type(self))
        return w

    def _wsgi_namespace(self, key: str, value: Any) -> None:
        self.wsgiapp.namespace_handler(key, value)


def _through_pipeline(self: Application, environ: dict[str, Any],
                      start_response: Callable) -> Iterable[bytes]:
    """``__call__`` of an app with a WSGI pipeline."""
    return self.wsgiapp(environ, start_response)


_PIPED: dict[type, type] = {}


def _piped(cls: type[Application]) -> type[Application]:
    """``cls`` with ``__call__`` through ``app.wsgiapp`` (made once per class)."""
    if cls.__call__ is _through_pipeline:
        return cls
    piped = _PIPED.get(cls)
    if piped is None:
        piped = _PIPED[cls] = type(cls.__name__, (cls,), {
            '__call__': _through_pipeline, '__module__': cls.__module__,
            '__qualname__': cls.__qualname__})
    return piped


_DEFAULT_DISPATCHER = Dispatcher()


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
