"""Errors at one boundary; hooks, tools and per-route plans."""
from __future__ import annotations

import app.core as cherrypy
from app.core import _serving
from app.core.hooks import HOOK_POINTS

from helpers import call


class Root:
    @cherrypy.expose
    def teapot(self):
        raise cherrypy.HTTPError(418, 'Short and <stout>')

    @cherrypy.expose
    def gone(self):
        raise cherrypy.HTTPRedirect('/elsewhere')

    @cherrypy.expose
    def moved(self):
        raise cherrypy.HTTPRedirect('target', 301)

    @cherrypy.expose
    def notfound(self):
        raise cherrypy.NotFound()

    @cherrypy.expose
    def crash(self):
        raise RuntimeError('kaboom')

    @cherrypy.expose
    def status(self):
        cherrypy.response.status = 201
        return 'created'

    @cherrypy.expose
    def badstatus(self):
        cherrypy.response.status = 'nonsense'
        return 'x'

    @cherrypy.expose
    def internal(self):
        raise cherrypy.InternalRedirect('/status')

    @cherrypy.expose
    def hello(self):
        return 'hello'


def test_http_error_status_and_escaped_message():
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/teapot')
    assert r.status == 418
    assert b'Short and &lt;stout&gt;' in r.body
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'


def test_redirect_defaults_to_303_on_http11_and_302_on_http10():
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/gone')
    assert r.status == 303 and r.headers['Location'] == 'http://127.0.0.1/elsewhere'
    r = call(None, '/gone', protocol='HTTP/1.0')
    assert r.status == 302
    r = call(None, '/moved')
    assert r.status == 301 and r.headers['Location'] == 'http://127.0.0.1/target'
    assert b'<a href="http://127.0.0.1/target">' in r.body


def test_unexpected_exception_is_500_with_traceback_unless_production():
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/crash')
    assert r.status == 500 and b'RuntimeError: kaboom' in r.body
    cherrypy.config.update({'environment': 'production'})
    r = call(None, '/crash')
    assert r.status == 500 and b'kaboom' not in r.body and b'Traceback' not in r.body


def test_status_set_by_handler_and_bad_status_is_500():
    cherrypy.tree.mount(Root(), '')
    assert call(None, '/status').status_line == '201 Created'
    assert call(None, '/badstatus').status == 500


def test_internal_redirect_serves_another_path():
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/internal')
    assert r.status == 201 and r.text == 'created'


def test_error_page_template_file_and_callable(tmp_path):
    page = tmp_path / '404.html'
    page.write_text('<h1>%(status)s</h1><p>%(message)s</p><i>%(version)s</i>')
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.404': str(page)}})
    r = call(None, '/notfound')
    assert r.status == 404
    assert r.text.startswith('<h1>404 Not Found</h1><p>The path')

    def on_500(status, message, traceback, version):
        return 'custom %s' % status
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.500': on_500}})
    r = call(None, '/crash')
    # NOTE: padded to 513 bytes, as CherryPy pads short HTML error pages.
    assert r.status == 500 and r.text == 'custom 500 Internal Server Error'.ljust(513)
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'

    def json_500(status, message, traceback, version):
        # As CherryPy, a callable page may set its own Content-Type.
        cherrypy.response.headers['Content-Type'] = 'application/json'
        return '{"status": "%s"}' % status
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.500': json_500}})
    r = call(None, '/crash')
    assert r.status == 500 and r.headers['Content-Type'] == 'application/json'


def test_broken_error_page_still_answers():
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.404': '/nonexistent/page.html'}})
    r = call(None, '/notfound')
    assert r.status == 404 and b'custom error page failed' in r.body
    # CherryPy's wording: the exception's type and text.
    assert b"FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/page.html'" \
        in r.body

    def broken(**kwargs):
        raise ValueError('<b>bad</b>')
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '', {'/': {'error_page.404': broken}})
    r = call(None, '/notfound')
    assert b'ValueError: &lt;b&gt;bad&lt;/b&gt;' in r.body  # escaped


def test_custom_tool_by_assignment_and_decorator_tagging():
    seen = []

    def mark(label='x'):
        seen.append(label)
        cherrypy.response.headers['X-Mark'] = label
    cherrypy.tools.mark = cherrypy.Tool('before_handler', mark)
    try:
        class R:
            @cherrypy.expose
            @cherrypy.tools.mark(label='deco')
            def a(self):
                return 'a'

            @cherrypy.expose
            def b(self):
                return 'b'
        # The decorator only tags: the function is still the plain function.
        assert R.a._cp_config == {'tools.mark.on': True, 'tools.mark.label': 'deco'}
        assert R().a() == 'a'
        cherrypy.tree.mount(R(), '', {'/b': {'tools.mark.on': True}})
        assert call(None, '/a').headers['X-Mark'] == 'deco'
        assert call(None, '/b').headers['X-Mark'] == 'x'
        assert seen == ['deco', 'x']
    finally:
        del cherrypy.tools.mark


