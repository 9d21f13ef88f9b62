"""``cherrypy._cprequest``: the request objects under CherryPy's module name.

``Request`` and ``Response`` are the core's (``request_response``,
``http_response``); ``hookpoints`` is ``hooks.HOOK_POINTS``; ``Hook`` is
``hooks.Hook`` (what ``request.hooks[point]`` lists). ``HookMap`` is a small
standalone version of CherryPy's: the core keeps a request's hooks in its
route's plan (``request.hooks`` is the per-request view), so it serves
programs that build hook maps themselves.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .hookpoints import HOOK_POINTS, Hook, RequestHooks
from .http_response import Response
from .request_response import Request

__all__ = ['Request', 'Response', 'Hook', 'HookMap', 'RequestHooks', 'hookpoints']

hookpoints = list(HOOK_POINTS)


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
