"""The benchmarked endpoints and the three targets that serve them.

Every target answers the same ``ENDPOINTS`` with the same status, Content-Type
and body bytes (gzip bodies compared after decompression); ``run.py`` checks
that before it loads anything. Session endpoints have no raw equivalent.

- ``raw``: a bare WSGI callable (``rawapp.py``), the floor every framework
  is measured against.
- ``core``: ``build(app.core)``, this project's framework core.
- ``cherrypy``: ``build(cherrypy)``, the real CherryPy 18.10 (bench venv only).

To add an endpoint: append an ``Endpoint`` here, answer it in ``rawapp``
(unless it is a session endpoint) and give ``build``'s tree a handler for it.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

HTML = 'text/html;charset=utf-8'
TEXT = 'text/plain;charset=utf-8'
JSON = 'application/json'
GZIP_LEVEL = 5  # CherryPy's default compress_level, set explicitly on all targets
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
STATIC_FILE = os.path.join(STATIC_DIR, 'page.html')  # ~10 KB


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked URL and the exact answer every target must give.

    ``headers`` are sent by the load generator on every request (for example
    ``('Accept-Encoding', 'gzip')``); ``body`` of ``None`` skips the byte
    check for answers that change from one request to the next. ``encoding``
    is the Content-Encoding the answer must carry; ``session`` names the
    session storage (``'ram'``, ``'memcached'``), and such endpoints are served
    by the framework targets only. ``group`` is what ``--endpoints`` selects.
    ``also_ok`` lists further Content-Types accepted (known differences that
    cost nothing measurable; each is explained where it is set).
    """

    name: str
    path: str
    content_type: str
    body: bytes | None
    group: str = 'basic'
    headers: tuple[tuple[str, str], ...] = field(default=())
    encoding: str | None = None
    session: str | None = None
    also_ok: tuple[str, ...] = ()

    @property
    def raw(self) -> bool:
        """Whether the raw WSGI target serves this endpoint."""
        return self.session is None


def catalog() -> dict[str, Any]:
    """The gzip endpoint's payload: 40 items, about 3.4 KB of JSON."""
    return {'items': [{'id': i, 'name': 'item %d' % i, 'price': i * 1.25,
                       'tags': ['bench', 'json', 'gzip'], 'in_stock': i % 3 != 0}
                      for i in range(1, 41)]}


with open(STATIC_FILE, 'rb') as _f:
    _STATIC_BYTES = _f.read()

ENDPOINTS: list[Endpoint] = [
    Endpoint('index', '/', HTML, b'Hello World!'),
    Endpoint('json', '/api/items/42', JSON,
             json.dumps({'id': 42, 'name': 'item 42'}).encode()),
    Endpoint('health', '/healthcheck', TEXT, b'OK'),
    Endpoint('json-gzip', '/api/catalog', JSON, json.dumps(catalog()).encode(), group='tools',
             headers=(('Accept-Encoding', 'gzip'),), encoding='gzip'),
    # NOTE: app.core adds ';charset=utf-8' to static text/* files; CherryPy
    # doesn't (its encode tool wraps the handler, which staticdir replaces).
    Endpoint('static', '/static/page.html', 'text/html', _STATIC_BYTES, group='tools',
             also_ok=('text/html;charset=utf-8',)),
    Endpoint('session-ram', '/session/ram', TEXT, None, group='sessions', session='ram'),
    Endpoint('session-mc', '/session/memcached', TEXT, None, group='sessions',
             session='memcached'),
    # Two memcached nodes, each session on both (app.core's replicas = 2;
    # CherryPy has no replicas: it spreads the sessions over the two nodes).
    Endpoint('session-mc2', '/session/memcached2', TEXT, None, group='sessions',
             session='memcached2'),
]

#: Group name -> endpoint names; ``--endpoints`` takes either.
GROUPS: dict[str, list[str]] = {}
for _e in ENDPOINTS:
    GROUPS.setdefault(_e.group, []).append(_e.name)

#: The denominator of every ``x hello`` ratio: raw's ``GET /``.
HELLO = ENDPOINTS[0]

# Identical for both frameworks, so neither pays for logging the other skips.
CP_CONFIG: dict[str, Any] = {
    'log.screen': False,
    'log.access_file': '',
    'log.error_file': '',
    'environment': 'production',
    'engine.autoreload.on': False,
}


