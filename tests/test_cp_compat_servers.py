"""Extra servers (``server.<name>.<key>``) and per-route body limits, as CherryPy has them."""
from __future__ import annotations

import pytest

import app.core as cherrypy
from app.core.config import ConfigError
from helpers import call, fresh_core, http


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    cherrypy.engine.exit()
    fresh_core()


class Root:
    @cherrypy.expose
    def index(self):
        return cherrypy.request.wsgi_environ['SERVER_PORT']

    @cherrypy.expose
    @cherrypy.config(**{'request.body.maxbytes': 10})
    def tiny(self):
        return cherrypy.request.body.read()


def test_a_named_server_key_makes_an_extra_server_started_and_stopped_with_the_engine():
    cherrypy.config.update({'server.socket_port': 0, 'server.socket_host': '127.0.0.1',
                            'log.screen': False,
                            'server.2.socket_port': 0, 'server.2.socket_host': '127.0.0.1',
                            'server.2.instance': 'cherrypy._cpwsgi_server.CPWSGIServer'})
    extra = cherrypy.servers['2']
    assert extra is not cherrypy.server
    cherrypy.tree.mount(Root())
    cherrypy.engine.start()
    port = extra.bound_addr[1]
    assert port != cherrypy.server.bound_addr[1]
    assert http(extra, '/')[::2] == (200, str(port).encode())
    cherrypy.engine.exit()
    assert extra.httpserver is None and not extra.running


def test_an_unsubscribed_extra_server_is_not_started():
    cherrypy.config.update({'server.socket_port': 0, 'log.screen': False,
                            'server.other.socket_port': 0})
    cherrypy.servers['other'].unsubscribe()
    cherrypy.tree.mount(Root())
    cherrypy.engine.start()
    assert cherrypy.server.running
    assert not cherrypy.servers['other'].running


def test_a_typo_in_an_extra_servers_key_is_refused():
    with pytest.raises(ConfigError, match=r"'server\.2\.socket_prot'.*server\.socket_port"):
        cherrypy.config.update({'server.2.socket_prot': 9877})
    assert '2' not in cherrypy.servers


def test_request_body_maxbytes_in_route_config_limits_that_route():
    cherrypy.config.update({'server.max_request_body_size': 200})
    cherrypy.tree.mount(Root())
    r = call(None, '/tiny', 'POST', body=b'x' * 10, headers={'Content-Type': 'text/plain'})
    assert (r.status, r.body) == (200, b'x' * 10)
    r = call(None, '/tiny', 'POST', body=b'x' * 11, headers={'Content-Type': 'text/plain'})
    assert r.status == 413


def test_the_server_limit_still_applies_when_the_route_allows_more():
    cherrypy.config.update({'server.max_request_body_size': 5})
    cherrypy.tree.mount(Root())
    r = call(None, '/tiny', 'POST', body=b'x' * 8, headers={'Content-Type': 'text/plain'})
    assert r.status == 413
