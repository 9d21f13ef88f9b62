"""Request and response objects, bodies and uploads, and bad input (never a 500)."""
from __future__ import annotations

import http.client as httpclient
import io
import json
import socket
import sys
import threading

import pytest

import app.core as cherrypy
from app.core._serving import OutsideRequestError
from app.core.body import Part, RequestBody
from app.core.request_response import Request, Response, parse_query_string

from helpers import Result, call, http, live

BOUNDARY = 'XyZzY-boundary'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


def multipart(parts: list[tuple], boundary: str = BOUNDARY) -> bytes:
    """``[(name, value)]`` or ``[(name, filename, content_type, bytes)]`` as a body."""
    out = []
    for part in parts:
        out.append(b'--' + boundary.encode())
        if len(part) == 2:
            out.append(b'Content-Disposition: form-data; name="%s"' % part[0].encode())
            out.append(b'')
            out.append(part[1].encode('utf-8'))
        else:
            name, filename, ctype, data = part
            out.append(b'Content-Disposition: form-data; name="%s"; filename="%s"'
                       % (name.encode(), filename.encode()))
            out.append(b'Content-Type: ' + ctype.encode())
            out.append(b'')
            out.append(data)
    out.append(b'--' + boundary.encode() + b'--')
    out.append(b'')
    return b'\r\n'.join(out)


MP = {'Content-Type': 'multipart/form-data; boundary=' + BOUNDARY}


def call_environ(app, **env) -> Result:
    """Call a WSGI app with a hand-made environ (for raw PATH_INFO bytes etc.)."""
    environ = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/',
               'QUERY_STRING': '', 'SERVER_PROTOCOL': 'HTTP/1.1', 'SERVER_NAME': '127.0.0.1',
               'SERVER_PORT': '80', 'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': '127.0.0.1',
               'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(b''),
               'wsgi.errors': sys.stderr}
    environ.update(env)
    environ = {k: v for k, v in environ.items() if v is not None}
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'], out['headers'] = status, headers
    it = app(environ, start_response)
    try:
        body = b''.join(it)
    finally:
        if hasattr(it, 'close'):
            it.close()
    return Result(out['status'], out['headers'], body)