def build(cherrypy: Any, memcached: str | None = None) -> WSGIApp:
    """Build the CherryPy-style app on ``cherrypy`` (real CherryPy or app.core).

    The module is passed in, so the very same handler code and config run on
    both. ``memcached`` (``'host:port'``, or two comma-separated) enables
    ``/session/memcached`` (on the first) and ``/session/memcached2`` (on both).
    """
    sessions = cherrypy.lib.sessions

    def count() -> str:
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        n = cherrypy.session.get('n', 0) + 1
        cherrypy.session['n'] = n
        return str(n)

    class Api:
        @cherrypy.expose
        @cherrypy.tools.json_out()
        def items(self, id: str) -> dict:
            return {'id': int(id), 'name': 'item %s' % id}

        @cherrypy.expose
        @cherrypy.tools.json_out()
        def catalog(self) -> dict:
            return catalog()

    class Session:
        @cherrypy.expose
        def ram(self) -> str:
            return count()

        @cherrypy.expose
        def memcached(self) -> str:
            return count()

        @cherrypy.expose
        def memcached2(self) -> str:
            return count()

    class Root:
        api = Api()
        session = Session()

        @cherrypy.expose
        def index(self) -> str:
            return 'Hello World!'

        @cherrypy.expose
        def healthcheck(self) -> str:
            cherrypy.response.headers['Content-Type'] = 'text/plain'
            return 'OK'

        @cherrypy.expose
        def slow(self, seconds: str = '3') -> str:
            """Holds a worker (probes.py's saturation scenario)."""
            time.sleep(min(float(seconds), 10.0))
            return 'slept'

    config: dict[str, dict[str, Any]] = {
        '/': {},
        '/api/catalog': {'tools.gzip.on': True, 'tools.gzip.mime_types': [JSON],
                         'tools.gzip.compress_level': GZIP_LEVEL},
        '/static': {'tools.staticdir.on': True, 'tools.staticdir.dir': STATIC_DIR},
        '/session/ram': {'tools.sessions.on': True,
                         'tools.sessions.storage_class': sessions.RamSession},
    }
    nodes = memcached.split(',') if memcached else []
    if nodes:
        config['/session/memcached'] = {
            'tools.sessions.on': True,
            'tools.sessions.storage_class': sessions.MemcachedSession,
            'tools.sessions.servers': nodes[:1]}
        if hasattr(sessions.MemcachedSession, 'setup'):
            # NOTE: CherryPy's sessions.init calls storage_class.setup() only
            # on the process's first session request, so a RamSession request
            # first would leave MemcachedSession without a client (500s).
            # Its client is one per class: the 2-node endpoint shares it.
            sessions.MemcachedSession.setup(servers=nodes)
    if len(nodes) > 1:
        config['/session/memcached2'] = dict(config['/session/memcached'], **{
            'tools.sessions.servers': nodes[:2], 'tools.sessions.replicas': 2})
    cherrypy.config.update(CP_CONFIG)
    return cherrypy.tree.mount(Root(), '/', config)


class TargetUnavailable(RuntimeError):
    """A target's framework can't be imported or lacks the API ``build`` uses."""


def _load_raw(memcached: str | None) -> WSGIApp:
    import rawapp
    return rawapp.raw_app


def _load_framework(module: str, memcached: str | None) -> WSGIApp:
    try:
        cp = importlib.import_module(module)
    except Exception as ex:  # any import-time failure makes the target unusable
        raise TargetUnavailable(f'cannot import {module}: {type(ex).__name__}: {ex}') from ex
    missing = [n for n in ('expose', 'tools', 'config', 'tree', 'response', 'lib')
               if not hasattr(cp, n)]
    if missing:
        raise TargetUnavailable(f'{module} is not usable yet: it has no {", ".join(missing)}')
    return build(cp, memcached)


# Target name -> loader(memcached address or None); run.py loads them in
# this order in every round.
TARGETS: dict[str, Callable[[str | None], WSGIApp]] = {
    'raw': _load_raw,
    'core': lambda mc: _load_framework('app.core', mc),
    'cherrypy': lambda mc: _load_framework('cherrypy', mc),
}


def framework_version(target: str) -> str:
    """Say which framework (and version) a loaded target runs on."""
    if target == 'raw':
        return 'raw WSGI'
    module = 'app.core' if target == 'core' else 'cherrypy'
    version = getattr(importlib.import_module(module), '__version__', '?')
    return f'{module} {version}'
