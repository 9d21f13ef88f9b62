"""``cherrypy._cpnative_server``: CherryPy's "native" (non-WSGI) cheroot gateway, by name.

app.core serves through one HTTP server, a cheroot ``HTTPServer`` with the
core's own connection handling; there is no separate native gateway.
``CPHTTPServer(cherrypy.server)`` returns that server, built from
``cherrypy.server``'s settings, so the CherryPy idiom
``cherrypy.server.httpserver = CPHTTPServer(cherrypy.server)`` works: the
next ``engine.start()`` serves with it.
"""
from __future__ import annotations

from typing import Any

from .server import HTTPServer

__all__ = ['CPHTTPServer']


def CPHTTPServer(server_adapter: Any) -> HTTPServer:  # noqa: N802  (CherryPy's name)
    """The HTTP server ``server_adapter`` (``cherrypy.server``) would start."""
    return server_adapter.build_httpserver()
