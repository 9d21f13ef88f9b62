"""The service itself: endpoints in-process, and production config with memcached."""
from __future__ import annotations

import http.client
import os
import signal
import time

import pytest

import app.core as cherrypy
from app import CONF_DIR, build

from helpers import call, start_app_process


def test_endpoints_in_process():
    build(os.path.join(CONF_DIR, 'test.conf'))
    r = call(None, '/')
    assert r.status == 200 and b'/static/logo.svg' in r.body and b'/static/style.css' in r.body
    assert call(None, '/static/style.css').headers['Cache-Control'] == 'public, max-age=300'
    assert call(None, '/favicon.ico').headers['Content-Type'] == 'image/vnd.microsoft.icon'
    r = call(None, '/healthcheck')
    assert (r.status, r.body, r.headers['Cache-Control']) == (200, b'OK', 'no-store')
    assert call(None, '/api/').json()['endpoints'][0] == '/api/orders'
    assert call(None, '/api/items/7').json() == {'id': 7, 'name': 'item 7'}
    r = call(None, '/api/items/seven')
    assert r.status == 400 and b"Item id must be an integer, got 'seven'." in r.body
    assert call(None, '/api/items').status == 404


def test_readyz_fails_while_draining():
    build(os.path.join(CONF_DIR, 'test.conf'))
    assert call(None, '/readyz').body == b'ready'
    cherrypy.engine.draining = True
    try:
        r = call(None, '/readyz')
        assert (r.status, r.body) == (503, b'draining')
        assert call(None, '/healthcheck').status == 200
    finally:
        cherrypy.engine.draining = False


def test_visits_count_per_session_in_ram():
    build(os.path.join(CONF_DIR, 'test.conf'))
    r = call(None, '/api/visits')
    assert r.json() == {'visits': 1}
    cookie = r.headers['Set-Cookie'].split(';')[0]
    assert call(None, '/api/visits', headers={'Cookie': cookie}).json() == {'visits': 2}
    assert call(None, '/api/visits').json() == {'visits': 1}


def test_metrics_count_requests_by_handler_not_path():
    build(os.path.join(CONF_DIR, 'test.conf'))
    for i in range(3):
        call(None, '/api/items/%d' % i)
    body = call(None, '/metrics').text
    line = [x for x in body.splitlines()
            if x.startswith('http_requests_total{code="200",handler="Api.items"')]
    assert len(line) == 1 and float(line[0].rsplit(' ', 1)[1]) >= 3
    assert '/api/items/1' not in body


def _get(port, path, cookie=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request('GET', path, headers={'Cookie': cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, r.read(), r.getheader('Set-Cookie')
    finally:
        conn.close()


def test_production_config_shares_sessions_across_pods_through_memcached(memcached):
    # NOTE: no drain on SIGTERM here (tests/test_drain.py tests it): only the
    # sessions are under test, and each pod would otherwise serve 10 s more.
    env = {'HOST': '127.0.0.1', 'MEMCACHED_SERVERS': memcached.address,
           'APP_ENGINE__DRAIN_SECONDS': '0'}
    pods = [start_app_process(['-m', 'app', '--config', 'conf/prod.conf'], env=env)
            for _ in range(2)]
    try:
        (_pa, port_a), (_pb, port_b) = pods
        status, body, set_cookie = _get(port_a, '/api/visits')
        assert (status, body) == (200, b'{"visits": 1}')
        cookie = set_cookie.split(';')[0]
        assert _get(port_b, '/api/visits', cookie)[1] == b'{"visits": 2}'
        assert _get(port_a, '/api/visits', cookie)[1] == b'{"visits": 3}'

        memcached.stop()
        t0 = time.monotonic()
        status, body, _ = _get(port_b, '/api/visits', cookie)
        assert status == 503 and time.monotonic() - t0 < 3
        assert _get(port_b, '/healthcheck')[:2] == (200, b'OK')
        assert _get(port_b, '/readyz')[:2] == (200, b'ready')
        assert _get(port_a, '/api/items/1')[0] == 200
        metrics = _get(port_b, '/metrics')[1].decode()
        assert 'memcached_nodes_down 1.0' in metrics
        assert 'memcached_errors_total{error=' in metrics

        memcached.start()
        deadline = time.monotonic() + 10
        while True:
            status, body, set_cookie = _get(port_a, '/api/visits')
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (status, body) == (200, b'{"visits": 1}')  # a new memcached has no old data
    finally:
        for proc, _port in pods:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
            proc.stdout.close()


def test_an_error_under_static_drops_the_routes_cache_headers():
    build(os.path.join(CONF_DIR, 'test.conf'))
    ok = call(None, '/static/style.css')
    assert ok.status == 200 and ok.headers['Cache-Control'] == 'public, max-age=300'
    for path in ('/static/missing.css', '/static/../app.py'):
        r = call(None, path)
        assert r.status in (403, 404), (path, r.status)
        assert 'Cache-Control' not in r.headers, (path, r.headers)
        assert r.headers['Content-Type'] == 'text/html;charset=utf-8'


def test_version_and_app_info_report_the_build(monkeypatch):
    from app import build_info, metrics
    monkeypatch.setenv('BUILD_COMMIT', 'abc123')
    monkeypatch.setenv('BUILD_TIME', '2026-12-01T12:00:00Z')
    info = build_info.build_info()
    assert info == {'version': '0.1.0', 'commit': 'abc123', 'built': '2026-12-01T12:00:00Z'}
    build()
    r = call(None, '/version')
    assert r.status == 200 and r.headers['Content-Type'] == 'application/json'
    assert r.json() == info
    monkeypatch.delenv('BUILD_COMMIT')
    assert build_info.build_info()['commit'] == 'unknown'
    metrics.APP_INFO.info(info)
    body = metrics.exposition()[1].decode()
    assert 'app_info{built="2026-12-01T12:00:00Z",commit="abc123",version="0.1.0"} 1.0' in body


@pytest.mark.parametrize('path, method, headers, status', [
    ('/api/items/abc', 'GET', {}, 400),          # the handler's own HTTPError
    ('/api/nope', 'GET', {}, 404),
    ('/api/items/1', 'POST', {'Content-Length': ''}, 411),
    ('/api/orders', 'DELETE', {}, 405),
    ('/api/orders', 'POST', {'Content-Type': 'application/json',
                             'Content-Length': '900000000'}, 413),
    ('/api/orders', 'POST', {'Content-Type': 'text/plain'}, 415),
])
def test_errors_under_api_are_problem_details(path, method, headers, status):
    build(os.path.join(CONF_DIR, 'prod.conf'))
    cherrypy.config.update({'log.screen': False})
    r = call(None, path, method=method, headers=dict(headers, Host='localhost'))
    assert r.status == status and r.headers['Content-Type'] == 'application/problem+json'
    doc = r.json()
    assert doc['status'] == status and doc['type'] == 'about:blank' and doc['title']
    assert 'traceback' not in doc                  # production shows none
    assert call(None, '/nope', headers={'Host': 'localhost'}).headers[
        'Content-Type'].startswith('text/html')   # pages outside /api stay HTML


def test_a_500_under_api_is_problem_details_with_a_traceback_in_development():
    build()
    cherrypy.config.update({'log.screen': False})
    app_ = cherrypy.tree.apps['']
    app_.root.api.boom = cherrypy.expose(lambda: 1 / 0)
    r = call(None, '/api/boom')
    assert r.status == 500 and r.headers['Content-Type'] == 'application/problem+json'
    assert 'ZeroDivisionError' in r.json()['traceback']
