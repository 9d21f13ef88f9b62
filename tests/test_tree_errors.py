"""The tree, the error classes, dispatch corners, ``url()`` and the request cycle's edges."""
from __future__ import annotations

import http.client as httpclient
import logging
import sys

import pytest

import app.core as cherrypy
from app.core import application as application_mod
from app.core import errors
from app.core.dispatch import Dispatcher, MethodDispatcher

from helpers import call, live


class Hello:
    @cherrypy.expose
    def index(self):
        return 'index of %s' % (cherrypy.request.script_name or '/')

    @cherrypy.expose
    def hello(self):
        r = cherrypy.request
        return 'hello sn=%s pi=%s' % (r.script_name, r.path_info)

    @cherrypy.expose
    def where(self):
        return repr(cherrypy.tree.script_name())


@pytest.fixture
def quiet():
    cherrypy.config.update({'log.screen': False})


# == tree ==========================================================================

def test_mount_an_application_instance():
    app = cherrypy.Application(Hello(), '/hi/', {'/': {'tools.response_headers.on': True,
                                                      'tools.response_headers.headers':
                                                      [('X-App', 'one')]}})
    assert app.script_name == '/hi'
    mounted = cherrypy.tree.mount(app, '', {'/hello': {'response.headers.X-Extra': 'merged'}})
    assert mounted is app and cherrypy.tree.apps['/hi'] is app
    # The tree gives it the global config and the toolbox.
    assert app.global_config is cherrypy.config
    r = call(None, '/hi/hello')
    assert r.text == 'hello sn=/hi pi=/hello'
    assert r.headers['X-App'] == 'one' and r.headers['X-Extra'] == 'merged'
    # The same script name, with or without its slash, is fine too.
    assert cherrypy.tree.mount(app, '/hi/') is app


def test_mounting_an_application_at_another_script_name_is_an_error():
    app = cherrypy.Application(Hello(), '/a')
    with pytest.raises(ValueError, match="Cannot mount an Application at '/b'"):
        cherrypy.tree.mount(app, '/b')
    assert '/b' not in cherrypy.tree and '/a' not in cherrypy.tree


def test_mount_script_name_none_is_a_type_error():
    with pytest.raises(TypeError, match='script_name'):
        cherrypy.tree.mount(Hello(), None)


def test_script_name_lookup_and_contains():
    tree = cherrypy.tree
    tree.mount(Hello(), '/app')
    tree.mount(Hello(), '/app/deep')
    assert tree.script_name('/app/x') == '/app'
    assert tree.script_name('/app') == '/app'
    assert tree.script_name('/app/deep/y') == '/app/deep'
    assert tree.script_name('/appx') is None
    assert tree.script_name('/') is None
    assert '/app' in tree and '/app/' in tree and '/nope' not in tree
    tree.mount(Hello(), '')
    assert tree.script_name('/appx') == '' and '' in tree and '/' in tree


def test_script_name_without_a_path_is_the_current_requests():
    # As CherryPy: tree.script_name() inside a request names its application.
    cherrypy.tree.mount(Hello(), '/mnt')
    cherrypy.tree.mount(Hello(), '')
    assert call(None, '/mnt/where').text == "'/mnt'"
    assert call(None, '/where').text == "''"
    assert cherrypy.tree.script_name() is None  # outside a request


def test_a_path_no_application_serves_is_404():
    cherrypy.tree.mount(Hello(), '/only')
    r = call(None, '/elsewhere')
    assert r.status_line == '404 Not Found'
    assert r.body == b'Not Found' and r.headers['Content-Length'] == '9'
    assert call(None, '/only/hello').status == 200



def test_a_mount_points_own_url_redirects_to_its_slash():
    # As CherryPy: /mnt is the index URL of the app at /mnt, so 301 to /mnt/.
    cherrypy.tree.mount(Hello(), '/mnt')
    r = call(None, '/mnt?x=1')
    assert r.status == 301 and r.headers['Location'].endswith('/mnt/?x=1')
    assert call(None, '/mnt/').text == 'index of /mnt'
    app = cherrypy.tree.apps['/mnt']
    r = call(app, '/mnt', script_name='')  # the app called directly, not via the tree
    assert r.status == 301 and r.headers['Location'].endswith('/mnt/')

# == HTTPRedirect ==================================================================

