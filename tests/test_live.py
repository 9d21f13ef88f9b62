"""The real cheroot server on 127.0.0.1, port 0: the app, keep-alive, idle sockets."""
from __future__ import annotations

import http.client as httpclient
import os
import socket
import time

import app.core as cherrypy
from app import CONF_DIR, build
from app.site import STATIC_DIR

from helpers import http, live


def test_app_endpoints_through_the_real_server():
    build(os.path.join(CONF_DIR, 'test.conf'))
    with live(cherrypy.tree) as server:
        status, headers, body = http(server, '/')
        assert status == 200 and b'<h1>Cherry service</h1>' in body
        assert headers['content-type'] == 'text/html;charset=utf-8'
        status, headers, body = http(server, '/static/logo.svg')
        with open(os.path.join(STATIC_DIR, 'logo.svg'), 'rb') as f:
            assert status == 200 and body == f.read()
        assert http(server, '/healthcheck')[::2] == (200, b'OK')
        status, headers, body = http(server, '/api/items/42')
        assert status == 200 and headers['content-type'] == 'application/json'
        assert body == b'{"id": 42, "name": "item 42"}'
        assert http(server, '/api/items/abc')[0] == 400
        assert http(server, '/unknown/path')[0] == 404


def test_keep_alive_serves_many_requests_on_one_connection():
    class R:
        @cherrypy.expose
        def index(self):
            return 'k'
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree) as server:
        host, port = server.bound_addr
        conn = httpclient.HTTPConnection(host, port, timeout=5)
        socks = set()
        for _ in range(20):
            conn.request('GET', '/')
            r = conn.getresponse()
            assert r.read() == b'k'
            socks.add(id(conn.sock))
        conn.close()
        assert len(socks) == 1


def test_silent_connections_do_not_starve_the_pool():
    # An ELB pre-opens idle connections; they must not hold worker threads.
    class R:
        @cherrypy.expose
        def healthcheck(self):
            return 'OK'
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree, thread_pool=2, socket_timeout=10) as server:
        host, port = server.bound_addr
        silent = [socket.create_connection((host, port)) for _ in range(10)]
        try:
            manager = server.httpserver._connections
            deadline = time.monotonic() + 5
            while manager.open < 10:  # the server has taken every silent connection in
                assert time.monotonic() < deadline, manager.open
                time.sleep(0.01)
            t0 = time.monotonic()
            status, _h, body = http(server, '/healthcheck', timeout=5)
            elapsed = time.monotonic() - t0
            assert (status, body) == (200, b'OK')
            assert elapsed < 1.0, 'probe waited %.1f s behind idle sockets' % elapsed
        finally:
            for s in silent:
                s.close()


def test_streamed_response_is_chunked():
    class R:
        @cherrypy.expose
        def stream(self):
            def gen():
                for i in range(3):
                    yield 'chunk %d\n' % i
            return gen()
        stream._cp_config = {'response.stream': True}
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree) as server:
        status, headers, body = http(server, '/stream')
        assert status == 200 and body == b'chunk 0\nchunk 1\nchunk 2\n'
        assert headers.get('transfer-encoding') == 'chunked'
        assert 'content-length' not in headers


def test_request_body_limit_from_server_config_is_413_live():
    class R:
        @cherrypy.expose
        def upload(self, **kw):
            return 'ok'
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree, max_request_body_size=100) as server:
        status, _h, _b = http(server, '/upload', method='POST', body=b'x' * 1000,
                              headers={'Content-Type': 'application/octet-stream'})
        assert status == 413
