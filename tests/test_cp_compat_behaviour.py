"""Public behaviour CherryPy's own test suite checks (issue 14's list)."""
from __future__ import annotations

import pytest

import app.core as cherrypy
from app.core.lib import httputil
from helpers import call, fresh_core


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    fresh_core()


def _append_headers(header_list):
    cherrypy.serving.response.header_list.extend(header_list)


@pytest.fixture
def append_headers_tool():
    cherrypy.tools.append_headers = cherrypy.Tool('on_end_resource', _append_headers)
    yield
    del cherrypy.tools.append_headers


def test_bytes_headers_added_after_finalize_go_out_as_text(append_headers_tool):
    class Root:
        @cherrypy.expose
        @cherrypy.tools.append_headers(header_list=[(b'WWW-Authenticate', b'Negotiate'),
                                                    ('WWW-Authenticate', b'Basic realm="f"')])
        def index(self):
            return 'hi'
    cherrypy.tree.mount(Root())
    r = call(None, '/')
    assert [(k, v) for k, v in r.header_list if k == 'WWW-Authenticate'] == [
        ('WWW-Authenticate', 'Negotiate'), ('WWW-Authenticate', 'Basic realm="f"')]


def test_a_header_name_that_is_not_text_is_a_500_naming_it(append_headers_tool):
    class Root:
        @cherrypy.expose
        @cherrypy.tools.append_headers(header_list=[(2, 3)])
        def index(self):
            return 'hi'
    cherrypy.tree.mount(Root())
    r = call(None, '/')
    assert r.status == 500
    assert b'response.header_list key 2 is not a byte string.' in r.body


def test_bytes_value_in_header_map_output_is_decoded():
    h = httputil.HeaderMap()
    h['X-Raw'] = b'caf\xe9'
    assert h.output() == [('X-Raw', 'café')]


def test_application_with_script_name_none_takes_it_from_the_environ():
    class Root:
        @cherrypy.expose
        def index(self):
            return cherrypy.request.script_name + '|' + cherrypy.url()
    app = cherrypy.Application(Root(), script_name=None)
    assert app.script_name == ''
    cherrypy.tree.graft(app, '/hosted')
    assert call(None, '/hosted/').body == b'/hosted|http://127.0.0.1/hosted/'


def test_encoded_slash_in_a_positional_argument_is_a_slash():
    class Root:
        @cherrypy.expose
        def default(self, *args):
            return repr(args)

        @cherrypy.expose
        def page(self, *args):
            return repr(args)
    cherrypy.tree.mount(Root())
    assert call(None, '/page%2Fname').body == b"('page/name',)"
    assert call(None, '/page/a%2Fb/c').body == b"('a/b', 'c')"


class _CookieRoot:
    @cherrypy.expose
    def single(self, name):
        return cherrypy.request.cookie[name].value


def test_a_malformed_cookie_asked_for_is_400_others_still_parse():
    cherrypy.tree.mount(_CookieRoot())
    r = call(None, '/single?name=Something-With%2CComma',
             headers={'Cookie': 'ok=1; Something-With,Comma=some-value'})
    assert r.status == 400 and b'Malformed Cookie header' in r.body
    r = call(None, '/single?name=ok', headers={'Cookie': 'ok=1; Something-With,Comma=v'})
    assert (r.status, r.body) == (200, b'1')


def test_a_missing_cookie_in_a_good_header_is_still_a_key_error():
    cookie = cherrypy.request_response.RequestCookie()
    cookie.load('a=1')
    with pytest.raises(KeyError):
        cookie['b']
    assert cookie.get('b') is None


@pytest.mark.parametrize('header, expected', [
    ('bytes=3-6', [(3, 7)]),
    ('bytes=2-4,-1', [(2, 5), (7, 8)]),
    ('bytes=-100', [(0, 8)]),
    ('bytes=5-', [(5, 8)]),
    ('bytes=2-100', [(2, 8)]),
    ('bytes=9-10', []),
    ('bytes=6-3', None),
    ('bytes=-', None),
    ('bytes=a-b', None),
    ('items=1-2', None),
    ('', None),
])
def test_get_ranges(header, expected):
    assert httputil.get_ranges(header, 8) == expected


