"""CherryPy's encode/decode behaviour: Accept-Charset, tools.decode, body charsets, multipart.

Also the tools around them CherryPy's suite checks: before_finalize hooks
see encoded bytes, the gzip header, session_auth, a cache hit under
staticdir, an error page built with serve_file.
"""
from __future__ import annotations

import gzip
import io
import time
import zlib

import pytest

import app.core as cherrypy
from app.core.lib import encoding, static
from helpers import call, fresh_core, http, live

SING = '毛泽东: Sing, Little Birdie?'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    fresh_core()


class Root:
    @cherrypy.expose
    def sing(self):
        return SING

    @cherrypy.expose
    @cherrypy.config(**{'tools.encode.encoding': 'utf-8'})
    def forced(self):
        return SING.encode('utf-8')

    @cherrypy.expose
    def gen(self):
        yield SING

    @cherrypy.expose
    @cherrypy.config(**{'tools.encode.text_only': False})
    def binary(self):
        cherrypy.response.headers['Content-Type'] = 'application/binary'
        return '\x00\x01'

    @cherrypy.expose
    def params(self, **kwargs):
        return ', '.join('%s: %s' % kv for kv in sorted(cherrypy.request.params.items()))

    @cherrypy.expose
    @cherrypy.config(**{'tools.decode.on': True, 'tools.decode.default_encoding': ['utf-16']})
    def extra(self, **kwargs):
        return self.params()

    @cherrypy.expose
    @cherrypy.config(**{'tools.decode.on': True, 'tools.decode.encoding': 'utf-16'})
    def only16(self, **kwargs):
        return self.params()

    @cherrypy.expose
    def parts(self, parts):
        return repr(parts)

    @cherrypy.expose
    def upload(self, doc):
        return '%s %s %d' % (doc.filename, doc.content_type.value, len(doc.file.read()))


@pytest.fixture
def root():
    cherrypy.tree.mount(Root())


# -- Accept-Charset -----------------------------------------------------------

@pytest.mark.parametrize('accept, charset', [
    (None, 'utf-8'),
    ('utf-16', 'utf-16'),
    ('iso-8859-1;q=1, utf-16;q=0.5', 'utf-16'),   # latin-1 cannot hold the text
    ('*;q=1, utf-7;q=.2', 'utf-8'),               # * is the default charset
])
def test_accept_charset_is_negotiated(root, accept, charset):
    r = call(None, '/sing', headers={'Accept-Charset': accept} if accept else {})
    assert r.status == 200
    assert r.headers['Content-Type'] == 'text/html;charset=' + charset
    assert r.body == SING.encode(charset)


def test_a_generator_body_is_tried_too(root):
    r = call(None, '/gen', headers={'Accept-Charset': 'iso-8859-1, utf-16;q=0.5'})
    assert r.headers['Content-Type'] == 'text/html;charset=utf-16'
    assert r.body == SING.encode('utf-16')


@pytest.mark.parametrize('path, accept, tried', [
    ('/sing', 'iso-8859-1, *;q=0', 'iso-8859-1'),
    ('/sing', 'us-ascii, ISO-8859-1, x-mac-ce', 'ISO-8859-1, us-ascii, x-mac-ce'),
    ('/forced', 'us-ascii, ISO-8859-1', ''),      # the forced encoding is not accepted
])
def test_no_acceptable_charset_is_406_naming_what_was_tried(root, path, accept, tried):
    r = call(None, path, headers={'Accept-Charset': accept})
    assert r.status == 406
    assert ('Your client sent this Accept-Charset header: %s. We tried these charsets: %s.'
            % (accept, tried)).encode() in r.body


def test_a_malformed_q_value_is_400(root):
    r = call(None, '/sing', headers={'Accept-Charset': 'ISO-8859-1,utf-8;q=0.7,*;q=0.7)'})
    assert r.status == 400 and b'Malformed HTTP header' in r.body