def raw_http(server, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes to a live server; return everything it answers."""
    s = socket.create_connection(server.bound_addr, timeout=timeout)
    try:
        s.sendall(data)
        out = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def status_of(raw: bytes) -> int:
    return int(raw.split(b' ', 2)[1])


class Root:
    @cherrypy.expose
    def attrs(self, *args, **kwargs):
        r = cherrypy.request
        return json.dumps({
            'method': r.method, 'path_info': r.path_info, 'script_name': r.script_name,
            'query_string': r.query_string, 'params': r.params, 'args': list(args),
            'kwargs': kwargs,
            'h_lower': r.headers.get('x-custom-thing'), 'h_upper': r.headers['X-CUSTOM-THING'],
            'h_in': 'x-custom-thing' in r.headers, 'ctype': r.headers.get('content-type'),
            'cookie_a': r.cookie['a'].value if 'a' in r.cookie else None,
            'cookie_names': sorted(r.cookie.keys()),
            'remote_ip': r.remote.ip, 'remote_port': r.remote.port, 'base': r.base,
            'scheme': r.scheme, 'app_is_mounted': r.app is cherrypy.tree.apps['/mnt'],
            'config_custom': r.config.get('custom.key'),
            'handler': r.handler.__name__, 'protocol': list(r.protocol),
            'local_port': r.local.port, 'repr': repr(r),
        })

    @cherrypy.expose
    def read(self):
        b = cherrypy.request.body
        data = b.read()
        return json.dumps({'data': data.decode('latin-1'), 'length': b.length,
                           'params': b.params, 'again': b.read().decode()})

    @cherrypy.expose
    def fp(self):
        fp = cherrypy.request.body.fp
        return json.dumps({'same': fp is cherrypy.request.environ['wsgi.input'],
                           'rfile': fp is cherrypy.request.rfile, 'data': fp.read().decode()})

    @cherrypy.expose
    def form(self, a=None, b=None, **rest):
        body_params = cherrypy.request.body.params
        return json.dumps({'a': a, 'b': b, 'rest': rest, 'body_params': body_params})

    @cherrypy.expose
    def upload(self, title=None, doc=None, **rest):
        out = {'title': title, 'rest': sorted(rest)}
        if doc is not None:
            out.update(filename=doc.filename, content_type=str(doc.content_type),
                       ctype_value=doc.content_type.value, data=doc.file.read().decode('latin-1'),
                       full=doc.fullvalue().decode('latin-1'), name=doc.name,
                       is_part=isinstance(doc, Part), repr=repr(doc))
        return json.dumps(out)

    @cherrypy.expose
    def files(self, docs=None):
        docs = docs if isinstance(docs, list) else [docs]
        return ','.join('%s=%s' % (d.filename, d.file.read().decode()) for d in docs)

    @cherrypy.expose
    def echo(self, *args, **kwargs):
        return json.dumps({'args': list(args), 'kwargs': kwargs})

    @cherrypy.expose
    def body_str(self):
        return 'héllo'

    @cherrypy.expose
    def body_bytes(self):
        return b'\x00\x01bytes'

    @cherrypy.expose
    def body_list(self):
        return ['a', b'b', 'ç']

    @cherrypy.expose
    def body_gen(self):
        def gen():
            yield 'one '
            yield b'two '
            yield 'three'
        return gen()

    @cherrypy.expose
    def body_none(self):
        return None

    @cherrypy.expose
    def plain(self):
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        return 'plain'

    @cherrypy.expose
    def json_bytes(self):
        cherrypy.response.headers['Content-Type'] = 'application/json'
        return b'{"a": 1}'

    @cherrypy.expose
    def latin(self):
        cherrypy.response.headers['Content-Type'] = 'text/plain; charset=latin-1'
        return 'é'

    @cherrypy.expose
    def set_cookie(self):
        c = cherrypy.response.cookie
        c['session'] = 'abc123'
        c['session']['path'] = '/'
        c['session']['httponly'] = True
        c['theme'] = 'dark'
        cherrypy.response.status = 201
        cherrypy.response.headers['X-Status'] = 'set'
        return 'cookies'

    @cherrypy.expose
    def stream(self):
        ev = STREAM_EVENT

        def gen():
            yield 'first;'
            # Only continue once the client has seen the first chunk.
            yield 'second;' if ev.wait(5) else 'late;'
            yield 'third'
        return gen()
    stream._cp_config = {'response.stream': True}


STREAM_EVENT = threading.Event()


@pytest.fixture(scope='module')
def server():
    """One live cheroot server over ``cherrypy.tree`` for the module (apps mount per test)."""
    with live(cherrypy.tree) as s:
        yield s


@pytest.fixture
def mounted():
    cherrypy.config.update({'log.screen': False, 'custom.key': 'from-global'})
    cherrypy.tree.mount(Root(), '/mnt')
    return cherrypy.tree


# -- request attributes -----------------------------------------------------------

def test_request_attributes(mounted):
    r = call(None, '/mnt/attrs/x/y', query='q=1&r=2&r=3',
             headers={'X-Custom-Thing': 'yes', 'Cookie': 'a=1; b=2'})
    assert r.status == 200
    d = r.json()
    assert d['method'] == 'GET'
    assert d['path_info'] == '/attrs/x/y' and d['script_name'] == '/mnt'
    assert d['query_string'] == 'q=1&r=2&r=3'
    assert d['params'] == {'q': '1', 'r': ['2', '3']}
    assert d['args'] == ['x', 'y'] and d['kwargs'] == {'q': '1', 'r': ['2', '3']}
    assert d['h_lower'] == d['h_upper'] == 'yes' and d['h_in'] is True
    assert d['cookie_a'] == '1' and d['cookie_names'] == ['a', 'b']
    assert d['remote_ip'] == '127.0.0.1' and d['remote_port'] == 5555
    assert d['base'] == 'http://127.0.0.1' and d['scheme'] == 'http'
    assert d['app_is_mounted'] is True
    assert d['config_custom'] == 'from-global'
    assert d['handler'] == 'attrs'
    assert d['protocol'] == [1, 1] and d['local_port'] == 80
    assert d['repr'] == '<Request GET /mnt/attrs/x/y>'


def test_request_attributes_live(mounted, server):
    status, headers, body = http(server, '/mnt/attrs?q=%C3%A9',
                                 headers={'x-custom-thing': 'live', 'Cookie': 'a=z'})
    host, port = server.bound_addr
    d = json.loads(body)
    assert status == 200
    assert d['params'] == {'q': 'é'}
    assert d['h_upper'] == 'live' and d['cookie_a'] == 'z'
    assert d['remote_ip'] == '127.0.0.1' and d['remote_port'] > 0
    assert d['base'] == 'http://%s:%s' % (host, port)
    assert d['local_port'] == port


def test_base_without_host_header_uses_server_name_and_port(mounted):
    r = call_environ(cherrypy.tree, PATH_INFO='/mnt/attrs', SERVER_PROTOCOL='HTTP/1.0',
                     HTTP_HOST='', SERVER_PORT='8080', HTTP_X_CUSTOM_THING='1',
                     REMOTE_PORT='nan')
    d = r.json()
    assert d['base'] == 'http://127.0.0.1:8080' and d['protocol'] == [1, 0]
    assert d['remote_port'] == 0


def test_malformed_cookie_header_is_not_a_500(mounted):
    for raw in ('a=1; b="unterminated; c=2', 'a b=1; =; ;;', '\x00\x01\x7f', 'a=1, b=2'):
        r = call(None, '/mnt/attrs', headers={'X-Custom-Thing': '1', 'Cookie': raw})
        assert r.status == 200, raw
    r = call(None, '/mnt/attrs', headers={'X-Custom-Thing': '1',
                                          'Cookie': 'a=1; b="unterminated; c=2'})
    assert r.json()['cookie_a'] == '1'


def test_body_read_and_length(mounted):
    r = call(None, '/mnt/read', 'POST', body=b'raw \xff bytes',
             headers={'Content-Type': 'application/octet-stream'})
    d = r.json()
    assert d['data'] == 'raw \xff bytes' and d['length'] == 11
    assert d['params'] == {} and d['again'] == ''


def test_body_fp_is_the_wsgi_input(mounted):
    r = call(None, '/mnt/fp', 'PUT', body=b'stream me',
             headers={'Content-Type': 'text/plain'})
    assert r.json() == {'same': True, 'rfile': True, 'data': 'stream me'}


def test_form_post_fills_kwargs_and_body_params(mounted):
    r = call(None, '/mnt/form', 'POST', body='a=1&b=%C3%A9&c=x&c=y', headers=FORM)
    d = r.json()
    assert d['a'] == '1' and d['b'] == 'é' and d['rest'] == {'c': ['x', 'y']}
    assert d['body_params'] == {'a': '1', 'b': 'é', 'c': ['x', 'y']}


def test_query_and_form_fields_merge_into_lists(mounted):
    r = call(None, '/mnt/form', 'POST', query='a=q&z=1', body='a=f', headers=FORM)
    d = r.json()
    assert d['a'] == ['q', 'f'] and d['rest'] == {'z': '1'}


def test_form_charset_from_content_type(mounted):
    r = call(None, '/mnt/form', 'POST', body='a=%E9',
             headers={'Content-Type': 'application/x-www-form-urlencoded; charset=latin-1'})
    assert r.json()['a'] == 'é'


# -- multipart uploads --------------------------------------------------------------

def test_multipart_field_and_file(mounted):
    body = multipart([('title', 'Hello ü'),
                      ('doc', 'report.txt', 'text/plain; charset=utf-8', b'file \x00 data')])
    r = call(None, '/mnt/upload', 'POST', body=body, headers=MP)
    assert r.status == 200, r.body
    d = r.json()
    assert d['title'] == 'Hello ü'
    assert d['filename'] == 'report.txt' and d['name'] == 'doc'
    assert d['content_type'] == 'text/plain; charset=utf-8' and d['ctype_value'] == 'text/plain'
    assert d['data'] == 'file \x00 data' and d['full'] == 'file \x00 data'
    assert d['is_part'] is True and "filename='report.txt'" in d['repr']


def test_multipart_file_without_content_type_and_repeated_files(mounted):
    body = (b'--' + BOUNDARY.encode() + b'\r\n'
            b'Content-Disposition: form-data; name="doc"; filename="a.bin"\r\n\r\n'
            b'AAA\r\n--' + BOUNDARY.encode() + b'--\r\n')
    r = call(None, '/mnt/upload', 'POST', body=body, headers=MP)
    assert r.json()['content_type'] == 'application/octet-stream'
    body = multipart([('docs', 'one.txt', 'text/plain', b'1'),
                      ('docs', 'two.txt', 'text/plain', b'2'),
                      ('docs', 'three.txt', 'text/plain', b'3')])
    r = call(None, '/mnt/files', 'POST', body=body, headers=MP)
    assert r.body == b'one.txt=1,two.txt=2,three.txt=3'


def test_multipart_quoted_boundary_preamble_and_unnamed_part(mounted):
    body = b'preamble to ignore\r\n' + multipart(
        [('title', 't'), ('doc', 'x.txt', 'text/plain', b'x')])
    unnamed = (b'--' + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data\r\n\r\n'
               b'orphan\r\n')
    body = body.replace(b'--' + BOUNDARY.encode() + b'--', unnamed + b'--'
                        + BOUNDARY.encode() + b'--')
    r = call(None, '/mnt/upload', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data; boundary="%s"' % BOUNDARY})
    d = r.json()
    assert r.status == 200 and d['title'] == 't' and d['data'] == 'x' and d['rest'] == []


def test_multipart_upload_live(mounted, server):
    payload = bytes(range(256)) * 400  # 100 KB of every byte value
    body = multipart([('title', 'live'), ('doc', 'blob.bin', 'application/octet-stream',
                                          payload)])
    status, _h, out = http(server, '/mnt/upload', 'POST', body=body, headers=MP)
    assert status == 200
    d = json.loads(out)
    assert d['title'] == 'live' and d['filename'] == 'blob.bin'
    assert d['data'].encode('latin-1') == payload


# -- size limits -------------------------------------------------------------------

def test_max_request_body_size_in_process(mounted):
    cherrypy.config.update({'server.max_request_body_size': 10})
    r = call(None, '/mnt/read', 'POST', body=b'x' * 11,
             headers={'Content-Type': 'application/octet-stream'})
    assert r.status == 413
    r = call(None, '/mnt/read', 'POST', body=b'x' * 10,
             headers={'Content-Type': 'application/octet-stream'})
    assert r.status == 200 and r.json()['data'] == 'x' * 10


def test_max_request_body_size_chunked_in_process(mounted):
    # No Content-Length (a chunked upload): the limit is enforced while reading.
    cherrypy.config.update({'server.max_request_body_size': 10})
    r = call_environ(cherrypy.tree, REQUEST_METHOD='POST', PATH_INFO='/mnt/read',
                     CONTENT_TYPE='application/octet-stream', HTTP_TRANSFER_ENCODING='chunked',
                     **{'wsgi.input': io.BytesIO(b'y' * 200)})
    assert r.status == 413
    r = call_environ(cherrypy.tree, REQUEST_METHOD='POST', PATH_INFO='/mnt/read',
                     CONTENT_TYPE='application/octet-stream',
                     **{'wsgi.input': io.BytesIO(b'y' * 5), 'wsgi.input_terminated': True})
    assert r.status == 200 and r.json()['data'] == 'yyyyy'


def test_max_request_body_size_live(mounted, server):
    big = b'x' * 5000
    cherrypy.config.update({'server.max_request_body_size': 1000})
    assert http(server, '/mnt/read', 'POST', body=big,
                headers={'Content-Type': 'application/octet-stream'})[0] == 413
    chunked = (b'POST /mnt/read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
               b'Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n'
               b'1388\r\n' + big + b'\r\n0\r\n\r\n')
    assert status_of(raw_http(server, chunked)) == 413
    status, _h, body = http(server, '/mnt/read', 'POST', body=b'small',
                            headers={'Content-Type': 'application/octet-stream'})
    assert status == 200 and json.loads(body)['data'] == 'small'
    with live(cherrypy.tree, max_request_body_size=100) as small:  # cheroot's own limit
        assert http(small, '/mnt/read', 'POST', body=big)[0] == 413


# -- bad input is never a 500 -------------------------------------------------------

@pytest.mark.parametrize('path', ['/mnt/echo/%zz', '/mnt/echo/%ff%fe', '/mnt/echo/%',
                                  '/mnt/echo/%C3%28', '/mnt/%zz/x'])
def test_malformed_percent_encoding_in_path(mounted, server, path):
    r = call(None, path)
    assert r.status < 500
    assert http(server, path)[0] < 500


def test_invalid_utf8_bytes_in_path_info(mounted):
    # What a server hands over after decoding %ff%fe: latin-1 text of raw bytes.
    r = call_environ(cherrypy.tree, PATH_INFO='/mnt/echo/\xff\xfe')
    assert r.status == 200 and r.json()['args'] == ['\xff\xfe']
    r = call_environ(cherrypy.tree, PATH_INFO='/mnt/echo/\xc3\xa9')
    assert r.json()['args'] == ['é']


@pytest.mark.parametrize('query, status', [('a=%zz', 200), ('a=%', 200), ('a=%ff%fe', 404),
                                           ('%ff=1', 404), ('a=%C3%28', 404),
                                           ('&&=&a', 200)])
def test_malformed_percent_encoding_in_query(mounted, server, query, status):
    r = call(None, '/mnt/echo', query=query)
    assert r.status == status
    if status == 200:
        assert isinstance(r.json()['kwargs'], dict)
    assert http(server, '/mnt/echo?' + query)[0] == status


def test_bad_urlencoded_form_is_400(mounted):
    assert call(None, '/mnt/form', 'POST', body='a=%ff', headers=FORM).status == 400
    r = call(None, '/mnt/form', 'POST', body='a=1', headers={
        'Content-Type': 'application/x-www-form-urlencoded; charset=no-such-charset'})
    assert r.status == 400
    many = '&'.join('f%d=1' % i for i in range(10001))
    assert call(None, '/mnt/form', 'POST', body=many, headers=FORM).status == 400


GOOD_PART = (b'--XX\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--XX--\r\n')


@pytest.mark.parametrize('ctype, body', [
    ('multipart/form-data', GOOD_PART),                                  # no boundary
    ('multipart/form-data; boundary=', GOOD_PART),                       # empty boundary
    ('multipart/form-data; boundary=' + 'b' * 300, GOOD_PART),           # absurd boundary
    ('multipart/form-data; boundary=YY', GOOD_PART),                     # wrong boundary
    ('multipart/form-data; boundary=XX',
     b'--XX\r\nContent-Disposition: form-data; name="title"\r\n\r\nno end'),  # unterminated
    ('multipart/form-data; boundary=XX',
     b'--XX\r\nContent-Disposition: form-data; name="title"'),          # headers unterminated
    ('multipart/form-data; boundary=XX',
     b'--XX\r\ngarbage header line\r\n\r\nt\r\n--XX--\r\n'),            # garbage headers
    ('multipart/form-data; boundary=XX', b'--XXjunk\r\n'),              # bad boundary line
    ('multipart/form-data; boundary=XX',
     b'--XX\r\nContent-Disposition: form-data; name="t"\r\nContent-Type: text/plain; '
     b'charset=bogus\r\n\r\nx\r\n--XX--\r\n'),                          # unknown charset
    ('multipart/form-data; boundary=XX', b''),                           # empty body
])
def test_bad_multipart_is_400(mounted, ctype, body):
    r = call(None, '/mnt/upload', 'POST', body=body, headers={'Content-Type': ctype})
    assert r.status == 400, r.body[:200]
    assert b'Invalid multipart body' in r.body


def test_undecodable_multipart_field_is_400_naming_the_charsets(mounted):
    body = b'--XX\r\nContent-Disposition: form-data; name="t"\r\n\r\n\xff\xfe\r\n--XX--\r\n'
    r = call(None, '/mnt/upload', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data; boundary=XX'})
    assert r.status == 400
    assert b"charsets were attempted: ['us-ascii', 'utf-8']" in r.body


def test_bad_multipart_live_is_400(mounted, server):
    status, _h, _b = http(server, '/mnt/upload', 'POST', body=GOOD_PART,
                          headers={'Content-Type': 'multipart/form-data; boundary=YY'})
    assert status == 400
    status, _h, _b = http(server, '/mnt/upload', 'POST', body=b'--XX\r\nbroken',
                          headers={'Content-Type': 'multipart/form-data; boundary=XX'})
    assert status == 400


@pytest.mark.parametrize('value', ['abc', '-1', '1e3', ' '])
def test_bad_content_length_in_process_is_400(mounted, value):
    r = call_environ(cherrypy.tree, REQUEST_METHOD='POST', PATH_INFO='/mnt/read',
                     CONTENT_LENGTH=value, CONTENT_TYPE='application/octet-stream',
                     **{'wsgi.input': io.BytesIO(b'hello')})
    assert r.status == 400 and b'Content-Length' in r.body


def test_huge_content_length_is_413(mounted):
    r = call_environ(cherrypy.tree, REQUEST_METHOD='POST', PATH_INFO='/mnt/read',
                     CONTENT_LENGTH='9' * 30, **{'wsgi.input': io.BytesIO(b'hello')})
    assert r.status == 413


@pytest.mark.parametrize('value', [b'abc', b'-1'])
def test_bad_content_length_live_is_400(mounted, server, value):
    out = raw_http(server, b'POST /mnt/read HTTP/1.1\r\nHost: x\r\nContent-Length: '
                   + value + b'\r\nConnection: close\r\n\r\nhello')
    # Whether cheroot refuses it or lets it through to the app, it is a 400.
    assert status_of(out) == 400


def test_absurd_query_strings(mounted, server):
    ok = '&'.join('f%d=1' % i for i in range(1000))
    assert call(None, '/mnt/echo', query=ok).status == 200
    many = '&'.join('f%d=1' % i for i in range(10000))
    r = call(None, '/mnt/echo', query=many)
    assert r.status == 400 and b'Too many' in r.body
    assert http(server, '/mnt/echo?' + many)[0] == 400
    status = http(server, '/mnt/echo?' + 'x' * (1024 * 1024))[0]
    assert 400 <= status < 500


def test_parse_query_string_directly():
    from app.core.errors import HTTPError
    assert parse_query_string('a=1&a=2&a=3&b=') == {'a': ['1', '2', '3'], 'b': ''}
    with pytest.raises(HTTPError) as info:
        parse_query_string('a=%ff')
    assert info.value.code == 404


def test_missing_host_on_http11_is_400(mounted):
    r = call_environ(cherrypy.tree, PATH_INFO='/mnt/echo', HTTP_HOST=None)
    assert r.status == 400 and b'Host' in r.body
    r = call_environ(cherrypy.tree, PATH_INFO='/mnt/echo', HTTP_HOST=None,
                     SERVER_PROTOCOL='HTTP/1.0')
    assert r.status == 200


# -- response bodies and headers ------------------------------------------------------

@pytest.mark.parametrize('path, body', [
    ('/mnt/body_str', 'héllo'.encode('utf-8')),
    ('/mnt/body_bytes', b'\x00\x01bytes'),
    ('/mnt/body_list', 'abç'.encode('utf-8')),
    ('/mnt/body_gen', b'one two three'),
    ('/mnt/body_none', b''),
])
def test_response_body_kinds(mounted, server, path, body):
    r = call(None, path)
    assert r.status == 200 and r.body == body
    assert r.headers['Content-Length'] == str(len(body))
    status, headers, live_body = http(server, path)
    assert (status, live_body) == (200, body)
    assert headers['content-length'] == str(len(body))


def test_default_content_type_and_charset(mounted):
    r = call(None, '/mnt/body_str')
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert call(None, '/mnt/plain').headers['Content-Type'] == 'text/plain;charset=utf-8'
    r = call(None, '/mnt/json_bytes')
    assert r.headers['Content-Type'] == 'application/json' and r.body == b'{"a": 1}'
    r = call(None, '/mnt/latin')
    assert r.headers['Content-Type'] == 'text/plain; charset=latin-1' and r.body == b'\xe9'
    for h in ('Date', 'Server'):
        assert h in r.headers


def test_response_cookie_status_and_headers(mounted, server):
    r = call(None, '/mnt/set_cookie')
    assert r.status == 201 and r.headers['X-Status'] == 'set'
    cookies = [v for k, v in r.header_list if k == 'Set-Cookie']
    assert len(cookies) == 2
    session = next(c for c in cookies if c.startswith('session='))
    assert 'session=abc123' in session and 'Path=/' in session and 'HttpOnly' in session
    assert any(c == 'theme=dark' for c in cookies)
    host, port = server.bound_addr
    conn = httpclient.HTTPConnection(host, port, timeout=5)
    conn.request('GET', '/mnt/set_cookie')
    resp = conn.getresponse()
    resp.read()
    got = resp.headers.get_all('Set-Cookie')
    conn.close()
    assert len(got) == 2 and any('abc123' in c for c in got)


def test_stream_is_chunked_live_and_chunks_arrive_as_sent(mounted, server):
    STREAM_EVENT.clear()
    host, port = server.bound_addr
    conn = httpclient.HTTPConnection(host, port, timeout=10)
    try:
        conn.request('GET', '/mnt/stream')
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader('Transfer-Encoding') == 'chunked'
        assert resp.getheader('Content-Length') is None
        # The first chunk arrives while the generator is still waiting.
        first = resp.read(len('first;'))
        assert first == b'first;'
        STREAM_EVENT.set()
        rest = resp.read()
    finally:
        conn.close()
    assert rest == b'second;third'


def test_stream_in_process_has_no_content_length(mounted):
    STREAM_EVENT.set()
    r = call(None, '/mnt/stream')
    assert r.body == b'first;second;third' and 'Content-Length' not in r.headers


def test_head_has_no_body(mounted):
    r = call(None, '/mnt/body_str', 'HEAD')
    assert r.status == 200 and r.body == b''


# -- the objects themselves ---------------------------------------------------------

def test_request_and_response_objects_directly():
    env = {'REQUEST_METHOD': 'POST', 'PATH_INFO': '', 'SERVER_PROTOCOL': 'HTTP/2.x',
           'CONTENT_TYPE': 'text/plain', 'CONTENT_LENGTH': '3', 'HTTP_X_A': '1',
           'SERVER_PORT': 'bad', 'SERVER_NAME': 'srv', 'wsgi.input': io.BytesIO(b'abc')}
    req = Request(env)
    assert req.path_info == '/' and req.protocol == (1, 0)
    assert req.local.port == 80 and req.base == 'http://srv'
    assert dict(req.header_list) == {'X-A': '1', 'Content-Type': 'text/plain',
                                     'Content-Length': '3'}
    assert req.wsgi_environ is env and req.query_params == {}
    req.base = 'https://example'
    assert req.base == 'https://example'
    req.headers = {'X': 'y'}
    assert req.headers == {'X': 'y'}
    req.setup_addresses()
    body = req.body
    assert isinstance(body, RequestBody)
    assert list(body) == [b'abc']
    req.body = 'replaced'
    assert req.body == 'replaced'
    resp = Response()
    assert repr(resp) == '<Response 200>'
    assert resp.headers['Content-Type'] == 'text/html'
    resp.body = ['a', b'b']
    assert resp.collapse_body() == b'ab' and resp.body == [b'ab']
    resp.body = 'é'
    assert resp.collapse_body() == 'é'.encode()
    resp.body = None
    assert resp.collapse_body() == b''
    resp.body = b'x'
    assert resp.collapse_body() == b'x'
    import http.cookies
    jar = http.cookies.SimpleCookie()
    jar['k'] = 'v'
    resp.cookie = jar
    assert resp.cookie['k'].value == 'v'


def test_request_body_readline_and_limits():
    env = {'CONTENT_LENGTH': '12', 'wsgi.input': io.BytesIO(b'line1\nline2\nEXTRA')}
    body = RequestBody(Request(env))
    assert body.readline() == b'line1\n'
    assert body.readline(3) == b'lin'
    assert body.read(100) == b'e2\n'
    assert body.readline() == b'' and body.read() == b''
    env = {'wsgi.input': io.BytesIO(b'ignored')}
    assert RequestBody(Request(env)).read() == b''  # no length, not chunked
    env = {'wsgi.input': io.BytesIO(b'chunked data'), 'wsgi.input_terminated': True}
    b = RequestBody(Request(env))
    assert b.read(7) == b'chunked' and b.read() == b' data'
    env = {'CONTENT_LENGTH': '50', 'wsgi.input': io.BytesIO(b'x' * 50)}
    b = RequestBody(Request(env))
    b.check_size(100)
    b.maxbytes = 10
    from app.core.errors import HTTPError
    with pytest.raises(HTTPError) as info:
        b.readline()
    assert info.value.code == 413


# -- proxies outside a request -----------------------------------------------------

def test_request_proxies_outside_a_request_fail_clearly():
    for action in (lambda: cherrypy.request.method,
                   lambda: cherrypy.response.status,
                   lambda: setattr(cherrypy.response, 'status', 200),
                   lambda: cherrypy.request.headers['Host'],
                   lambda: cherrypy.session['x']):
        with pytest.raises(OutsideRequestError, match='outside a request'):
            action()
    assert not cherrypy.request
    assert 'outside a request' in repr(cherrypy.request)
    assert cherrypy.serving.request is None and cherrypy.serving.response is None


def test_proxies_inside_a_request_reach_the_current_objects(mounted):
    seen = {}

    class R:
        @cherrypy.expose
        def index(self):
            seen['req'] = cherrypy.serving.request
            seen['bool'] = bool(cherrypy.request)
            seen['resp'] = cherrypy.serving.response
            seen['repr'] = repr(cherrypy.request)
            with pytest.raises(OutsideRequestError, match='tools.sessions.on'):
                cherrypy.session['x']
            return 'ok'
    cherrypy.tree.mount(R(), '/p')
    assert call(None, '/p/').body == b'ok'
    assert isinstance(seen['req'], Request) and seen['bool'] is True
    assert seen['resp'] is seen['req'].response
    assert seen['repr'] == '<Request GET /p/>'
    with pytest.raises(OutsideRequestError):
        cherrypy.request.method


def test_small_pieces_of_the_request_objects(monkeypatch, mounted):
    from app.core.request_response import Host
    h = Host('10.0.0.1', 8080)
    assert repr(h) == "Host('10.0.0.1', 8080, '10.0.0.1')"
    req = Request({'REMOTE_ADDR': '1.2.3.4'})
    req.args = ('a', 'b')
    assert req.virtual_path == ('a', 'b')
    req.remote = h
    req.local = Host('srv', 443)
    assert req.remote is h and req.local.port == 443 and req.base == 'http://srv'
    field = Part('f', None, 'text/plain', None, {}, value='text value')
    assert field.fullvalue() == 'text value'
    # A parameter without "=" in the Content-Type is skipped, not an error.
    body = multipart([('title', 'skip')])
    r = call(None, '/mnt/upload', 'POST', body=body, headers={
        'Content-Type': 'multipart/form-data; junk; boundary=' + BOUNDARY})
    assert r.json()['title'] == 'skip'
    # A cookie header the parser rejects outright leaves no cookies, not a 500.
    import http.cookies

    def refuse(self, raw):
        raise http.cookies.CookieError('bad')
    monkeypatch.setattr(http.cookies.SimpleCookie, 'load', refuse)
    r = call(None, '/mnt/attrs', headers={'X-Custom-Thing': '1', 'Cookie': 'a=1'})
    assert r.status == 200 and r.json()['cookie_names'] == []


def test_readline_of_a_chunked_body():
    env = {'wsgi.input': io.BytesIO(b'one\ntwo\n'), 'wsgi.input_terminated': True}
    b = RequestBody(Request(env))
    assert b.readline() == b'one\n' and b.readline() == b'two\n' and b.readline() == b''


def test_environ_backed_attributes_can_be_overridden_by_a_tool():
    def rewrite():
        r = cherrypy.request
        r.query_string = 'rewritten=1'
        r.protocol = (1, 0)
        r.server_protocol = 'HTTP/1.0'
        r.scheme = 'https'

    cherrypy.tools.rewrite = cherrypy.Tool('on_start_resource', rewrite)
    try:
        class R:
            @cherrypy.expose
            def index(self, **kw):
                r = cherrypy.request
                return '%s %s %s %s %s' % (r.query_string, sorted(kw), r.protocol,
                                           r.server_protocol, r.base)
        cherrypy.tree.mount(R(), '', {'/': {'tools.rewrite.on': True}})
        r = call(None, '/', query='original=1')
        assert r.text == "rewritten=1 ['rewritten'] (1, 0) HTTP/1.0 https://127.0.0.1"
    finally:
        del cherrypy.tools.rewrite
