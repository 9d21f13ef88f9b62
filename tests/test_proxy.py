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


def test_elb_headers_set_ip_and_scheme():
    mount()
    d = seen({'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
              'Host': 'www.example.com'})
    assert d == {'ip': '203.0.113.7', 'base': 'https://www.example.com', 'scheme': 'https',
                 'url': 'https://www.example.com/x'}


def test_the_client_is_the_entry_the_trusted_proxy_appended():
    # The client wrote '198.51.100.2, 10.0.0.1'; the ELB appended 10.0.0.2, the
    # address it saw. Only that last entry is the ELB's word.
    mount()
    assert seen({'X-Forwarded-For': ' 198.51.100.2 , 10.0.0.1, 10.0.0.2'})['ip'] == '10.0.0.2'
    d = seen({'X-Forwarded-Proto': 'https, http'})  # the client's https, the ELB's http
    assert d['scheme'] == 'http' and d['base'] == 'http://127.0.0.1'


@pytest.mark.parametrize('hops, ip', [(1, '192.0.2.30'), (2, '192.0.2.20'), (3, '192.0.2.10'),
                                      (5, '192.0.2.10'), (0, '127.0.0.1')])
def test_hops_counts_the_trusted_proxies_from_the_right(hops, ip):
    # A CDN then the ELB: hops = 2 takes what the CDN appended.
    mount(hops=hops)
    assert seen({'X-Forwarded-For': '192.0.2.10, 192.0.2.20, 192.0.2.30',
                 'X-Forwarded-Proto': 'https'})['ip'] == ip


def test_hops_zero_believes_no_forwarded_header():
    mount(hops=0, local='X-Forwarded-Host')
    d = seen({'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
              'X-Forwarded-Host': 'evil.example', 'Host': 'svc.example'})
    assert d == {'ip': '127.0.0.1', 'base': 'http://svc.example', 'scheme': 'http',
                 'url': 'http://svc.example/x'}


def test_x_forwarded_host_is_ignored_unless_configured():
    mount()
    d = seen({'X-Forwarded-Host': 'evil.example', 'Host': 'svc.example'})
    assert d['base'] == 'http://svc.example'
    r = call(None, '/go', headers={'X-Forwarded-Host': 'evil.example', 'Host': 'svc.example'})
    assert r.headers['Location'] == 'http://svc.example/target'


def test_x_forwarded_host_when_configured():
    mount(local='X-Forwarded-Host')
    d = seen({'X-Forwarded-Host': 'client.example, public.example', 'Host': 'internal:8080'})
    assert d['base'] == 'http://public.example'


@pytest.mark.parametrize('forwarded', ['evil.example', 'a b', 'x/y', 'svc.example@evil'])
def test_a_forwarded_host_outside_allowed_hosts_is_a_400(forwarded):
    conf = {'tools.proxy.on': True, 'tools.proxy.local': 'X-Forwarded-Host',
            'request.allowed_hosts': ['svc.example', '.svc.example']}
    cherrypy.tree.mount(Root(), '', {'/': conf})
    r = call(None, '/go', headers={'X-Forwarded-Host': forwarded, 'Host': 'svc.example'})
    assert r.status == 400 and 'Location' not in r.headers
    r = call(None, '/go', headers={'X-Forwarded-Host': 'www.svc.example', 'Host': 'svc.example'})
    assert r.headers['Location'] == 'http://www.svc.example/target'


def test_host_header_is_used_without_x_forwarded_host():
    mount()
    d = seen({'Host': 'svc.example:8443', 'X-Forwarded-Proto': 'HTTPS'})
    assert d['base'] == 'https://svc.example:8443' and d['scheme'] == 'https'
    assert seen({'X-Forwarded-For': '192.0.2.1'})['base'] == 'http://127.0.0.1'
    d = seen(protocol='HTTP/1.0')  # no Host header at all: the server's own address
    assert d['base'] == 'http://127.0.0.1'


def test_configured_base_wins_over_host_and_x_forwarded_host():
    mount(base='https://www.example.com', local='X-Forwarded-Host')
    assert seen({'Host': 'internal:8080'})['base'] == 'https://www.example.com'
    assert seen({'X-Forwarded-Host': 'cdn.example'})['base'] == 'https://www.example.com'
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
    r = call(None, '/go', headers={'X-Forwarded-Proto': 'https', 'Host': 'www.example.com'})
    assert r.status == 303 and r.headers['Location'] == 'https://www.example.com/target'


@pytest.mark.parametrize('xff,ip', [('', '127.0.0.1'), (',', '127.0.0.1'),
                                     ('10.0.0.1, ', '127.0.0.1'),
                                     ('not-an-ip', '127.0.0.1'), ('1.2.3.4\r\nX: y', '127.0.0.1'),
                                     ('2001:db8::1', '2001:db8::1'),
                                     ('[2001:db8::1]:443', '2001:db8::1'),
                                     ('192.0.2.1:5555', '192.0.2.1')])
def test_odd_forwarded_for_values_never_fail(xff, ip):
    mount()
    assert seen({'X-Forwarded-For': xff})['ip'] == ip


def test_proxy_live_through_the_server():
    mount()
    with live(cherrypy.tree) as server:
        status, _h, body = http(server, '/', headers={
            'X-Forwarded-For': '203.0.113.50, 10.1.2.3', 'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'shop.example', 'Host': 'svc.example'})
        assert status == 200
        assert json.loads(body) == {'ip': '10.1.2.3', 'base': 'https://svc.example',
                                    'scheme': 'https', 'url': 'https://svc.example/x'}
        status, _h, body = http(server, '/')
        host, port = server.bound_addr
        assert json.loads(body)['base'] == 'http://%s:%d' % (host, port)
        assert json.loads(body)['ip'] == '127.0.0.1'
