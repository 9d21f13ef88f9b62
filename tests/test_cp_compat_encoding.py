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
