"""The small built-in tools (``app.core.lib.cptools``), against CherryPy's behaviour.

allow, response_headers, log_headers, referer, redirect, accept, autovary,
flatten, ignore_headers and trailing_slash; in-process through WSGI.
"""
from __future__ import annotations

import logging

import pytest

import app.core as cherrypy
from app.core.lib import cptools

from helpers import call


def _mount(root, config=None):
    return cherrypy.tree.mount(root, '', config)


# -- tools.allow ---------------------------------------------------------------

def test_allow_defaults_to_get_and_head_and_answers_405_with_allow():
    ran = []

    class R:
        @cherrypy.expose
        @cherrypy.tools.allow()
        def page(self):
            ran.append(cherrypy.request.method)
            return 'page'
    _mount(R())
    r = call(None, '/page')
    assert r.status == 200 and r.text == 'page'
    assert r.headers['Allow'] == 'GET, HEAD'
    head = call(None, '/page', method='HEAD')
    assert head.status == 200 and head.body == b''
    r = call(None, '/page', method='POST', body='x=1',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status_line == '405 Method Not Allowed'
    # CherryPy keeps Allow on the 405 (RFC 9110 requires it there).
    assert r.headers['Allow'] == 'GET, HEAD'
    assert b'405 Method Not Allowed' in r.body
    assert ran == ['GET', 'HEAD'], 'the handler must not run for a refused method'


def test_allow_methods_are_upper_cased_and_get_implies_head():
    class R:
        @cherrypy.expose
        @cherrypy.tools.allow(methods=['post', 'put'])
        def write(self, **kw):
            return 'wrote'

        @cherrypy.expose
        @cherrypy.tools.allow(methods='GET')
        def one(self):
            return 'one'

        @cherrypy.expose
        def conf(self, **kw):
            return 'conf'
    _mount(R(), {'/conf': {'tools.allow.on': True, 'tools.allow.methods': ('GET', 'DELETE')}})
    r = call(None, '/write', method='PUT')
    assert r.status == 200 and r.headers['Allow'] == 'POST, PUT'
    r = call(None, '/write', method='GET')
    assert r.status == 405 and r.headers['Allow'] == 'POST, PUT'
    assert call(None, '/one', method='HEAD').status == 200
    assert call(None, '/one').headers['Allow'] == 'GET, HEAD'
    r = call(None, '/conf', method='DELETE')
    assert r.status == 200 and r.headers['Allow'] == 'GET, DELETE, HEAD'
    assert call(None, '/conf', method='PATCH', body='{}').status == 405


# -- tools.response_headers ----------------------------------------------------

def test_response_headers_from_config_list_and_dict():
    class R:
        @cherrypy.expose
        def index(self):
            return 'i'

        @cherrypy.expose
        def d(self):
            return 'd'

        @cherrypy.expose
        def none(self):
            return 'n'
    _mount(R(), {
        '/': {'tools.response_headers.on': True,
              'tools.response_headers.headers': [('X-Frame-Options', 'DENY'),
                                                 ('Cache-Control', 'no-store')]},
        '/d': {'tools.response_headers.headers': {'X-From-Dict': 'yes'}},
        '/none': {'tools.response_headers.headers': []},
    })
    r = call(None, '/')
    assert r.headers['X-Frame-Options'] == 'DENY' and r.headers['Cache-Control'] == 'no-store'
    r = call(None, '/d')
    assert r.headers['X-From-Dict'] == 'yes' and 'X-Frame-Options' not in r.headers
    r = call(None, '/none')
    assert r.status == 200 and 'X-Frame-Options' not in r.headers


def test_response_headers_is_failsafe_after_an_earlier_hook_fails():
    # CherryPy marks response_headers failsafe: it still runs after an earlier
    # callback on the same hook point failed; ordinary ones do not.
    later = []

    def explode():
        raise RuntimeError('hook failed')

    def ordinary():
        later.append('ran')
    cherrypy.tools.explode = cherrypy.Tool('on_start_resource', explode, priority=10)
    cherrypy.tools.ordinary = cherrypy.Tool('on_start_resource', ordinary, priority=90)
    try:
        class R:
            @cherrypy.expose
            def index(self):
                return 'never'
        _mount(R(), {'/': {'tools.explode.on': True, 'tools.ordinary.on': True,
                           'tools.response_headers.on': True,
                           'tools.response_headers.headers': [('X-Still', 'there')]}})
        r = call(None, '/')
        assert r.status == 500 and b'hook failed' in r.body
        assert r.headers['X-Still'] == 'there'
        assert later == []
    finally:
        del cherrypy.tools.explode
        del cherrypy.tools.ordinary


# -- tools.log_headers -----------------------------------------------------------

def test_log_headers_logs_request_headers_when_an_error_is_handled(caplog):
    class R:
        @cherrypy.expose
        def crash(self):
            raise ValueError('nope')

        @cherrypy.expose
        def fine(self):
            return 'ok'
    _mount(R(), {'/': {'tools.log_headers.on': True}})
    with caplog.at_level(logging.INFO, logger='cherrypy.error'):
        assert call(None, '/fine', headers={'X-Probe': 'quiet'}).status == 200
        assert 'Request Headers:' not in caplog.text
        r = call(None, '/crash', headers={'X-Probe': 'loud'})
    assert r.status == 500
    records = [rec.getMessage() for rec in caplog.records if 'Request Headers:' in rec.getMessage()]
    assert len(records) == 1
    assert '  X-Probe: loud' in records[0] and '  Host: 127.0.0.1' in records[0]


# -- tools.referer ---------------------------------------------------------------

class _Refs:
    calls: list = []

    @cherrypy.expose
    def index(self, **kw):
        _Refs.calls.append(kw)
        return 'welcome'


def test_referer_accepts_matching_and_refuses_others_with_403():
    _Refs.calls = []
    _mount(_Refs(), {'/': {'tools.referer.on': True,
                           'tools.referer.pattern': r'https?://good\.example/'}})
    assert call(None, '/', headers={'Referer': 'http://good.example/page'}).text == 'welcome'
    r = call(None, '/', headers={'Referer': 'http://evil.example/'})
    assert r.status == 403 and b'Forbidden Referer header.' in r.body
    # A missing Referer is refused unless accept_missing.
    assert call(None, '/').status == 403
    # It runs before the body is read: a refused POST never reaches the handler.
    r = call(None, '/', method='POST', body='a=1',
             headers={'Referer': 'http://evil.example/',
                      'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 403 and len(_Refs.calls) == 1


def test_referer_deny_list_accept_missing_and_custom_error():
    _mount(_Refs(), {'/': {'tools.referer.on': True, 'tools.referer.pattern': r'.*spam',
                           'tools.referer.accept': False, 'tools.referer.accept_missing': True,
                           'tools.referer.error': 404,
                           'tools.referer.message': 'Go away, spammer.'}})
    r = call(None, '/', headers={'Referer': 'http://spam.example/'})
    assert r.status == 404 and b'Go away, spammer.' in r.body
    assert call(None, '/', headers={'Referer': 'http://friend.example/'}).status == 200
    assert call(None, '/').status == 200


# -- tools.redirect --------------------------------------------------------------

def test_redirect_tool_internal_by_default_and_external_on_request():
    class R:
        @cherrypy.expose
        def old(self):
            return 'never served'

        @cherrypy.expose
        def gone(self):
            return 'never served'

        @cherrypy.expose
        def new(self, q=None):
            return 'new page q=%s path=%s' % (q, cherrypy.request.path_info)
    _mount(R(), {'/old': {'tools.redirect.on': True, 'tools.redirect.url': '/new?q=1'},
                 '/gone': {'tools.redirect.on': True, 'tools.redirect.url': '/new',
                           'tools.redirect.internal': False}})
    r = call(None, '/old')
    assert r.status == 200 and r.text == 'new page q=1 path=/new'
    assert 'Location' not in r.headers
    r = call(None, '/gone')
    assert r.status == 303 and r.headers['Location'] == 'http://127.0.0.1/new'


# -- tools.accept ----------------------------------------------------------------

def test_accept_tool_answers_406_with_cherrypys_message():
    class R:
        @cherrypy.expose
        @cherrypy.tools.accept(media=['text/html', 'application/json'])
        def page(self):
            return 'page'
    _mount(R())
    assert call(None, '/page', headers={'Accept': 'application/json'}).status == 200
    assert call(None, '/page', headers={'Accept': 'text/*;q=0.5'}).status == 200
    assert call(None, '/page').status == 200  # no Accept: anything goes
    r = call(None, '/page', headers={'Accept': 'image/png, application/json;q=0'})
    assert r.status == 406
    assert (b'Your client sent this Accept header: image/png, application/json;q=0. '
            b'But this resource only emits these media types: text/html, '
            b'application/json.') in r.body


def test_accept_returns_the_best_media_type_for_the_handler():
    class R:
        @cherrypy.expose
        def neg(self):
            return str(cptools.accept(['text/html', 'application/json', 'text/plain']))

        @cherrypy.expose
        def single(self):
            return str(cptools.accept('application/xml'))

        @cherrypy.expose
        def nothing(self):
            return repr(cptools.accept())
    _mount(R())

    def neg(accept=None, path='/neg'):
        return call(None, path, headers={'Accept': accept} if accept else None).text
    assert neg() == 'text/html'  # no header: the first offered
    assert neg('application/json') == 'application/json'
    assert neg('text/html;q=0.2, application/json;q=0.9') == 'application/json'
    assert neg('text/plain;q=0.8, */*;q=0.1') == 'text/plain'
    assert neg('*/*') == 'text/html'
    assert neg('text/*') == 'text/html'
    assert neg('application/*, text/html;q=0') == 'application/json'
    assert neg(path='/single') == 'application/xml'
    assert neg('application/xml', path='/single') == 'application/xml'
    assert call(None, '/single', headers={'Accept': 'text/html'}).status == 406
    assert neg('image/png', path='/nothing') == 'None'


# -- tools.autovary --------------------------------------------------------------

def test_autovary_is_a_known_tool_with_cherrypys_arguments():
    # Its behaviour is tested in test_request_hooks.py.
    assert 'autovary' in cherrypy.tools
    assert cherrypy.tools.autovary.accepts('ignore')
    assert not cherrypy.tools.autovary.accepts('bogus')


# -- tools.flatten ---------------------------------------------------------------

class _Nested:
    @cherrypy.expose
    def index(self):
        def inner():
            yield 'b'
            yield b'c'

        def outer():
            yield 'a'
            yield inner()
            yield ['d', (x for x in ('e', b'f'))]
        return outer()


def test_flatten_joins_nested_generators_into_one_body():
    _mount(_Nested(), {'/': {'tools.flatten.on': True}})
    r = call(None, '/')
    assert r.status == 200 and r.body == b'abcdef'
    assert r.headers['Content-Length'] == '6'


def test_without_flatten_a_nested_generator_body_is_an_error():
    cherrypy.config.update({'log.screen': False})
    _mount(_Nested())
    assert call(None, '/').status == 500


def test_flatten_leaves_plain_bodies_alone():
    class R:
        @cherrypy.expose
        def index(self):
            return 'plain'
    _mount(R(), {'/': {'tools.flatten.on': True}})
    assert call(None, '/').body == b'plain'


# -- tools.ignore_headers --------------------------------------------------------

def test_ignore_headers_drops_range_by_default_so_static_sends_the_whole_file(tmp_path):
    f = tmp_path / 'data.txt'
    f.write_bytes(b'0123456789')

    class R:
        @cherrypy.expose
        def seen(self):
            h = cherrypy.request.headers
            env = cherrypy.request.environ
            return '%s|%s|%s' % (h.get('Range'), env.get('HTTP_RANGE'), h.get('X-Other'))
    _mount(R(), {
        '/seen': {'tools.ignore_headers.on': True},
        '/file': {'tools.staticfile.on': True, 'tools.staticfile.filename': str(f)},
        '/whole': {'tools.staticfile.on': True, 'tools.staticfile.filename': str(f),
                   'tools.ignore_headers.on': True},
    })
    assert call(None, '/seen', headers={'Range': 'bytes=0-1', 'X-Other': 'kept'}).text \
        == 'None|None|kept'
    r = call(None, '/file', headers={'Range': 'bytes=0-3'})
    assert r.status == 206 and r.body == b'0123'
    r = call(None, '/whole', headers={'Range': 'bytes=0-3'})
    assert r.status == 200 and r.body == b'0123456789'


def test_ignore_headers_with_a_custom_list():
    class R:
        @cherrypy.expose
        def index(self):
            h = cherrypy.request.headers
            return '%s|%s' % (h.get('X-Drop-Me'), h.get('Range'))
    _mount(R(), {'/': {'tools.ignore_headers.on': True,
                       'tools.ignore_headers.headers': ['X-Drop-Me']}})
    r = call(None, '/', headers={'X-Drop-Me': '1', 'Range': 'bytes=0-1'})
    assert r.text == 'None|bytes=0-1'


# -- tools.trailing_slash --------------------------------------------------------

class _Slashes:
    class sub:
        @cherrypy.expose
        def index(self):
            return 'sub index'

        @cherrypy.expose
        def leaf(self):
            return 'leaf'
    sub = sub()


def test_trailing_slash_status_option_and_missing_off():
    _mount(_Slashes(), {'/': {'tools.trailing_slash.status': 308},
                        '/sub/leaf': {'tools.trailing_slash.extra': True}})
    r = call(None, '/sub', query='a=1')
    assert r.status == 308 and r.headers['Location'] == 'http://127.0.0.1/sub/?a=1'
    r = call(None, '/sub/leaf/')
    assert r.status == 308 and r.headers['Location'] == 'http://127.0.0.1/sub/leaf'
    cherrypy.tree.apps.clear()
    _mount(_Slashes(), {'/': {'tools.trailing_slash.missing': False}})
    r = call(None, '/sub')
    assert r.status == 200 and r.text == 'sub index'


def test_trailing_slash_redirect_keeps_the_script_name():
    cherrypy.tree.mount(_Slashes(), '/app')
    r = call(None, '/app/sub')
    assert r.status == 301 and r.headers['Location'] == 'http://127.0.0.1/app/sub/'



@pytest.mark.parametrize('method, status', [('GET', 301), ('HEAD', 301), ('POST', 308),
                                            ('PUT', 308), ('PATCH', 308), ('DELETE', 308)])
def test_the_trailing_slash_redirect_keeps_the_method_of_a_non_get(method, status):
    class Root:
        class api:  # noqa: N801
            @cherrypy.expose
            def index(self, **kw):
                return 'api %s' % cherrypy.request.method
    cherrypy.tree.mount(Root(), '', {'/': {'tools.trailing_slash.on': True}})
    r = call(None, '/api', method=method, body=b'{}' if method not in ('GET', 'HEAD') else b'',
             headers={'Content-Type': 'application/json'})
    assert r.status == status and r.headers['Location'] == 'http://127.0.0.1/api/'
