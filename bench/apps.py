"""The benchmarked endpoints and the three targets that serve them.

Every target answers the same ``ENDPOINTS`` with the same status, Content-Type
and body bytes; ``run.py`` checks that before it loads anything.

- ``raw``: a bare WSGI callable, the floor every framework is measured against.
- ``core``: ``build(app.core)``, this project's framework core.
- ``cherrypy``: ``build(cherrypy)``, the real CherryPy 18.10 (bench venv only).

To add an endpoint: append an ``Endpoint`` here, answer it in ``raw_app`` and
give ``build``'s tree a handler for it.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

HTML = 'text/html;charset=utf-8'
TEXT = 'text/plain;charset=utf-8'
JSON = 'application/json'


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked URL and the exact answer every target must give.

    ``headers`` are sent by the load generator on every request (for example
    ``('Accept-Encoding', 'gzip')``); ``body`` of ``None`` skips the byte
    check for answers that change from one request to the next.
    """

    name: str
    path: str
    content_type: str
    body: bytes | None
    headers: tuple[tuple[str, str], ...] = field(default=())


ENDPOINTS: list[Endpoint] = [
    Endpoint('index', '/', HTML, b'Hello World!'),
    Endpoint('json', '/api/items/42', JSON,
             json.dumps({'id': 42, 'name': 'item 42'}).encode()),
    Endpoint('health', '/healthcheck', TEXT, b'OK'),
]

# Identical for both frameworks, so neither pays for logging the other skips.
CP_CONFIG: dict[str, Any] = {
    'log.screen': False,
    'log.access_file': '',
    'log.error_file': '',
    'environment': 'production',
    'engine.autoreload.on': False,
}


def raw_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Answer ``ENDPOINTS`` by a dict lookup: no framework at all."""
    hit = _RAW.get(environ.get('PATH_INFO', ''))
    if hit is None or environ['REQUEST_METHOD'] not in ('GET', 'HEAD'):
        start_response('404 Not Found', [('Content-Type', TEXT), ('Content-Length', '9')])
        return [b'Not Found']
    status, headers, body = hit
    start_response(status, headers)
    return [body]


_RAW = {
    e.path: ('200 OK', [('Content-Type', e.content_type),
                        ('Content-Length', str(len(e.body or b'')))], e.body or b'')
    for e in ENDPOINTS
}


def build(cherrypy: Any) -> WSGIApp:
    """Build the CherryPy-style app on ``cherrypy`` (real CherryPy or app.core).

    The module is passed in, so the very same handler code runs on both.
    """

    class Api:
        @cherrypy.expose
        @cherrypy.tools.json_out()
        def items(self, id: str) -> dict:
            return {'id': int(id), 'name': 'item %s' % id}

    class Root:
        api = Api()

        @cherrypy.expose
        def index(self) -> str:
            return 'Hello World!'

        @cherrypy.expose
        def healthcheck(self) -> str:
            cherrypy.response.headers['Content-Type'] = 'text/plain'
            return 'OK'

    cherrypy.config.update(CP_CONFIG)
    return cherrypy.tree.mount(Root(), '/', {'/': {}})


class TargetUnavailable(RuntimeError):
    """A target's framework can't be imported or lacks the API ``build`` uses."""


def _load_raw() -> WSGIApp:
    return raw_app


def _load_framework(module: str) -> WSGIApp:
    try:
        cp = importlib.import_module(module)
    except Exception as ex:  # any import-time failure makes the target unusable
        raise TargetUnavailable(f'cannot import {module}: {type(ex).__name__}: {ex}') from ex
    missing = [n for n in ('expose', 'tools', 'config', 'tree', 'response') if not hasattr(cp, n)]
    if missing:
        raise TargetUnavailable(f'{module} is not usable yet: it has no {", ".join(missing)}')
    return build(cp)


# Target name -> loader; run.py loads them in this order in every round.
TARGETS: dict[str, Callable[[], WSGIApp]] = {
    'raw': _load_raw,
    'core': lambda: _load_framework('app.core'),
    'cherrypy': lambda: _load_framework('cherrypy'),
}


def framework_version(target: str) -> str:
    """Say which framework (and version) a loaded target runs on."""
    if target == 'raw':
        return 'raw WSGI'
    module = 'app.core' if target == 'core' else 'cherrypy'
    version = getattr(importlib.import_module(module), '__version__', '?')
    return f'{module} {version}'
