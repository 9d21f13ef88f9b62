"""CherryPy's module names: the bus, plugins, _cptools, _cprequest, _cpreqbody, _cpwsgi, ..."""
from __future__ import annotations

import io
import logging
import os
import re
import threading
import time
import uuid
import warnings

import pytest

import app.core as cherrypy
from app.core import _cpreqbody, _cprequest, _cptools, _cpwsgi, _json
from app.core.lib import reprconf
from app.core.process import plugins, servers, wspbus
from helpers import call, fresh_core, free_port, wait_until


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    fresh_core()


# -- the bus ---------------------------------------------------------------

def test_bus_runs_listeners_by_priority_and_raises_all_failures_together():
    bus = wspbus.Bus()
    seen = []
    bus.subscribe('start', lambda: seen.append('late'), priority=90)
    bus.subscribe('start', lambda: seen.append('early'), priority=10)

    def broken():
        raise ValueError('one')
    bus.subscribe('custom', broken)
    bus.subscribe('custom', lambda: seen.append('still runs'))
    bus.publish('start')
    assert seen == ['early', 'late']
    with pytest.raises(wspbus.ChannelFailures) as info:
        bus.publish('custom')
    assert [type(e) for e in info.value.get_instances()] == [ValueError]
    assert "ValueError('one')" in str(info.value)
    assert seen[-1] == 'still runs'


def test_bus_transitions_are_logged_on_the_log_channel():
    bus = wspbus.Bus()
    lines = []
    bus.subscribe('log', lambda msg, level: lines.append(msg))
    bus.start()
    assert bus.state == wspbus.states.STARTED
    bus.graceful()
    bus.exit()
    assert bus.state == wspbus.states.EXITING
    assert lines == ['Bus STARTING', 'Bus STARTED', 'Bus graceful', 'Bus STOPPING',
                     'Bus STOPPED', 'Bus EXITING', 'Bus EXITED']


def test_bus_start_failure_exits_and_reraises():
    bus = wspbus.Bus()

    def broken():
        raise RuntimeError('no port')
    bus.subscribe('start', broken)
    with pytest.raises(wspbus.ChannelFailures):
        bus.start()
    assert bus.state == wspbus.states.EXITING


def test_bus_subscribe_as_decorator_and_log_traceback():
    bus = wspbus.Bus()
    lines = []

    @bus.subscribe('log')
    def record(msg, level):
        lines.append((msg, level))
    try:
        raise KeyError('k')
    except KeyError:
        bus.log('oops', level=40, traceback=True)
    assert lines[0][1] == 40 and 'KeyError' in lines[0][0] and 'Traceback' in lines[0][0]


def test_bus_wait_publishes_its_channel_and_times_out():
    bus = wspbus.Bus()
    ticks = []
    bus.subscribe('main', lambda: ticks.append(1))
    with pytest.raises(TimeoutError):
        bus.wait(wspbus.states.STARTED, interval=0.01, channel='main', timeout=0.1)
    assert ticks


def test_start_with_callback_runs_after_start():
    bus = wspbus.Bus()
    events = []
    bus.subscribe('start', lambda: events.append('start'))
    t = bus.start_with_callback(events.append, ('callback',))
    t.join(5)
    assert events == ['start', 'callback']
    bus.exit()


def test_engine_log_goes_to_the_error_log_and_the_log_channel(caplog):
    e = cherrypy.Engine()
    lines = []
    e.subscribe('log', lambda msg, level: lines.append(msg))
    with caplog.at_level(logging.INFO, logger='cherrypy.error'):
        e.log('hello bus')
    assert lines == ['hello bus']
    assert 'hello bus' in caplog.text


# -- plugins ---------------------------------------------------------------

def test_simple_plugin_subscribes_its_channel_methods():
    bus = wspbus.Bus()
    calls = []

    class P(plugins.SimplePlugin):
        def start(self):
            calls.append('start')

        def stop(self):
            calls.append('stop')
    p = P(bus)
    p.subscribe()
    bus.start()
    bus.stop()
    p.unsubscribe()
    bus.start()
    assert calls == ['start', 'stop']
    bus.exit()


def test_monitor_calls_back_while_started_and_stops():
    bus = wspbus.Bus()
    calls = []
    m = plugins.Monitor(bus, lambda: calls.append(1), frequency=0.01, name='tick')
    m.subscribe()
    bus.start()
    wait_until(lambda: len(calls) >= 3, 5, 'monitor never called back')
    bus.exit()
    assert m.thread is None
    n = len(calls)
    time.sleep(0.05)  # NOTE: checking that nothing more happens needs some time
    assert len(calls) == n


