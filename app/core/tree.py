"""The tree of mounted applications: ``tree.mount`` and ``tree.graft``."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import _serving
from .application import Application

__all__ = ['Tree']


class Tree:
    """Maps script names (mount points) to applications; itself a WSGI app.

    A request goes to the application with the longest script name that
    prefixes its path.
    """

    def __init__(self, global_config: Any = None, toolboxes: dict | None = None) -> None:
        self.apps: dict[str, Any] = {}
        self.global_config = global_config
        self.toolboxes = toolboxes or {}
        self._order: list[str] = []

    def mount(self, root: Any, script_name: str = '', config: Any = None) -> Application:
        """Mount a handler tree (or an Application) at ``script_name``; return the app.

        ``config`` is per-path app config: ``{'/': {...}}`` or a ``.conf``
        path. The returned Application is a WSGI callable.
        """
        if script_name is None:
            raise TypeError('script_name must be a string ("" or "/foo"), not None')
        script_name = script_name.rstrip('/')
        if isinstance(root, Application):
            app = root
            if script_name and script_name != app.script_name:
                raise ValueError('Cannot mount an Application at %r: it has script_name %r'
                                 % (script_name, app.script_name))
            app.global_config = self.global_config
            app.toolboxes = self.toolboxes
            if config:
                app.merge(config)
        else:
            app = Application(root, script_name, config,
                              global_config=self.global_config, toolboxes=self.toolboxes)
        self._set(app.script_name, app)
        return app

    def graft(self, wsgi_callable: Callable, script_name: str = '') -> None:
        """Mount a foreign WSGI application at ``script_name``."""
        self._set(script_name.rstrip('/'), wsgi_callable)

    def _set(self, script_name: str, app: Any) -> None:
        self.apps[script_name] = app
        self._order = sorted(self.apps, key=len, reverse=True)

    def script_name(self, path: str | None = None) -> str | None:
        """Return the mount point serving ``path`` (None when none does).

        Without ``path``: the mount point of the current request's path
        (None outside a request), as in CherryPy.
        """
        if path is None:
            req = _serving.current()
            if req is None:
                return None
            path = req.script_name + req.path_info
        for sn in self._order:
            if path == sn or path.startswith(sn + '/') or sn == '':
                return sn
        return None

    def __contains__(self, script_name: str) -> bool:
        return script_name.rstrip('/') in self.apps

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
        sn = self.script_name(path or '/')
        if sn is None:
            body = b'Not Found'
            start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                             ('Content-Length', str(len(body)))])
            return [body]
        app = self.apps[sn]
        # NOTE: the environ belongs to this request; WSGI lets us rewrite it.
        environ['SCRIPT_NAME'] = sn
        environ['PATH_INFO'] = path[len(sn):]
        return app(environ, start_response)
