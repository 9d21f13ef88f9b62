"""Hook points, tools, the toolbox, and per-request hooks.

A *tool* is a callable attached to a named hook point, switched on by config
(``tools.<name>.on``) or by its decorator, which only tags the handler's
``_cp_config``. The handler itself is never wrapped.

Tools become per-route *plans* (``plan.py``): built once per route, they
are the only place that reads config keys, sorts hooks or looks tools up.

Tool priorities, lowest runs first within a hook point (CherryPy's values):

====================  ===================  ========
tool                  hook point           priority
====================  ===================  ========
autovary              on_start_resource        0
proxy                 before_request_body     30
json_in               before_request_body     30
sessions (init)       before_request_body     50
sessions (lock,early) before_request_body     60
decode, referer       before_request_body     50
auth_basic            before_handler           1
auth_digest           before_handler           1
params                before_handler          15
caching (get)         before_handler          20
staticdir, staticfile before_handler          50
sessions (lock)       before_handler          50
trailing_slash        before_handler          60
json_out              before_finalize         30
sessions (save)       before_finalize         50
expires               before_finalize         50
encode                before_finalize         70
etags                 before_finalize         75
gzip                  before_finalize         80
caching (store)       before_finalize        100
log_tracebacks        before_error_response   50
sessions (close)      on_end_request          50
caching (release)     on_end_request          50
====================  ===================  ========

Custom hooks from config (``hooks.<point>``) and tools without a priority
take 50. Ties keep the order of attachment.

Per request, ``request.hooks.attach(point, callback, priority=...)`` adds a
hook for that request only (a copy of the route's plan); a Tool subclass
that overrides ``_setup`` (CherryPy's way to attach several hooks) has it
called per request, before ``on_start_resource``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ['HOOK_POINTS', 'Tool', 'HandlerTool', 'Toolbox', 'RequestHooks']

#: The lifecycle, in order. ``Application.respond`` runs them.
HOOK_POINTS = ('on_start_resource', 'before_request_body', 'before_handler',
               'before_finalize', 'on_end_resource', 'before_error_response',
               'after_error_response', 'on_end_request')

Hook = tuple  # (priority, order, callable, kwargs, failsafe)


class Tool:
    """A callable hung on a hook point: ``Tool('before_handler', fn)``.

    ``fn`` is called with its config arguments as keywords
    (``tools.<name>.<arg>``). Calling the tool returns a decorator that tags
    a handler's ``_cp_config`` with ``tools.<name>.on`` and the arguments.
    """

    namespace = 'tools'

    def __init__(self, point: str, callable: Callable[..., Any],
                 name: str | None = None, priority: int = 50) -> None:
        if point not in HOOK_POINTS:
            raise ValueError('unknown hook point %r (one of %s)'
                             % (point, ', '.join(HOOK_POINTS)))
        self._point = point
        self.callable = callable
        self._name = name
        self._priority = priority
        self.__doc__ = getattr(callable, '__doc__', None)

    def _params(self) -> tuple[set[str], bool]:
        try:
            sig = inspect.signature(self.callable)
        except (TypeError, ValueError):
            return set(), True
        names = set()
        varkw = False
        for p in sig.parameters.values():
            if p.kind is p.VAR_KEYWORD:
                varkw = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.add(p.name)
        return names, varkw

    def accepts(self, arg: str) -> bool:
        """True when ``tools.<name>.<arg>`` is a key this tool understands."""
        if arg in ('on', 'priority'):
            return True
        names, varkw = self._params()
        return varkw or arg in names

    def __call__(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """Return a decorator that switches this tool on for the handler."""
        if args:
            raise TypeError('The %r Tool does not accept positional arguments; '
                            'you must use keyword arguments.' % (self._name,))

        def tool_decorator(f: Any) -> Any:
            if not hasattr(f, '_cp_config'):
                f._cp_config = {}
            subspace = '%s.%s.' % (self.namespace, self._name)
            f._cp_config[subspace + 'on'] = True
            for k, v in kwargs.items():
                f._cp_config[subspace + k] = v
            return f
        return tool_decorator

    def _merged_args(self, d: dict[str, Any] | None = None) -> dict[str, Any]:
        """This tool's arguments for the current request: ``d``, then config.

        As CherryPy's: ``priority`` stays in, ``on`` is dropped.
        """
        from . import _serving
        conf = dict(d) if d else {}
        prefix = '%s.%s.' % (self.namespace, self._name)
        n = len(prefix)
        conf.update((k[n:], v) for k, v in _serving.current().config.items()
                     if k.startswith(prefix))
        conf.pop('on', None)
        return conf

    def _setup(self) -> None:
        """Attach this tool's hook to the current request (CherryPy's API).

        Subclasses that override ``_setup`` (to attach further hooks with
        ``request.hooks.attach``) have it called once per request, before
        ``on_start_resource``; other tools are planned once per route.
        """
        conf = self._merged_args()
        p = conf.pop('priority', None)
        if p is None:
            p = getattr(self.callable, 'priority', self._priority)
        _current_hooks().attach(self._point, self._hook_callable(), priority=p, **conf)

    def _hook_callable(self) -> Callable[..., Any]:
        return self.callable

    def _hooks(self, conf: dict[str, Any]) -> list[tuple[str, int, Callable, dict]]:
        """Return ``[(point, priority, callable, kwargs)]`` for a route's config."""
        conf = dict(conf)
        conf.pop('on', None)
        p = conf.pop('priority', None)
        if p is None:
            p = getattr(self.callable, 'priority', self._priority)
        return [(self._point, p, self.callable, conf)]