def test_pidfile_written_at_start_and_removed_at_exit(tmp_path):
    bus = wspbus.Bus()
    path = str(tmp_path / 'app.pid')
    plugins.PIDFile(bus, path).subscribe()
    bus.start()
    with open(path) as f:
        assert int(f.read()) == os.getpid()
    bus.exit()
    assert not os.path.exists(path)


def test_thread_manager_publishes_start_and_stop_thread():
    bus = wspbus.Bus()
    tm = plugins.ThreadManager(bus)
    tm.subscribe()
    seen = []
    bus.subscribe('start_thread', lambda i: seen.append(('start', i)))
    bus.subscribe('stop_thread', lambda i: seen.append(('stop', i)))
    bus.publish('acquire_thread')
    bus.publish('acquire_thread')  # same thread: once
    t = threading.Thread(target=bus.publish, args=('acquire_thread',))
    t.start()
    t.join()
    bus.stop()
    assert seen == [('start', 1), ('start', 2), ('stop', 1), ('stop', 2)]


def test_autoreloader_notices_a_changed_file(tmp_path):
    bus = wspbus.Bus()
    exited = threading.Event()
    bus.subscribe('exit', exited.set)
    f = tmp_path / 'watched.py'
    f.write_text('x = 1\n')
    reloader = plugins.Autoreloader(bus, frequency=0.01, match='^$')
    reloader.files.add(str(f))
    reloader.run()  # first look: remembers the time
    os.utime(f, (1, 1))
    reloader.run()
    assert exited.wait(5)
    assert plugins.Autoreloader._file_for_file_module(type('m', (), {'__file__': None})) is None


def test_safe_wait_warns_for_a_wildcard_host_only():
    port = free_port()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        with servers._safe_wait('0.0.0.0', port):
            raise OSError('not bound')
    assert 'Unable to verify' in str(w[0].message)
    with pytest.raises(OSError):
        with servers._safe_wait('127.0.0.1', port):
            raise OSError('not bound')
    servers.wait_for_free_port('127.0.0.1', port, timeout=1)
    with pytest.raises(OSError):
        servers.wait_for_occupied_port('127.0.0.1', port, timeout=0.2)


# -- tools, requests, bodies ---------------------------------------------

def test_cptools_names_are_the_cores_and_reachable_as_attributes():
    assert cherrypy._cptools is _cptools
    assert _cptools.Tool is cherrypy.Tool and _cptools.Toolbox is cherrypy.Toolbox
    assert _cptools.default_toolbox is cherrypy.tools
    assert cherrypy._cpwsgi is _cpwsgi and cherrypy.lib.reprconf is reprconf


def test_handler_wrapper_tool_wraps_the_handler_for_the_request():
    def shout(next_handler, *args, **kwargs):
        return next_handler(*args, **kwargs).upper()
    cherrypy.tools.shout = _cptools.HandlerWrapperTool(shout)
    try:
        class Root:
            @cherrypy.expose
            @cherrypy.tools.shout()
            def index(self, name='you'):
                return 'hello ' + name
        cherrypy.tree.mount(Root())
        assert call(None, '/?name=bob').body == b'HELLO BOB'
        assert Root().index() == 'hello you'  # the handler itself is not wrapped
    finally:
        del cherrypy.tools.shout


def test_error_tool_answers_errors():
    def teapot():
        cherrypy.response.status = 418
        cherrypy.response.body = [b'short and stout']
    cherrypy.tools.teapot = _cptools.ErrorTool(teapot)
    try:
        class Root:
            @cherrypy.expose
            @cherrypy.tools.teapot()
            def index(self):
                raise ValueError('boom')
        cherrypy.tree.mount(Root())
        r = call(None, '/')
        assert (r.status, r.body) == (418, b'short and stout')
    finally:
        del cherrypy.tools.teapot


def test_hooks_sort_by_priority_and_hookmap_runs_failsafe_after_failure():
    hooks = [_cprequest.Hook(None, priority=48), _cprequest.Hook(None),
             _cprequest.Hook(None, priority=49)]
    assert [h.priority for h in sorted(hooks)] == [48, 49, 50]
    ran = []
    hm = _cprequest.HookMap(_cprequest.hookpoints)

    def bad():
        raise ValueError('x')
    hm.attach('on_end_request', lambda: ran.append('safe'), failsafe=True, priority=90)
    hm.attach('on_end_request', bad, priority=10)
    hm.attach('on_end_request', lambda: ran.append('skipped'), priority=20)
    with pytest.raises(ValueError):
        hm.run('on_end_request')
    assert ran == ['safe']
    assert _cprequest.Request is cherrypy.Request


