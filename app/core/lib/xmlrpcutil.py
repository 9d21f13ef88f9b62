"""XML-RPC: the ``xmlrpc`` tool's helpers (CherryPy's ``cherrypy.lib.xmlrpcutil``).

``_cptools.XMLRPCController`` is the handler class: it reads the method
name and arguments from the body (``process_body``), calls its exposed
method of that name, and answers with ``respond``. ``tools.xmlrpc`` (on in
the controller's ``_cp_config``) makes an error a 200 with a ``Fault``
(``on_error``), as the XML-RPC spec asks. ``dispatch.XMLRPCDispatcher``
strips a leading ``/RPC2`` from the path (``patched_path``).
"""
from __future__ import annotations

import sys
from typing import Any
from xmlrpc.client import Fault, dumps, loads

from .. import _serving

__all__ = ['process_body', 'patched_path', 'respond', 'on_error', 'error_tool']


def process_body() -> tuple[tuple[Any, ...], str]:
    """Return ``(params, method)`` from the request body (a placeholder when unreadable)."""
    try:
        params, method = loads(_serving.current().body.read())
    except Exception:
        return ('ERROR PARAMS',), 'ERRORMETHOD'
    return params, method or 'ERRORMETHOD'


def patched_path(path: str) -> str:
    """``path`` ending in a slash, without a leading ``/RPC2``."""
    if not path.endswith('/'):
        path += '/'
    if path.startswith('/RPC2/'):
        path = path[5:]
    return path


def _set_response(body: str) -> None:
    # NOTE: the spec says "unless there's a lower-level error, always return
    # 200 OK"; Python's client takes any other status as a protocol error.
    response = _serving.current().response
    data = body.encode('utf-8')
    response.status = '200 OK'
    response.body = data
    response.headers['Content-Type'] = 'text/xml'
    response.headers['Content-Length'] = str(len(data))


def respond(body: Any, encoding: str = 'utf-8', allow_none: Any = 0) -> None:
    """Answer with ``body`` as an XML-RPC method response (a ``Fault`` as itself)."""
    params = body if isinstance(body, Fault) else (body,)
    _set_response(dumps(params, methodresponse=True, encoding=encoding,
                        allow_none=bool(allow_none)))


def on_error(*args: Any, **kwargs: Any) -> None:
    """Answer the error being handled as a ``Fault(1, str(error))``."""
    _set_response(dumps(Fault(1, str(sys.exc_info()[1]))))


def error_tool(**conf: Any) -> None:
    """``tools.xmlrpc``: errors of this request answer as a Fault (``encoding``,
    ``allow_none`` are read by the controller)."""
    _serving.current().error_response = on_error