@pytest.mark.parametrize('atoms, expected', [
    (('', ''), '/'), (('/sn/', '/pi/'), '/sn/pi/'), (('/sn', ''), '/sn'), (('', '/pi'), '/pi'),
])
def test_urljoin(atoms, expected):
    assert httputil.urljoin(*atoms) == expected


def test_decode_text_and_encoded_request_headers():
    assert httputil.decode_TEXT('=?utf-8?q?f=C3=BCr?=') == 'für'
    assert httputil.decode_TEXT_maybe('plain') == 'plain'
    assert httputil.decode_TEXT('=?nonesuch?q?f=FCr?=') == 'f\xfcr'

    class Root:
        @cherrypy.expose
        def ifmatch(self):
            val = cherrypy.request.headers['If-Match']
            cherrypy.response.headers['ETag'] = val
            return val
    cherrypy.tree.mount(Root())
    r = call(None, '/ifmatch', headers={'If-Match': '=?utf-8?q?=E2=84=ABngstr=C3=B6m?='})
    assert r.body == '\u212bngstr\xf6m'.encode('utf-8')
    assert r.headers['ETag'] == '=?utf-8?b?4oSrbmdzdHLDtm0=?='


def test_relative_internal_redirect_resolves_against_the_current_path():
    class Sub:
        @cherrypy.expose
        def relative(self, **kw):
            raise cherrypy.InternalRedirect('cousin?t=6')

        @cherrypy.expose
        def cousin(self, t):
            return cherrypy.request.path_info + ' ' + t

    class Root:
        sub = Sub()
    cherrypy.tree.mount(Root())
    assert call(None, '/sub/relative?a=3').body == b'/sub/cousin 6'


def test_query_string_encoding_per_handler_and_the_default():
    class Root:
        @cherrypy.expose
        def utf(self, q):
            return q

        @cherrypy.expose
        @cherrypy.config(**{'request.query_string_encoding': 'latin1'})
        def latin(self, q):
            return q
    cherrypy.tree.mount(Root())
    assert call(None, '/latin?q=%E9').body == 'é'.encode('utf-8')
    assert call(None, '/utf?q=%C3%A9').body == 'é'.encode('utf-8')
    r = call(None, '/utf?q=%E9')
    assert r.status == 404 and b"encoded with 'utf8'" in r.body


def test_tools_register_and_tool_on_is_refused():
    @cherrypy.tools.register('before_finalize', name='stamp')
    def stamp_it(value='x'):
        cherrypy.response.headers['X-Stamp'] = value
    try:
        with pytest.raises(AttributeError, match='config entry'):
            cherrypy.tools.stamp.on
        with pytest.raises(AttributeError):
            cherrypy.tools.stamp.on = True

        class Root:
            @cherrypy.expose
            @cherrypy.tools.stamp(value='ok')
            def index(self):
                return 'hi'
        cherrypy.tree.mount(Root())
        assert call(None, '/').headers['X-Stamp'] == 'ok'
    finally:
        del cherrypy.tools.stamp


def test_request_hooks_lists_hook_objects_in_run_order():
    seen = {}

    def late():
        pass
    late.priority = 90

    def early():
        pass

    class Root:
        @cherrypy.expose
        def index(self):
            cherrypy.request.hooks.attach('before_finalize', late)
            cherrypy.request.hooks.attach('before_finalize', early, priority=10)
            hooks = cherrypy.request.hooks['before_finalize']
            seen['cb'] = [h.callback for h in hooks]
            seen['prio'] = [h.priority for h in hooks]
            return 'ok'
    cherrypy.tree.mount(Root())
    call(None, '/')
    assert seen['cb'][0] is early and seen['cb'][-1] is late
    assert seen['prio'] == sorted(seen['prio'])


def test_err_redirect_and_the_previous_request_after_internal_redirect():
    class Root:
        @cherrypy.expose
        @cherrypy.config(**{'tools.err_redirect.on': True,
                            'tools.err_redirect.url': '/errpage',
                            'tools.err_redirect.internal': False})
        def external(self):
            raise ValueError('boom')

        @cherrypy.expose
        @cherrypy.config(**{'tools.err_redirect.on': True,
                            'tools.err_redirect.url': '/errpage'})
        def internal(self):
            raise ValueError('boom')

        @cherrypy.expose
        def errpage(self):
            prev = cherrypy.request.prev
            return 'sorry, from %s closed=%s' % (prev.path_info, prev.closed)
    cherrypy.tree.mount(Root())
    r = call(None, '/external')
    assert r.status == 303 and r.headers['Location'].endswith('/errpage')
    r = call(None, '/internal')
    assert (r.status, r.body) == (200, b'sorry, from /internal closed=True')


