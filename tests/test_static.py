"""Static files: staticdir, staticfile, serve_file, serve_download; traversal refused."""
from __future__ import annotations

import http.client as httpclient
import io
import os
import socket
import wsgiref.util

import pytest

import app.core as cherrypy
from app.core.lib import static
from app.core.lib.httputil import HTTPDate

from helpers import call, http, live

SECRET = b'TOP SECRET: never served'
CONTENT = b'0123456789abcdefghij'


@pytest.fixture
def site(tmp_path):
    """A static tree, a secret beside it, and symlinks in and out of it."""
    root = tmp_path / 'site'
    d = root / 'static'
    (d / 'sub').mkdir(parents=True)
    (d / 'docs').mkdir()
    (d / 'index.html').write_bytes(b'<h1>home</h1>')
    (d / 'style.css').write_bytes(b'body {}')
    (d / 'app.js').write_bytes(b'let x;')
    (d / 'data.json').write_bytes(b'{}')
    (d / 'image.png').write_bytes(b'\x89PNG\r\n\x1a\n')
    (d / 'blob.unknownext').write_bytes(b'??')
    (d / 'digits.txt').write_bytes(CONTENT)
    (d / 'with space.txt').write_bytes(b'spaced')
    (d / 'ünï.txt').write_bytes(b'unicode')
    (d / 'sub' / 'readme.txt').write_bytes(b'readme')
    (d / 'docs' / 'index.html').write_bytes(b'docs index')
    (tmp_path / 'secret.txt').write_bytes(SECRET)
    (root / 'secret.txt').write_bytes(SECRET)
    os.symlink(tmp_path / 'secret.txt', d / 'escape.txt')
    os.symlink(tmp_path, d / 'outdir')
    os.symlink(d / 'sub' / 'readme.txt', d / 'inner.txt')
    os.utime(d / 'digits.txt', (1_600_000_000, 1_600_000_000))

    class Root:
        @cherrypy.expose
        def index(self):
            return 'root'

        @cherrypy.expose
        def file(self, name='digits.txt', ctype=None, disposition=None, as_name=None):
            return static.serve_file(str(d / name), ctype, disposition, as_name)

        @cherrypy.expose
        def download(self, name='digits.txt', as_name=None):
            return static.serve_download(str(d / name), as_name)

        @cherrypy.expose
        def relative(self):
            return static.serve_file('static/digits.txt')

        @cherrypy.expose
        def fileobj(self):
            return static.serve_fileobj(io.BytesIO(b'from memory'), 'text/plain',
                                        'attachment', 'mem.txt')

    cherrypy.tree.mount(Root(), '', {
        '/static': {'tools.staticdir.on': True, 'tools.staticdir.dir': str(d)},
        '/site': {'tools.staticdir.on': True, 'tools.staticdir.root': str(root),
                  'tools.staticdir.dir': 'static', 'tools.staticdir.index': 'index.html',
                  'tools.staticdir.content_types': {'txt': 'text/x-custom'}},
        '/only-css': {'tools.staticdir.on': True, 'tools.staticdir.dir': str(d),
                      'tools.staticdir.match': r'\.css$'},
        '/style.css': {'tools.staticfile.on': True,
                       'tools.staticfile.filename': str(d / 'style.css')},
        '/favicon.ico': {'tools.staticfile.on': True, 'tools.staticfile.root': str(d),
                         'tools.staticfile.filename': 'image.png',
                         'tools.staticfile.content_types': {'png': 'image/x-icon'}},
        '/css-only-file': {'tools.staticfile.on': True, 'tools.staticfile.match': r'\.css$',
                           'tools.staticfile.filename': str(d / 'style.css')},
        '/nofile': {'tools.staticfile.on': True,
                    'tools.staticfile.filename': str(d / 'missing.txt')},
        '/badfile': {'tools.staticfile.on': True, 'tools.staticfile.filename': 'rel.txt'},
        '/baddir': {'tools.staticdir.on': True, 'tools.staticdir.dir': 'static'},
    })
    return d