def test_all_hook_points_run_in_order_and_failsafe_hooks_run_after_errors():
    order = []

    def make(point):
        def hook():
            order.append(point)
        return hook
    hooks = {'hooks.%s' % p: make(p) for p in HOOK_POINTS}

    def boom():
        order.append('boom')
        raise RuntimeError('hook failed')

    def safe():
        order.append('safe')
    safe.failsafe = True
    conf = dict(hooks)
    cherrypy.tree.mount(Root(), '', {'/': conf})
    call(None, '/hello')
    assert order == ['on_start_resource', 'before_request_body', 'before_handler',
                     'before_finalize', 'on_end_resource', 'on_end_request']
    order.clear()
    call(None, '/crash')
    assert order == ['on_start_resource', 'before_request_body', 'before_handler',
                     'on_end_resource', 'before_error_response', 'after_error_response',
                     'on_end_request']
    order.clear()
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '', {'/': {'hooks.before_handler': [boom, safe]}})
    r = call(None, '/hello')
    assert r.status == 500 and order == ['boom', 'safe']


def test_priorities_order_tools_on_one_hook_point():
    order = []
    cherrypy.tools.first = cherrypy.Tool('before_handler', lambda: order.append('first'),
                                         priority=10)
    cherrypy.tools.second = cherrypy.Tool('before_handler', lambda: order.append('second'),
                                          priority=90)
    try:
        cherrypy.tree.mount(Root(), '', {'/': {'tools.second.on': True, 'tools.first.on': True}})
        call(None, '/hello')
        assert order == ['first', 'second']
        order.clear()
        cherrypy.tree.apps.clear()
        cherrypy.tree.mount(Root(), '', {'/': {'tools.second.on': True, 'tools.first.on': True,
                                               'tools.first.priority': 99}})
        call(None, '/hello')
        assert order == ['second', 'first']
    finally:
        del cherrypy.tools.first
        del cherrypy.tools.second


def test_handler_tool_answers_and_skips_the_handler():
    def answer(text='tool'):
        cherrypy.response.body = text
        return True
    cherrypy.tools.answer = cherrypy.HandlerTool(answer)
    try:
        cherrypy.tree.mount(Root(), '', {'/hello': {'tools.answer.on': True,
                                                    'tools.answer.text': 'from tool'}})
        assert call(None, '/hello').text == 'from tool'

        class R:
            page = cherrypy.tools.answer.handler(text='as handler')
        cherrypy.tree.apps.clear()
        cherrypy.tree.mount(R(), '')
        assert call(None, '/page').text == 'as handler'
    finally:
        del cherrypy.tools.answer


def test_plans_are_built_once_per_route_and_rebuilt_after_config_change():
    app = cherrypy.tree.mount(Root(), '')
    call(None, '/hello')
    call(None, '/hello')
    assert len(app._plans) == 1
    plan = next(iter(app._plans.values()))
    call(None, '/hello')
    assert next(iter(app._plans.values())) is plan
    cherrypy.config.update({'tools.gzip.on': True})
    r = call(None, '/hello', headers={'Accept-Encoding': 'gzip'})
    assert r.headers.get('Content-Encoding') == 'gzip'
    assert next(iter(app._plans.values())) is not plan


def test_request_config_reflects_precedence():
    class R:
        _cp_config = {'my.key': 'class', 'my.other': 'class'}

        @cherrypy.expose
        def show(self):
            c = cherrypy.request.config
            return '%s %s %s' % (c['my.key'], c['my.other'], c['my.third'])
        show._cp_config = {'my.key': 'handler'}
    cherrypy.config.update({'my.third': 'global'})
    cherrypy.tree.mount(R(), '', {'/': {'my.key': 'app', 'my.other': 'app'}})
    assert call(None, '/show').text == 'handler class global'


def test_proxies_fail_clearly_outside_a_request():
    import pytest
    with pytest.raises(_serving.OutsideRequestError, match='outside a request'):
        cherrypy.request.method
    with pytest.raises(_serving.OutsideRequestError):
        cherrypy.response.headers
    with pytest.raises(_serving.OutsideRequestError):
        cherrypy.request.params
    with pytest.raises(_serving.OutsideRequestError):
        cherrypy.response.status = 404
    assert not cherrypy.request


def test_proxies_reach_the_current_request_and_response():
    class R:
        @cherrypy.expose
        def index(self, **kw):
            cherrypy.response.status = 202
            cherrypy.response.headers['X-Count'] = 3  # not a str: sent as '3'
            cherrypy.request.custom = 'set through the proxy'
            return '%s %s %s %s' % (cherrypy.request.method, sorted(cherrypy.request.params),
                                    cherrypy.request.custom, cherrypy.response.headers['X-Count'])
    cherrypy.tree.mount(R(), '')
    r = call(None, '/', query='a=1&b=2')
    assert r.status == 202 and r.text == "GET ['a', 'b'] set through the proxy 3"
    assert r.headers['X-Count'] == '3'


def test_session_proxy_without_sessions_is_a_clear_error():
    class R:
        @cherrypy.expose
        def s(self):
            try:
                cherrypy.session['x'] = 1
            except _serving.OutsideRequestError as ex:
                return str(ex)
    cherrypy.tree.mount(R(), '')
    assert 'tools.sessions.on' in call(None, '/s').text


def test_stream_body_and_on_end_request_after_body():
    events = []

    class R:
        @cherrypy.expose
        def gen(self):
            def g():
                events.append('yield')
                yield 'a'
                yield b'b'
            return g()
        gen._cp_config = {'response.stream': True}

    def end():
        events.append('end')
    cherrypy.tree.mount(R(), '', {'/': {'hooks.on_end_request': end}})
    r = call(None, '/gen')
    assert r.body == b'ab' and 'Content-Length' not in r.headers
    assert events == ['yield', 'end']