def test_image_map_coordinates_become_x_and_y():
    class Root:
        @cherrypy.expose
        def ismap(self, x, y):
            return '%r, %r' % (x, y)
    cherrypy.tree.mount(Root())
    assert call(None, '/ismap?223,114').body == b'223, 114'


def test_accept_elements_in_cherrypys_order():
    h = httputil.HeaderMap({'Accept': 'text/plain; q=0.5, text/html, text/x-dvi; q=0.8, '
                                      'text/x-c'})
    assert [str(e) for e in h.elements('Accept')] == [
        'text/x-c', 'text/html', 'text/x-dvi;q=0.8', 'text/plain;q=0.5']
    h = httputil.HeaderMap({'Accept': 'text/*, text/html, text/html;level=1, */*'})
    assert [str(e) for e in h.elements('Accept')] == [
        'text/html;level=1', 'text/html', 'text/*', '*/*']


class _EtagRoot:
    @cherrypy.expose
    def resource(self):
        return 'Oh wah ta goo Siam.'

    @cherrypy.expose
    def fail(self, code):
        raise cherrypy.HTTPError(int(code))


def test_etags_autotags_and_preconditions():
    cherrypy.tree.mount(_EtagRoot(), '', {'/': {'tools.etags.on': True,
                                                'tools.etags.autotags': True}})
    r = call(None, '/resource')
    etag = r.headers['ETag']
    assert r.status == 200 and etag.startswith('"') and len(etag) == 34
    assert call(None, '/resource', headers={'If-Match': etag}).status == 200
    assert call(None, '/resource', headers={'If-Match': '*'}).status == 200
    assert call(None, '/resource', headers={'If-Match': '"other"'}).status == 412
    r = call(None, '/resource', headers={'If-None-Match': etag})
    assert r.status == 304 and r.body == b''
    assert call(None, '/resource', 'POST', headers={'If-None-Match': etag}).status == 412
    assert call(None, '/resource', headers={'If-None-Match': '"other"'}).status == 200
    # Errors are left alone.
    assert call(None, '/fail/404', headers={'If-Match': etag}).status == 404


def test_etags_without_autotags_only_checks_a_handlers_etag():
    class Root:
        @cherrypy.expose
        def tagged(self):
            cherrypy.response.headers['ETag'] = '"v1"'
            return 'x'

        @cherrypy.expose
        def untagged(self):
            return 'y'
    cherrypy.tree.mount(Root(), '', {'/': {'tools.etags.on': True}})
    assert call(None, '/tagged', headers={'If-None-Match': '"v1"'}).status == 304
    r = call(None, '/untagged')
    assert r.status == 200 and 'ETag' not in r.headers


def test_params_tool_converts_by_annotation():
    class Root:
        @cherrypy.expose
        @cherrypy.tools.params()
        def page(self, limit: int = 10, name='x'):
            return '%s %s' % (type(limit).__name__, name)

        @cherrypy.expose
        @cherrypy.tools.params(error=422)
        def strict(self, limit: int):
            return str(limit)
    cherrypy.tree.mount(Root())
    assert call(None, '/page?limit=5').body == b'int x'
    assert call(None, '/page').body == b'int x'
    r = call(None, '/page?limit=')
    assert r.status == 400 and b'invalid literal for int' in r.body
    assert call(None, '/strict?limit=a').status == 422


