"""app.core: CherryPy's programming model on cheroot, resolved once per route.

``import app.core as cherrypy`` runs CherryPy programs: handlers are plain
objects in a tree, ``expose`` tags them, tools hang on hook points and are
switched on by config or decorator, config comes from dicts, ``_cp_config``
and ``.conf`` files.
"""
from __future__ import annotations

import importlib
import sys
import types
import urllib.parse
from typing import Any

from . import _serving, dispatch, lib  # noqa: F401  (cherrypy.dispatch.MethodDispatcher)
from ._serving import request, response, session
from ._tools import tools
from .application import Application
from .config import Config, ConfigError, check_keys
from .dispatch import expose, popargs
from .engine import Engine
from .errors import (
    CherryPyException,
    HTTPError,
    HTTPRedirect,
    InternalRedirect,
    NotFound,
    TimeoutError,
)
from .hooks import HandlerTool, Tool, Toolbox, ToolHook
from .lib import state as _state
from .logs import log
from .request_response import Request, Response
from .server import ExtraServers, Server
from .tree import Tree

__all__ = ['expose', 'popargs', 'tree', 'config', 'engine', 'server', 'quickstart',
           'servers', 'request', 'response', 'session', 'serving', 'tools', 'log', 'url',
           'HTTPError', 'HTTPRedirect', 'NotFound', 'InternalRedirect',
           'CherryPyException', 'TimeoutError', 'Tool', 'HandlerTool', 'Toolbox', 'ToolHook',
           'Application', 'Tree', 'Engine', 'Server', 'Config', 'ConfigError',
           'dispatch', 'lib', '__version__']

# NOTE: CherryPy's version, not ours (errors.VERSION): CherryPy programs read
# it to tell which CherryPy API they run on.
__version__ = '18.10.0'

config = Config()
tree = Tree(config, {'tools': tools})
Application.default_toolboxes = tree.toolboxes
Application.default_global_config = config
Request.namespaces.toolboxes = tree.toolboxes
Request.namespaces.config = config
engine = Engine()
engine.signals = engine.signal_handler  # type: ignore[attr-defined]
server = Server(tree, engine)
#: Extra servers from ``server.<name>.<key>`` config (CherryPy's ``cherrypy.servers``).
servers = ExtraServers(tree, engine)


def _server_option(name: str, value: Any) -> None:
    """``server.<key>`` sets ``cherrypy.server``; ``server.<name>.<key>`` an extra server."""
    if '.' in name:
        servers.set_option(name, value)
    else:
        server.set_option(name, value)


class _Serving:
    """``cherrypy.serving``: ``.request`` and ``.response`` of the current request."""

    @property
    def request(self) -> Request | None:
        """The current Request object (not a proxy); None outside a request."""
        return _serving.current()

    @property
    def response(self) -> Response | None:
        """The current Response object; None outside a request."""
        req = _serving.current()
        return req.response if req is not None else None


serving = _Serving()


def _check_config() -> None:
    """At engine start: every key again, now that every tool and namespace is known."""
    config.check_env(tools)
    declared = config.declared
    check_keys(config.items(), 'global config', tools, declared)
    for sn, app in tree.apps.items():
        if isinstance(app, Application):
            for section, values in app.config.items():
                if section.startswith('/') or section == 'global':
                    check_keys(values.items(), 'app %r [%s]' % (sn or '/', section), tools,
                               declared)


def _on_start() -> None:
    _check_config()
    log.configure(config)
    server.configure(config)
    engine.drain_seconds = float(config.get('engine.drain_seconds', 0) or 0)
    if config.get('engine.signal_handler.on', True) and config.get('engine.SIGTERM', True) \
            is not None:
        engine.signal_handler.subscribe()


def _on_exit() -> None:
    engine.signal_handler.unsubscribe()


config.watchers.append(log.configure)
log.configure(config)
# As in CherryPy: server.* keys reach cherrypy.server at config.update (so
# cherrypy.server.socket_port and cherrypy.url() agree with config at once).
config.core_namespaces['server'] = _server_option
# Shared state for applications (lib.state): its keys are checked like any
# declared namespace's, and it follows global config.
config.declare('state', **_state.DEFAULTS)
config.watchers.append(_state.configure)
_state.configure(config)
engine.subscribe('start', _on_start, priority=10)
server.subscribe()
engine.subscribe('graceful', log.reopen_files)
engine.subscribe('exit', _on_exit)