def test_part_maxrambytes_decides_when_an_upload_goes_to_disk(monkeypatch):
    monkeypatch.setattr(_cpreqbody.Part, 'maxrambytes', 4)
    got = {}

    class Root:
        @cherrypy.expose
        def up(self, f):
            got['rolled'] = f.file._rolled
            return f.file.read()
    cherrypy.tree.mount(Root())
    body = (b'--X\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\n'
            b'0123456789\r\n--X--\r\n')
    r = call(None, '/up', 'POST', {'Content-Type': 'multipart/form-data; boundary=X'}, body)
    assert r.body == b'0123456789' and got['rolled'] is True
    assert _cpreqbody.Entity is _cpreqbody.RequestBody


def test_virtual_host_picks_the_app_by_host():
    def app(name):
        def wsgi(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [name.encode()]
        return wsgi
    vh = _cpwsgi.VirtualHost(app('default'), {'a.example': app('a')})
    assert call(vh, '/', headers={'Host': 'a.example'}).body == b'a'
    assert call(vh, '/', headers={'Host': 'b.example'}).body == b'default'
    assert call(vh, '/', headers={'Host': 'b.example', 'X-Forwarded-Host': 'a.example'}
                ).body == b'a'
    vh.use_x_forwarded_host = False
    assert call(vh, '/', headers={'Host': 'b.example', 'X-Forwarded-Host': 'a.example'}
                ).body == b'default'


def test_json_encode_yields_utf8_and_decode_parses():
    assert b''.join(_json.encode({'a': 'é'})) == b'{"a": "\\u00e9"}'
    assert _json.decode('[1, "x"]') == [1, 'x']


def test_reprconf_parser_and_attributes(tmp_path):
    p = tmp_path / 'x.conf'
    p.write_text('[global]\nserver.socket_port = 8081\n[/]\ntools.gzip.on = True\n')
    assert reprconf.Parser().dict_from_file(str(p)) == {
        'global': {'server.socket_port': 8081}, '/': {'tools.gzip.on': True}}
    parser = reprconf.Parser()
    parser.read_file(io.StringIO('[s]\nk = [1, 2]\n'))
    assert parser.as_dict() == {'s': {'k': [1, 2]}}
    assert parser.as_dict(raw=True) == {'s': {'k': '[1, 2]'}}
    assert reprconf.attributes('cherrypy.lib.sessions.FileSession').__name__ == 'FileSession'
    assert reprconf.attributes('os.path.join') is os.path.join
    assert reprconf.unrepr('{"a": 1}') == {'a': 1}
    with pytest.raises(cherrypy.ConfigError):
        reprconf.unrepr('__import__("os")')


# -- toolboxes ---------------------------------------------------------------

def test_a_tool_with_its_own_setup_accepts_its_own_arguments():
    class MapTool(cherrypy.Tool):
        def _setup(self):
            cherrypy.request.pi_map = self._merged_args()['map']
            cherrypy.request.hooks.attach('before_finalize', self.callable)

    def apply_map():
        old, new = cherrypy.request.pi_map
        # NOTE: as in CherryPy, a before_finalize hook sees the body encoded
        cherrypy.response.body = [c.replace(old.encode(), new.encode())
                                  for c in cherrypy.response.body]
    cherrypy.tools.mapper = MapTool('before_finalize', apply_map)
    try:
        class Root:
            @cherrypy.expose
            def index(self):
                return 'pi is pi'
        cherrypy.tree.mount(Root(), '', {'/': {'tools.mapper.on': True,
                                               'tools.mapper.map': ('pi', '3.14')}})
        assert call(None, '/').body == b'3.14 is 3.14'
        with pytest.raises(cherrypy.ConfigError):  # a callable with arguments: checked
            cherrypy.tree.mount(Root(), '/x', {'/': {'tools.response_headers.bogus': 1}})
    finally:
        del cherrypy.tools.mapper


def test_any_object_with_setup_registers_as_a_tool():
    class Marker:
        def _setup(self):
            cherrypy.request.hooks.attach('before_finalize', self.mark)

        def mark(self):
            cherrypy.response.headers['X-Marked'] = 'yes'
    cherrypy.tools.marker = Marker()
    try:
        class Root:
            @cherrypy.expose
            def index(self):
                return 'x'
        cherrypy.tree.mount(Root(), '', {'/': {'tools.marker.on': True}})
        assert call(None, '/').headers['X-Marked'] == 'yes'
    finally:
        del cherrypy.tools.marker
    assert 'marker' not in cherrypy.tools


def test_an_application_made_directly_knows_the_builtin_tools():
    class Root:
        @cherrypy.expose
        def index(self):
            return 'hi'
    app = cherrypy.Application(Root(), '', {'/': {'tools.response_headers.on': True,
                                                  'tools.response_headers.headers':
                                                  [('X-Direct', '1')]}})
    assert app.toolboxes['tools'] is cherrypy.tools
    assert call(app, '/').headers['X-Direct'] == '1'


def test_request_class_namespaces_adds_a_toolbox():
    box = cherrypy.Toolbox('myauth')

    def deny(default=False):
        if not default:
            raise cherrypy.HTTPError(401)
    box.deny = cherrypy.Tool('before_handler', deny)

    class Root:
        @cherrypy.expose
        def index(self):
            return 'open'
    app = cherrypy.tree.mount(Root(), '', {'/': {'myauth.deny.on': True}})
    assert call(None, '/').status == 200  # not a namespace yet: an unknown section key
    app.request_class.namespaces['myauth'] = box
    try:
        assert 'myauth' in app.request_class.namespaces
        assert call(None, '/').status == 401
    finally:
        cherrypy.tree.toolboxes.pop('myauth', None)


# -- the engine, the server and request threads ---------------------------

def _wsgi_ok(environ, start_response):
    if environ['PATH_INFO'] == '/ctrlc':
        raise KeyboardInterrupt
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '2')])
    return [b'ok']