class Redirects:
    @cherrypy.expose
    def many(self):
        raise cherrypy.HTTPRedirect(['/first', 'second'], 300)

    @cherrypy.expose
    def status(self, code):
        raise cherrypy.HTTPRedirect('/target?a=1&b="2"', int(code))

    @cherrypy.expose
    def as_bytes(self):
        raise cherrypy.HTTPRedirect(b'/caf\xe9', encoding='latin-1')

    @cherrypy.expose
    def not_modified(self):
        h = cherrypy.response.headers
        h['Content-Type'] = 'text/plain'
        h['Last-Modified'] = 'Sun, 06 Nov 1994 08:49:37 GMT'
        h['Content-Language'] = 'en'
        h['Allow'] = 'GET'
        h['ETag'] = '"v1"'
        h['Cache-Control'] = 'max-age=60'
        raise cherrypy.HTTPRedirect([], 304)

    @cherrypy.expose
    def use_proxy(self):
        raise cherrypy.HTTPRedirect('http://proxy.example/', 305)

    class sub:
        @cherrypy.expose
        def page(self, **kw):
            raise cherrypy.HTTPRedirect('sibling')

    sub = sub()


def test_redirect_to_several_urls_lists_them_all():
    cherrypy.tree.mount(Redirects(), '')
    r = call(None, '/many')
    assert r.status_line == '300 Multiple Choices'
    assert r.headers['Location'] == 'http://127.0.0.1/first'
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert r.text == ('This resource can be found at <a href="http://127.0.0.1/first">'
                      'http://127.0.0.1/first</a>.<br />\n'
                      'This resource can be found at <a href="http://127.0.0.1/second">'
                      'http://127.0.0.1/second</a>.')
    assert r.headers['Content-Length'] == str(len(r.body))


@pytest.mark.parametrize('code, text', [
    (301, 'This resource has permanently moved to '),
    (302, 'This resource resides temporarily at '),
    (303, 'This resource can be found at '),
    (307, 'This resource has moved temporarily to '),
    (308, 'This resource has been moved to '),
])
def test_redirect_bodies_per_status_escape_the_url(code, text):
    cherrypy.tree.mount(Redirects(), '')
    r = call(None, '/status', query='code=%d' % code)
    assert r.status == code
    assert r.headers['Location'] == 'http://127.0.0.1/target?a=1&b="2"'
    assert r.text == ('%s<a href="http://127.0.0.1/target?a=1&amp;b=&quot;2&quot;">'
                      'http://127.0.0.1/target?a=1&amp;b="2"</a>.' % text)


def test_relative_redirect_joins_the_current_path_and_drops_its_query():
    cherrypy.tree.mount(Redirects(), '/app')
    r = call(None, '/app/sub/page', query='x=1')
    assert r.status == 303 and r.headers['Location'] == 'http://127.0.0.1/app/sub/sibling'


def test_redirect_with_a_bytes_url_is_decoded():
    cherrypy.tree.mount(Redirects(), '')
    r = call(None, '/as_bytes')
    assert r.status == 303 and r.headers['Location'] == 'http://127.0.0.1/caf%C3%A9'
    assert cherrypy.HTTPRedirect(b'/x').urls == ['/x']


def test_304_drops_entity_headers_and_body():
    cherrypy.tree.mount(Redirects(), '')
    r = call(None, '/not_modified')
    assert r.status_line == '304 Not Modified' and r.body == b''
    for name in ('Content-Type', 'Last-Modified', 'Content-Language', 'Allow',
                 'Content-Length', 'Location'):
        assert name not in r.headers, name
    # Validators and caching headers stay, as CherryPy leaves them.
    assert r.headers['ETag'] == '"v1"' and r.headers['Cache-Control'] == 'max-age=60'


def test_305_sets_location_without_a_body():
    cherrypy.tree.mount(Redirects(), '')
    r = call(None, '/use_proxy')
    assert r.status == 305 and r.headers['Location'] == 'http://proxy.example/'
    assert r.body == b''


@pytest.mark.parametrize('code', [200, 299, 400, 404, 500])
def test_redirect_status_outside_3xx_is_a_value_error(code):
    with pytest.raises(ValueError, match='status must be between 300 and 399'):
        cherrypy.HTTPRedirect('/x', code)