def quickstart(root: Any = None, script_name: str = '', config: Any = None) -> None:
    """Mount ``root`` at ``script_name``, start the engine and block until it exits.

    ``config`` (dict or ``.conf`` path) feeds both the global config (its
    ``[global]`` section) and the application.
    """
    if config:
        globals()['config'].update(config)
    tree.mount(root, script_name, config)
    engine.signal_handler.subscribe()
    engine.start()
    engine.block()


def url(path: str = '', qs: Any = '', script_name: str | None = None,
        base: str | None = None, relative: Any = None) -> str:
    """Return an absolute URL for ``path`` within the current application (as CherryPy).

    No arguments give the current request's URL without its query string.
    A ``path`` without a leading slash is relative to the current path
    (``is_index`` decides whether that ends in a slash). ``qs`` is a string
    or a dict/list of pairs. ``relative='server'`` returns ``/script/path``;
    any other true ``relative`` a path relative to the current URL.
    """
    if isinstance(qs, (tuple, list, dict)):
        qs = urllib.parse.urlencode(qs)
    if qs:
        qs = '?' + qs
    req = _serving.current()
    if req is None:
        base = base or server.base()
        sn = script_name or ''
        if not path.startswith('/'):
            path = '/' + path
        newurl = base + sn + _normalize_path(path) + qs
    else:
        if not path.startswith('/'):
            pi = req.path_info
            if req.is_index is True:
                if not pi.endswith('/'):
                    pi += '/'
            elif req.is_index is False and pi.endswith('/') and pi != '/':
                pi = pi[:-1]
            path = urllib.parse.urljoin(pi, path) if path else pi
        base = req.base if base is None else base
        sn = req.script_name if script_name is None else script_name
        newurl = base + sn + _normalize_path(path) + qs
    if relative is None:
        relative = getattr(req.app if req is not None else None, 'relative_urls', False)
    if relative == 'server':
        newurl = '/' + '/'.join(newurl.split('/', 3)[3:])
    elif relative:
        old = url(relative=False).split('/')[:-1]
        new = newurl.split('/')
        while old and new and old[0] == new[0]:
            old.pop(0)
            new.pop(0)
        newurl = '/'.join(['..'] * len(old) + new)
    return newurl


def _normalize_path(path: str) -> str:
    """Resolve ``.`` and ``..`` segments (CherryPy's ``normalize_path``)."""
    if './' not in path:
        return path
    atoms: list[str] = []
    for atom in path.split('/'):
        if atom == '..':
            if atoms:
                atoms.pop()
        elif atom and atom != '.':
            atoms.append(atom)
    return ('/' if path.startswith('/') else '') + '/'.join(atoms)


#: CherryPy's module names a program reaches as attributes (``cherrypy._cpwsgi``)
#: without importing them; imported on first use.
_COMPAT_MODULES = frozenset(('_cptools', '_cprequest', '_cpreqbody', '_cpwsgi', '_json',
                             '_cplogging', 'process'))


def __getattr__(name: str) -> Any:
    """Import a compatibility module on first attribute access (``cherrypy._cptools``).

    ``cherrypy._cache`` is CherryPy's handle on the response cache
    (``lib.cache_compat.compat_cache``).
    """
    if name in _COMPAT_MODULES:
        return importlib.import_module('.' + name, __name__)
    if name == '_cache':
        return importlib.import_module('.lib.cache_compat', __name__).compat_cache
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


class _CoreModule(types.ModuleType):
    """The package's module type: ``del cherrypy.session`` keeps the proxy.

    CherryPy programs delete ``cherrypy.session`` when they switch storage
    classes (CherryPy's sessions tool sets it again on the next request);
    here it is the one proxy to the current request's session, always valid.
    """

    def __delattr__(self, name: str) -> None:
        if name != 'session':
            super().__delattr__(name)


sys.modules[__name__].__class__ = _CoreModule