def test_request_threads_are_announced_and_ctrl_c_in_a_handler_exits_the_engine():
    from app.core.server import Server
    from app.core.testing import http
    engine = cherrypy.Engine()
    started, stopped = [], []
    engine.subscribe('start_thread', started.append)
    engine.subscribe('stop_thread', stopped.append)
    server = Server(_wsgi_ok, engine)
    server.socket_host, server.socket_port, server.thread_pool = '127.0.0.1', 0, 1
    engine.subscribe('start', server.start)
    engine.subscribe('stop', server.stop)
    engine.start()
    try:
        assert http(server, '/')[2] == b'ok'
        assert http(server, '/')[2] == b'ok'
        assert started == [1]  # one worker thread, announced once
        engine.graceful()
        assert stopped == [1]
        assert http(server, '/')[2] == b'ok'
        assert started == [1, 1]  # announced again after graceful
        with pytest.raises(Exception):
            http(server, '/ctrlc', timeout=5)
        wait_until(lambda: engine.state == wspbus.states.EXITING, 10,
                   'KeyboardInterrupt in a handler did not exit the engine')
        assert not server.running
    finally:
        engine.exit()


# -- access log -----------------------------------------------------------

def test_access_log_fields_are_escaped_and_cherrypys_extra_fields_work(monkeypatch, caplog):
    from app.core import _cplogging
    monkeypatch.setattr(_cplogging.LogManager, 'access_log_format',
                        '{h} {u} "{r}" "{a}" {o} {i} {z}')

    class Root:
        @cherrypy.expose
        def index(self):
            cherrypy.request.login = 'Τάρταρος'
            return 'x'
    cherrypy.tree.mount(Root())
    with caplog.at_level(logging.INFO, logger='cherrypy.access'):
        call(None, '/', headers={'User-Agent': 'evil"\nforged line', 'Host': 'HOST'})
    [line] = [r.getMessage() for r in caplog.records if r.name == 'cherrypy.access']
    assert '\n' not in line
    assert '"evil\\"\\nforged line"' in line
    assert '\\xce\\xa4\\xce\\xac' in line  # the login's UTF-8, as \xhh
    host, rid, when = line.split(' ')[-3:]
    assert host == 'HOST' and str(uuid.UUID(rid, version=4)) == rid
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', when)
    assert cherrypy._cplogging is _cplogging
    from app.core.logs import _escape
    assert _escape('GET /slashed\\path') == 'GET /slashed\\path'  # kept, as CherryPy


def test_a_server_a_program_sets_before_start_is_the_one_that_serves():
    from app.core import _cpnative_server
    from app.core.testing import http

    class Root:
        @cherrypy.expose
        def index(self):
            return 'native'
    cherrypy.tree.mount(Root(), '')
    cherrypy.config.update({'server.socket_port': 0, 'log.screen': False})
    built = _cpnative_server.CPHTTPServer(cherrypy.server)
    assert built.requests.min == cherrypy.server.thread_pool
    cherrypy.server.httpserver = built
    cherrypy.engine.start()
    try:
        assert cherrypy.server.httpserver is built
        assert http(cherrypy.server, '/')[::2] == (200, b'native')
    finally:
        cherrypy.engine.exit()
    assert cherrypy.server.httpserver is None        # the next start builds its own
