"""``cherrypy._cprequest``: the request objects under CherryPy's module name.

``Request`` and ``Response`` are the core's (``request_response``,
``http_response``); ``hookpoints`` is ``hooks.HOOK_POINTS``. ``Hook`` and
``HookMap`` are small standalone versions of CherryPy's classes: the core
keeps a request's hooks in its route's plan (``request.hooks`` is the
per-request view), so these serve programs that build hook lists themselves.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .hooks import HOOK_POINTS, RequestHooks
from .http_response import Response
from .request_response import Request

__all__ = ['Request', 'Response', 'Hook', 'HookMap', 'RequestHooks', 'hookpoints']

hookpoints = list(HOOK_POINTS)


class Hook:
    """``callback(**kwargs)`` to run at a hook point, ordered by ``priority``.

    ``failsafe`` and ``priority`` default to the callback's attributes of
    those names, else False and 50.
    """

    def __init__(self, callback: Callable[..., Any], failsafe: bool | None = None,
                 priority: int | None = None, **kwargs: Any) -> None:
        self.callback = callback
        self.failsafe = getattr(callback, 'failsafe', False) if failsafe is None else failsafe
        self.priority = getattr(callback, 'priority', 50) if priority is None else priority
        self.kwargs = kwargs

    def __lt__(self, other: Hook) -> bool:
        return self.priority < other.priority

    def __call__(self) -> Any:
        """Run the callback with its arguments."""
        return self.callback(**self.kwargs)

    def __repr__(self) -> str:
        return '%s(callback=%r, failsafe=%r, priority=%r, %s)' % (
            type(self).__name__, self.callback, self.failsafe, self.priority,
            ', '.join('%s=%r' % kv for kv in self.kwargs.items()))


class HookMap(dict):
    """``{point: [Hook, ...]}``, each list kept in priority order."""

    def __init__(self, points: Iterable[str] | None = None) -> None:
        super().__init__((p, []) for p in (points or ()))

    def attach(self, point: str, callback: Callable[..., Any], failsafe: bool | None = None,
               priority: int | None = None, **kwargs: Any) -> None:
        """Add ``callback(**kwargs)`` at ``point``."""
        hooks = self.setdefault(point, [])
        hooks.append(Hook(callback, failsafe, priority, **kwargs))
        hooks.sort()  # NOTE: stable, so equal priorities keep their order

    def run(self, point: str) -> None:
        """Run the hooks at ``point``; after a failure only failsafe ones, then raise it."""
        exc: BaseException | None = None
        for hook in self.get(point, ()):
            if exc is None or hook.failsafe:
                try:
                    hook()
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as ex:
                    exc = exc or ex
        if exc is not None:
            raise exc

    def copy(self) -> HookMap:
        """A copy whose lists can change without changing this map."""
        new = HookMap()
        for point, hooks in self.items():
            new[point] = list(hooks)
        return new
