"""Hostile input: no forged header, no 5xx from a bad date, host or parameter name."""
from __future__ import annotations

import base64
import socket
import urllib.parse

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import app.core as cherrypy
from app.core.lib.httputil import parse_http_date, safe_header_value

from helpers import call, live


class Root:
    @cherrypy.expose
    def go(self, to='/'):
        raise cherrypy.HTTPRedirect(to)

    @cherrypy.expose
    def header(self, value=''):
        cherrypy.response.headers['X-Echo'] = value
        return 'ok'

    @cherrypy.expose
    def cookie(self, path='/'):
        cherrypy.response.cookie['c'] = 'v'
        cherrypy.response.cookie['c']['path'] = path
        return 'ok'

    @cherrypy.expose
    def anything(self, **kwargs):
        return 'kw %s' % sorted(kwargs)

    @cherrypy.expose
    def raw_header(self):
        cherrypy.response.headers['X-Bytes'] = b'caf\xe9'
        cherrypy.response.headers['X-Int'] = 5
        return 'ok'

    class api:  # noqa: N801
        @cherrypy.expose
        def index(self):
            return 'api'


@pytest.fixture
def app():
    cherrypy.config.update({'log.screen': False})
    return cherrypy.tree.mount(Root(), '')


def _wire_headers(result) -> list[tuple[str, str]]:
    return result.header_list


@pytest.mark.parametrize('target', [
    '%0d%0aX-Injected:%201', '/x%0d%0aX-Injected:%201', '/x%0aX-Injected:%201',
    '/a%00b%0bc%7fd', 'x-injected:%0d%0aSet-Cookie:%20a=b',
])
def test_a_redirect_target_cannot_add_a_header(app, target):
    r = call(None, '/go', query='to=' + target)
    assert r.status == 303
    for name, value in r.header_list:
        assert name.lower() not in ('x-injected', 'set-cookie'), r.header_list
        assert not any(ord(c) < 32 or ord(c) == 127 for c in name + value), (name, value)


def test_the_trailing_slash_redirect_strips_control_characters(app):
    r = call(None, '/api', query='\x0bX\x7f')
    assert r.status == 301
    assert r.headers['Location'] == 'http://127.0.0.1/api/?X'


def test_a_location_beyond_latin_1_is_percent_encoded_not_a_500(app):
    r = call(None, '/go', query='to=/%E2%80%A8x%C3%A9')
    assert r.status == 303
    assert r.headers['Location'] == 'http://127.0.0.1/%E2%80%A8x%C3%A9'


def test_header_values_set_by_a_handler_are_made_safe(app):
    r = call(None, '/header', query='value=a%0d%0aX-Injected:%201')
    assert r.headers['X-Echo'] == 'aX-Injected: 1' and 'X-Injected' not in r.headers
    r = call(None, '/header', query='value=%E2%98%83')  # a snowman: RFC 2047
    assert r.headers['X-Echo'] == '=?utf-8?b?4piD?='
    r = call(None, '/raw_header')
    assert (r.headers['X-Bytes'], r.headers['X-Int']) == ('caf\xe9', '5')


def test_a_cookie_attribute_cannot_add_a_header(app):
    r = call(None, '/cookie', query='path=/%0d%0aX-Injected:%201')
    assert 'X-Injected' not in r.headers
    assert all('\r' not in v and '\n' not in v for _n, v in r.header_list)


def test_an_impossible_if_modified_since_is_ignored(app):
    assert parse_http_date('Mon, 01 Jan 2024 00:00:0999999999999999999999 GMT') is None
    cherrypy.tree.apps.clear()
    from app import CONF_DIR, build
    import os
    build(os.path.join(CONF_DIR, 'test.conf'))
    bad = {'If-Modified-Since': 'Mon, 01 Jan 2024 00:00:0999999999999999999999 GMT'}
    assert call(None, '/', headers=bad).status == 200
    assert call(None, '/static/style.css', headers=bad).status == 200


def test_an_unbalanced_host_is_a_400_where_a_redirect_is_built(app):
    r = call(None, '/api', headers={'Host': '[::1'})
    assert r.status == 400 and b'Host header' in r.body


def test_a_parameter_named_self_is_a_404_like_any_unexpected_one(app):
    r = call(None, '/anything', query='self=1&a=2')
    assert r.status == 404 and b'self' in r.body
    assert call(None, '/anything', query='a=2').text == "kw ['a']"


