"""Object-tree and method dispatch, in-process through WSGI."""
from __future__ import annotations

import app.core as cherrypy
from app.core.dispatch import MethodDispatcher

from helpers import call


class Sub:
    @cherrypy.expose
    def index(self):
        return 'sub index'

    @cherrypy.expose
    def leaf(self, *args, **kwargs):
        return 'leaf %s %s' % (list(args), sorted(kwargs.items()))


class WithDefault:
    @cherrypy.expose
    def default(self, *args, **kwargs):
        return 'default %s' % '/'.join(args)


class Dynamic:
    def __init__(self, name=None):
        self.name = name

    def _cp_dispatch(self, vpath):
        if len(vpath) >= 1 and vpath[0].isdigit():
            return Dynamic(vpath.pop(0))
        return None

    @cherrypy.expose
    def index(self):
        return 'item %s' % self.name

    @cherrypy.expose
    def detail(self):
        return 'detail %s' % self.name


class OldStyle:
    def index(self):
        return 'exposed by attribute'
    index.exposed = True

    def hidden(self):
        return 'never'


class Root:
    sub = Sub()
    fallback = WithDefault()
    items = Dynamic()
    old = OldStyle()

    @cherrypy.expose
    def index(self):
        return 'root index'

    @cherrypy.expose(['alias_one', 'alias.two'])
    def aliased(self):
        return 'aliased'

    @cherrypy.expose
    def item(self, a, b=None, c=None):
        return 'item a=%s b=%s c=%s' % (a, b, c)

    @cherrypy.expose
    def kw(self, name, tags=None):
        return 'kw %s %r' % (name, tags)

    @cherrypy.expose
    def feed_me(self):
        return 'feed-me'

    def not_exposed(self):
        return 'secret'

    @cherrypy.expose
    def buggy(self):
        return len(1)  # a TypeError inside the handler is a 500, not a 404


def mount(config=None):
    return cherrypy.tree.mount(Root(), '', config)


def test_expose_tags_and_returns_the_same_function():
    def f():
        return 1
    assert cherrypy.expose(f) is f and f.exposed is True
    # Handlers stay plain: a test can call them and get their own value.
    assert Root().item('1', '2') == 'item a=1 b=2 c=None'


def test_index_nested_and_explicit_index():
    mount()
    assert call(None, '/').text == 'root index'
    assert call(None, '/index').text == 'root index'
    assert call(None, '/sub/').text == 'sub index'
    assert call(None, '/old/').text == 'exposed by attribute'


def test_unexposed_and_missing_are_404():
    mount()
    assert call(None, '/not_exposed').status == 404
    assert call(None, '/old/hidden').status == 404
    r = call(None, '/nope/deeper')
    assert r.status == 404 and b"The path '/nope/deeper' was not found." in r.body


def test_path_segments_fill_positional_parameters():
    mount()
    assert call(None, '/item/1/2/3').text == 'item a=1 b=2 c=3'
    assert call(None, '/sub/leaf/x/y', query='k=v').text == "leaf ['x', 'y'] [('k', 'v')]"


def test_query_fields_are_kwargs_and_repeats_become_lists():
    mount()
    assert call(None, '/kw', query='name=a').text == "kw a None"
    assert call(None, '/kw', query='name=a&tags=x&tags=y').text == "kw a ['x', 'y']"


