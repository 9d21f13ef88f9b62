"""Host validation and request.allowed_hosts: no response built from a forged host."""
from __future__ import annotations

import os
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

import app
import app.core as cherrypy
from app.core.lib.hosts import AllowedHosts, host_name, valid_host

from helpers import ROOT, call, live


class Root:
    @cherrypy.expose
    def index(self):
        return cherrypy.request.base

    @cherrypy.expose
    def go(self):
        raise cherrypy.HTTPRedirect('/next')

    class api:  # noqa: N801
        @cherrypy.expose
        def index(self):
            return 'api'


@pytest.mark.parametrize('host', ['a b', 'evil.example/path', 'user@svc.example', '[::1',
                                  'svc.example:80:80', 'caf\u00e9.example', 'x\ty',
                                  'svc.example:123456'])
def test_an_invalid_host_is_a_400(host):
    cherrypy.tree.mount(Root(), '', {'/': {'tools.trailing_slash.on': True}})
    for path in ('/', '/go', '/api'):
        r = call(None, path, headers={'Host': host})
        assert r.status == 400 and 'Location' not in r.headers, (host, path)
        assert b'not a valid host' in r.body


@pytest.mark.parametrize('host', ['svc.example', 'svc.example:8080', 'SVC.Example.', '127.0.0.1',
                                  '[2001:db8::1]:443', 'localhost:'])
def test_valid_hosts_are_served(host):
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/', headers={'Host': host})
    assert r.status == 200 and r.text == 'http://' + host


def test_an_invalid_host_is_a_400_on_the_wire():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree) as server:
        with socket.create_connection(server.bound_addr, timeout=10) as s:
            s.sendall(b'GET /go HTTP/1.1\r\nHost: evil.example/x?\r\nConnection: close\r\n\r\n')
            data = b''
            while chunk := s.recv(65536):
                data += chunk
    assert data.startswith(b'HTTP/1.1 400 '), data[:100]
    assert b'evil' not in data.partition(b'\r\n\r\n')[0]


ALLOWED = {'request.allowed_hosts': ['svc.example', '.example.org']}


@pytest.mark.parametrize('host, status', [
    ('svc.example', 200), ('svc.example:8443', 200), ('SVC.EXAMPLE', 200),
    ('example.org', 200), ('www.example.org', 200), ('a.b.example.org', 200),
    ('evil.example', 400), ('svc.example.evil', 400), ('xexample.org', 400),
    ('127.0.0.1', 400),
])
def test_allowed_hosts(host, status):
    cherrypy.tree.mount(Root(), '', {'/': dict(ALLOWED, **{'tools.trailing_slash.on': True})})
    for path in ('/', '/go', '/api'):
        r = call(None, path, headers={'Host': host})
        assert r.status in ((200, 301, 303) if status == 200 else (400,)), (host, path, r)
        if status == 400:
            assert 'Location' not in r.headers and b'does not answer for that host' in r.body


def test_allowed_hosts_star_and_empty_answer_for_any_host():
    cherrypy.tree.mount(Root(), '', {'/': {'request.allowed_hosts': ['*']}})
    assert call(None, '/', headers={'Host': 'anything.example'}).status == 200
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '', {'/': ALLOWED, '/go': {'request.allowed_hosts': []}})
    assert call(None, '/go', headers={'Host': 'anything.example'}).status == 303
    assert call(None, '/', headers={'Host': 'anything.example'}).status == 400


def test_without_a_host_header_the_server_address_is_used():
    cherrypy.tree.mount(Root(), '', {'/': ALLOWED})
    r = call(None, '/', protocol='HTTP/1.0')
    assert r.status == 200 and r.text == 'http://127.0.0.1'


def test_global_config_applies_to_every_app():
    cherrypy.config.update(ALLOWED)
    cherrypy.tree.mount(Root(), '')
    cherrypy.tree.mount(Root(), '/other')
    assert call(None, '/other/', headers={'Host': 'evil.example'}).status == 400
    assert call(None, '/', headers={'Host': 'www.example.org'}).status == 200


def test_prod_conf_answers_for_its_names_and_probes_for_any():
    cherrypy.config.update({'log.screen': False})
    app.build(os.path.join(ROOT, 'conf', 'prod.conf'))
    cherrypy.config.update({'log.screen': False})
    assert call(None, '/', headers={'Host': 'localhost:8080'}).status == 200
    assert call(None, '/', headers={'Host': 'evil.example'}).status == 400
    assert call(None, '/api', headers={'Host': 'evil.example'}).status == 400
    for probe in ('/healthcheck', '/readyz', '/metrics'):  # kubelet: Host is the pod IP
        assert call(None, probe, headers={'Host': '10.1.2.3:8080'}).status == 200, probe
    # And the ELB's word for the scheme and the client.
    r = call(None, '/api', headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'})
    assert r.status == 301 and r.headers['Location'] == 'https://localhost/api/'


def test_allowed_hosts_from_the_environment(monkeypatch):
    monkeypatch.setenv('APP_REQUEST__ALLOWED_HOSTS', '[".svc.example"]')
    cherrypy.config.reset()
    cherrypy.config.update({'log.screen': False})
    app.build(os.path.join(ROOT, 'conf', 'prod.conf'))
    assert call(None, '/', headers={'Host': 'www.svc.example'}).status == 200
    assert call(None, '/', headers={'Host': 'localhost'}).status == 400


# -- properties -------------------------------------------------------------

_labels = st.from_regex(r'[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?', fullmatch=True)


@given(st.lists(_labels, min_size=1, max_size=4).map('.'.join),
       st.one_of(st.none(), st.integers(0, 65535)))
def test_dns_names_with_any_port_are_valid_and_name_themselves(name, port):
    host = name if port is None else '%s:%d' % (name, port)
    assert valid_host(host) and host_name(host) == name
    assert AllowedHosts(['.' + name.split('.', 1)[-1]])(host)
    assert AllowedHosts([name.upper() + '.'])(host)


@given(st.text(max_size=30))
def test_no_valid_host_can_change_a_url(text):
    if valid_host(text):
        assert not any(c in text for c in '/?#@\\ \t\r\n\x00%')
        assert text.isascii()


@given(st.lists(_labels, min_size=1, max_size=3).map('.'.join), _labels)
def test_a_suffix_pattern_matches_only_at_a_label_boundary(name, prefix):
    allowed = AllowedHosts(['.' + name])
    assert allowed(prefix + '.' + name)
    assert not allowed(prefix + name) or (prefix + name).endswith('.' + name)
