"""Two parts of the request: its cookie jar and its namespace set (CherryPy's names).

``RequestCookie`` is ``request.cookie``; ``RequestNamespaces`` is
``Request.namespaces``, CherryPy's per-request namespace handlers, where a
Toolbox becomes a toolbox of every application.
"""
from __future__ import annotations

import http.cookies
from typing import Any

from .errors import HTTPError
from .hooks import Toolbox
from .namespaces import NamespaceSet

__all__ = ['RequestCookie', 'RequestNamespaces']


class RequestCookie(http.cookies.SimpleCookie):
    """The request's cookies. A malformed Cookie header keeps the cookies before the fault.

    Asking for a missing cookie (``cookie[name]``) when the header was
    malformed is a 400 naming the fault, not a KeyError (a 500): the
    cookie may well be the one the client sent badly. ``get`` and ``in``
    answer as for any dict.
    """

    malformed: str | None = None

    def __missing__(self, key: str) -> Any:
        if self.malformed:
            raise HTTPError(400, 'Malformed Cookie header: %s' % (self.malformed,))
        raise KeyError(key)


class RequestNamespaces(NamespaceSet):
    """``Request.namespaces``: per-request handlers, and toolboxes.

    ``namespaces['team'] = fn`` calls ``fn(key, value)`` on every request for
    the route's ``team.*`` keys. ``namespaces['myauth'] = Toolbox('myauth')``
    instead makes ``myauth.<tool>.on`` switch that toolbox's tools on, as
    ``tools.*`` does, in every application that shares ``toolboxes`` (the
    package sets the tree's), as in CherryPy, where toolboxes are entries here.
    """

    #: The shared toolboxes and the global config (its generation is bumped so
    #: that cached routes see a new toolbox); set by the package.
    toolboxes: dict[str, Any] | None = None
    config: Any = None

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, Toolbox) and self.toolboxes is not None:
            self.toolboxes[name] = value
            if self.config is not None:
                self.config.generation += 1
            return
        super().__setitem__(name, value)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or bool(self.toolboxes and name in self.toolboxes)
