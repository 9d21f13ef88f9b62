"""request.hooks.attach, Tool subclasses with _setup, and tools.autovary."""
from __future__ import annotations

import pytest

import app.core as cherrypy

from helpers import call, live, http


def test_attach_runs_a_callback_for_this_request_only():
    events = []

    class R:
        @cherrypy.expose
        def index(self, attach='0'):
            if attach == '1':
                cherrypy.request.hooks.attach('on_end_request', lambda: events.append('end'))
            return 'ok'
    cherrypy.tree.mount(R(), '')
    assert call(None, '/', query='attach=1').text == 'ok'
    assert events == ['end']
    events.clear()
    assert call(None, '/').text == 'ok'
    assert events == []  # the route's cached plan was not changed


def test_attach_orders_by_priority_and_passes_kwargs():
    seen = []

    def note(label):
        seen.append(label)

    class R:
        @cherrypy.expose
        def index(self):
            hooks = cherrypy.request.hooks
            hooks.attach('before_finalize', note, priority=90, label='ninety')
            hooks.attach('before_finalize', note, priority=10, label='ten')
            hooks.attach('before_finalize', note, label='fifty-a')
            hooks.attach('before_finalize', note, label='fifty-b')
            assert len(hooks['before_finalize']) == 5  # with the json_out tool (30)
            return {'n': 1}
    cherrypy.tree.mount(R(), '', {'/': {'tools.json_out.on': True}})
    r = call(None, '/')
    assert r.status == 200 and r.body == b'{"n": 1}'
    assert seen == ['ten', 'fifty-a', 'fifty-b', 'ninety']


def test_attach_rejects_an_unknown_point_and_failsafe_hooks_still_run():
    ran = []

    def boom():
        raise RuntimeError('hook failed')

    def cleanup():
        ran.append('cleanup')
    cleanup.failsafe = True

    class R:
        @cherrypy.expose
        def bad(self):
            cherrypy.request.hooks.attach('before_lunch', boom)

        @cherrypy.expose
        def fails(self):
            cherrypy.request.hooks.attach('before_finalize', boom, priority=1)
            cherrypy.request.hooks.attach('before_finalize', cleanup)
            return 'x'
    cherrypy.tree.mount(R(), '')
    cherrypy.config.update({'request.show_tracebacks': True})
    r = call(None, '/bad')
    assert r.status == 500 and b'before_lunch' in r.body
    assert call(None, '/fails').status == 500
    assert ran == ['cleanup']


def test_hooks_lists_points_and_runs_one_on_demand():
    ran = []

    class R:
        @cherrypy.expose
        def index(self):
            hooks = cherrypy.request.hooks
            assert list(hooks)[0] == 'on_start_resource' and 'on_end_request' in list(hooks)
            hooks.attach('on_end_resource', lambda: ran.append('early'))
            hooks.run('on_end_resource')  # now, then once more by the core
            return 'ran %d' % len(ran)
    cherrypy.tree.mount(R(), '')
    assert call(None, '/').text == 'ran 1'
    assert ran == ['early', 'early']


class Timer(cherrypy.Tool):
    """CherryPy's documented way to write a tool that needs two hooks."""

    def __init__(self):
        cherrypy.Tool.__init__(self, 'on_start_resource', self.start, priority=10)

    def _setup(self):
        cherrypy.Tool._setup(self)
        cherrypy.request.hooks.attach('before_finalize', self.stop, priority=95)

    def start(self, label='t'):
        cherrypy.request.timer_label = label

    def stop(self):
        cherrypy.response.headers['X-Timer'] = cherrypy.request.timer_label


def test_a_tool_subclass_with_setup_attaches_its_hooks_per_request():
    cherrypy.tools.timer = Timer()
    try:
        class R:
            @cherrypy.expose
            @cherrypy.tools.timer(label='decorated')
            def index(self):
                return 'timed'

            @cherrypy.expose
            def other(self):
                return 'by config'

            @cherrypy.expose
            def plain(self):
                return 'untimed'
        cherrypy.tree.mount(R(), '', {'/other': {'tools.timer.on': True}})
        for _ in range(2):  # the cached route runs _setup again on each request
            r = call(None, '/')
            assert r.text == 'timed' and r.headers['X-Timer'] == 'decorated'
            assert call(None, '/other').headers['X-Timer'] == 't'
            assert 'X-Timer' not in call(None, '/plain').headers
        with pytest.raises(Exception, match='bogus'):
            cherrypy.tree.mount(R(), '/typo', {'/': {'tools.timer.bogus': 1}})
    finally:
        del cherrypy.tools.timer