@pytest.mark.parametrize('path,ctype,body', [
    ('/static/index.html', 'text/html', b'<h1>home</h1>'),
    ('/static/style.css', 'text/css', b'body {}'),
    ('/static/app.js', 'application/javascript', b'let x;'),
    ('/static/data.json', 'application/json', b'{}'),
    ('/static/image.png', 'image/png', b'\x89PNG\r\n\x1a\n'),
    ('/static/blob.unknownext', 'application/octet-stream', b'??'),
    ('/static/sub/readme.txt', 'text/plain', b'readme'),
    ('/static/with space.txt', 'text/plain', b'spaced'),
    ('/static/with%20space.txt', 'text/plain', b'spaced'),
    ('/static/ünï.txt', 'text/plain', b'unicode'),
    ('/static/inner.txt', 'text/plain', b'readme'),
    ('/site/sub/readme.txt', 'text/x-custom', b'readme'),
    ('/style.css', 'text/css', b'body {}'),
    ('/favicon.ico', 'image/x-icon', b'\x89PNG\r\n\x1a\n'),
    ('/only-css/style.css', 'text/css', b'body {}'),
])
def test_staticdir_and_staticfile_serve_with_content_types(site, path, ctype, body):
    r = call(None, path)
    assert (r.status, r.headers['Content-Type'], r.body) == (200, ctype, body)
    assert r.headers['Content-Length'] == str(len(body))
    assert r.headers['Accept-Ranges'] == 'bytes'


def test_index_file_and_no_directory_listing(site):
    assert call(None, '/site/').body == b'<h1>home</h1>'
    r = call(None, '/site?x=1')  # the section's own URL is an index: 301, as CherryPy
    assert r.status == 301 and r.headers['Location'].endswith('/site/?x=1')
    assert call(None, '/site/docs/').body == b'docs index'
    for path in ('/static/', '/static', '/static/sub/', '/site/sub/'):
        r = call(None, path)
        assert r.status == 404 and b'readme' not in r.body and b'digits' not in r.body


def test_not_matching_or_missing_files_fall_through_to_404(site):
    assert call(None, '/only-css/app.js').status == 404
    assert call(None, '/css-only-file').status == 404
    assert call(None, '/nofile').status == 404
    assert call(None, '/static/missing.txt').status == 404
    assert call(None, '/static/index.html', method='POST').status == 404
    assert call(None, '/style.css', method='POST').status == 404


def test_relative_paths_without_root_are_config_errors(site):
    assert call(None, '/badfile').status == 500
    assert call(None, '/baddir/index.html').status == 500
    assert call(None, '/relative').status == 500


def test_last_modified_and_if_modified_since(site):
    r = call(None, '/static/digits.txt')
    assert r.headers['Last-Modified'] == HTTPDate(1_600_000_000)
    for since in (HTTPDate(1_600_000_000), HTTPDate(1_700_000_000)):
        r = call(None, '/static/digits.txt', headers={'If-Modified-Since': since})
        assert r.status == 304 and r.body == b'' and 'Content-Length' not in r.headers
    for since in (HTTPDate(1_500_000_000), 'not a date'):
        r = call(None, '/static/digits.txt', headers={'If-Modified-Since': since})
        assert r.status == 200 and r.body == CONTENT


@pytest.mark.parametrize('rng,status,content_range,body', [
    ('bytes=0-4', 206, 'bytes 0-4/20', CONTENT[:5]),
    ('bytes=5-', 206, 'bytes 5-19/20', CONTENT[5:]),
    ('bytes=-3', 206, 'bytes 17-19/20', CONTENT[-3:]),
    ('bytes=-50', 200, None, CONTENT),
    ('bytes=15-99', 206, 'bytes 15-19/20', CONTENT[15:]),
    ('bytes=0-19', 200, None, CONTENT),
    ('items=0-4', 200, None, CONTENT),
    ('bytes=a-b', 200, None, CONTENT),
    ('bytes=5', 200, None, CONTENT),
    # Not valid range specs (RFC 9110 section 14.1.1): ignored, the whole file.
    ('bytes=9-3', 200, None, CONTENT),
    ('bytes=+1-2', 200, None, CONTENT),
    ('bytes=--5', 200, None, CONTENT),
    ('bytes=1_0-', 200, None, CONTENT),
    ('bytes=-', 200, None, CONTENT),
    ('bytes=\u0661-', 200, None, CONTENT),
    # Many or overlapping ranges would amplify the response: the whole file, once.
    ('bytes=' + ','.join(['0-19'] * 500), 200, None, CONTENT),
    ('bytes=0-,0-,0-', 200, None, CONTENT),
])
def test_range_requests(site, rng, status, content_range, body):
    r = call(None, '/static/digits.txt', headers={'Range': rng})
    assert (r.status, r.headers.get('Content-Range'), r.body) == (status, content_range, body)
    assert r.headers['Content-Length'] == str(len(body))


