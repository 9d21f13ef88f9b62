"""Object-tree dispatch: find the handler for a path, and the config on the way.

``Dispatcher`` walks the handler tree as CherryPy does: ``index``,
``default``, nested objects, ``_cp_dispatch(vpath)``, leftover segments as
positional arguments. ``MethodDispatcher`` picks ``GET``/``POST``/... on an
exposed resource. Each returns the config *sources* met on the way; the
application turns them into a cached plan, so config is merged once per
route, not once per request.
"""
from __future__ import annotations

import inspect
import string
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _serving
from .errors import HTTPError, NotFound
from .lib.xmlrpcutil import patched_path

if TYPE_CHECKING:
    from .application import Application
    from .request_response import Request

__all__ = ['expose', 'popargs', 'Dispatcher', 'MethodDispatcher', 'VirtualHost',
           'XMLRPCDispatcher', 'test_callable_spec', 'punctuation_to_underscores']

punctuation_to_underscores = str.maketrans(string.punctuation, '_' * len(string.punctuation))

_EMPTY: dict = {}


def expose(func: Any = None, alias: Any = None) -> Any:
    """Mark a function, method or class as reachable by URL; return it unchanged.

    ``@expose``, ``@expose()``, ``@expose('alias')``, ``@expose(['a', 'b'])``
    and ``@expose(alias=...)`` are all accepted; aliases are added to the
    enclosing class body, as in CherryPy.
    """
    def expose_(f: Any) -> Any:
        f.exposed = True
        if alias is not None:
            names = [alias] if isinstance(alias, str) else list(alias)
            for a in names:
                parents[a.replace('.', '_')] = f
        return f

    if isinstance(func, (types.FunctionType, types.MethodType, type)):
        if alias is None:
            func.exposed = True  # type: ignore[union-attr]
            return func
        parents = sys._getframe(1).f_locals
        return expose_(func)
    parents = sys._getframe(1).f_locals
    if func is not None:
        alias = func
    return expose_


