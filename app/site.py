"""The application's handler tree: landing page, health, readiness, JSON API, metrics."""
from __future__ import annotations

import os
from typing import Any

import app.core as cherrypy
from app.core.lib.jsontools import problem_page

from . import landing, metrics
from .api import Api
from .build_info import build_info

__all__ = ['Root', 'Api', 'STATIC_DIR', 'app_config']

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')


class Root:
    """``/``: the landing page, and the service endpoints beside it."""

    api = Api()

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def version(self) -> dict[str, str]:
        """This build: version, git commit and build time."""
        return build_info()

    @cherrypy.expose
    def index(self) -> str:
        """The landing page: this pod's facts and a live status panel (``app/landing.py``)."""
        return landing.page()

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def status(self) -> dict[str, Any]:
        """The landing page's live figures as JSON: readiness, uptime, requests served."""
        return landing.status_response()

    @cherrypy.expose
    def healthcheck(self) -> str:
        """Liveness: 200 while the process serves; 503 once its worker pool is stuck.

        Served by the probe lane (``server.probe_paths``), so busy workers
        never delay it; a pool that has finished nothing for
        ``server.stall_timeout`` with work waiting turns it to 503, so the
        kubelet restarts a deadlocked process but not a busy one.
        """
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        cherrypy.response.headers['Cache-Control'] = 'no-store'
        if cherrypy.server.stalled():
            cherrypy.response.status = 503
            return 'stalled'
        return 'OK'

    @cherrypy.expose
    def readyz(self) -> str:
        """Readiness: 503 once the engine is draining (after SIGTERM).

        Also while the worker pool is saturated, if ``server.saturation_timeout``
        is set (off by default; see the README for the trade-off).
        """
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        cherrypy.response.headers['Cache-Control'] = 'no-store'
        state = landing.readiness()
        if state != 'ready':
            cherrypy.response.status = 503
        return state

    @cherrypy.expose
    def metrics(self) -> bytes:
        """Prometheus metrics, text exposition format.

        404 here when ``metrics.port`` serves them on a port of their own
        (production: the public port must not show them).
        """
        if cherrypy.config.get('metrics.port'):
            raise cherrypy.NotFound()
        ctype, body = metrics.exposition()
        cherrypy.response.headers['Content-Type'] = ctype
        return body


def app_config() -> dict[str, dict[str, Any]]:
    """The application's per-path config (the .conf files add to it)."""
    return {
        '/': {
            'tools.metrics.on': True,
        },
        # Every error under /api is RFC 9457 problem details, not an HTML page.
        '/api': {
            'error_page.default': problem_page,
        },
        # A resource per HTTP method: GET and POST on app.api.Orders; any
        # other method gets 405 with Allow, computed by the dispatcher.
        '/api/orders': {
            'request.dispatch': cherrypy.dispatch.MethodDispatcher(),
        },
        '/static': {
            'tools.staticdir.on': True,
            'tools.staticdir.dir': STATIC_DIR,
            'tools.response_headers.on': True,
            'tools.response_headers.headers': [('Cache-Control', 'public, max-age=300')],
        },
        '/favicon.ico': {
            'tools.staticfile.on': True,
            'tools.staticfile.filename': os.path.join(STATIC_DIR, 'favicon.ico'),
        },
        # Probes and scrapers address the pod by its IP, not a public name.
        '/healthcheck': {'request.allowed_hosts': []},
        '/readyz': {'request.allowed_hosts': []},
        '/metrics': {'request.allowed_hosts': []},
    }