def test_a_few_ranges_are_multipart_byteranges_in_the_order_asked(site):
    r = call(None, '/static/digits.txt', headers={'Range': 'bytes=4-6,0-1,-2'})
    assert r.status == 206
    ctype = r.headers['Content-Type']
    assert ctype.startswith('multipart/byteranges; boundary=')
    b = ctype.split('boundary=')[1]
    assert r.body == ('\r\n--{b}\r\nContent-type: text/plain\r\nContent-range: bytes 4-6/20'
                      '\r\n\r\n456\r\n--{b}\r\nContent-type: text/plain\r\nContent-range: '
                      'bytes 0-1/20\r\n\r\n01\r\n--{b}\r\nContent-type: text/plain\r\n'
                      'Content-range: bytes 18-19/20\r\n\r\nij\r\n--{b}--\r\n'
                      ).format(b=b).encode()
    assert r.headers['Content-Length'] == str(len(r.body))
    # One satisfiable range among unsatisfiable ones is a plain 206.
    r = call(None, '/static/digits.txt', headers={'Range': 'bytes=2-3,90-99'})
    assert (r.status, r.headers['Content-Range'], r.body) == (206, 'bytes 2-3/20', CONTENT[2:4])
    r = call(None, '/static/digits.txt', headers={'Range': 'bytes=50-60,90-99'})
    assert r.status == 416


@pytest.mark.parametrize('rng', ['bytes=20-', 'bytes=100-200', 'bytes=-0'])
def test_unsatisfiable_range_is_416_with_content_range(site, rng):
    r = call(None, '/static/digits.txt', headers={'Range': rng})
    assert r.status == 416 and r.headers['Content-Range'] == 'bytes */20'
    assert CONTENT not in r.body


def test_range_is_ignored_for_http10_and_stale_if_range(site):
    r = call(None, '/static/digits.txt', headers={'Range': 'bytes=0-4'}, protocol='HTTP/1.0')
    assert r.status == 200 and r.body == CONTENT
    stale = call(None, '/static/digits.txt', headers={
        'Range': 'bytes=0-4', 'If-Range': HTTPDate(1_500_000_000)})
    assert stale.status == 200 and stale.body == CONTENT
    fresh = call(None, '/static/digits.txt', headers={
        'Range': 'bytes=0-4', 'If-Range': HTTPDate(1_600_000_000)})
    assert fresh.status == 206 and fresh.body == CONTENT[:5]


def test_head_sends_length_without_body(site):
    r = call(None, '/static/digits.txt', method='HEAD')
    assert r.status == 200 and r.body == b'' and r.headers['Content-Length'] == '20'


@pytest.mark.parametrize('path', [
    '/static/../secret.txt',
    '/static/sub/../../secret.txt',
    '/static/%2e%2e/secret.txt',
    '/static/%2E%2E/%2e%2e/secret.txt',
    '/static/..%2fsecret.txt',
    '/static/..%2Fsecret.txt',
    '/static/sub%2f..%2f..%2fsecret.txt',
    '/static/..%5csecret.txt',
    '/static/..\\secret.txt',
    '/static/escape.txt',
    '/static/outdir/secret.txt',
    '/static/outdir/site/secret.txt',
    '/site/../secret.txt',
])
def test_traversal_is_refused_in_process(site, path):
    r = call(None, path)
    assert r.status == 403 and SECRET not in r.body


@pytest.mark.parametrize('path', ['/static/index.html%00.png', '/static/index.html\x00',
                                  '/static/\x00'])
def test_a_nul_byte_in_the_path_is_404(site, path):
    r = call(None, path)
    assert r.status == 404 and SECRET not in r.body


def test_undecodable_path_is_400(site):
    assert call(None, '/static/%ff%fe').status == 400


def test_absolute_looking_paths_stay_inside(site):
    r = call(None, '/static//etc/passwd')
    assert r.status == 404 and b'root:' not in r.body
    assert call(None, '/static//sub//readme.txt').body == b'readme'


@pytest.mark.parametrize('path', [
    '/static/../secret.txt',
    '/static/%2e%2e/secret.txt',
    '/static/%252e%252e/secret.txt',
    '/static/..%2fsecret.txt',
    '/static/..%2F..%2Fsecret.txt',
    '/static/escape.txt',
    '/static/outdir/secret.txt',
])
def test_traversal_is_refused_live(site, path):
    # NOTE: cheroot decodes the path itself (all but %2F); the tool sees the result.
    with live(cherrypy.tree) as server:
        status, _headers, body = http(server, path)
    assert status == 403 and SECRET not in body


