"""Prometheus metrics: a request counter and latency histogram, as a tool.

``tools.metrics.on`` switches it on for a path. Routes are labelled by
handler name, never by raw path, so ids in URLs cannot blow up the label
set.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

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
from app.core.lib.session_memcached import leases

from .build_info import build_info

__all__ = ['REGISTRY', 'REQUESTS', 'LATENCY', 'MEMCACHED_ERRORS', 'MEMCACHED_DOWN',
           'exposition']

REGISTRY = CollectorRegistry()
REQUESTS = Counter('http_requests_total', 'HTTP requests served.',
                   ['handler', 'method', 'code'], registry=REGISTRY)
LATENCY = Histogram('http_request_duration_seconds', 'Time to answer a request.',
                    ['handler'], registry=REGISTRY,
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))


MEMCACHED_ERRORS = Counter('memcached_errors_total',
                           'Failed memcached operations (sessions and cache).',
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


def _start() -> None:
    req = cherrypy.serving.request
    assert req is not None  # NOTE: hooks run inside a request
    h = req.handler
    name = getattr(h, '__qualname__', None) or type(h).__name__
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


def exposition() -> tuple[str, bytes]:
    """Return ``(content_type, body)`` for ``/metrics``."""
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


cherrypy.tools.metrics = MetricsTool()
