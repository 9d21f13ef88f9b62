"""``cherrypy._cptools``: the tool classes under CherryPy's module name.

``Tool``, ``HandlerTool``, ``Toolbox`` and ``ToolHook`` are ``app.core.hooks``'s;
``SessionTool`` and ``CachingTool`` the built-in tools' classes;
``default_toolbox`` is ``cherrypy.tools``. ``HandlerWrapperTool`` and
``ErrorTool`` are small Tool subclasses defined here; ``XMLRPCController``
is CherryPy's XML-RPC handler class (``lib/xmlrpcutil.py``).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import _serving
from ._tools import tools as default_toolbox
from .dispatch import expose
from .hooks import HandlerTool, Tool, Toolbox, ToolHook
from .lib import xmlrpcutil as _xmlrpc
from .lib.caching import CachingTool
from .lib.sessions import SessionTool

__all__ = ['Tool', 'HandlerTool', 'HandlerWrapperTool', 'ErrorTool', 'Toolbox', 'ToolHook',
           'SessionTool', 'CachingTool', 'XMLRPCController', 'default_toolbox']


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



class XMLRPCController:
    """Base class of an XML-RPC handler: subclass it and expose methods.

    A POST to its path carries the method name and arguments (XML); the
    exposed method of that name (dots walk attributes) is called with them,
    and its result is the XML-RPC response. An error, or a method that is not
    there or not exposed, answers 200 with a ``Fault`` (``tools.xmlrpc``,
    switched on here). Config: ``tools.xmlrpc.encoding`` ('utf-8'),
    ``tools.xmlrpc.allow_none`` (0). ``request.dispatch =
    dispatch.XMLRPCDispatcher()`` also accepts URLs under ``/RPC2``.
    """

    _cp_config = {'tools.xmlrpc.on': True}

    @expose
    def default(self, *vpath: Any, **params: Any) -> Any:
        """Dispatch on the method named in the body; answer its result as XML-RPC."""
        rpcparams, rpcmethod = _xmlrpc.process_body()
        subhandler: Any = self
        for attr in str(rpcmethod).split('.'):
            subhandler = getattr(subhandler, attr, None)
        if not (subhandler and getattr(subhandler, 'exposed', False)):
            # NOTE: raised so that tools.xmlrpc answers it as a Fault (CherryPy's words).
            raise Exception('method "%s" is not supported' % attr)
        body = subhandler(*(vpath + rpcparams), **params)
        config = _serving.current().config
        _xmlrpc.respond(body, config.get('tools.xmlrpc.encoding') or 'utf-8',
                        config.get('tools.xmlrpc.allow_none', 0))
        return _serving.current().response.body
