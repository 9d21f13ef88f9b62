"""``cherrypy._cptools``: the tool classes under CherryPy's module name.

``Tool``, ``HandlerTool``, ``Toolbox`` and ``ToolHook`` are ``app.core.hooks``'s;
``SessionTool`` and ``CachingTool`` the built-in tools' classes;
``default_toolbox`` is ``cherrypy.tools``. ``HandlerWrapperTool`` and
``ErrorTool`` are small Tool subclasses defined here.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import _serving
from ._tools import tools as default_toolbox
from .hooks import HandlerTool, Tool, Toolbox, ToolHook
from .lib.caching import CachingTool
from .lib.sessions import SessionTool

__all__ = ['Tool', 'HandlerTool', 'HandlerWrapperTool', 'ErrorTool', 'Toolbox', 'ToolHook',
           'SessionTool', 'CachingTool', 'default_toolbox']


class HandlerWrapperTool(Tool):
    """Wraps the page handler: ``newhandler(next_handler, *args, **kwargs)`` answers.

    ``newhandler`` gets the handler the dispatcher found and the request's
    arguments; what it returns is the response body. The wrapper is set for
    the current request only (the route's handler is never replaced).
    """

    def __init__(self, newhandler: Callable[..., Any], point: str = 'before_handler',
                 name: str | None = None, priority: int = 50) -> None:
        self.newhandler = newhandler
        super().__init__(point, self._wrap, name, priority)

    def _wrap(self, **_conf: Any) -> None:
        request = _serving.current()
        inner = request.handler
        if inner is not None:
            request.handler = functools.partial(self.newhandler, inner)


class ErrorTool(Tool):
    """Runs ``callable`` as the request's ``error_response`` (instead of the 500 page)."""

    def __init__(self, callable: Callable[..., Any], name: str | None = None) -> None:
        super().__init__('on_start_resource', self._set_error_response, name, priority=0)
        self.error_callable = callable

    def _set_error_response(self, **conf: Any) -> None:
        _serving.current().error_response = functools.partial(self.error_callable, **conf)