def test_missing_or_unexpected_arguments_give_404_never_500():
    mount()
    r = call(None, '/item')
    assert r.status == 404 and b'Missing parameters: a' in r.body
    assert call(None, '/item/1/2/3/4').status == 404
    r = call(None, '/kw', query='name=a&bogus=1')
    assert r.status == 404 and b'Unexpected query string parameters: bogus' in r.body
    r = call(None, '/kw', method='POST', body='name=a&bogus=1',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 400 and b'Unexpected body parameters: bogus' in r.body


def test_type_error_inside_handler_is_500():
    mount()
    assert call(None, '/buggy').status == 500


def test_default_handler_gets_the_rest_of_the_path():
    mount()
    assert call(None, '/fallback/a/b/c').text == 'default a/b/c'


def test_cp_dispatch_builds_a_dynamic_tree():
    mount()
    assert call(None, '/items/42/').text == 'item 42'
    assert call(None, '/items/7/detail').text == 'detail 7'


def test_aliases_and_punctuation_translate_to_underscores():
    mount()
    assert call(None, '/alias_one').text == 'aliased'
    assert call(None, '/alias.two').text == 'aliased'
    assert call(None, '/feed-me').text == 'feed-me'
    assert call(None, '/feed.me').text == 'feed-me'


def test_missing_trailing_slash_on_index_redirects_301_keeping_query():
    mount()
    r = call(None, '/sub', query='a=1&b=2')
    assert r.status == 301
    assert r.headers['Location'] == 'http://127.0.0.1/sub/?a=1&b=2'


def test_trailing_slash_decision_is_cached_per_route():
    # The check is folded into the cached route: repeats must still agree.
    mount()
    for _ in range(3):
        r = call(None, '/sub', query='q=1')
        assert r.status == 301 and r.headers['Location'].endswith('/sub/?q=1')
        assert call(None, '/sub/').text == 'sub index'
        assert call(None, '/feed_me/').text == 'feed-me'
    cherrypy.config.update({'tools.trailing_slash.extra': True})  # a config change re-decides
    r = call(None, '/feed_me/')
    assert r.status == 301 and r.headers['Location'].endswith('/feed_me')
    assert call(None, '/sub/').text == 'sub index'


def test_trailing_slash_sees_a_tool_that_runs_before_it():
    def mark_index():
        cherrypy.request.is_index = True
    cherrypy.tools.mark_index = cherrypy.Tool('before_handler', mark_index, priority=10)
    try:
        mount({'/feed_me': {'tools.mark_index.on': True}})
        for _ in range(2):
            r = call(None, '/feed_me')
            assert r.status == 301 and r.headers['Location'].endswith('/feed_me/')
    finally:
        del cherrypy.tools.mark_index


def test_extra_trailing_slash_is_tolerated():
    mount()
    assert call(None, '/item/1/').text == 'item a=1 b=None c=None'
    assert call(None, '/feed_me/').text == 'feed-me'


def test_trailing_slash_tool_can_be_switched_off():
    mount({'/': {'tools.trailing_slash.on': False}})
    assert call(None, '/sub').text == 'sub index'
    cherrypy.tree.apps.clear()
    cherrypy.config.update({'tools.trailing_slash.on': False})
    mount()
    assert call(None, '/sub').text == 'sub index'


def test_trailing_slash_extra_option_strips():
    mount({'/': {'tools.trailing_slash.extra': True}})
    r = call(None, '/feed_me/')
    assert r.status == 301 and r.headers['Location'].endswith('/feed_me')


def test_head_has_no_body_but_same_headers():
    mount()
    get = call(None, '/')
    head = call(None, '/', method='HEAD')
    assert head.status == 200 and head.body == b''
    assert head.headers['Content-Length'] == get.headers['Content-Length']


def test_mount_under_a_script_name():
    cherrypy.tree.mount(Root(), '/blog')
    assert call(None, '/blog/').text == 'root index'
    assert call(None, '/blog/item/5').text == 'item a=5 b=None c=None'
    assert call(None, '/other').status == 404


def test_several_apps_and_longest_prefix_wins():
    class A:
        @cherrypy.expose
        def index(self):
            return 'A'

    class B:
        @cherrypy.expose
        def index(self):
            return 'B'
    cherrypy.tree.mount(A(), '/')
    cherrypy.tree.mount(B(), '/b')
    assert call(None, '/').text == 'A'
    assert call(None, '/b/').text == 'B'
    assert call(None, '/bb').status == 404  # A has no 'bb'


def test_graft_foreign_wsgi_app():
    def foreign(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [('foreign %s|%s' % (environ['SCRIPT_NAME'], environ['PATH_INFO'])).encode()]
    cherrypy.tree.graft(foreign, '/wsgi')
    mount()
    assert call(None, '/wsgi/x/y').text == 'foreign /wsgi|/x/y'
    assert call(None, '/').text == 'root index'


def test_mount_returns_a_wsgi_application():
    application = cherrypy.tree.mount(Root(), '/app')
    assert call(application, '/item/9', script_name='/app').text.startswith('item a=9')


class Song:
    exposed = True

    def __init__(self):
        self.counts = {}

    def GET(self, id=None):
        return str(self.counts.get(id, 0))

    def POST(self, id):
        self.counts[id] = self.counts.get(id, 0) + 1
        return str(self.counts[id])

    def PUT(self, id, value):
        self.counts[id] = int(value)
        return 'put'

    def DELETE(self, id):
        self.counts.pop(id, None)
        return 'deleted'

    def PATCH(self, id):
        return 'patched %s' % id


class SongRoot:
    exposed = True
    song = Song()

    def GET(self):
        return 'songs'


def test_method_dispatcher_methods_allow_head_and_405():
    cherrypy.tree.mount(SongRoot(), '', {'/': {'request.dispatch': MethodDispatcher()}})
    assert call(None, '/song/a', method='POST').text == '1'
    assert call(None, '/song/a', method='POST').text == '2'
    r = call(None, '/song/a')
    assert r.text == '2' and r.headers['Allow'] == 'DELETE, GET, HEAD, PATCH, POST, PUT'
    assert call(None, '/song/a', method='PUT', body='value=10',
                headers={'Content-Type': 'application/x-www-form-urlencoded'}).text == 'put'
    assert call(None, '/song/a').text == '10'
    assert call(None, '/song/a', method='PATCH').text == 'patched a'
    assert call(None, '/song/a', method='DELETE').text == 'deleted'
    head = call(None, '/song/a', method='HEAD')
    assert head.status == 200 and head.body == b'' and head.headers['Content-Length'] == '1'
    r = call(None, '/', method='POST')
    assert r.status == 405 and r.headers['Allow'] == 'GET, HEAD'
    assert call(None, '/', method='GET').text == 'songs'


def test_popargs_turns_segments_into_params():
    @cherrypy.popargs('year', 'month')
    class Archive:
        @cherrypy.expose
        def index(self, year=None, month=None):
            return 'archive %s-%s' % (year, month)

    class R:
        archive = Archive()
    cherrypy.tree.mount(R(), '')
    assert call(None, '/archive/2024/05/').text == 'archive 2024-05'


def test_an_exposed_object_that_cannot_be_called_is_not_a_handler():
    """A MethodDispatcher resource reached by the default dispatcher: 404, never a 500."""
    @cherrypy.expose
    class Resource:
        def GET(self):
            return 'got'

    class Root:
        res = Resource()

        @cherrypy.expose
        def index(self):
            return 'root'

    cherrypy.tree.mount(Root(), '', {'/res': {'request.dispatch': MethodDispatcher()}})
    assert call(None, '/res').body == b'got'
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/res')
    assert r.status == 404
