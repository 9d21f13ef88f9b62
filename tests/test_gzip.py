"""tools.gzip: negotiation with q-values, mime types, level, Vary, streaming."""
from __future__ import annotations

import gzip
import http.client as httpclient
import threading
import zlib

import pytest

import app.core as cherrypy
from app.core.lib import encoding

from helpers import call, live

TEXT = 'Hello, compressible world! ' * 40


class Root:
    @cherrypy.expose
    def index(self):
        return TEXT

    @cherrypy.expose
    def css(self):
        cherrypy.response.headers['Content-Type'] = 'text/css'
        return 'body { color: red; }' * 20

    @cherrypy.expose
    def png(self):
        cherrypy.response.headers['Content-Type'] = 'image/png'
        return b'\x89PNG' + b'\x00' * 200

    @cherrypy.expose
    def json(self):
        cherrypy.response.headers['Content-Type'] = 'application/json'
        return '{"a": "%s"}' % ('x' * 300)

    @cherrypy.expose
    def varied(self):
        cherrypy.response.headers['Vary'] = 'Cookie'
        return TEXT

    @cherrypy.expose
    def already(self):
        cherrypy.response.headers['Vary'] = 'accept-encoding'
        cherrypy.response.headers['Content-Encoding'] = 'br'
        return b'pretend brotli'

    @cherrypy.expose
    def not_modified(self):
        cherrypy.response.status = 304
        return ''

    @cherrypy.expose
    def missing(self):
        raise cherrypy.NotFound()

    @cherrypy.expose
    def stream(self):
        def gen():
            for i in range(5):
                yield 'chunk %d %s\n' % (i, 'y' * 50)
        return gen()
    stream._cp_config = {'response.stream': True}


@pytest.fixture
def app():
    cherrypy.tree.mount(Root(), '', {'/': {'tools.gzip.on': True}})


def get(path='/', accept=None, **kw):
    headers = {'Accept-Encoding': accept} if accept is not None else {}
    return call(None, path, headers=headers, **kw)


def test_gzip_when_accepted(app):
    r = get('/', 'gzip, deflate')
    assert r.headers['Content-Encoding'] == 'gzip'
    assert r.headers['Vary'] == 'Accept-Encoding'
    assert r.headers['Content-Length'] == str(len(r.body)) and len(r.body) < len(TEXT) / 5
    assert gzip.decompress(r.body).decode() == TEXT
    assert encoding.decompress(r.body).decode() == TEXT


@pytest.mark.parametrize('accept,compressed', [
    (None, False),
    ('', False),
    ('gzip', True),
    ('GZIP', True),
    ('x-gzip', True),
    ('*', True),
    ('gzip;q=0', False),
    ('gzip;q=0, *', False),          # * covers codings not listed; gzip was
    ('gzip;q=0.0, identity', False),
    ('identity', False),
    ('identity, gzip', False),       # equal q: the client's order decides (as CherryPy)
    ('gzip, identity', True),
    ('identity;q=0.5, gzip;q=1', True),
    ('identity;q=1, gzip;q=0.5', False),
    ('deflate, br', False),          # identity stays acceptable
    ('*;q=0, identity', False),
    ('identity;q=0, gzip', True),
    ('gzip;q=abc', False),           # a malformed q counts as 0
])
def test_accept_encoding_negotiation(app, accept, compressed):
    r = get('/', accept)
    assert r.status == 200 and r.headers['Vary'] == 'Accept-Encoding'
    assert ('Content-Encoding' in r.headers) == compressed
    body = gzip.decompress(r.body) if compressed else r.body
    assert body.decode() == TEXT


@pytest.mark.parametrize('accept', ['identity;q=0', '*;q=0', 'gzip;q=0, identity;q=0',
                                    'br, identity;q=0', 'br, *;q=0'])
def test_no_acceptable_coding_is_406(app, accept):
    r = get('/', accept)
    assert r.status == 406 and b'identity, gzip' in r.body
    assert 'Content-Encoding' not in r.headers


def test_mime_types_default_and_configured(app):
    assert 'Content-Encoding' not in get('/json', 'gzip').headers
    assert 'Content-Encoding' not in get('/css', 'gzip').headers
    cherrypy.tree.apps[''].merge({'/': {'tools.gzip.mime_types': ['text/*',
                                                                 'application/json']}})
    assert get('/css', 'gzip').headers['Content-Encoding'] == 'gzip'
    r = get('/json', 'gzip')
    assert gzip.decompress(r.body) == ('{"a": "%s"}' % ('x' * 300)).encode()
    assert 'Content-Encoding' not in get('/png', 'gzip').headers
    cherrypy.tree.apps[''].merge({'/': {'tools.gzip.mime_types': ['*/*']}})
    assert get('/png', 'gzip').headers['Content-Encoding'] == 'gzip'


