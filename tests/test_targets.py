"""Request targets as an origin server reads them (RFC 9112 section 3.2)."""
from __future__ import annotations

import socket
import urllib.parse

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import app.core as cherrypy
from app.core.heads import split_target

from helpers import live


class Root:
    @cherrypy.expose
    def echo(self, *args, **kwargs):
        req = cherrypy.request
        return '%s %s %s %s' % (req.base, req.path_info, sorted(kwargs), list(args))

    @cherrypy.expose
    def go(self, to='/'):
        raise cherrypy.HTTPRedirect(to)


@pytest.fixture
def server():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree) as s:
        yield s


def exchange(server, head: bytes) -> bytes:
    with socket.create_connection(server.bound_addr, timeout=10) as s:
        s.sendall(head)
        data = b''
        while chunk := s.recv(65536):
            data += chunk
    return data


def request(server, target: bytes, host: bytes = b'Host: origin.example\r\n',
            method: bytes = b'GET') -> tuple[bytes, bytes]:
    data = exchange(server, method + b' ' + target + b' HTTP/1.1\r\n' + host
                    + b'Connection: close\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    return head, body


def test_the_absolute_form_is_served_with_the_host_it_names(server):
    head, body = request(server, b'http://svc.example:8080/echo/a%20b?x=1')
    assert head.startswith(b'HTTP/1.1 200 OK'), head
    assert body == b"http://svc.example:8080 /echo/a b ['x'] ['a b']"
    # The target's host wins over the Host header (RFC 9112 section 3.2.2),
    # also where a redirect is built.
    head, _ = request(server, b'http://svc.example/go?to=/next',
                      host=b'Host: evil.example\r\n')
    assert b'\r\nLocation: http://svc.example/next\r\n' in head, head


def test_the_absolute_form_does_not_change_the_scheme(server):
    _, body = request(server, b'https://svc.example/echo')
    assert body.startswith(b'http://svc.example '), body  # NOTE: this is a plain connection


def test_a_path_starting_with_two_slashes_is_a_path_not_a_host(server):
    _, body = request(server, b'//evil.example/echo')
    assert b'evil.example' not in body.split(b' ')[0]
    head, _ = request(server, b'//evil.example/go?to=x')
    assert b'Location: http://evil.example' not in head


@pytest.mark.parametrize('target, method, status', [
    (b'ftp://svc.example/echo', b'GET', b'400'),
    (b'http://user@svc.example/echo', b'GET', b'400'),
    (b'http:///echo', b'GET', b'400'),
    (b'x-injected:1', b'GET', b'400'),
    (b'svc.example:443', b'CONNECT', b'405'),
    # Found by the fuzz test: urlsplit's ValueError was cheroot's 500.
    (b'http://l]calhost/echo', b'GET', b'400'),
    (b'//[x/echo', b'GET', b'400'),
])
def test_targets_that_are_refused(server, target, method, status):
    head, _ = request(server, target, method=method)
    assert head.startswith(b'HTTP/1.1 ' + status), head


# -- properties of split_target ---------------------------------------------

_PATH_CHARS = st.sampled_from(list('abcXYZ019-._~!$&\'()*+,;=:@/%') + ['%2F', '%20', '%41'])
_paths = st.lists(_PATH_CHARS, max_size=20).map(''.join)
_hosts = st.from_regex(r'[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6})?(:[0-9]{1,5})?',
                       fullmatch=True)
_queries = st.text(alphabet='abc=&%20+;', max_size=15)


@given(_paths, _queries)
@example('/a%2Fb', '')
def test_an_origin_form_target_keeps_its_path_and_query(path, query):
    target = ('/' + path + ('?' + query if query else '')).encode()
    authority, got_path, got_query = split_target(target)
    assert authority == b''
    assert got_query == query.encode()
    # %-decoded, except for encoded slashes, which stay as they came.
    expected = b'%2F'.join(urllib.parse.unquote_to_bytes(p)
                           for p in ('/' + path).encode().replace(b'%2f', b'%2F').split(b'%2F'))
    assert got_path == expected


@given(st.sampled_from(['http', 'https', 'HTTP']), _hosts, _paths, _queries)
def test_an_absolute_form_target_names_its_host(scheme, host, path, query):
    target = '%s://%s%s%s' % (scheme, host, '/' + path if path else '',
                              '?' + query if query else '')
    authority, got_path, got_query = split_target(target.encode())
    assert authority == host.encode()
    assert got_query == query.encode()
    assert got_path.startswith(b'/')
    assert got_path == split_target(('/' + path).encode())[1]


@given(st.binary(max_size=40))
def test_any_bytes_give_a_target_or_a_refusal(raw):
    out = split_target(raw)
    if out is not None:
        authority, path, _ = out
        assert path.startswith(b'/')
        assert b'@' not in authority and b'/' not in authority