def test_text_only_off_declares_the_charset_on_any_type(root):
    r = call(None, '/binary')
    assert r.headers['Content-Type'] == 'application/binary;charset=utf-8'
    assert r.body == b'\x00\x01'


def test_autovary_names_accept_charset_when_the_charset_follows_it():
    class R:
        @cherrypy.expose
        def index(self):
            cherrypy.request.headers.get('Accept-Encoding')
            return 'x'

        @cherrypy.expose
        def data(self):
            cherrypy.response.headers['Content-Type'] = 'application/octet-stream'
            return b'x'
    cherrypy.tree.mount(R(), '', {'/': {'tools.autovary.on': True}})
    assert call(None, '/').headers['Vary'] == 'Accept-Charset, Accept-Encoding'
    assert 'Vary' not in call(None, '/data').headers


# -- request body charsets ----------------------------------------------------

UTF16_FORM = b'\xff\xfeq\x00=\xff\xfe\xa3\x00'  # q=£, each side in UTF-16


def test_a_form_is_decoded_field_by_field_in_its_named_charset(root):
    r = call(None, '/params', 'POST', body=UTF16_FORM,
             headers={'Content-Type': 'application/x-www-form-urlencoded;charset=utf-16'})
    assert r.status == 200 and r.text == 'q: £'


def test_an_undecodable_form_is_400_naming_the_charsets(root):
    r = call(None, '/params', 'POST', body=UTF16_FORM,
             headers={'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8'})
    assert r.status == 400
    assert b"The following charsets were attempted: ['utf-8']" in r.body


def test_decode_tool_adds_or_forces_charsets(root):
    assert call(None, '/extra', 'POST', body=UTF16_FORM, headers=FORM).text == 'q: £'
    assert call(None, '/extra', 'POST', body='q=£', headers=FORM).text == 'q: £'
    r = call(None, '/only16', 'POST', body='q=£', headers=FORM)
    assert r.status == 400 and b"attempted: ['utf-16']" in r.body


def test_attempt_charsets_can_be_set_by_a_hook():
    class R:
        @cherrypy.expose
        def index(self, q):
            return '%s %s' % (q, cherrypy.request.body.charset)

    def latin1():
        cherrypy.request.body.attempt_charsets = ['ascii', 'latin-1']
    cherrypy.tree.mount(R(), '', {'/': {'hooks.before_request_body': latin1}})
    r = call(None, '/', 'POST', body=b'q=caf%E9', headers=FORM)
    assert r.text == 'café latin-1'


# -- multipart ------------------------------------------------------------------

