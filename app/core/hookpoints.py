"""Hook points and running them: the lifecycle's names, a plan's hooks, ``request.hooks``.

``HOOK_POINTS`` is the request lifecycle in order (``cycle.serve`` runs
them). ``run_hooks``/``hook_runner`` run a plan's callbacks at a point
(after a failure only the failsafe ones, then the first failure is
raised); ``RequestHooks`` is ``request.hooks`` (CherryPy's HookMap), and
``Hook`` one of its entries. The tools that hang callbacks here are in
``hooks.py``.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import HTTPError, HTTPRedirect, InternalRedirect
from .logs import log

if TYPE_CHECKING:
    from .request_response import Request

__all__ = ['HOOK_POINTS', 'check_point', 'Hook', 'RequestHooks', 'run_hooks', 'hook_runner']

#: The lifecycle, in order. ``cycle.serve`` runs them.
HOOK_POINTS = ('on_start_resource', 'before_request_body', 'before_handler',
               'before_finalize', 'on_end_resource', 'before_error_response',
               'after_error_response', 'on_end_request')

def check_point(point: str) -> None:
    if point not in HOOK_POINTS:
        raise ValueError('unknown hook point %r (one of %s)' % (point, ', '.join(HOOK_POINTS)))


def run_hooks(request: Request, point: str) -> None:
    """Run the callbacks at ``point`` of ``request``'s plan, in order.

    After one fails, only the failsafe ones run, then the first failure is
    raised. HTTP answers (HTTPError, HTTPRedirect, InternalRedirect) are
    raised at once.
    """
    _run_all(request.plan.hooks[point], point)


def hook_runner(hooks: tuple, point: str) -> Callable[[], None] | None:
    """One callable that runs a plan's ``hooks`` at ``point`` as ``run_hooks`` does.

    None when there are none; PERF: for one hook, the callback itself (or
    a partial with its arguments), since a single hook needs no failsafe
    bookkeeping.
    """
    if not hooks:
        return None
    if len(hooks) == 1:
        fn, kw, _failsafe = hooks[0]
        return functools.partial(fn, **kw) if kw else fn
    return functools.partial(_run_all, hooks, point)


def _run_all(hooks: tuple, point: str) -> None:
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


class RequestHooks:
    """``request.hooks``: the current request's hooks, as CherryPy's HookMap.

    ``attach`` adds a callback for this request only (the route's cached
    plan is copied, never changed); ``run(point)`` runs a point.
    """

    __slots__ = ('request',)

    def __init__(self, request: Request) -> None:
        self.request = request

    def attach(self, point: str, callback: Callable[..., Any], failsafe: bool | None = None,
               priority: Any = None, **kwargs: Any) -> None:
        """Run ``callback(**kwargs)`` at ``point`` for this request."""
        check_point(point)
        if failsafe is None:
            failsafe = getattr(callback, 'failsafe', False)
        if priority is None:
            priority = getattr(callback, 'priority', 50)
        req = self.request
        req.plan = req.plan.with_hook(point, (callback, kwargs, failsafe), priority)

    def __getitem__(self, point: str) -> list[Hook]:
        """The hooks at ``point``, in the order they run (``.callback``, ``.priority``...)."""
        plan = self.request.plan
        return [Hook(fn, fs, prio, **kw)
                for (fn, kw, fs), prio in zip(plan.hooks[point], plan.priorities[point],
                                              strict=True)]

    def __iter__(self) -> Iterator[str]:
        return iter(HOOK_POINTS)

    def run(self, point: str) -> None:
        """Run the callbacks at ``point`` now (after a failure, failsafe ones only)."""
        run_hooks(self.request, point)


class Hook:
    """``callback(**kwargs)`` at a hook point, ordered by ``priority`` (CherryPy's Hook).

    ``failsafe`` and ``priority`` default to the callback's attributes of
    those names, else False and 50. ``request.hooks[point]`` lists these.
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