def test_no_header_injection_reaches_the_wire(app):
    with live(cherrypy.tree) as server:
        s = socket.create_connection(server.bound_addr, timeout=10)
        s.sendall(b'GET /go?to=%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: x\r\n'
                  b'Connection: close\r\n\r\n')
        data = b''
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head = data.split(b'\r\n\r\n', 1)[0]
        assert head.startswith(b'HTTP/1.1 303 ')
        assert b'\r\nX-Injected' not in head and b'\nX-Injected' not in head


@pytest.mark.parametrize('name, value, expected', [
    ('X-A', 'plain', 'plain'),
    ('X-A', 'tab\tkept', 'tab\tkept'),
    ('X-A', 'a\r\nB: c', 'aB: c'),
    ('X-A', '\x00\x1f\x7f', ''),
    ('X-A', 'café', 'café'),
    ('Location', '/naïve/☃', '/na%C3%AFve/%E2%98%83'),
    ('Location', '/a?b=c&d=%20', '/a?b=c&d=%20'),
    ('Location', '/caf\xe9', '/caf%C3%A9'),
    # Long text beyond Latin-1: one encoded-word (email.header folded it onto two lines).
    ('X-A', '\u2603' * 40, '=?utf-8?b?' + base64.b64encode('\u2603'.encode() * 40).decode() + '?='),
])
def test_safe_header_value(name, value, expected):
    assert safe_header_value(name, value) == expected


def test_no_path_around_the_header_check(app):
    class Sneaky:
        @cherrypy.expose
        def plain(self):
            cherrypy.response.headers = {'Content-Type': 'text/plain', 'X-A': 'a\r\nX-Injected: 1'}
            return 'ok'

        @cherrypy.expose
        def raw(self):
            cherrypy.response.headers['X-A'] = b'a\r\nX-Injected: 1'
            cherrypy.response.headers.setdefault('X-B', 'b\nX-Injected: 2')
            return 'ok'

        @cherrypy.expose
        def name(self):
            cherrypy.response.headers['X-A\r\nX-Injected'] = '1'
            return 'ok'
    cherrypy.tree.mount(Sneaky(), '/sneaky')
    for path in ('/sneaky/plain', '/sneaky/raw'):
        r = call(None, path)
        assert r.status == 200 and 'X-Injected' not in r.headers, r.header_list
        assert all('\n' not in n + v and '\r' not in n + v for n, v in r.header_list)
    assert call(None, '/sneaky/raw').headers['X-A'] == 'aX-Injected: 1'
    r = call(None, '/sneaky/name')
    assert r.status == 500 and 'X-Injected' not in r.headers


def _exchange(server, raw: bytes) -> bytes:
    s = socket.create_connection(server.bound_addr, timeout=10)
    s.sendall(raw)
    data = b''
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return data


@pytest.mark.parametrize('head, why', [
    (b'POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
     b'Content-Length: 3\r\n\r\n2\r\nxx\r\n0\r\n\r\nGET /go?to=/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
     b'Transfer-Encoding and Content-Length together'),
    (b'POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n'
     b'abcdeGET /go?to=/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
     b'Content-Length headers that differ'),
    (b'POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc',
     b'a Content-Length that is not a number'),
    (b'GET / HTTP/1.1\r\n folded\r\nHost: x\r\n\r\nGET /go?to=/smuggled HTTP/1.1\r\n\r\n',
     b'a header continuation line before any header'),
    (b'GET /go?to=/smuggled HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n',
     b'more than one Host header'),
    (b'GET /go?to=/smuggled HTTP/1.1\r\nHost: good.example\r\nHOST : evil.example\r\n\r\n',
     b'whitespace between a header name and its colon'),
    (b'POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n'
     b'Content-Length: 3\r\n\r\nabcGET /go?to=/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
     b'whitespace between a header name and its colon'),
    (b'POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: x\r\n\r\n'
     b'abcGET /go?to=/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
     b'a Content-Length that is not a number'),
])
def test_ambiguous_framing_is_a_400_and_nothing_after_it_is_read(app, head, why):
    with live(cherrypy.tree) as server:
        data = _exchange(server, head)
    assert data.startswith(b'HTTP/1.1 400 Bad Request\r\n') and why in data, data
    assert data.count(b'HTTP/1.1 ') == 1 and b'smuggled' not in data


def test_a_colon_after_a_space_in_a_value_is_fine(app):
    with live(cherrypy.tree) as server:
        data = _exchange(server, b'GET /anything HTTP/1.1\r\nHost: x\r\nUser-Agent: a :) b\r\n'
                                 b'X-Host : not framing\r\nConnection: close\r\n\r\n')
    assert data.startswith(b'HTTP/1.1 200 OK'), data[:100]