def test_multipart_boundary_lines_may_end_in_a_bare_lf(root):
    body = (b'--x\nContent-Disposition: form-data; name="doc"; filename="hello.txt"\r\n'
            b'Content-Type: text/plain\r\n\r\naaaaa\n--x--\n')
    r = call(None, '/upload', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data; boundary=x'})
    assert r.text == 'hello.txt text/plain 5'


def test_a_multipart_body_cut_after_a_boundary_line_ends_there(root):
    body = (b'--x\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\n\r\n'
            b'abc\r\n--x')
    r = call(None, '/upload', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data; boundary=x'})
    assert r.text == 'a.txt application/octet-stream 3'


@pytest.mark.parametrize('disposition, name', [
    ('filename="file;name.csv"', 'file;name.csv'),
    ('filename="file; name.csv"', 'file; name.csv'),
    ('filename="file"name.csv"', 'file"name.csv'),
    ("filename*=UTF-8''test_%C5%82%C3%B3.txt", 'test_łó.txt'),
])
def test_multipart_filenames_keep_quoted_semicolons_and_rfc5987(root, disposition, name):
    body = ('--B\r\nContent-Disposition: form-data; name="doc"; %s\r\n\r\nxy\r\n--B--\r\n'
            % disposition).encode('utf-8')
    r = call(None, '/upload', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data; boundary=B'})
    assert r.status == 200 and r.text == name + ' application/octet-stream 2'


def test_multipart_alternative_parts_arrive_as_a_parts_argument(root):
    body = ('--123\r\nContent-Type: text/plain; charset=\'ISO-8859-1\'\r\n\r\ntext\r\n'
            '--123\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--123--').encode()
    r = call(None, '/parts', 'POST', body=body,
             headers={'Content-Type': 'multipart/alternative; boundary=123'})
    assert r.status == 200 and r.text == repr(['text', '<b>html</b>'])


def test_an_undecodable_multipart_field_is_400_naming_the_charsets(root):
    body = b'--X\r\nContent-Disposition: form-data; name="t"\r\n\r\n\xff\xfea\x00\r\n--X--'
    r = call(None, '/params', 'POST', body=body,
             headers={'Content-Type': 'multipart/form-data;boundary=X'})
    assert r.status == 400
    assert b"charsets were attempted: ['us-ascii', 'utf-8']" in r.body


# -- before_finalize hooks see bytes ------------------------------------------

def _shout():
    body = cherrypy.response.body
    cherrypy.response.body = [chunk.replace(b'good', b'GOOD') for chunk in body]


def test_before_finalize_hooks_see_encoded_bytes_as_in_cherrypy():
    class R:
        @cherrypy.expose
        def index(self):
            return 'a good day'

        @cherrypy.expose
        def missing(self):
            raise cherrypy.HTTPError(404, 'no good')
    cherrypy.tree.mount(R(), '', {'/': {'hooks.before_finalize': _shout}})
    assert call(None, '/').body == b'a GOOD day'
    r = call(None, '/missing')
    assert r.status == 404 and b'no GOOD' in r.body


def test_json_out_still_gets_the_handlers_value():
    class R:
        @cherrypy.expose
        @cherrypy.tools.json_out()
        def index(self):
            return {'a': [1, 2]}
    cherrypy.tree.mount(R(), '', {'/': {'hooks.before_finalize': lambda: None}})
    assert call(None, '/').json() == {'a': [1, 2]}


# -- gzip ------------------------------------------------------------------------

@pytest.mark.parametrize('level', [1, 6, 9])
def test_gzip_output_is_what_pythons_gzip_module_writes(level):
    data = b'Hello, world ' * 50
    buf = io.BytesIO()
    with gzip.GzipFile(mode='wb', fileobj=buf, compresslevel=level, mtime=1000) as f:
        f.write(data)
    ours = b''.join(encoding.compress([data], level))
    assert ours[:4] == buf.getvalue()[:4] and ours[8:] == buf.getvalue()[8:]
    assert abs(int.from_bytes(ours[4:8], 'little') - time.time()) < 5  # MTIME: now
    assert zlib.decompress(ours, 31) == data


# -- session_auth ----------------------------------------------------------------

def _check(username, password):
    if (username, password) != ('test', 'password'):
        return 'Wrong login/password'


@pytest.fixture
def guarded():
    class R:
        @cherrypy.expose
        def index(self, **kwargs):
            return 'Hi %s' % cherrypy.request.login
    cherrypy.tree.mount(R(), '', {'/': {
        'tools.sessions.on': True, 'tools.session_auth.on': True,
        'tools.session_auth.check_username_and_password': _check}})


def _cookie(r):
    return r.headers['Set-Cookie'].split(';', 1)[0]


def test_session_auth_login_and_logout(guarded):
    r = call(None, '/')
    assert r.status == 200 and b'<form method="post" action="do_login">' in r.body
    cookie = _cookie(r)
    bad = call(None, '/do_login', 'POST', body='username=test&password=no',
               headers={**FORM, 'Cookie': cookie})
    assert b'Message: Wrong login/password' in bad.body
    r = call(None, '/do_login', 'POST', body='username=test&password=password&from_page=/',
             headers={**FORM, 'Cookie': cookie})
    assert r.status == 303 and r.headers['Location'].endswith('/')
    assert call(None, '/', headers={'Cookie': cookie}).text == 'Hi test'
    r = call(None, '/do_logout', 'POST', headers={'Cookie': cookie})
    assert r.status == 303
    assert b'action="do_login"' in call(None, '/', headers={'Cookie': cookie}).body


def test_session_auth_needs_post_to_log_in(guarded):
    r = call(None, '/do_login')
    assert r.status == 405 and r.headers['Allow'] == 'POST'


def test_session_auth_escapes_what_the_form_echoes(guarded):
    r = call(None, '/', query='x="><script>')
    assert b'<script>' not in r.body and b'&quot;&gt;&lt;script&gt;' in r.body


@pytest.mark.parametrize('target, location', [
    ('http://evil.test/', 'http://127.0.0.1/'),
    ('//evil.test/', 'http://127.0.0.1/'),
    ('/\\evil.test/', 'http://127.0.0.1/'),
    ('http://127.0.0.1/page', 'http://127.0.0.1/page'),
    ('/page?a=1', 'http://127.0.0.1/page?a=1'),
])
def test_session_auth_redirects_only_back_to_this_site(guarded, target, location):
    cookie = _cookie(call(None, '/'))
    r = call(None, '/do_login', 'POST', headers={**FORM, 'Cookie': cookie},
             body='username=test&password=password&from_page=' + target)
    assert r.status == 303 and r.headers['Location'] == location


def test_session_auth_login_screen_is_bytes():
    from app.core.lib.cptools import SessionAuth
    assert isinstance(SessionAuth().login_screen(None, username='nobody'), bytes)


# -- static: a cache hit, an error page from serve_file ----------------------------

def test_a_cache_hit_under_staticdir_keeps_the_cached_gzip_body(tmp_path):
    (tmp_path / 'index.html').write_text('Hello, world\r\n')

    class R:
        pass
    cherrypy.tree.mount(R(), '', {'/': {
        'tools.gzip.on': True, 'tools.gzip.mime_types': ['text/*'], 'tools.caching.on': True,
        'tools.staticdir.on': True, 'tools.staticdir.dir': str(tmp_path)}})
    gz = {'Accept-Encoding': 'gzip'}
    first = call(None, '/index.html', headers=gz)
    hit = call(None, '/index.html', headers=gz)
    assert 'Age' in hit.headers and hit.headers['Content-Encoding'] == 'gzip'
    assert hit.body == first.body and gzip.decompress(hit.body) == b'Hello, world\r\n'
    plain = call(None, '/index.html')
    assert 'Content-Encoding' not in plain.headers and plain.body == b'Hello, world\r\n'


def test_an_error_page_may_return_serve_file(tmp_path):
    page = tmp_path / '404.html'
    page.write_text("I couldn't find that thing")

    def not_found(status, message, traceback, version):
        return static.serve_file(str(page), content_type='text/html')

    class R:
        pass
    cherrypy.tree.mount(R(), '', {'/': {'error_page.404': not_found}})
    r = call(None, '/nothing')
    # NOTE: padded to 513 bytes, as CherryPy pads a short HTML error page for IE.
    assert r.status == 404 and r.body == b"I couldn't find that thing".ljust(513)


def test_live_multipart_with_bare_lf_and_accept_charset(root):
    body = (b'--x\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\n\r\n'
            b'abc\n--x--\n')
    with live(cherrypy.tree) as server:
        status, _h, got = http(server, '/upload', 'POST', body=body,
                               headers={'Content-Type': 'multipart/form-data; boundary=x'})
        assert (status, got) == (200, b'a.txt application/octet-stream 3')
        status, headers, got = http(server, '/sing', headers={'Accept-Charset': 'utf-16'})
        assert status == 200 and got == SING.encode('utf-16')
        assert headers['content-type'] == 'text/html;charset=utf-16'
