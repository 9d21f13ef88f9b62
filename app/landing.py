"""The landing page (``/``) and the JSON behind its live status panel (``/status``).

The page is ``app/templates/landing.html`` with the service's facts filled
in on the server, every value HTML-escaped: name, version, git commit,
build time, environment, pod (the host name), start time and uptime, and
the status panel's first figures. ``app/static/status.js`` then refreshes
the panel from ``/status`` every few seconds; without JavaScript the page
still shows everything as of its load.

The link to ``/metrics`` appears only where ``/metrics`` is public: not in
production, and not when ``metrics.port`` serves it on a port of its own.
"""
from __future__ import annotations

import functools
import html
import os
import socket
import string
import time
from typing import Any

import app.core as cherrypy

from . import metrics
from .build_info import build_info

__all__ = ['STARTED_AT', 'environment', 'readiness', 'status', 'page', 'duration']

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'templates',
                        'landing.html')
#: When this process loaded the application (Unix time).
STARTED_AT = time.time()
_STARTED_MONOTONIC = time.monotonic()

#: The landing page's endpoint list: (path, what), before /metrics.
ENDPOINTS = (
    ('/healthcheck', 'liveness, for the load balancer and the kubelet'),
    ('/readyz', 'readiness: 503 while draining'),
    ('/version', 'this build, as JSON'),
    ('/status', 'the live status figures, as JSON'),
    ('/api/', 'the JSON API'),
)
#: Environments with a colour of their own on the page; others look neutral.
_ENV_CLASSES = {'production': 'prod', 'staging': 'staging', 'development': 'dev',
                'test_suite': 'test'}
# The page loads nothing from elsewhere and runs no inline script or style.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def environment() -> str:
    """The config's ``environment``, or ``"development"`` where none is set."""
    return str(cherrypy.config.get('environment') or 'development')


def readiness() -> str:
    """``"ready"``, ``"draining"`` or ``"saturated"``: what ``/readyz`` answers."""
    if cherrypy.engine.draining:
        return 'draining'
    if cherrypy.server.saturated():
        return 'saturated'
    return 'ready'


def uptime() -> float:
    """Seconds since this process loaded the application."""
    return time.monotonic() - _STARTED_MONOTONIC


def status() -> dict[str, Any]:
    """The live figures of this process, for ``/status`` and the page's first render."""
    state = readiness()
    stats = cherrypy.server.stats()
    return {
        'status': state,
        'ready': state == 'ready',
        'uptime_seconds': round(uptime(), 1),
        'started': _iso(STARTED_AT),
        'requests_served': metrics.requests_served(),
        'workers': stats['workers'],
        'workers_busy': stats['workers_busy'],
        'connections_open': stats['connections_open'],
        'pod': socket.gethostname(),
        'version': build_info()['version'],
    }


def duration(seconds: float) -> str:
    """``seconds`` as its two largest units: ``"45s"``, ``"12m 5s"``, ``"3h 12m"``, ``"2d 4h"``.

    ``app/static/status.js`` formats the same way.
    """
    s = max(0, int(seconds))
    parts = [(s // 86400, 'd'), (s % 86400 // 3600, 'h'), (s % 3600 // 60, 'm'), (s % 60, 's')]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return ' '.join('%d%s' % p for p in parts[:2])


def _iso(t: float) -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def _metrics_public() -> bool:
    return environment() != 'production' and not cherrypy.config.get('metrics.port')


@functools.cache
def _template() -> string.Template:
    with open(TEMPLATE, encoding='utf-8') as f:
        return string.Template(f.read())


def _endpoints() -> str:
    items = list(ENDPOINTS)
    if _metrics_public():
        items.append(('/metrics', 'Prometheus metrics'))
    return '\n'.join('      <li><a href="%s"><code>%s</code></a> <span>%s</span></li>'
                     % (html.escape(p), html.escape(p), html.escape(what))
                     for p, what in items)


def _workers(busy: int, total: int) -> str:
    return '%d of %d' % (busy, total) if total else 'n/a'


def page() -> str:
    """The landing page's HTML; sets its headers (no caching, a strict CSP)."""
    info = build_info()
    live = status()
    env = environment()
    commit = info['commit']
    values = {
        'version': info['version'],
        'commit': commit,
        'commit_short': commit[:12],
        'built': info['built'],
        'environment': env,
        'env_class': _ENV_CLASSES.get(env, 'other'),
        'pod': live['pod'],
        'started': live['started'],
        'started_human': live['started'].replace('T', ' ').replace('Z', ' UTC'),
        'state': live['status'],
        'state_label': live['status'].capitalize(),
        'uptime_seconds': '%.1f' % live['uptime_seconds'],
        'uptime': duration(live['uptime_seconds']),
        'requests_served': '{:,}'.format(live['requests_served']),
        'workers': _workers(live['workers_busy'], live['workers']),
        'connections_open': '{:,}'.format(live['connections_open']),
    }
    escaped = {k: html.escape(str(v), quote=True) for k, v in values.items()}
    escaped['endpoints'] = _endpoints()  # built from escaped parts
    h = cherrypy.response.headers
    h['Content-Type'] = 'text/html;charset=utf-8'
    h['Cache-Control'] = 'no-store'
    h['Content-Security-Policy'] = _CSP
    h['X-Content-Type-Options'] = 'nosniff'
    return _template().substitute(escaped)


def status_response() -> dict[str, Any]:
    """``/status``: :func:`status`, never cached (a balancer may send each poll elsewhere)."""
    cherrypy.response.headers['Cache-Control'] = 'no-store'
    return status()
