"""tools.proxy: X-Forwarded-For/-Proto/-Host behind a load balancer (an ELB)."""
from __future__ import annotations

import json

import pytest

import app.core as cherrypy

from helpers import call, http, live


class Root:
    @cherrypy.expose
    def index(self):
        req = cherrypy.request
        return json.dumps({'ip': req.remote.ip, 'base': req.base, 'scheme': req.scheme,
                           'url': cherrypy.url('/x')})

    @cherrypy.expose
    def go(self):
        raise cherrypy.HTTPRedirect('/target')


def mount(**proxy):
    conf = {'tools.proxy.on': True}
    conf.update({'tools.proxy.' + k: v for k, v in proxy.items()})
    cherrypy.tree.mount(Root(), '', {'/': conf})


def seen(headers=None, **kw):
    r = call(None, '/', headers=headers or {}, **kw)
    assert r.status == 200
    return r.json()


def test_without_the_tool_forwarded_headers_are_ignored():
    cherrypy.tree.mount(Root(), '')
    d = seen({'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
              'X-Forwarded-Host': 'evil.example'})
    assert d == {'ip': '127.0.0.1', 'base': 'http://127.0.0.1', 'scheme': 'http',
                 'url': 'http://127.0.0.1/x'}


def test_elb_headers_set_ip_scheme_and_base():
    mount()
    d = seen({'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
              'X-Forwarded-Host': 'www.example.com', 'Host': 'internal:8080'})
    assert d == {'ip': '203.0.113.7', 'base': 'https://www.example.com', 'scheme': 'https',
                 'url': 'https://www.example.com/x'}


def test_first_address_of_a_list_is_the_client():
    mount()
    assert seen({'X-Forwarded-For': ' 198.51.100.2 , 10.0.0.1, 10.0.0.2'})['ip'] == \
        '198.51.100.2'
    d = seen({'X-Forwarded-Host': 'public.example, lb.internal',
              'X-Forwarded-Proto': 'https, http'})
    assert d['base'] == 'https://public.example' and d['scheme'] == 'https'


def test_host_header_is_used_without_x_forwarded_host():
    mount()
    d = seen({'Host': 'svc.example:8443', 'X-Forwarded-Proto': 'HTTPS'})
    assert d['base'] == 'https://svc.example:8443' and d['scheme'] == 'https'
    assert seen({'X-Forwarded-For': '192.0.2.1'})['base'] == 'http://127.0.0.1'
    d = seen(protocol='HTTP/1.0')  # no Host header at all: the server's own address
    assert d['base'] == 'http://127.0.0.1'


def test_configured_base_wins_over_host_but_not_x_forwarded_host():
    mount(base='https://www.example.com')
    assert seen({'Host': 'internal:8080'})['base'] == 'https://www.example.com'
    assert seen({'X-Forwarded-Host': 'cdn.example'})['base'] == 'http://cdn.example'
    cherrypy.tree.apps.clear()
    mount(base='www.example.com')
    assert seen({'X-Forwarded-Proto': 'https'})['base'] == 'https://www.example.com'


def test_unknown_scheme_values_are_ignored():
    mount()
    d = seen({'X-Forwarded-Proto': 'gopher'})
    assert d['scheme'] == 'http' and d['base'] == 'http://127.0.0.1'


def test_custom_header_names_and_x_forwarded_ssl():
    mount(remote='X-Real-IP', scheme='X-Forwarded-Ssl', local='X-Host')
    d = seen({'X-Real-IP': '192.0.2.9', 'X-Forwarded-Ssl': 'on', 'X-Host': 'a.example',
              'X-Forwarded-For': '203.0.113.7'})
    assert d == {'ip': '192.0.2.9', 'base': 'https://a.example', 'scheme': 'https',
                 'url': 'https://a.example/x'}


def test_disabled_parts():
    mount(remote='', scheme='', local='')
    d = seen({'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
              'X-Forwarded-Host': 'x.example', 'Host': 'h.example'})
    assert d == {'ip': '127.0.0.1', 'base': 'http://h.example', 'scheme': 'http',
                 'url': 'http://h.example/x'}


def test_redirects_use_the_public_address():
    mount()
    r = call(None, '/go', headers={'X-Forwarded-Proto': 'https',
                                   'X-Forwarded-Host': 'www.example.com'})
    assert r.status == 303 and r.headers['Location'] == 'https://www.example.com/target'


@pytest.mark.parametrize('xff,ip', [('', '127.0.0.1'), (',', '127.0.0.1'),
                                     (' , 10.0.0.1', '127.0.0.1'),
                                     ('not-an-ip', 'not-an-ip'), ('2001:db8::1', '2001:db8::1')])
def test_odd_forwarded_for_values_never_fail(xff, ip):
    mount()
    assert seen({'X-Forwarded-For': xff})['ip'] == ip


def test_proxy_live_through_the_server():
    mount()
    with live(cherrypy.tree) as server:
        status, _h, body = http(server, '/', headers={
            'X-Forwarded-For': '203.0.113.50, 10.1.2.3', 'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'shop.example'})
        assert status == 200
        assert json.loads(body) == {'ip': '203.0.113.50', 'base': 'https://shop.example',
                                    'scheme': 'https', 'url': 'https://shop.example/x'}
        status, _h, body = http(server, '/')
        host, port = server.bound_addr
        assert json.loads(body)['base'] == 'http://%s:%d' % (host, port)
        assert json.loads(body)['ip'] == '127.0.0.1'