def test_merged_args_take_config_over_the_given_defaults():
    got = {}

    class Probe(cherrypy.Tool):
        def __init__(self):
            cherrypy.Tool.__init__(self, 'before_handler', lambda **kw: None)

        def _setup(self):
            got.update(self._merged_args({'a': 'default', 'b': 'default'}))

    cherrypy.tools.probe = Probe()
    try:
        class R:
            @cherrypy.expose
            def index(self):
                return 'ok'
        cherrypy.tree.mount(R(), '', {'/': {'tools.probe.on': True, 'tools.probe.a': 'conf',
                                            'tools.probe.priority': 5}})
        assert call(None, '/').text == 'ok'
        assert got == {'a': 'conf', 'b': 'default', 'priority': 5}
    finally:
        del cherrypy.tools.probe


def test_a_handler_tool_subclass_can_answer_from_setup():
    class Maintenance(cherrypy.HandlerTool):
        def __init__(self):
            cherrypy.HandlerTool.__init__(self, self.answer)

        def _setup(self):
            cherrypy.HandlerTool._setup(self)

        def answer(self, message='down'):
            cherrypy.response.body = message.encode()
            return True  # handled: the page handler is skipped
    cherrypy.tools.maintenance = Maintenance()
    try:
        class R:
            @cherrypy.expose
            def index(self):
                return 'page'
        cherrypy.tree.mount(R(), '', {'/': {'tools.maintenance.on': True,
                                            'tools.maintenance.message': 'back soon'}})
        assert call(None, '/').text == 'back soon'
    finally:
        del cherrypy.tools.maintenance


# -- tools.autovary ---------------------------------------------------------------

class _Negotiating:
    @cherrypy.expose
    def index(self):
        lang = cherrypy.request.headers.get('Accept-Language', 'en')
        if 'X-Debug' in cherrypy.request.headers:
            lang += '+debug'
        cherrypy.request.headers.get('Content-Type')  # ignored by default
        return lang

    @cherrypy.expose
    def plain(self):
        return 'reads nothing'

    @cherrypy.expose
    def indexed(self):
        try:
            return cherrypy.request.headers['X-Tenant']
        except KeyError:
            return 'none'

    @cherrypy.expose
    def gz(self):
        return 'x' * 500


def test_autovary_names_the_request_headers_the_handler_read():
    cherrypy.tree.mount(_Negotiating(), '', {'/': {'tools.autovary.on': True}})
    r = call(None, '/', headers={'Accept-Language': 'fr'})
    # NOTE: a text/* body's charset follows Accept-Charset (tools.encode), as in CherryPy.
    assert r.text == 'fr' and r.headers['Vary'] == 'Accept-Charset, Accept-Language, X-Debug'
    assert call(None, '/plain').headers['Vary'] == 'Accept-Charset'
    # A header read by subscript counts even when the request lacks it.
    assert call(None, '/indexed').headers['Vary'] == 'Accept-Charset, X-Tenant'
    r = call(None, '/indexed', headers={'X-Tenant': 'acme'})
    assert r.text == 'acme' and r.headers['Vary'] == 'Accept-Charset, X-Tenant'


def test_autovary_ignore_and_merging_with_an_existing_vary():
    cherrypy.tree.mount(_Negotiating(), '', {
        '/': {'tools.autovary.on': True, 'tools.autovary.ignore': ['x-debug']},
        '/gz': {'tools.gzip.on': True}})
    # As CherryPy: a given ignore list replaces the default one.
    assert call(None, '/').headers['Vary'] == 'Accept-Charset, Accept-Language, Content-Type'
    r = call(None, '/gz', headers={'Accept-Encoding': 'gzip'})
    assert r.headers['Content-Encoding'] == 'gzip'
    assert r.headers['Vary'] == 'Accept-Charset, Accept-Encoding'


def test_autovary_live():
    cherrypy.tree.mount(_Negotiating(), '', {'/': {'tools.autovary.on': True}})
    with live(cherrypy.tree) as server:
        status, headers, body = http(server, '/', headers={'Accept-Language': 'de'})
    assert status == 200 and body == b'de'
    assert headers['vary'] == 'Accept-Charset, Accept-Language, X-Debug'