class HandlerTool(Tool):
    """A tool that may answer the request itself, skipping the handler.

    Its callable returns True when it has set the response; the core then
    skips the page handler. ``tool.handler(**args)`` makes an exposed
    handler out of it.
    """

    def __init__(self, callable: Callable[..., Any], name: str | None = None,
                 priority: int = 50) -> None:
        super().__init__('before_handler', callable, name, priority)

    def handler(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """Return an exposed page handler that runs this tool."""
        from .errors import NotFound

        def handle_func(*a: Any, **kw: Any) -> Any:
            from . import _serving
            if not self.callable(*args, **self._merged(kwargs)):
                raise NotFound()
            return _serving.current().response.body
        handle_func.exposed = True  # type: ignore[attr-defined]
        return handle_func

    def _merged(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        from . import _serving
        req = _serving.current()
        prefix = '%s.%s.' % (self.namespace, self._name)
        conf = {k[len(prefix):]: v for k, v in req.config.items() if k.startswith(prefix)}
        conf.pop('on', None)
        conf.pop('priority', None)
        conf.update(kwargs)
        return conf

    def _hooks(self, conf: dict[str, Any]) -> list[tuple[str, int, Callable, dict]]:
        hooks = super()._hooks(conf)
        point, p, fn, kw = hooks[0]
        return [(point, p, _HandlerToolCall(fn), kw)]

    def _hook_callable(self) -> Callable[..., Any]:
        return _HandlerToolCall(self.callable)


class _HandlerToolCall:
    """Runs a handler tool and marks the request handled when it returns True."""

    __slots__ = ('fn', 'failsafe')

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.failsafe = getattr(fn, 'failsafe', False)

    def __call__(self, **kwargs: Any) -> None:
        if self.fn(**kwargs):
            from . import _serving
            _serving.current().handler = None


class RequestHooks:
    """``request.hooks``: the current request's hooks, as CherryPy's HookMap.

    ``attach`` adds a callback for this request only (the route's cached
    plan is copied, never changed); ``run(point)`` runs a point.
    """

    __slots__ = ('request',)

    def __init__(self, request: Any) -> None:
        self.request = request

    def attach(self, point: str, callback: Callable[..., Any], failsafe: bool | None = None,
               priority: Any = None, **kwargs: Any) -> None:
        """Run ``callback(**kwargs)`` at ``point`` for this request."""
        if point not in HOOK_POINTS:
            raise ValueError('unknown hook point %r (one of %s)'
                             % (point, ', '.join(HOOK_POINTS)))
        if failsafe is None:
            failsafe = getattr(callback, 'failsafe', False)
        if priority is None:
            priority = getattr(callback, 'priority', 50)
        req = self.request
        req.plan = req.plan.with_hook(point, (callback, kwargs, failsafe), priority)

    def __getitem__(self, point: str) -> list[Callable[..., Any]]:
        """The callbacks at ``point``, in the order they run."""
        return [fn for fn, _kw, _fs in self.request.plan.hooks[point]]

    def __iter__(self):
        return iter(HOOK_POINTS)

    def run(self, point: str) -> None:
        """Run the callbacks at ``point`` now (after a failure, failsafe ones only)."""
        from .application import _run
        _run(self.request, point)


def _current_hooks() -> RequestHooks:
    from . import _serving
    return RequestHooks(_serving.current())


class Toolbox:
    """The registry of tools: ``tools.name = Tool(...)`` registers one."""

    def __init__(self, namespace: str = 'tools') -> None:
        object.__setattr__(self, 'namespace', namespace)
        object.__setattr__(self, '_tools', {})

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Tool):
            if value._name is None:
                value._name = name
            value.namespace = self.namespace
            self._tools[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._tools.pop(name, None)
        object.__delattr__(self, name)

    def get(self, name: str) -> Tool | None:
        """Return the tool registered as ``name``, or None."""
        return self._tools.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __iter__(self):
        return iter(self._tools)