def popargs(*args: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Turn leading path segments into ``request.params`` (CherryPy's ``popargs``).

    ``@popargs('year', 'month')`` on a class makes ``/2024/05/x`` set
    ``year`` and ``month`` and carry on to ``x``. ``handler=`` names an
    object to continue dispatch on instead of the decorated one; a callable
    one (a class) is called with the popped values as keywords and dispatch
    continues on what it returns, as in CherryPy.
    """
    handler = kwargs.pop('handler', None)
    if kwargs:
        raise TypeError('popargs() got unexpected keyword arguments %s' % sorted(kwargs))

    def decorated(cls_or_self: Any = None, vpath: list | None = None) -> Any:
        if inspect.isclass(cls_or_self):
            cls = cls_or_self
            name = '_cp_dispatch'
            setattr(cls, name, decorated)
            return cls
        self = cls_or_self
        parms = {}
        for arg in args:
            if not vpath:
                break
            parms[arg] = vpath.pop(0)
        if handler is not None and callable(handler):
            return handler(**parms)
        req = _serving.current()
        req.params.update(parms)
        if handler is not None:
            return handler
        if vpath:
            return getattr(self, vpath.pop(0), None)
        return self
    return decorated


class _Missing:
    """The handler of a path with none: raises a fresh 404 when called.

    Tools still run first, as in CherryPy: staticdir answers such paths.
    Being a plain object, the miss can be cached like any other route.
    """

    __slots__ = ('path',)

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise NotFound(self.path)


class Dispatcher:
    """CherryPy's default dispatcher over a tree of exposed objects."""

    #: True when the handler depends on the HTTP method (routes cache per method).
    vary_method = False

    def __init__(self, dispatch_method_name: str | None = None,
                 translate: dict = punctuation_to_underscores) -> None:
        self.translate = translate
        self.dispatch_method_name = dispatch_method_name or '_cp_dispatch'

    def __call__(self, path_info: str) -> None:
        """CherryPy API: set ``request.handler`` and ``request.config`` for a path."""
        req = _serving.current()
        req.app.route(req, path_info, self)

    def find_handler(self, path: str) -> tuple[Any, list[str]]:
        """CherryPy API: return ``(handler, vpath)`` for ``path``."""
        req = _serving.current()
        handler, vpath, _sources, is_index, _cacheable = self.find(req.app, path)
        req.is_index = is_index
        return handler, vpath

    def resolve(self, request: Request, path: str) -> tuple:
        """Return ``(handler, vpath, sources, is_index, cacheable, headers)``.

        ``handler`` may be an HTTPError instance (raised when called);
        ``headers`` are ``(name, value)`` pairs every response of the route
        gets; ``cacheable`` is False when the result may differ next time.
        """
        assert request.app is not None  # NOTE: a routed request belongs to an app
        handler, vpath, sources, is_index, cacheable = self.find(request.app, path)
        # NOTE: an exposed object that cannot be called (a MethodDispatcher
        # resource reached without that dispatcher) is no handler: 404, not a 500.
        if handler is None or not callable(handler):
            return (_Missing(request.script_name + request.path_info), [], sources, False,
                    cacheable, ())
        if '%2F' in path:
            # NOTE: the server keeps an encoded slash encoded so that it splits
            # no segment; in a positional argument it is a slash.
            vpath = [x.replace('%2F', '/') for x in vpath]
        return handler, vpath, sources, is_index, cacheable, ()

    def find(self, app: Application, path: str) -> tuple[Any, list[str], list, bool, bool]:
        """Walk the tree; return ``(handler, vpath, sources, is_index, cacheable)``.

        ``sources`` is ``[(section, dict)]`` in merge order.

        Order: app config sections along the path (``/`` first), then the
        ``_cp_config`` of each node on the way, the handler's last.
        """
        config = app.config
        root = app.root
        fullpath = [x for x in path.strip('/').split('/') if x]
        fullpath.append('index')
        fullpath_len = len(fullpath)
        sections: list = []
        nodes: list = []  # (name, node, segleft)
        if '/' in config:
            sections.append(('/', config['/']))
        nodes.append(('root', root, fullpath_len))
        dispatch_name = self.dispatch_method_name
        translate = self.translate
        node = root
        iternames = fullpath[:]
        curpath = ''
        cacheable = True
        while iternames:
            name = iternames[0]
            objname = name.translate(translate)
            subnode = getattr(node, objname, None)
            pre_len = len(iternames)
            if subnode is None:
                dispatch = getattr(node, dispatch_name, None)
                if (dispatch is not None and callable(dispatch)
                        and not getattr(dispatch, 'exposed', False) and pre_len > 1):
                    index_name = iternames.pop()
                    subnode = dispatch(vpath=iternames)
                    cacheable = False
                    iternames.append(index_name)
                else:
                    iternames.pop(0)
            else:
                iternames.pop(0)
            segleft = len(iternames)
            if segleft > pre_len:
                raise HTTPError(500, 'A vpath segment was added; _cp_dispatch must '
                                'only remove segments.')
            if segleft == pre_len:
                iternames.pop(0)
                segleft -= 1
            node = subnode
            for seg in fullpath[fullpath_len - pre_len:fullpath_len - segleft]:
                curpath += '/' + seg
                conf = config.get(curpath)
                if conf is not None:
                    sections.append((curpath, conf))
            nodes.append((name, node, segleft))

        # Try successive objects, deepest first.
        num_candidates = len(nodes) - 1
        for i in range(num_candidates, -1, -1):
            name, candidate, segleft = nodes[i]
            if candidate is None:
                continue
            defhandler = getattr(candidate, 'default', None)
            if defhandler is not None and getattr(defhandler, 'exposed', False):
                nodes.insert(i + 1, ('default', defhandler, segleft))
                return (defhandler, fullpath[fullpath_len - segleft:-1],
                        self._sources(sections, nodes, fullpath), path.endswith('/'), cacheable)
            if getattr(candidate, 'exposed', False):
                return (candidate, fullpath[fullpath_len - segleft:-1],
                        self._sources(sections, nodes, fullpath), i == num_candidates,
                        cacheable)
        return None, [], self._sources(sections, nodes, fullpath), False, cacheable

    @staticmethod
    def _sources(sections: list, nodes: list, fullpath: list[str]) -> list:
        sources = list(sections)
        n = len(fullpath)
        for _name, node, segleft in nodes:
            if node is not None:
                conf = getattr(node, '_cp_config', None)
                if conf:
                    sources.append(('/' + '/'.join(fullpath[0:n - segleft]), conf))
        return sources


class MethodDispatcher(Dispatcher):
    """Dispatch to the HTTP method's name (``GET``, ``POST``...) on an exposed resource.

    Sends ``Allow``; answers HEAD with GET (no body); 405 for other methods.
    """

    vary_method = True

    def resolve(self, request: Request, path: str) -> tuple:
        assert request.app is not None
        resource, vpath, sources, is_index, cacheable = self.find(request.app, path)
        if resource is None:
            return (_Missing(request.script_name + request.path_info), [], sources, False,
                    cacheable, ())
        avail = [m for m in dir(resource) if m.isupper()]
        if 'GET' in avail and 'HEAD' not in avail:
            avail.append('HEAD')
        avail.sort()
        headers = (('Allow', ', '.join(avail)),)
        meth = request.method.upper()
        func = getattr(resource, meth, None)
        if func is None and meth == 'HEAD':
            func = getattr(resource, 'GET', None)
        if func is None:
            return HTTPError(405), [], sources, is_index, False, headers
        conf = getattr(func, '_cp_config', None)
        if conf:
            sources = sources + [('/' + path.strip('/'), conf)]
        return (func, [x.replace('%2F', '/') for x in vpath], sources, is_index, cacheable,
                headers)


def test_callable_spec(callable: Callable[..., Any], callable_args: tuple | list,
                       callable_kwargs: dict[str, Any], body_params: Any = None,
                       show_mismatched_params: bool = True) -> None:
    """Raise 404/400 when the arguments cannot fit the handler, as CherryPy does.

    Called only after the handler raised TypeError, so the happy path pays
    nothing. Missing, surplus positional, or unexpected query arguments give
    404; unexpected or repeated body arguments give 400.
    """
    try:
        sig = inspect.signature(callable)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    varkw = any(p.kind is p.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    body_keys = set(body_params or ())
    show = show_mismatched_params
    bound = getattr(callable, '__func__', None)
    if getattr(callable, '__self__', None) is not None and bound is not None:
        # NOTE: a parameter named like the method's own ``self`` collides with it.
        try:
            own = next(iter(inspect.signature(bound).parameters), None)
        except (TypeError, ValueError):
            own = None
        if own is not None and own in callable_kwargs:
            if own in body_keys:
                raise HTTPError(400, 'Unexpected body parameters: %s' % own if show else None)
            raise HTTPError(404, 'Unexpected query string parameters: %s' % own
                            if show else None)

    filled = [p.name for p in positional[:len(callable_args)]]
    multiple = [k for k in callable_kwargs if k in filled]
    missing = [p.name for p in params
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY,
                                                      p.POSITIONAL_ONLY)
               and p.name not in filled and p.name not in callable_kwargs]
    if missing:
        raise HTTPError(404, 'Missing parameters: %s' % ','.join(missing) if show else None)
    if not varargs and len(callable_args) > len(positional):
        raise HTTPError(404)
    if multiple:
        code = 400 if set(multiple) <= body_keys else 404
        raise HTTPError(code, 'Multiple values for parameters: %s' % ','.join(multiple)
                        if show else None)
    if not varkw:
        extra = [k for k in callable_kwargs if k not in names]
        extra_qs = [k for k in extra if k not in body_keys]
        if extra_qs:
            raise HTTPError(404, 'Unexpected query string parameters: %s'
                            % ', '.join(extra_qs) if show else None)
        if extra:
            raise HTTPError(400, 'Unexpected body parameters: %s' % ', '.join(extra)
                            if show else None)


class VirtualHost:
    """Dispatch by host: ``request.dispatch = VirtualHost(**{'www.a.com': '/a'})``.

    A request for a mapped host (``Host``, or ``X-Forwarded-Host`` with
    ``use_x_forwarded_host``) is dispatched as if its path began with that
    prefix: ``www.a.com/page`` finds ``root.a.page``. ``path_info`` and
    ``cherrypy.url()`` keep the URL the client used, and config sections
    under the prefix (``/a/static``) apply as ``/static``. Other hosts go to
    ``next_dispatcher`` unchanged. Routes depend on the host here, so they
    are not cached.
    """

    def __init__(self, next_dispatcher: Any = None, use_x_forwarded_host: bool = True,
                 **domains: str) -> None:
        self.next_dispatcher = next_dispatcher if next_dispatcher is not None else Dispatcher()
        self.use_x_forwarded_host = use_x_forwarded_host
        self.domains = domains
        self.vary_method = getattr(self.next_dispatcher, 'vary_method', False)

    def __call__(self, path_info: str) -> None:
        """CherryPy API: route the current request."""
        req = _serving.current()
        req.app.route(req, path_info, self)

    def resolve(self, request: Request, path: str) -> tuple:
        """The next dispatcher's answer for ``prefix + path``, never cached."""
        env = request.environ
        host = env.get('HTTP_HOST', '')
        if self.use_x_forwarded_host:
            host = env.get('HTTP_X_FORWARDED_HOST', host)
        prefix = self.domains.get(host, '').rstrip('/')
        resolved = self.next_dispatcher.resolve(request, prefix + path)
        handler, vpath, sources, is_index, _cacheable, headers = resolved
        if prefix:
            sources = [(_unprefixed(section, prefix), conf) for section, conf in sources]
        return handler, vpath, sources, is_index, False, headers


class XMLRPCDispatcher:
    """CherryPy's XML-RPC dispatcher: ``next_dispatcher`` on the path without ``/RPC2``.

    ``/RPC2/x`` finds what ``/x/`` finds (see ``_cptools.XMLRPCController``).
    """

    def __init__(self, next_dispatcher: Any = None) -> None:
        self.next_dispatcher = next_dispatcher if next_dispatcher is not None else Dispatcher()
        self.vary_method = getattr(self.next_dispatcher, 'vary_method', False)

    def __call__(self, path_info: str) -> None:
        """CherryPy API: route the current request."""
        req = _serving.current()
        req.app.route(req, path_info, self)

    def resolve(self, request: Request, path: str) -> tuple:
        """The next dispatcher's answer for the patched path (cached as its own)."""
        return self.next_dispatcher.resolve(request, patched_path(path))


def _unprefixed(section: str, prefix: str) -> str:
    if section == prefix:
        return '/'
    if section.startswith(prefix + '/'):
        return section[len(prefix):]
    return section
