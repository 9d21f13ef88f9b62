"""Tool, HandlerTool, the toolbox: callables hung on the hook points (``hookpoints.py``).

A *tool* is a callable hung on a named hook point, switched on by config
(``tools.<name>.on``) or by its decorator, which only tags the handler's
``_cp_config``. The handler itself is never wrapped. Tools become per-route
*plans* (``plan.py``): built once per route, plans are the only place that
reads tool config keys, sorts hooks or looks tools up.

Writing a tool: ``Tool(point, callable)`` hangs one callable; a subclass
that overrides ``route_hooks`` hangs several (sessions, caching and the
application's metrics tool do). CherryPy's own extension points work too:
a ``Tool`` subclass whose ``_setup`` attaches hooks per request with
``request.hooks.attach``, and ``HandlerTool``.

Built-in tools run in the order of ``priorities.PRIORITIES``, the one
priority table.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from . import _serving
from .errors import NotFound
from .hookpoints import HOOK_POINTS, Hook, RequestHooks, check_point, hook_runner, run_hooks

# NOTE: HOOK_POINTS, Hook, RequestHooks, run_hooks and hook_runner live in
# hookpoints.py; they are re-exported here for programs that import them from hooks.
__all__ = ['HOOK_POINTS', 'ToolHook', 'Tool', 'HandlerTool', 'Toolbox', 'Hook',
           'RequestHooks', 'run_hooks', 'hook_runner']


class ToolHook(NamedTuple):
    """One hook a tool hangs on a route: ``callback(**kwargs)`` at ``point``."""

    point: str
    priority: int
    callback: Callable[..., Any]
    kwargs: dict[str, Any]


class Tool:
    """A callable hung on a hook point: ``Tool('before_handler', fn)``.

    ``fn`` is called with its config arguments as keywords
    (``tools.<name>.<arg>``). Calling the tool returns a decorator that tags
    a handler's ``_cp_config`` with ``tools.<name>.on`` and the arguments.
    """

    namespace = 'tools'

    def __init__(self, point: str, callable: Callable[..., Any],
                 name: str | None = None, priority: int = 50) -> None:
        check_point(point)
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
        """True when ``tools.<name>.<arg>`` is a key this tool understands.

        A subclass with its own ``_setup`` whose callable takes no
        arguments can only mean its arguments for that ``_setup`` (which
        reads them with ``self._merged_args()``), so it accepts any.
        """
        if arg in ('on', 'priority'):
            return True
        names, varkw = self._params()
        if not names and not varkw and type(self)._setup is not Tool._setup:
            return True
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

    @property
    def on(self) -> bool:
        """Not supported (as in CherryPy): switch a tool on with ``tools.<name>.on`` config."""
        raise AttributeError('The `on` attribute of a Tool is not supported; use the '
                             '"tools.%s.on" config entry or the decorator instead.'
                             % (self._name,))

    @on.setter
    def on(self, value: bool) -> None:
        raise AttributeError('The `on` attribute of a Tool is not supported; use the '
                             '"tools.%s.on" config entry or the decorator instead.'
                             % (self._name,))

    def route_hooks(self, conf: dict[str, Any]) -> list[ToolHook]:
        """The hooks this tool hangs on a route whose config switches it on.

        ``conf`` holds the route's ``tools.<name>.<arg>`` values by ``arg``
        (``on`` and ``priority`` included). Called once per route, when its
        plan is built; an exception here fails that route's requests with a
        500 naming the problem. Override it to hang hooks at several points,
        each a ``ToolHook(point, priority, callback, kwargs)``.
        """
        kwargs = dict(conf)
        kwargs.pop('on', None)
        p = kwargs.pop('priority', None)
        if p is None:
            p = getattr(self.callable, 'priority', self._priority)
        return [ToolHook(self._point, p, self.callable, kwargs)]

    def _merged_args(self, d: dict[str, Any] | None = None) -> dict[str, Any]:
        """This tool's arguments for the current request: ``d``, then config.

        As CherryPy's: ``priority`` stays in, ``on`` is dropped.
        """
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
        RequestHooks(_serving.current()).attach(self._point, self._hook_callable(),
                                                priority=p, **conf)

    def _hook_callable(self) -> Callable[..., Any]:
        return self.callable


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
        def handle_func(*a: Any, **kw: Any) -> Any:
            if not self.callable(*args, **self._merged(kwargs)):
                raise NotFound()
            return _serving.current().response.body
        handle_func.exposed = True  # type: ignore[attr-defined]
        return handle_func

    def _merged(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        req = _serving.current()
        prefix = '%s.%s.' % (self.namespace, self._name)
        conf = {k[len(prefix):]: v for k, v in req.config.items() if k.startswith(prefix)}
        conf.pop('on', None)
        conf.pop('priority', None)
        conf.update(kwargs)
        return conf

    def route_hooks(self, conf: dict[str, Any]) -> list[ToolHook]:
        """The tool's one ``before_handler`` hook, which skips the handler on True."""
        hook = super().route_hooks(conf)[0]
        return [hook._replace(callback=_HandlerToolCall(hook.callback))]

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
            _serving.current().handler = None