def test_compress_level_is_applied():
    sizes = {}
    for level in (1, 9):
        cherrypy.tree.apps.clear()
        cherrypy.tree.mount(Root(), '', {'/': {'tools.gzip.on': True,
                                               'tools.gzip.compress_level': level}})
        body = get('/', 'gzip').body
        # The gzip header's XFL byte records the level class: 2 = best, 4 = fastest.
        assert body[8] == {1: 4, 9: 2}[level]
        sizes[level] = len(body)
        assert gzip.decompress(body).decode() == TEXT
    assert sizes[9] <= sizes[1]


def test_vary_is_added_once(app):
    assert get('/varied', 'gzip').headers['Vary'] == 'Cookie, Accept-Encoding'
    assert get('/varied').headers['Vary'] == 'Cookie, Accept-Encoding'
    r = get('/already', 'gzip')
    assert r.headers['Vary'] == 'accept-encoding' and r.headers['Content-Encoding'] == 'br'
    assert r.body == b'pretend brotli'


def test_no_body_statuses_and_errors(app):
    r = get('/not_modified', 'gzip')
    assert r.status == 304 and r.body == b'' and 'Content-Encoding' not in r.headers
    r = get('/missing', 'gzip')
    assert r.status == 404 and b'was not found' in gzip.decompress(r.body)


def test_range_responses_are_not_compressed(tmp_path):
    f = tmp_path / 'big.txt'
    f.write_text(TEXT)
    cherrypy.tree.mount(Root(), '', {'/f.txt': {
        'tools.gzip.on': True, 'tools.staticfile.on': True,
        'tools.staticfile.filename': str(f)}})
    r = call(None, '/f.txt', headers={'Accept-Encoding': 'gzip', 'Range': 'bytes=0-9'})
    assert r.status == 206 and r.body == TEXT[:10].encode()
    assert 'Content-Encoding' not in r.headers
    whole = call(None, '/f.txt', headers={'Accept-Encoding': 'gzip'})
    assert gzip.decompress(whole.body).decode() == TEXT


def test_head_reports_the_compressed_length(app):
    full = get('/', 'gzip')
    head = get('/', 'gzip', method='HEAD')
    assert head.body == b'' and head.headers['Content-Length'] == full.headers['Content-Length']


def test_decorator_form():
    class R:
        @cherrypy.expose
        @cherrypy.tools.gzip(mime_types=['application/json'], compress_level=9)
        def data(self):
            cherrypy.response.headers['Content-Type'] = 'application/json'
            return '[%s]' % ','.join(['1'] * 100)
    cherrypy.tree.mount(R(), '')
    r = get('/data', 'gzip')
    assert r.headers['Content-Encoding'] == 'gzip' and r.body[8] == 2


def test_streamed_body_is_compressed_in_process(app):
    r = get('/stream', 'gzip')
    assert r.headers['Content-Encoding'] == 'gzip' and 'Content-Length' not in r.headers
    assert gzip.decompress(r.body).decode() == ''.join(
        'chunk %d %s\n' % (i, 'y' * 50) for i in range(5))


def test_compress_flushes_every_chunk():
    d = zlib.decompressobj(31)
    out = []
    for piece in encoding.compress([b'one ', b'two ', b'three'], 6, flush=True):
        out.append(d.decompress(piece))
    assert out[:3] == [b'one ', b'two ', b'three']


def test_streamed_chunks_decompress_incrementally_live():
    gate = threading.Event()

    class R:
        @cherrypy.expose
        def feed(self):
            def gen():
                yield 'first part\n'
                gate.wait(5)  # the client must see the first part before this ends
                yield 'second part\n'
            return gen()
        feed._cp_config = {'response.stream': True, 'tools.gzip.on': True}
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree) as server:
        host, port = server.bound_addr
        conn = httpclient.HTTPConnection(host, port, timeout=10)
        try:
            conn.request('GET', '/feed', headers={'Accept-Encoding': 'gzip'})
            r = conn.getresponse()
            assert r.getheader('Content-Encoding') == 'gzip'
            assert r.getheader('Transfer-Encoding') == 'chunked'
            d = zlib.decompressobj(31)
            seen = b''
            while b'first part\n' not in seen:
                piece = r.read1(65536)
                assert piece, 'stream ended before the first part decompressed'
                seen += d.decompress(piece)
            assert seen == b'first part\n' and not gate.is_set()
            gate.set()
            rest = r.read()
            assert seen + d.decompress(rest) + d.flush() == b'first part\nsecond part\n'
            assert d.eof
        finally:
            gate.set()
            conn.close()
