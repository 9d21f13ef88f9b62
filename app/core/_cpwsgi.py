"""``cherrypy._cpwsgi``: WSGI pieces under CherryPy's module name.

``VirtualHost`` picks a WSGI application by the request's host; mount it
with ``cherrypy.tree.graft(VirtualHost(default, {'example.com': app}))``.
An ``Application`` is itself a WSGI callable, so CherryPy's ``CPWSGIApp``
wrapper has no counterpart here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ['VirtualHost']


class VirtualHost:
    """A WSGI application that hands each request to the one for its host.

    ``domains`` maps a ``Host`` value (with its port, if the client sends
    one) to a WSGI application; other hosts go to ``default``. With
    ``use_x_forwarded_host`` (the default, as in CherryPy) an
    ``X-Forwarded-Host`` header wins over ``Host``: put a proxy that sets
    it in front, or turn it off.
    """

    def __init__(self, default: Callable[..., Iterable[bytes]],
                 domains: dict[str, Callable[..., Iterable[bytes]]] | None = None,
                 use_x_forwarded_host: bool = True) -> None:
        self.default = default
        self.domains = dict(domains or {})
        self.use_x_forwarded_host = use_x_forwarded_host

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        domain = environ.get('HTTP_HOST', '')
        if self.use_x_forwarded_host:
            domain = environ.get('HTTP_X_FORWARDED_HOST', domain)
        app = self.domains.get(domain, self.default)
        return app(environ, start_response)