def test_virtual_host_dispatcher_routes_by_host(tmp_path):
    (tmp_path / 'a.txt').write_text('static a')

    class Site:
        def __init__(self, name):
            self.name = name

        @cherrypy.expose
        def index(self):
            return 'site ' + self.name

        @cherrypy.expose
        def where(self):
            return cherrypy.url('next')

    class Root:
        @cherrypy.expose
        def index(self):
            return 'root'
    root = Root()
    root.two = Site('two')
    cherrypy.tree.mount(root, '', {
        '/': {'request.dispatch': cherrypy.dispatch.VirtualHost(**{'www.two.test': '/two'})},
        '/two/files': {'tools.staticdir.on': True, 'tools.staticdir.dir': str(tmp_path)},
    })
    assert call(None, '/', headers={'Host': 'other.test'}).body == b'root'
    assert call(None, '/two/', headers={'Host': 'other.test'}).body == b'site two'
    assert call(None, '/', headers={'Host': 'www.two.test'}).body == b'site two'
    # the same path, another host: not served from a cached route
    assert call(None, '/', headers={'Host': 'other.test'}).body == b'root'
    assert call(None, '/where', headers={'Host': 'www.two.test'}).body == \
        b'http://www.two.test/next'
    assert call(None, '/files/a.txt', headers={'Host': 'www.two.test'}).body == b'static a'
    assert call(None, '/', headers={'Host': 'x', 'X-Forwarded-Host': 'www.two.test'}
                ).body == b'site two'


def test_session_survives_del_and_has_cherrypys_class_names():
    from app.core.lib import sessions
    proxy = cherrypy.session
    del cherrypy.session
    del cherrypy.session  # as often as a program likes
    assert cherrypy.session is proxy
    assert sessions.FileSession.SESSION_PREFIX == 'session-'
    assert sessions.RamSession.clean_thread is None


def test_log_hooks_writes_the_requests_hooks(caplog):
    import logging

    class Root:
        @cherrypy.expose
        @cherrypy.tools.log_hooks(debug=True)
        @cherrypy.tools.response_headers(headers=[('Content-Language', 'fr')])
        def index(self):
            return 'x'
    cherrypy.tree.mount(Root())
    with caplog.at_level(logging.INFO, logger='cherrypy.error'):
        r = call(None, '/')
    assert r.headers['Content-Language'] == 'fr'
    text = caplog.text
    assert 'Request Hooks for http://127.0.0.1/:' in text
    assert 'response_headers' in text and 'log_hooks' in text


def test_a_directly_made_application_runs_with_the_global_config():
    class Root:
        @cherrypy.expose
        def index(self):
            return 'root'
    app = cherrypy.Application(Root(), '/app')
    assert app.global_config is cherrypy.config
    r = call(app, '/app')  # tools.trailing_slash, a global default, is on
    assert r.status == 301 and r.headers['Location'].endswith('/app/')
    cherrypy.config.update({'tools.trailing_slash.on': False})
    assert call(app, '/app').body == b'root'  # and global changes reach it


def test_request_line_may_be_set_and_bad_statuses_are_named():
    class Root:
        @cherrypy.expose
        def index(self):
            cherrypy.request.request_line = 'GET /rewritten HTTP/1.1'
            return cherrypy.request.request_line
    cherrypy.tree.mount(Root())
    assert call(None, '/').body == b'GET /rewritten HTTP/1.1'
    with pytest.raises(ValueError, match=r"\(\{'hey': 'hi'\} is non-numeric\)"):
        httputil.valid_status({'hey': 'hi'})


def test_a_short_html_error_page_is_padded_as_cherrypy_does_for_ie():
    def short(status, message, traceback, version):
        return 'Error %s' % status

    def short_json(status, message, traceback, version):
        cherrypy.serving.response.headers['Content-Type'] = 'application/problem+json'
        return '{"status": %s}' % status.split()[0]

    class Root:
        @cherrypy.expose
        def index(self, err='404'):
            raise cherrypy.HTTPError(int(err))

        @cherrypy.expose
        @cherrypy.config(**{'error_page.default': short_json})
        def api(self):
            raise cherrypy.HTTPError(404)
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.default': short}})
    r = call(None, '/')
    assert r.status == 404 and r.body == b'Error 404 Not Found'.ljust(513)
    assert r.headers['Content-Length'] == '513'
    assert call(None, '/', query='err=403').body == b'Error 403 Forbidden'.ljust(257)
    assert call(None, '/', query='err=401').body == b'Error 401 Unauthorized'  # not padded
    assert call(None, '/api').body == b'{"status": 404}'  # only HTML is padded