def test_set_response_without_raising_as_cherrypy_documents():
    class R:
        @cherrypy.expose
        def soft_redirect(self):
            cherrypy.HTTPRedirect('/new', 307).set_response()
            return cherrypy.response.body

        @cherrypy.expose
        def soft_error(self):
            cherrypy.HTTPError(409, 'Edit conflict.').set_response()
            return cherrypy.response.body
    cherrypy.tree.mount(R(), '')
    r = call(None, '/soft_redirect')
    assert r.status == 307 and r.headers['Location'] == 'http://127.0.0.1/new'
    assert r.text == ('This resource has moved temporarily to '
                      '<a href="http://127.0.0.1/new">http://127.0.0.1/new</a>.')
    r = call(None, '/soft_error')
    assert r.status_line == '409 Conflict' and b'Edit conflict.' in r.body
    # No exception was being handled: the traceback block stays empty.
    assert b'<pre id="traceback"></pre>' in r.body


def test_redirect_and_error_instances_raise_themselves_when_called():
    # So one can stand in as request.handler.
    with pytest.raises(cherrypy.HTTPRedirect):
        cherrypy.HTTPRedirect('/x', 302)()
    with pytest.raises(cherrypy.HTTPError):
        cherrypy.HTTPError(410)('ignored', k='v')


# == HTTPError =====================================================================

class Errors:
    @cherrypy.expose
    def lookup(self, key):
        with cherrypy.HTTPError.handle(KeyError, 404, 'No such key.'):
            return {'a': 'found a'}[key]

    @cherrypy.expose
    def parse(self, n):
        with cherrypy.HTTPError.handle((ValueError, TypeError), 400):
            return str(int(n))

    @cherrypy.expose
    def other(self):
        with cherrypy.HTTPError.handle(KeyError):
            raise RuntimeError('not translated')

    @cherrypy.expose
    def bad(self, status):
        raise cherrypy.HTTPError(status)

    @cherrypy.expose
    def reason(self):
        raise cherrypy.HTTPError('404 Gone Fishing', 'Back at five.')

    @cherrypy.expose
    def stale(self):
        h = cherrypy.response.headers
        for name in ('ETag', 'Last-Modified', 'Expires', 'Location', 'Vary',
                     'Accept-Ranges', 'Content-Range', 'Retry-After'):
            h[name] = 'stale'
        h['X-Keep'] = 'kept'
        raise cherrypy.HTTPError(404)

    @cherrypy.expose
    def range416(self):
        cherrypy.response.headers['Content-Range'] = 'bytes */10'
        raise cherrypy.HTTPError(416)


def test_http_error_handle_translates_exceptions():
    cherrypy.tree.mount(Errors(), '')
    assert call(None, '/lookup', query='key=a').text == 'found a'
    r = call(None, '/lookup', query='key=zz')
    assert r.status == 404 and b'No such key.' in r.body
    r = call(None, '/parse', query='n=x')
    assert r.status == 400 and b"invalid literal for int() with base 10: 'x'" in r.body
    assert call(None, '/parse', query='n=7').text == '7'


def test_http_error_handle_lets_other_exceptions_through(quiet):
    cherrypy.tree.mount(Errors(), '')
    r = call(None, '/other')
    assert r.status == 500 and b'RuntimeError: not translated' in r.body


def test_http_error_handle_chains_the_original_exception():
    with pytest.raises(cherrypy.HTTPError) as info:
        with cherrypy.HTTPError.handle(KeyError, 409):
            {}['missing']
    assert info.value.code == 409 and info.value.message == "'missing'"
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize('status, fragment', [
    ('abc', "'abc' is non-numeric"), (700, '700 is out of range'), (42, '42 is out of range')])
def test_http_error_with_an_illegal_status_becomes_a_500(status, fragment):
    with pytest.raises(cherrypy.HTTPError) as info:
        cherrypy.HTTPError(status)
    assert info.value.code == 500 and fragment in info.value.message


@pytest.mark.parametrize('status', [200, 302, 399, '301 Moved'])
def test_http_error_with_a_non_error_status_is_a_value_error(status):
    with pytest.raises(ValueError, match='status must be between 400 and 599'):
        cherrypy.HTTPError(status)