class SettingsTool(Tool):
    """A tool without hooks whose settings the core applies itself (``tools.encode``).

    ``keys`` are the ``tools.<name>.<key>`` names it accepts.
    """

    def __init__(self, point: str, keys: tuple[str, ...], priority: int = 50) -> None:
        super().__init__(point, _no_hook, priority=priority)
        self.keys = frozenset(keys)

    def accepts(self, arg: str) -> bool:
        """True for ``on``, ``priority`` and this tool's ``keys``."""
        return arg in ('on', 'priority') or arg in self.keys

    def route_hooks(self, conf: dict[str, Any]) -> list[ToolHook]:
        """None: the core reads this tool's settings from the route's plan."""
        return []


def _no_hook() -> None:
    """A settings tool hangs nothing; this is never run."""


class Toolbox:
    """The registry of tools: ``tools.name = Tool(...)`` registers one."""

    namespace: str
    _tools: dict[str, Tool]

    def __init__(self, namespace: str = 'tools') -> None:
        object.__setattr__(self, 'namespace', namespace)
        object.__setattr__(self, '_tools', {})

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Tool):
            if value._name is None:
                value._name = name
            value.namespace = self.namespace
            self._tools[name] = value
        elif callable(getattr(value, '_setup', None)):
            # NOTE: CherryPy takes any object with a _setup as a tool.
            self._tools[name] = _ForeignTool(value, name, self.namespace)
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # NOTE: only reached for a name that is not registered; typed Any so
        # that ``tools.gzip`` and a program's own ``tools.x`` type-check.
        raise AttributeError('no tool %r in the %s toolbox' % (name, self.namespace))

    def __delattr__(self, name: str) -> None:
        self._tools.pop(name, None)
        object.__delattr__(self, name)

    def register(self, point: str, **kwargs: Any) -> Callable[[Any], Any]:
        """Decorator: register the function as a Tool at ``point`` (``name=`` or its own).

        ``@tools.register('before_handler')`` then ``@tools.<fn name>()``.
        """
        def decorator(func: Any) -> Any:
            name = kwargs.pop('name', None) or func.__name__
            setattr(self, name, Tool(point, func, name, **kwargs))
            return func
        return decorator

    def get(self, name: str) -> Tool | None:
        """Return the tool registered as ``name``, or None."""
        return self._tools.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)


class _ForeignTool(Tool):
    """A registered object that is no Tool but has CherryPy's ``_setup``.

    Its ``_setup`` is called per request, before ``on_start_resource``
    (it attaches its own hooks); it accepts any argument.
    """

    def __init__(self, obj: Any, name: str, namespace: str) -> None:
        super().__init__('on_start_resource', _no_op, name)
        self.obj = obj
        self.namespace = namespace

    def _setup(self) -> None:
        """Run the object's own ``_setup``."""
        self.obj._setup()


def _no_op() -> None:
    """A foreign tool's placeholder callable (its _setup attaches the real hooks)."""