def test_a_nul_byte_in_the_path_is_404_live(site):
    with live(cherrypy.tree) as server:
        status, _headers, body = http(server, '/static/index.html%00')
    assert status == 404 and SECRET not in body


def test_live_static_file_range_and_304(site):
    with live(cherrypy.tree) as server:
        status, headers, body = http(server, '/static/digits.txt')
        assert (status, body) == (200, CONTENT)
        assert headers['content-type'] == 'text/plain'
        status, headers, body = http(server, '/static/digits.txt', headers={'Range': 'bytes=-4'})
        assert (status, headers['content-range'], body) == (206, 'bytes 16-19/20', CONTENT[-4:])
        status, headers, body = http(server, '/static/digits.txt', headers={
            'If-Modified-Since': headers['last-modified']})
        assert (status, body) == (304, b'')
        assert http(server, '/static/with%20space.txt')[2] == b'spaced'
        assert http(server, '/static/%C3%BCn%C3%AF.txt')[2] == b'unicode'


def test_serve_file_and_download_from_a_handler(site):
    r = call(None, '/file')
    assert (r.status, r.body, r.headers['Content-Type']) == (
        200, CONTENT, 'text/plain;charset=utf-8')
    r = call(None, '/file?ctype=application/x-thing&disposition=inline')
    assert r.headers['Content-Type'] == 'application/x-thing'
    assert r.headers['Content-Disposition'] == 'inline; filename="digits.txt"'
    r = call(None, '/download')
    assert r.headers['Content-Type'] == 'application/x-download'
    assert r.headers['Content-Disposition'] == 'attachment; filename="digits.txt"'
    r = call(None, '/download?as_name=r%C3%A9sum%C3%A9 "1".txt')
    assert r.headers['Content-Disposition'] == (
        'attachment; filename="rsum 1.txt"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.txt")
    assert call(None, '/file?name=nothere.txt').status == 404
    assert call(None, '/file?name=sub').status == 404
    assert call(None, '/file?name=x%00y').status == 404


def test_serve_fileobj_without_a_file_descriptor(site):
    r = call(None, '/fileobj')
    assert r.body == b'from memory'
    assert r.headers['Content-Disposition'] == 'attachment; filename="mem.txt"'


def test_wsgi_file_wrapper_is_used_when_offered(site):
    used = []

    class Wrapper(wsgiref.util.FileWrapper):
        def __init__(self, f, size):
            used.append(size)
            super().__init__(f, size)

    def app(environ, start_response):
        environ['wsgi.file_wrapper'] = Wrapper
        return cherrypy.tree(environ, start_response)
    r = call(app, '/static/digits.txt')
    assert r.body == CONTENT and used == [static._CHUNK]
    r = call(app, '/static/digits.txt', headers={'Range': 'bytes=0-1'})
    assert r.body == b'01' and len(used) == 1  # a range is sent by our own iterator



def test_serve_file_streams_and_exposes_its_file_as_input_live(tmp_path):
    """CherryPy's test_file_stream: the body is read as it is sent, and ``.input`` shows it."""
    size = 16 * 1024 * 1024
    path = tmp_path / 'big.bin'
    path.write_bytes(b'x' * size)
    bodies = []

    class Root:
        @cherrypy.expose
        @cherrypy.config(**{'response.stream': True})
        def big(self):
            bodies.append(static.serve_file(str(path)))
            return bodies[-1]

        @cherrypy.expose
        def tell(self):
            f = bodies[-1].input
            return 'closed' if f.closed else str(f.tell())

    cherrypy.tree.mount(Root())
    with live(cherrypy.tree) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # no autotuned window
        sock.settimeout(10)
        sock.connect(server.bound_addr)
        try:
            sock.sendall(b'GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            response = httpclient.HTTPResponse(sock, method='GET')
            response.begin()
            assert response.status == 200 and response.getheader('Content-Length') == str(size)
            first = response.read(64 * 1024)
            position = http(server, '/tell')[2]
            # the server has read what it sent and what the socket buffers hold (a few MB at
            # most: net.ipv4.tcp_wmem), not the whole file
            assert position != b'closed' and len(first) <= int(position) < size // 2
            rest = response.read()
        finally:
            sock.close()
    assert first + rest == b'x' * size
    assert bodies[-1].input.closed
