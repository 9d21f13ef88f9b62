"""``cherrypy._cpwsgi``: WSGI pieces under CherryPy's module name.

``VirtualHost`` picks a WSGI application by the request's host; mount it
with ``cherrypy.tree.graft(VirtualHost(default, {'example.com': app}))``.
``CPWSGIApp`` is an Application's WSGI middleware pipeline, CherryPy's
``app.wsgiapp``: ``wsgi.pipeline`` and ``wsgi.<name>.<key>`` in the app's
``/`` section fill it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .conffile import ConfigError

__all__ = ['VirtualHost', 'CPWSGIApp']


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


class CPWSGIApp:
    """An Application's WSGI middleware around its request cycle (``app.wsgiapp``).

    ``pipeline`` is ``[(name, factory), ...]``, outermost first; each is built
    once, at the first request, as ``factory(next_app, **config[name])``, the
    innermost wrapping ``tail`` (the cycle). Config in the app's ``/`` section:
    ``wsgi.pipeline = [(name, factory)]`` appends, ``wsgi.<name>.<key>``
    sets a factory's keyword. Unlike CherryPy's, the pipeline starts empty:
    the cycle itself traps exceptions and follows internal redirects.
    """

    def __init__(self, cpapp: Any, tail: Callable[..., Iterable[bytes]]) -> None:
        self.cpapp = cpapp
        self.tail = tail
        self.pipeline: list[tuple[str, Callable[..., Any]]] = []
        self.config: dict[str, dict[str, Any]] = {}
        #: The built chain; None until the first request or after a config change.
        self.head: Callable[..., Iterable[bytes]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        head = self.head
        if head is None:
            head = self.tail
            for name, factory in reversed(self.pipeline):
                head = factory(head, **self.config.get(name, {}))
            self.head = head
        return head(environ, start_response)

    def namespace_handler(self, key: str, value: Any) -> None:
        """The ``wsgi`` config namespace: ``pipeline`` or ``<name>.<key>``."""
        if key == 'pipeline':
            # NOTE: a merge passes the whole '/' section again; add each entry once.
            self.pipeline.extend(e for e in value if e not in self.pipeline)
        else:
            name, dot, arg = key.partition('.')
            if not dot:
                raise ConfigError('wsgi.%s: the wsgi namespace takes wsgi.pipeline and '
                                  'wsgi.<name>.<key>' % (key,))
            self.config.setdefault(name, {})[arg] = value
        self.head = None