def test_http_error_statuses_through_a_request():
    cherrypy.tree.mount(Errors(), '')
    r = call(None, '/bad', query='status=nonsense')
    assert r.status == 500 and b'nonsense' in r.body and b'non-numeric' in r.body
    r = call(None, '/reason')
    assert r.status_line == '404 Gone Fishing'
    assert b'<title>404 Gone Fishing</title>' in r.body and b'Back at five.' in r.body


def test_http_error_drops_headers_of_the_original_content():
    # CherryPy's clean_headers: an error page must not carry the validators,
    # redirect or range headers that were set for the content it replaces.
    cherrypy.tree.mount(Errors(), '')
    r = call(None, '/stale')
    assert r.status == 404
    for name in ('ETag', 'Last-Modified', 'Expires', 'Location', 'Vary', 'Accept-Ranges',
                 'Content-Range', 'Retry-After'):
        assert name not in r.headers, name
    assert r.headers['X-Keep'] == 'kept'
    r = call(None, '/range416')
    assert r.status == 416 and r.headers['Content-Range'] == 'bytes */10'


def test_error_page_set_outside_an_except_block_has_no_bogus_traceback():
    class R:
        @cherrypy.expose
        @cherrypy.tools.gzip()
        def page(self):
            return 'text'
    cherrypy.tree.mount(R(), '')
    # gzip answers 406 from a hook, with no exception being handled.
    r = call(None, '/page', headers={'Accept-Encoding': 'identity;q=0, gzip;q=0'})
    assert r.status == 406
    assert b'<pre id="traceback"></pre>' in r.body and b'NoneType' not in r.body


def test_not_found_messages_inside_and_outside_a_request():
    nf = cherrypy.NotFound()
    # As in CherryPy, HTTPError.__init__ leaves (status, message) as args.
    assert nf.args == (404, "The path '' was not found.") and nf.code == 404
    assert nf.message == "The path '' was not found."
    assert cherrypy.NotFound('/x/y').message == "The path '/x/y' was not found."
    assert isinstance(nf, cherrypy.HTTPError)

    class R:
        @cherrypy.expose
        def missing(self):
            raise cherrypy.NotFound()
    cherrypy.tree.mount(R(), '/app')
    r = call(None, '/app/missing')
    assert r.status == 404 and b"The path '/app/missing' was not found." in r.body


def test_format_exc_with_an_exception_a_tuple_or_none():
    assert errors.format_exc() == ''
    try:
        raise ValueError('boom')
    except ValueError as ex:
        caught = ex
        current = errors.format_exc()
        as_tuple = errors.format_exc(sys.exc_info())
    assert current.startswith('Traceback (most recent call last):')
    assert current.rstrip().endswith('ValueError: boom')
    assert as_tuple == current
    given = errors.format_exc(caught)
    assert given == current and 'test_format_exc_with_an_exception' in given
    assert errors.format_exc((None, None, None)) == ''


# == dispatch corners ==============================================================

def test_expose_forms():
    class R:
        @cherrypy.expose()
        def called(self):
            return 'called'

        @cherrypy.expose(alias='other_name')
        def named(self):
            return 'named'

        @cherrypy.expose(alias=['first.alias', 'second'])
        def many(self):
            return 'many'

        def plain(self):
            return 'plain'
        aliased_plain = cherrypy.expose(plain, alias='plain_alias')

    assert R.called.exposed is True and R.named.exposed is True
    assert R.other_name is R.named
    assert R.first_alias is R.many and R.second is R.many
    assert R.plain_alias is R.plain and R.aliased_plain is R.plain
    cherrypy.tree.mount(R(), '')
    assert call(None, '/called').text == 'called'
    assert call(None, '/other_name').text == 'named'
    assert call(None, '/first.alias').text == 'many'
    assert call(None, '/second').text == 'many'
    assert call(None, '/plain_alias').text == 'plain'


def test_expose_on_a_class_for_the_method_dispatcher():
    @cherrypy.expose
    class Resource:
        @cherrypy.tools.response_headers(headers=[('X-Via', 'GET')])
        def GET(self):
            return 'got'

        def PUT(self):
            return 'put'
    assert Resource.exposed is True
    cherrypy.tree.mount(Resource(), '', {'/': {'request.dispatch': MethodDispatcher()}})
    r = call(None, '/')
    assert r.text == 'got' and r.headers['X-Via'] == 'GET'
    r = call(None, '/', method='PUT')
    assert r.text == 'put' and 'X-Via' not in r.headers
    assert call(None, '/nothing/here').status == 404
    r = call(None, '/', method='DELETE')
    assert r.status == 405 and r.headers['Allow'] == 'GET, HEAD, PUT'


