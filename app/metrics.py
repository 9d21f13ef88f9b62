"""Prometheus metrics: a request counter and latency histogram, as a tool.

``tools.metrics.on`` switches it on for a path. Routes are labelled by
handler name, never by raw path, so ids in URLs cannot blow up the label
set. A path with no handler that a static tool answers is labelled by its
config instead: ``staticdir:<section>`` (``staticdir:/static``) or
``staticfile:<file name>`` (``staticfile:favicon.ico``); any other such
path stays ``_Missing``.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

import app.core as cherrypy
from app.core.lib import memcache
from app.core.lib.session_leases import leases
from app.core.server import Server

from .build_info import build_info

__all__ = ['REGISTRY', 'REQUESTS', 'LATENCY', 'MEMCACHED_ERRORS', 'MEMCACHED_DOWN',
           'exposition', 'requests_served']

REGISTRY = CollectorRegistry()
REQUESTS = Counter('http_requests_total', 'HTTP requests served.',
                   ['handler', 'method', 'code'], registry=REGISTRY)
LATENCY = Histogram('http_request_duration_seconds', 'Time to answer a request.',
                    ['handler'], registry=REGISTRY,
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))


MEMCACHED_ERRORS = Counter('memcached_errors_total',
                           'Failed memcached operations (sessions, cache, shared state).',
                           ['node', 'error'], registry=REGISTRY)
MEMCACHED_DOWN = Gauge('memcached_nodes_down', 'Memcached nodes currently in an outage.',
                       registry=REGISTRY)
MEMCACHED_DOWN.set_function(lambda: len(memcache.health.down))
APP_INFO = Info('app', 'This build: version, git commit, build time.', registry=REGISTRY)
APP_INFO.info(build_info())


class _ServerCollector:
    """The HTTP server's pool and connections, read at each scrape."""

    _GAUGES = (
        ('connections_open', 'Connections the server holds open.'),
        ('connections_reading_head', 'Connections whose request head is still arriving.'),
        ('connections_queued', 'Connections with a whole request, waiting for a worker.'),
        ('workers', 'Worker threads in the pool.'),
        ('workers_busy', 'Worker threads serving a request.'),
    )
    _COUNTERS = (
        ('request_heads_timed_out', 'Request heads not complete in server.head_timeout (408).'),
        ('connections_refused', 'Connections refused at server.max_connections (503).'),
    )

    def collect(self) -> Iterator[Metric]:
        stats = cherrypy.server.stats()
        for name, doc in self._GAUGES:
            yield GaugeMetricFamily('http_server_' + name, doc, value=stats[name])
        for name, doc in self._COUNTERS:
            yield CounterMetricFamily('http_server_' + name, doc, value=stats[name])
        yield GaugeMetricFamily('http_server_draining',
                                '1 while the process drains after SIGTERM, else 0.',
                                value=1 if cherrypy.engine.draining else 0)
        yield CounterMetricFamily('session_lease_renewals',
                                  'Session lock leases renewed for long requests.',
                                  value=leases.renewed)
        yield CounterMetricFamily('session_leases_lost',
                                  'Session lock leases found taken by another request at '
                                  'renewal (a stalled process).', value=leases.lost)


REGISTRY.register(_ServerCollector())


def _memcached_failed(node: str, ex: BaseException) -> None:
    MEMCACHED_ERRORS.labels(node or 'unknown', type(ex).__name__).inc()


memcache.health.listeners.append(_memcached_failed)


def _static_label(conf: dict[str, Any]) -> str | None:
    """The label of a handler-less path a static tool serves (config values only)."""
    if conf.get('tools.staticdir.on'):
        return 'staticdir:' + str(conf.get('tools.staticdir.section') or '/')
    if conf.get('tools.staticfile.on'):
        return 'staticfile:' + os.path.basename(str(conf.get('tools.staticfile.filename')))
    return None


def _start() -> None:
    req = cherrypy.serving.request
    assert req is not None  # NOTE: hooks run inside a request
    h = req.handler
    name = getattr(h, '__qualname__', None) or type(h).__name__
    if name == '_Missing':  # the dispatcher found no handler: a static file, or a 404
        name = _static_label(req.config) or name
    if req.extra is None:
        req.extra = {}
    req.extra['metrics'] = (time.perf_counter(), name)


def _end() -> None:
    req = cherrypy.serving.request
    assert req is not None
    started = req.extra and req.extra.get('metrics')
    if not started:
        return
    t0, name = started
    code = str(req.response.status).split(' ', 1)[0]
    method = req.method if req.method in ('GET', 'HEAD', 'POST', 'PUT', 'DELETE',
                                          'PATCH', 'OPTIONS') else 'OTHER'
    REQUESTS.labels(name, method, code).inc()
    LATENCY.labels(name).observe(time.perf_counter() - t0)


_end.failsafe = True  # type: ignore[attr-defined]


class MetricsTool(cherrypy.Tool):
    """Times each request from on_start_resource to on_end_request."""

    def __init__(self) -> None:
        super().__init__('on_start_resource', _start, priority=10)

    def route_hooks(self, conf: dict) -> list[cherrypy.ToolHook]:
        """Start the clock first thing; stop it after the other end-of-request hooks."""
        return [cherrypy.ToolHook('on_start_resource', 10, _start, {}),
                cherrypy.ToolHook('on_end_request', 90, _end, {})]


def requests_served() -> int:
    """Requests this process has answered on the paths the metrics tool counts."""
    return int(sum(s.value for m in REQUESTS.collect() for s in m.samples
                   if s.name == 'http_requests_total'))


def exposition() -> tuple[str, bytes]:
    """Return ``(content_type, body)`` for ``/metrics``."""
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


def metrics_app(environ: dict, start_response: Any) -> list[bytes]:
    """The metrics port's WSGI app: ``GET /metrics``, and 404 for anything else."""
    if environ.get('PATH_INFO') != '/metrics' or environ.get('REQUEST_METHOD') not in (
            'GET', 'HEAD'):
        start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                         ('Content-Length', '10')])
        return [b'Not Found\n']
    ctype, body = exposition()
    start_response('200 OK', [('Content-Type', ctype), ('Content-Length', str(len(body)))])
    return [body] if environ['REQUEST_METHOD'] == 'GET' else []


_metrics_server: Any = None


def serve_on_own_port() -> None:
    """Serve ``/metrics`` on ``metrics.port`` (if set) with the engine, beside the app.

    Its server starts and stops with the engine; it has two workers and no
    drain (Prometheus simply retries).
    """
    global _metrics_server
    if _metrics_server is not None:
        cherrypy.engine.unsubscribe('start', _metrics_server.start)
        cherrypy.engine.unsubscribe('stop', _metrics_server.stop)
        _metrics_server = None
    port = cherrypy.config.get('metrics.port')
    if not port:
        return
    server = Server(metrics_app)
    server.socket_host = cherrypy.config.get('server.socket_host', '127.0.0.1')
    server.socket_port = int(port)
    server.thread_pool = 2
    cherrypy.engine.subscribe('start', server.start, priority=76)
    cherrypy.engine.subscribe('stop', server.stop, priority=25)
    _metrics_server = server


cherrypy.tools.metrics = MetricsTool()