def test_the_same_content_length_twice_is_fine(app):
    with live(cherrypy.tree) as server:
        data = _exchange(server, b'POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n'
                                 b'Content-Length: 3\r\nConnection: close\r\n'
                                 b'Content-Type: application/x-www-form-urlencoded\r\n\r\na=1')
    assert data.startswith(b'HTTP/1.1 200 OK') and data.endswith(b"kw ['a']")


class Bodies:
    @cherrypy.expose
    def raw(self):
        return 'read %d' % len(cherrypy.request.body.read())

    @cherrypy.expose
    def form(self, **kw):
        return 'form %s' % sorted(kw)


@pytest.mark.parametrize('path', ['/b/raw', '/b/form'])
@pytest.mark.parametrize('chunks, status', [
    (b'2\r\nxxGARBAGE', b'400'),              # a chunk without its CRLF
    (b'2540be400\r\nxx\r\n0\r\n\r\n', b'413'),  # an absurd chunk size
    (b'zz\r\nxx\r\n0\r\n\r\n', b'400'),        # a chunk size that is no number
    (b'80\r\n' + b'x' * 128 + b'\r\n0\r\n\r\n', b'413'),  # more than the limit
])
def test_bad_chunked_bodies_get_their_4xx(path, chunks, status):
    cherrypy.config.update({'log.screen': False, 'server.max_request_body_size': 100})
    cherrypy.tree.mount(Bodies(), '/b', {'/raw': {'request.process_request_body': False}})
    with live(cherrypy.tree, max_request_body_size=100) as server:
        data = _exchange(server, b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: x\r\n'
                         b'Content-Type: application/x-www-form-urlencoded\r\n'
                         b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n' + chunks)
    assert data.startswith(b'HTTP/1.1 ' + status), data[:200]


def test_a_good_chunked_body_still_reads(app):
    cherrypy.tree.mount(Bodies(), '/b', {'/raw': {'request.process_request_body': False}})
    with live(cherrypy.tree) as server:
        data = _exchange(server, b'POST /b/form HTTP/1.1\r\nHost: x\r\n'
                         b'Content-Type: application/x-www-form-urlencoded\r\n'
                         b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
                         b'3\r\na=1\r\n0\r\n\r\n')
    assert data.startswith(b'HTTP/1.1 200') and data.endswith(b"form ['a']")


@pytest.mark.parametrize('method', ['POST', 'PUT', 'PATCH'])
def test_a_body_without_a_length_is_411(app, method):
    r = call(None, '/anything', method=method, headers={'Content-Length': ''})
    assert r.status == 411 and b'Content-Length' in r.body
    with live(cherrypy.tree) as server:
        data = _exchange(server, method.encode() + b' /anything HTTP/1.1\r\nHost: x\r\n'
                         b'Content-Type: application/x-www-form-urlencoded\r\n'
                         b'Connection: close\r\n\r\n')
    assert data.startswith(b'HTTP/1.1 411 Length Required\r\n'), data[:200]


def test_no_length_is_fine_where_no_body_is_read(app):
    assert call(None, '/anything', method='DELETE').status == 200
    cherrypy.tree.mount(Bodies(), '/b', {'/raw': {'request.process_request_body': False}})
    assert call(None, '/b/raw', method='POST', headers={'Content-Length': ''}).text == 'read 0'


# -- properties of safe_header_value ------------------------------------------

_names = st.sampled_from(['X-A', 'Location', 'location', 'Set-Cookie', 'Content-Disposition'])


@given(_names, st.text(max_size=60))
@example('Location', '/%0d%0a\r\nX: 1')
@example('X-A', '\u2028\x85\x00')
def test_a_safe_value_is_one_latin_1_header_line(name, value):
    out = safe_header_value(name, value)
    raw = out.encode('latin-1')  # never raises: only Latin-1 goes on the wire
    assert not any(b < 32 and b != 9 or b == 127 for b in raw)
    if name.lower() == 'location':
        assert raw.isascii()


@given(_names, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255,
                                                 blacklist_characters='\x7f'), max_size=60))
def test_a_value_that_is_already_safe_is_unchanged(name, value):
    if name.lower() != 'location' or value.isascii():
        assert safe_header_value(name, value) == value


@given(st.text(max_size=40))
def test_a_location_keeps_its_meaning(value):
    out = safe_header_value('Location', value)
    clean = ''.join(c for c in value if not (ord(c) < 32 and c != '\t' or ord(c) == 127))
    assert urllib.parse.unquote(out) == urllib.parse.unquote(clean) or not clean.isascii()
    assert safe_header_value('Location', out) == out  # idempotent