def test_popargs_handler_class_is_built_from_the_popped_values():
    # CherryPy: popargs(..., handler=Cls) calls Cls(**popped) and dispatch
    # carries on from the new object.
    class Content:
        def __init__(self, uid):
            self.uid = uid

        @cherrypy.expose
        def index(self):
            return 'content of %s' % self.uid

        @cherrypy.expose
        def edit(self):
            return 'edit %s' % self.uid

    @cherrypy.popargs('uid', handler=Content)
    class Root:
        pass
    cherrypy.tree.mount(Root(), '')
    assert call(None, '/42/').text == 'content of 42'
    assert call(None, '/7/edit').text == 'edit 7'


def test_popargs_handler_object_gets_the_values_as_params():
    class Shared:
        @cherrypy.expose
        def index(self, lang=None, **kw):
            return 'index lang=%s' % lang

        @cherrypy.expose
        def page(self, lang=None):
            return 'page lang=%s' % lang

    shared = Shared()

    @cherrypy.popargs('lang', handler=shared)
    class Root:
        pass
    cherrypy.tree.mount(Root(), '')
    assert call(None, '/fr/').text == 'index lang=fr'
    assert call(None, '/de/page').text == 'page lang=de'


def test_popargs_leftover_segment_is_looked_up_on_the_decorated_object():
    @cherrypy.popargs('year', 'month')
    class Archive:
        @cherrypy.expose
        def index(self, year=None, month=None):
            return 'index %s-%s' % (year, month)

        @cherrypy.expose
        def summary(self, year=None, month=None):
            return 'summary %s-%s' % (year, month)
    cherrypy.tree.mount(Archive(), '')
    assert call(None, '/2024/05/summary').text == 'summary 2024-05'
    # Fewer segments than names: the rest stay unset.
    assert call(None, '/2024/').text == 'index 2024-None'
    with pytest.raises(TypeError, match='unexpected keyword'):
        cherrypy.popargs('a', bogus=1)


def test_a_parameter_given_twice_is_404_from_the_url_and_400_from_the_body():
    class R:
        @cherrypy.expose
        def item(self, a):
            return 'item %s' % a
    cherrypy.tree.mount(R(), '')
    assert call(None, '/item/1').text == 'item 1'
    r = call(None, '/item/1', query='a=2')
    assert r.status == 404 and b'Multiple values for parameters: a' in r.body
    r = call(None, '/item/1', method='POST', body='a=2',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 400 and b'Multiple values for parameters: a' in r.body


def test_cp_dispatch_that_adds_segments_is_a_500(quiet):
    class Greedy:
        def _cp_dispatch(self, vpath):
            vpath.extend(['more', 'segments'])
            return self
    cherrypy.tree.mount(Greedy(), '')
    r = call(None, '/x/y')
    assert r.status == 500 and b'A vpath segment was added' in r.body


def test_cp_dispatch_that_does_not_pop_consumes_one_segment():
    class Lazy:
        def _cp_dispatch(self, vpath):
            return getattr(self, 'target_' + vpath[0], None)

        @cherrypy.expose
        def target_a(self, *rest):
            return 'a %s' % list(rest)
    cherrypy.tree.mount(Lazy(), '')
    assert call(None, '/a/b').text == "a ['b']"


def test_find_handler_api_inside_a_request():
    class Sub:
        @cherrypy.expose
        def leaf(self, *args):
            return 'leaf'

        @cherrypy.expose
        def index(self):
            return 'sub index'

    class R:
        sub = Sub()

        @cherrypy.expose
        def probe(self, path):
            d = cherrypy.dispatch.Dispatcher()
            handler, vpath = d.find_handler(path)
            name = getattr(handler, '__name__', None)
            return '%s %s %s' % (name, vpath, cherrypy.request.is_index)

        @cherrypy.expose
        def reroute(self):
            cherrypy.dispatch.Dispatcher()('/sub/leaf')
            return 'now %s' % cherrypy.request.handler()
    cherrypy.tree.mount(R(), '')
    assert call(None, '/probe', query='path=/sub/leaf/x/y').text == "leaf ['x', 'y'] False"
    assert call(None, '/probe', query='path=/sub/').text == 'index [] True'
    assert call(None, '/probe', query='path=/nowhere/at/all').text == 'None [] False'
    assert call(None, '/reroute').text == 'now leaf'


def test_request_dispatch_per_path_section():
    class Songs:
        exposed = True

        def GET(self):
            return 'songs via GET'

    class R:
        songs = Songs()

        @cherrypy.expose
        def index(self):
            return 'default dispatcher'
    cherrypy.tree.mount(R(), '', {'/songs': {'request.dispatch': MethodDispatcher()}})
    assert call(None, '/').text == 'default dispatcher'
    assert call(None, '/songs').text == 'songs via GET'
    assert isinstance(cherrypy.tree.apps[''].find_config('/songs/x', 'request.dispatch'),
                      Dispatcher)


# == url() =========================================================================

def test_url_inside_a_request_follows_cherrypy():
    class Sub:
        @cherrypy.expose
        def page(self, **kw):
            u = cherrypy.url
            return '\n'.join([
                u(), u('other'), u('../up'), u('/abs', qs='a=1'),
                u('/abs', qs={'b': '2 3'}), u('/abs', qs=[('c', '4')]),
                u('/abs', script_name=''), u('/abs', base='https://example.com'),
                u('/abs', relative='server'), u('other', relative=True),
                u('/elsewhere/x', relative=True), u('./same'),
            ])

        @cherrypy.expose
        def index(self):
            return cherrypy.url('child') + ' ' + cherrypy.url()
    cherrypy.tree.mount(type('R', (), {'sub': Sub()})(), '/app',
                        {'/': {'tools.trailing_slash.on': False}})
    assert call(None, '/app/sub/page', query='q=1').text.split('\n') == [
        'http://127.0.0.1/app/sub/page',
        'http://127.0.0.1/app/sub/other',
        'http://127.0.0.1/app/up',
        'http://127.0.0.1/app/abs?a=1',
        'http://127.0.0.1/app/abs?b=2+3',
        'http://127.0.0.1/app/abs?c=4',
        'http://127.0.0.1/abs',
        'https://example.com/app/abs',
        '/app/abs',
        'other',
        '../elsewhere/x',
        'http://127.0.0.1/app/sub/same',
    ]
    # A page URL with an extra slash still counts as a page...
    assert call(None, '/app/sub/page/').text.split('\n')[1] == 'http://127.0.0.1/app/sub/other'
    # ...and an index URL as a directory, with or without its slash.
    assert call(None, '/app/sub').text == \
        'http://127.0.0.1/app/sub/child http://127.0.0.1/app/sub/'
    assert call(None, '/app/sub/').text == \
        'http://127.0.0.1/app/sub/child http://127.0.0.1/app/sub/'


def test_url_outside_a_request_uses_the_server_base():
    base = cherrypy.server.base()
    assert base.startswith('http://127.0.0.1:')
    assert cherrypy.url('/x') == base + '/x'
    assert cherrypy.url('x', qs='a=1') == base + '/x?a=1'
    assert cherrypy.url('/x', script_name='/app', base='http://h') == 'http://h/app/x'
    assert cherrypy.url('/a/./b/../c', relative='server') == '/a/c'
    assert cherrypy.url('/../../x', relative='server') == '/x'


def test_url_relative_from_application_setting():
    class R:
        @cherrypy.expose
        def page(self):
            return cherrypy.url('/other')
    app = cherrypy.tree.mount(R(), '')
    app.relative_urls = True
    assert call(None, '/page').text == 'other'
    app.relative_urls = 'server'
    assert call(None, '/page').text == '/other'


# == the request cycle's edges =====================================================

def test_internal_redirect_loop_is_a_plain_500_not_an_exception(caplog):
    class R:
        @cherrypy.expose
        def loop(self):
            raise cherrypy.InternalRedirect('/loop')
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(R(), '')
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/loop')
    assert r.status_line == '500 Internal Server Error'
    assert r.body == b'Unrecoverable error in the server.'
    assert r.headers['Content-Type'] == 'text/plain'
    assert 'internal redirect loop' in caplog.text
    assert 'more than 10 internal redirects' in caplog.text


def test_internal_redirect_chain_becomes_a_get_with_the_new_query():
    seen = []

    class R:
        @cherrypy.expose
        def start(self, **kw):
            seen.append(cherrypy.request.method)
            raise cherrypy.InternalRedirect('/middle')

        @cherrypy.expose
        def middle(self):
            raise cherrypy.InternalRedirect('/end', 'step=2')

        @cherrypy.expose
        def end(self, step):
            return 'end step=%s method=%s' % (step, cherrypy.request.method)
    cherrypy.tree.mount(R(), '')
    r = call(None, '/start', method='POST', body='a=1',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.text == 'end step=2 method=GET' and seen == ['POST']


class Failing:
    @cherrypy.expose
    def crash(self):
        raise RuntimeError('handler crashed')


def test_error_response_from_config_as_in_cherrypys_docs(quiet):
    def handle_error():
        cherrypy.response.status = 500
        cherrypy.response.body = ['<html><body>Sorry, an error occurred</body></html>']
    cherrypy.tree.mount(Failing(), '', {'/': {'request.error_response': handle_error}})
    r = call(None, '/crash')
    assert r.status == 500
    assert r.body == b'<html><body>Sorry, an error occurred</body></html>'


def test_error_response_set_by_a_tool_and_after_error_response_runs(quiet):
    events = []

    def custom_page():
        cherrypy.response.status = 503
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        cherrypy.response.body = 'try later (%s)' % type(cherrypy.request.handled_error).__name__

    def pick_page():
        events.append('before')
        cherrypy.request.error_response = custom_page

    def after():
        events.append('after')
    cherrypy.tools.pick_page = cherrypy.Tool('before_error_response', pick_page)
    try:
        cherrypy.tree.mount(Failing(), '', {'/': {'tools.pick_page.on': True,
                                                  'hooks.after_error_response': after}})
        r = call(None, '/crash')
    finally:
        del cherrypy.tools.pick_page
    assert r.status == 503 and r.text == 'try later (RuntimeError)'
    # As in CherryPy: the charset is declared only for what a page handler produced.
    assert r.headers['Content-Type'] == 'text/plain'
    assert events == ['before', 'after']


def test_http_redirect_from_before_error_response_redirects(quiet):
    def to_error_page():
        raise cherrypy.HTTPRedirect('/sorry')
    cherrypy.tree.mount(Failing(), '', {'/': {'hooks.before_error_response': to_error_page}})
    r = call(None, '/crash')
    assert r.status == 303 and r.headers['Location'] == 'http://127.0.0.1/sorry'
    assert b'This resource can be found at' in r.body


def test_failing_error_handling_falls_back_to_a_bare_500(caplog):
    def broken():
        raise ValueError('the error page broke too')
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Failing(), '', {'/': {'request.error_response': broken}})
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/crash')
    assert r.status_line == '500 Internal Server Error'
    assert r.body == b'Unrecoverable error in the server.'
    assert r.headers['Content-Type'] == 'text/plain' and r.headers['Content-Length'] == '34'
    assert 'error while handling an error' in caplog.text
    assert 'the error page broke too' in caplog.text


def test_first_failure_on_a_hook_point_wins_and_failsafe_hooks_still_run(quiet):
    ran = []

    def first():
        ran.append('first')
        raise KeyError('first failure')

    def skipped():
        ran.append('skipped')

    def second():
        ran.append('second')
        raise IndexError('second failure')
    second.failsafe = True
    cherrypy.tree.mount(Failing(), '', {'/': {
        'hooks.on_start_resource': [first, skipped, second]}})
    r = call(None, '/crash')
    assert r.status == 500 and b'first failure' in r.body and b'handler crashed' not in r.body
    assert ran == ['first', 'second']


def test_throws_exceptions_propagate_out_of_the_application():
    class R:
        @cherrypy.expose
        def leave(self):
            raise SystemExit(3)
    cherrypy.tree.mount(R(), '')
    with pytest.raises(SystemExit):
        call(None, '/leave')


def test_on_end_request_failure_is_logged_and_the_body_still_sent(caplog):
    def end():
        raise RuntimeError('cleanup failed')
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Hello(), '', {'/': {'hooks.on_end_request': end}})
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/hello')
    assert r.status == 200 and r.text == 'hello sn= pi=/hello'
    assert 'on_end_request failed' in caplog.text


def test_closing_the_body_twice_runs_on_end_request_once():
    ends = []
    cherrypy.tree.mount(Hello(), '', {'/': {'hooks.on_end_request': lambda: ends.append(1)}})
    env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/hello', 'SERVER_PROTOCOL': 'HTTP/1.1',
           'HTTP_HOST': 'x', 'wsgi.url_scheme': 'http'}
    body = cherrypy.tree(env, lambda s, h, e=None: None)
    assert b''.join(body) == b'hello sn= pi=/hello'
    body.close()
    body.close()
    assert ends == [1]


def test_body_processing_switched_off_by_a_hook_leaves_the_raw_body():
    def raw():
        cherrypy.request.process_request_body = False

    class R:
        @cherrypy.expose
        def upload(self, **kw):
            return '%r %r' % (kw, cherrypy.request.body.read())
    cherrypy.tree.mount(R(), '', {'/': {'hooks.before_request_body': raw}})
    r = call(None, '/upload', method='POST', body='a=1',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.text == "{} b'a=1'"


def test_application_called_directly_as_wsgi_with_a_script_name():
    app = cherrypy.Application(Hello(), '/mnt')
    assert call(app, '/mnt/hello').text == 'hello sn=/mnt pi=/hello'
    # The global config applies (tools.trailing_slash): the mount point's own URL redirects.
    r = call(app, '/mnt')
    assert r.status == 301 and r.headers['Location'] == 'http://127.0.0.1/mnt/'
    assert call(app, '/mnt/').text == 'index of /mnt'
    # A WSGI server that mounts it sets SCRIPT_NAME itself.
    assert call(app, '/hello', script_name='/mnt').text == 'hello sn=/mnt pi=/hello'
    assert call(app, '/elsewhere').status == 404


def test_route_and_plan_caches_stay_correct_when_they_overflow(monkeypatch):
    monkeypatch.setattr(application_mod, '_ROUTE_CACHE_SIZE', 2)
    monkeypatch.setattr(application_mod, '_PLAN_CACHE_SIZE', 1)

    class R:
        @cherrypy.expose
        def default(self, *args):
            return '%s %s' % ('/'.join(args), cherrypy.request.config.get('x.tag'))
    app = cherrypy.tree.mount(R(), '', {'/a': {'x.tag': 'A'}, '/b': {'x.tag': 'B'}})
    for _ in range(2):
        for seg, tag in (('a', 'A'), ('b', 'B'), ('c', 'None'), ('a', 'A'), ('d', 'None')):
            assert call(None, '/%s' % seg).text == '%s %s' % (seg, tag)
    assert len(app._routes) <= 2 and len(app._plans) <= 1


def test_find_config_falls_back_to_the_global_config():
    cherrypy.config.update({'custom.key': 'global'})
    app = cherrypy.tree.mount(Hello(), '', {'/deep': {'custom.key': 'deep'}})
    assert app.find_config('/deep/x', 'custom.key') == 'deep'
    assert app.find_config('/other', 'custom.key') == 'global'
    assert app.find_config('/other', 'absent.key', 'dflt') == 'dflt'
    lone = cherrypy.Application(Hello())  # made directly: the same global config
    assert lone.find_config('/', 'custom.key', 'none') == 'global'
    alone = cherrypy.Application(Hello(), global_config={})
    assert alone.find_config('/', 'custom.key', 'none') == 'none'


def test_streamed_body_failing_midway_cuts_the_connection_and_is_logged(caplog):
    class R:
        @cherrypy.expose
        def stream(self):
            def gen():
                yield 'first chunk\n'
                raise RuntimeError('stream broke')
            return gen()
        stream._cp_config = {'response.stream': True}
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(R(), '')
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        with live(cherrypy.tree) as server:
            host, port = server.bound_addr
            conn = httpclient.HTTPConnection(host, port, timeout=10)
            try:
                conn.request('GET', '/stream')
                resp = conn.getresponse()
                # Headers had gone out: the status is 200, but the body is cut.
                assert resp.status == 200
                assert resp.getheader('Transfer-Encoding') == 'chunked'
                with pytest.raises(httpclient.IncompleteRead) as info:
                    resp.read()
                assert info.value.partial == b'first chunk\n'
            finally:
                conn.close()
    assert "error while streaming the response: RuntimeError('stream broke')" in caplog.text
