"""Config: .conf files as data, precedence, presets, environment, key checks."""
from __future__ import annotations

import importlib
import io
import logging
import textwrap

import pytest

import app.core as cherrypy
from app.core import dispatch as core_dispatch
from app.core.config import ConfigError, env_overrides, parse_file, resolve, unrepr
from app.core.lib import static

from helpers import call


def write(tmp_path, text: str, name: str = 'app.conf') -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding='utf-8')
    return str(path)


@pytest.fixture
def clean_env(monkeypatch):
    """No PORT/HOST/APP_* from the outer environment leaks into a test."""
    import os
    for name in list(os.environ):
        if name in ('PORT', 'HOST') or name.startswith('APP_'):
            monkeypatch.delenv(name)
    return monkeypatch


# -- .conf files ---------------------------------------------------------------

def test_conf_file_sections_separators_and_custom_section(tmp_path):
    path = write(tmp_path, '''
        [global]
        server.thread_pool: 7

        [/]
        tools.trailing_slash.on = False
        response.headers.X-Root: 'root'

        [/sub]
        response.headers.X-Root = 'sub'

        [Databases]
        driver: "mysql"
        port = 3306
    ''')

    class Sub:
        @cherrypy.expose
        def index(self):
            return 'sub'

    class Root:
        sub = Sub()

        @cherrypy.expose
        def db(self):
            conf = cherrypy.request.app.config['Databases']
            return '%s:%d' % (conf['driver'], conf['port'])

    cherrypy.tree.mount(Root(), '', path)
    r = call(None, '/db')
    assert (r.status, r.body) == (200, b'mysql:3306')
    assert r.headers['X-Root'] == 'root'
    # trailing_slash off from the file: no 301 for a missing slash.
    r = call(None, '/sub')
    assert (r.status, r.body) == (200, b'sub')
    assert r.headers['X-Root'] == 'sub'
    # tree.mount never reads [global] into the global config.
    assert 'server.thread_pool' not in cherrypy.config


def test_every_kind_of_python_literal(tmp_path):
    path = write(tmp_path, '''
        [values]
        int: 42
        neg = -5
        float: 2.5
        exp = 1e3
        single: 'single'
        double = "double"
        true: True
        false = False
        none: None
        list = [1, 'two', [3]]
        tuple: (1, 2)
        one_tuple = (1,)
        dict: {'a': {'b': [1, 2]}}
        set = {1, 2}
        bytes: b'raw'
        complex = 1+2j
        empty:
    ''')
    v = parse_file(path)['values']
    assert v == {'int': 42, 'neg': -5, 'float': 2.5, 'exp': 1000.0, 'single': 'single',
                 'double': 'double', 'true': True, 'false': False, 'none': None,
                 'list': [1, 'two', [3]], 'tuple': (1, 2), 'one_tuple': (1,),
                 'dict': {'a': {'b': [1, 2]}}, 'set': {1, 2}, 'bytes': b'raw',
                 'complex': 1 + 2j, 'empty': ''}
    assert v['true'] is True and v['none'] is None and type(v['int']) is int


def test_keys_keep_their_case(tmp_path):
    path = write(tmp_path, '''
        [/]
        response.headers.X-Mixed-Case: 'yes'
    ''')
    assert parse_file(path) == {'/': {'response.headers.X-Mixed-Case': 'yes'}}


def test_dotted_references_are_resolved_by_import(tmp_path):
    path = write(tmp_path, '''
        [/]
        request.dispatch: cherrypy.dispatch.MethodDispatcher()
        tools.staticfile.serve: cherrypy.lib.static.serve_file
        plain.ref = app.core.dispatch.MethodDispatcher
    ''')
    conf = parse_file(path)['/']
    assert isinstance(conf['request.dispatch'], core_dispatch.MethodDispatcher)
    assert conf['tools.staticfile.serve'] is static.serve_file
    assert conf['plain.ref'] is core_dispatch.MethodDispatcher


@pytest.mark.parametrize('payload', [
    "__import__('os').system('touch {marker}')",
    "os.system('touch {marker}')",
    "builtins.open('{marker}', 'w')",
    "io.open('{marker}', 'w')",
    "subprocess.Popen(['touch', '{marker}'])",
    "pathlib.Path('{marker}').touch()",
    "open('{marker}', 'w')",
    "exec(\"open('{marker}', 'w')\")",
    "builtins.exec(\"open('{marker}', 'w')\")",
    "(lambda: open('{marker}', 'w'))()",
    "lambda: open('{marker}', 'w')",
    "'{marker}'.join(open('{marker}', 'w'))",
    "[open('{marker}', 'w') for _ in (1,)]",
    "().__class__.__base__.__subclasses__()",
    "'abc'.upper()",
    "(1).real",
    "cherrypy.dispatch.MethodDispatcher(open('{marker}', 'w'))",
    "cherrypy.lib.static.serve_file('{marker}')",
    "dict(x=open('{marker}', 'w'))",
    "'a' + open('{marker}', 'w')",
    "dict(**open('{marker}', 'w'))",
    "dict(open('{marker}', 'w'))",
    "'{marker}' * 3",
    "[1] + [open('{marker}', 'w')]",
])
def test_code_in_a_conf_file_is_refused_and_never_run(tmp_path, payload):
    marker = tmp_path / 'pwned'
    value = payload.format(marker=marker)
    path = write(tmp_path, '[/]\nrequest.evil: %s\n' % value, name='evil.conf')
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    msg = str(info.value)
    assert 'evil.conf' in msg and '[/]' in msg and 'request.evil' in msg
    assert not marker.exists(), 'the config value ran: %s' % value
    # The same file given to mount and to config.update is refused the same way.
    with pytest.raises(ConfigError):
        cherrypy.tree.mount(object(), '', path)
    with pytest.raises(ConfigError):
        cherrypy.config.update(path)
    assert not marker.exists()


@pytest.mark.parametrize('value, hint', [
    ('hello', 'quote strings'),
    ('hello world', 'quote strings'),
    ('/var/log/app', 'quote strings'),
    ('example.com', 'quote strings'),
    ('text/html', 'quote strings'),
])
def test_unquoted_strings_are_refused_with_a_hint(tmp_path, value, hint):
    path = write(tmp_path, '[global]\nserver.socket_host = %s\n' % value)
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update(path)
    assert hint in str(info.value)
    assert 'server.socket_host' in str(info.value) and '[global]' in str(info.value)
    assert cherrypy.config.get('server.socket_host') != value


def test_unrepr_edge_cases():
    assert unrepr('  ') == ''
    assert unrepr("'x'") == 'x'
    with pytest.raises(ConfigError, match='call arguments must be literals'):
        unrepr('cherrypy.dispatch.MethodDispatcher(x)')
    with pytest.raises(ConfigError, match='no attribute'):
        unrepr('app.core.dispatch.NoSuchThing')
    with pytest.raises(ConfigError, match='only module.attr'):
        unrepr('MethodDispatcher()')


def test_bad_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match='cannot read config file'):
        parse_file(tmp_path / 'missing.conf')
    path = write(tmp_path, 'no section header\nkey = 1\n')
    with pytest.raises(ConfigError, match='app.conf'):
        parse_file(path)
    with pytest.raises(ConfigError, match='must be a dict'):
        cherrypy.tree.mount(object(), '', 42)
    with pytest.raises(ConfigError, match='must map keys'):
        cherrypy.tree.mount(object(), '', {'/': 'not a dict'})


def test_open_file_object_is_accepted(tmp_path):
    path = write(tmp_path, '[global]\nserver.thread_pool = 9\n')
    with open(path, encoding='utf-8') as f:
        cherrypy.config.update(f)
    assert cherrypy.config['server.thread_pool'] == 9


# -- config.update -----------------------------------------------------------------

def test_interpolation_operators_and_dict_as_in_cherrypy(tmp_path):
    path = write(tmp_path, """
        [DEFAULT]
        dir = "/some/dir"

        [my]
        my.dir = %(dir)s + "/my/dir"
        my.dir2 = %(my.dir)s + '/dir2'
        n = 6 * 3 - 1
        pct = "100%%"
        d = dict(a=1, **{'a': 0, 'b': 2})
        ref = dict(**cherrypy.lib.httputil.response_codes)
    """)
    my = parse_file(path)['my']
    assert my['my.dir'] == '/some/dir/my/dir' and my['my.dir2'] == '/some/dir/my/dir/dir2'
    assert my['n'] == 17 and my['pct'] == '100%'
    assert my['d'] == {'a': 1, 'b': 2}                 # a named argument wins over **
    assert my['ref'][404][0] == 'Not Found'
    with pytest.raises(ConfigError, match=r"\[my\] bad: .*write a literal % as %%"):
        parse_file(write(tmp_path, '[my]\nbad = "50%"\n', name='pct.conf'))
    with pytest.raises(ConfigError, match='strings and numbers only'):
        parse_file(write(tmp_path, '[my]\nbad = [1] + [2]\n', name='list.conf'))


def test_a_file_without_global_puts_its_sections_in_as_dicts(tmp_path):
    cherrypy.config.update(write(tmp_path, "[my]\nvalue = dict(foo='bar')\n"))
    assert cherrypy.config['my'] == {'value': {'foo': 'bar'}}


def test_update_from_a_file_takes_global_only(tmp_path):
    path = write(tmp_path, '''
        [global]
        server.thread_pool = 11
        custom.flag = True

        [/]
        response.headers.X-From-Root = 'no'

        [Databases]
        driver = 'mysql'
    ''')
    cherrypy.config.update(path)
    assert cherrypy.config['server.thread_pool'] == 11
    assert cherrypy.config['custom.flag'] is True
    assert 'response.headers.X-From-Root' not in cherrypy.config
    assert '/' not in cherrypy.config and 'Databases' not in cherrypy.config
    assert 'driver' not in cherrypy.config


def test_update_with_a_global_section_dict_and_keywords():
    cherrypy.config.update({'global': {'server.thread_pool': 12}}, **{'custom.kw': 1})
    assert cherrypy.config['server.thread_pool'] == 12
    assert cherrypy.config['custom.kw'] == 1
    assert 'global' not in cherrypy.config
    cherrypy.config['server.socket_timeout'] = 3
    assert cherrypy.config['server.socket_timeout'] == 3
    assert cherrypy.config.namespace('server') == {'thread_pool': 12, 'socket_timeout': 3}
    with pytest.raises(ConfigError, match='server.socket_timeot'):
        cherrypy.config['server.socket_timeot'] = 3


# -- precedence ----------------------------------------------------------------

class Deeper:
    @cherrypy.expose
    def show(self):
        return cherrypy.request.config['test.level']


class WithClassConfig:
    _cp_config = {'test.level': 'class', 'response.headers.X-Level': 'class'}

    @cherrypy.expose
    def show(self):
        return cherrypy.request.config['test.level']

    @cherrypy.expose
    def special(self):
        return cherrypy.request.config['test.level']
    special._cp_config = {'test.level': 'handler', 'response.headers.X-Level': 'handler'}


class PrecedenceRoot:
    sub = Deeper()
    cls = WithClassConfig()

    @cherrypy.expose
    def show(self):
        c = cherrypy.request.config
        return '%s %s %s' % (c['test.level'], c['test.global_only'], c['test.root_only'])


def test_precedence_global_app_path_class_handler():
    cherrypy.config.update({'test.level': 'global', 'test.global_only': 'g',
                            'response.headers.X-Level': 'global'})
    cherrypy.tree.mount(PrecedenceRoot(), '', {
        '/': {'test.level': 'root', 'test.root_only': 'r', 'response.headers.X-Level': 'root'},
        '/sub': {'test.level': 'sub', 'response.headers.X-Level': 'sub'},
        '/cls': {'test.level': 'path', 'response.headers.X-Level': 'path'},
    })
    r = call(None, '/show')
    assert r.body == b'root g r' and r.headers['X-Level'] == 'root'
    r = call(None, '/sub/show')
    assert r.body == b'sub' and r.headers['X-Level'] == 'sub'
    # The class's _cp_config beats the path section for the same URL.
    r = call(None, '/cls/show')
    assert r.body == b'class' and r.headers['X-Level'] == 'class'
    r = call(None, '/cls/special')
    assert r.body == b'handler' and r.headers['X-Level'] == 'handler'


def test_global_config_applies_when_the_app_has_none():
    cherrypy.config.update({'test.level': 'global'})
    cherrypy.tree.mount(Deeper(), '/only')
    assert call(None, '/only/show').body == b'global'


def test_precedence_through_a_tool():
    # gzip on from the app root, off for one handler: observed on the wire.
    class Root:
        @cherrypy.expose
        def on(self):
            return 'x' * 200

        @cherrypy.expose
        @cherrypy.config(**{'tools.gzip.on': False})
        def off(self):
            return 'x' * 200
    cherrypy.tree.mount(Root(), '', {'/': {'tools.gzip.on': True}})
    h = {'Accept-Encoding': 'gzip'}
    assert call(None, '/on', headers=h).headers.get('Content-Encoding') == 'gzip'
    r = call(None, '/off', headers=h)
    assert 'Content-Encoding' not in r.headers and r.body == b'x' * 200


def test_config_decorator_sets_cp_config():
    class Root:
        @cherrypy.expose
        @cherrypy.config(**{'response.headers.X-Deco': 'yes', 'test.value': 3})
        @cherrypy.config(**{'test.other': 4})
        def index(self):
            c = cherrypy.request.config
            return '%s %s' % (c['test.value'], c['test.other'])
    assert Root.index._cp_config == {'response.headers.X-Deco': 'yes', 'test.value': 3,
                                     'test.other': 4}
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/')
    assert r.body == b'3 4' and r.headers['X-Deco'] == 'yes'


def test_plan_is_rebuilt_after_config_update():
    class Root:
        @cherrypy.expose
        def index(self):
            return 'y' * 100
    cherrypy.tree.mount(Root(), '')
    h = {'Accept-Encoding': 'gzip'}
    r = call(None, '/', headers=h)
    assert 'X-Gen' not in r.headers and 'Content-Encoding' not in r.headers
    cherrypy.config.update({'response.headers.X-Gen': 'two', 'tools.gzip.on': True})
    r = call(None, '/', headers=h)
    assert r.headers['X-Gen'] == 'two' and r.headers['Content-Encoding'] == 'gzip'
    cherrypy.config.update({'tools.gzip.on': False})
    assert 'Content-Encoding' not in call(None, '/', headers=h).headers


# -- request.dispatch from a file -----------------------------------------------

def test_method_dispatcher_from_a_conf_file(tmp_path):
    path = write(tmp_path, '''
        [/]
        request.dispatch = cherrypy.dispatch.MethodDispatcher()
    ''')

    @cherrypy.expose
    class Items:
        def GET(self):
            return 'list'

        def POST(self, name=None):
            return 'made ' + str(name)

    cherrypy.tree.mount(Items(), '/items', path)
    app = cherrypy.tree.apps['/items']
    assert isinstance(app.config['/']['request.dispatch'], core_dispatch.MethodDispatcher)
    assert call(None, '/items/').body == b'list'
    r = call(None, '/items/', 'POST', body='name=a',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert (r.status, r.body) == (200, b'made a')
    r = call(None, '/items/', 'DELETE')
    assert r.status == 405
    assert set(r.headers['Allow'].replace(' ', '').split(',')) >= {'GET', 'POST', 'HEAD'}
    assert 'DELETE' not in r.headers['Allow']


# -- environment presets ----------------------------------------------------------

class Crash:
    @cherrypy.expose
    def crash(self):
        raise ValueError('secret detail')

    @cherrypy.expose
    def flag(self):
        return str(cherrypy.request.show_tracebacks)


def test_default_shows_tracebacks_in_500_pages():
    cherrypy.tree.mount(Crash(), '')
    r = call(None, '/crash')
    assert r.status == 500
    assert b'Traceback' in r.body and b'secret detail' in r.body
    assert call(None, '/flag').body == b'True'


def test_production_preset_hides_tracebacks(tmp_path):
    path = write(tmp_path, '''
        [global]
        environment: 'production'
    ''')
    cherrypy.config.update(path)
    assert cherrypy.config['request.show_tracebacks'] is False
    assert cherrypy.config['engine.autoreload.on'] is False
    assert cherrypy.config['log.screen'] is False
    cherrypy.tree.mount(Crash(), '')
    r = call(None, '/crash')
    assert r.status == 500
    assert b'Traceback' not in r.body and b'secret detail' not in r.body
    assert call(None, '/flag').body == b'False'


def test_explicit_key_beats_the_preset():
    cherrypy.config.update({'environment': 'production', 'request.show_tracebacks': True})
    assert cherrypy.config['request.show_tracebacks'] is True


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="'prod'"):
        cherrypy.config.update({'environment': 'prod'})


# -- environment variables ----------------------------------------------------------

def test_env_overrides_port_host_and_nested_keys(clean_env):
    clean_env.setenv('PORT', '9123')
    clean_env.setenv('HOST', '0.0.0.0')
    clean_env.setenv('APP_SERVER__THREAD_POOL', '50')
    clean_env.setenv('APP_TOOLS__GZIP__ON', 'True')
    clean_env.setenv('APP_CUSTOM__NAME', 'plain text')
    cherrypy.config.reset()
    c = cherrypy.config
    assert c['server.socket_port'] == 9123
    assert c['server.socket_host'] == '0.0.0.0'
    assert c['server.thread_pool'] == 50
    assert c['tools.gzip.on'] is True
    assert c['custom.name'] == 'plain text'

    class Root:
        @cherrypy.expose
        def index(self):
            return 'z' * 100
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/', headers={'Accept-Encoding': 'gzip'})
    assert r.headers['Content-Encoding'] == 'gzip'


def test_env_wins_over_file_and_dict_values(tmp_path, clean_env):
    path = write(tmp_path, '''
        [global]
        server.socket_port = 8080
        server.thread_pool = 5
    ''')
    clean_env.setenv('PORT', '9999')
    clean_env.setenv('APP_SERVER__THREAD_POOL', '50')
    cherrypy.config.update(path)
    assert cherrypy.config['server.socket_port'] == 9999
    assert cherrypy.config['server.thread_pool'] == 50
    cherrypy.config.update({'server.thread_pool': 6})
    assert cherrypy.config['server.thread_pool'] == 50


def test_env_set_after_reset_applies_on_update(clean_env):
    cherrypy.config.reset()
    assert 'server.thread_pool' not in cherrypy.config
    clean_env.setenv('APP_SERVER__THREAD_POOL', '33')
    cherrypy.config.update({})
    assert cherrypy.config['server.thread_pool'] == 33


def test_bad_port_is_a_config_error(clean_env):
    clean_env.setenv('PORT', 'eighty')
    with pytest.raises(ConfigError, match='PORT'):
        env_overrides()
    cherrypy.config.reset()  # importing/resetting must not fail...
    with pytest.raises(ConfigError, match="PORT='eighty'"):
        cherrypy.config.update({})  # ...but an update does,
    with pytest.raises(ConfigError, match='PORT'):
        cherrypy._check_config()  # and so does start-up.


def test_env_overrides_mapping_is_pure():
    env = {'PORT': '81', 'HOST': 'h', 'APP_A__B__C': "'q'", 'APPX__Y': '1', 'OTHER': '2',
           'APP_NOSEP': '3'}
    assert env_overrides(env) == {'server.socket_port': 81, 'server.socket_host': 'h',
                                  'a.b.c': 'q'}


# -- key checks ------------------------------------------------------------------

@pytest.mark.parametrize('key', ['server.socket_prot', 'engine.foo.on'])
def test_unknown_server_and_engine_keys_fail_at_update(key):
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update({key: 1})
    assert repr(key) in str(info.value)
    assert key not in cherrypy.config


def test_unknown_keys_in_a_global_file_name_the_key(tmp_path):
    path = write(tmp_path, '[global]\nserver.socket_prot = 80\n')
    with pytest.raises(ConfigError, match='server.socket_prot'):
        cherrypy.config.update(path)


@pytest.mark.parametrize('key', ['tools.gzipp.on', 'tools.gzip.levle'])
def test_unknown_tool_keys_in_global_config_fail_at_start_up(key, caplog):
    # A tool may be registered after config.update, so the global check for
    # tools.* runs at engine start (cherrypy._check_config) and at plan build.
    cherrypy.config.update({key: True})

    class Root:
        @cherrypy.expose
        def index(self):
            return 'never'
    cherrypy.tree.mount(Root(), '')
    with pytest.raises(ConfigError, match=key.replace('.', r'\.')):
        cherrypy._check_config()
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/')
    assert r.status == 500 and b'never' not in r.body
    assert key in caplog.text


@pytest.mark.parametrize('key', ['server.socket_prot', 'engine.foo.on', 'tools.gzipp.on',
                                 'tools.gzip.levle'])
def test_unknown_keys_in_app_config_fail_at_mount(key, tmp_path):
    with pytest.raises(ConfigError) as info:
        cherrypy.tree.mount(object(), '', {'/': {key: 1}})
    assert repr(key) in str(info.value)
    path = write(tmp_path, '[/static]\n%s = 1\n' % key)
    with pytest.raises(ConfigError) as info:
        cherrypy.tree.mount(object(), '/x', path)
    assert repr(key) in str(info.value) and '[/static]' in str(info.value)
    assert '/x' not in cherrypy.tree.apps and '' not in cherrypy.tree.apps


@pytest.mark.parametrize('key', ['tools.gzipp.on', 'tools.gzip.levle'])
def test_unknown_tool_keys_in_cp_config_fail_at_plan_build(key, caplog):
    class Root:
        @cherrypy.expose
        def bad(self):
            return 'never'
        bad._cp_config = {key: 5}

        @cherrypy.expose
        def good(self):
            return 'fine'
    cherrypy.tree.mount(Root(), '')
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/bad')
    assert r.status == 500 and b'never' not in r.body
    assert key in caplog.text and 'ConfigError' in caplog.text
    assert call(None, '/good').body == b'fine'


def test_commonly_set_cherrypy_keys_are_accepted(tmp_path):
    keys = {'engine.autoreload.on': False, 'checker.on': False, 'log.screen': False,
            'tools.trailing_slash.on': True, 'engine.signal_handler.on': True,
            'server.socket_host': '127.0.0.1', 'server.thread_pool': 4}
    cherrypy.config.update(keys)
    for k, v in keys.items():
        assert cherrypy.config[k] == v

    class Root:
        @cherrypy.expose
        def index(self):
            return 'ok'
    path = write(tmp_path, '''
        [/]
        tools.trailing_slash.on: True
        checker.on: False
        log.screen: False
        engine.autoreload.on: False
    ''')
    cherrypy.tree.mount(Root(), '', path)
    cherrypy._check_config()
    assert call(None, '/').body == b'ok'


def test_non_string_key_is_refused():
    with pytest.raises(ConfigError, match='not a string'):
        cherrypy.tree.mount(object(), '', {'/': {1: 'x'}})


def test_request_settings_from_config_reach_the_request_each_time():
    # Plain attributes are applied in one dict update, properties by setattr.
    class R:
        @cherrypy.expose
        def index(self):
            r = cherrypy.request
            return '%s %s %s %s' % (r.show_tracebacks, r.team, r.scheme, r.base)

        @cherrypy.expose
        def other(self):
            return '%s %s' % (cherrypy.request.show_tracebacks, cherrypy.request.scheme)
    cherrypy.tree.mount(R(), '', {'/': {'request.show_tracebacks': False,
                                        'request.team': 'blue', 'request.scheme': 'https'},
                                  '/other': {'request.show_tracebacks': True}})
    for _ in range(2):
        assert call(None, '/').text == 'False blue https https://127.0.0.1'
        assert call(None, '/other').text == 'True https'


@pytest.mark.parametrize('value', ['json.loads', 'os.path.join', 'logging.Logger',
                                   'tests.helpers.call', 'app.site.Root'])
def test_references_outside_the_core_need_the_file_to_allow_their_module(tmp_path, value):
    path = write(tmp_path, '[/]\nrequest.thing: %s\n' % value, name='ref.conf')
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    msg = str(info.value)
    assert 'ref.conf [/] request.thing' in msg and 'config.allowed_modules' in msg
    module = value.rsplit('.', 1)[0]
    path = write(tmp_path, '[global]\nconfig.allowed_modules = [%r]\n[/]\nrequest.thing: %s\n'
                 % (module, value), name='ref.conf')
    got = parse_file(path)['/']['request.thing']
    assert got is getattr(importlib.import_module(module), value.rsplit('.', 1)[1])


def test_an_allowed_module_is_not_a_prefix_of_a_name():
    with pytest.raises(ConfigError):
        resolve('jsonx.loads', ['json'])
    with pytest.raises(ConfigError):
        resolve('app.core_evil.x')


def test_a_module_outside_the_allowed_ones_is_never_imported(tmp_path, monkeypatch):
    (tmp_path / 'sideeffect_mod.py').write_text("open(%r, 'w').close()\nX = 1\n"
                                                % str(tmp_path / 'imported'))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, '[/]\nrequest.x: sideeffect_mod.X\n')
    with pytest.raises(ConfigError):
        parse_file(path)
    assert not (tmp_path / 'imported').exists()


@pytest.mark.parametrize('raw', ['os', '[1]', "['a b']", '{"x": 1}', 'nope('])
def test_a_bad_allowed_modules_value_names_its_key(tmp_path, raw):
    path = write(tmp_path, '[global]\nconfig.allowed_modules = %s\n' % raw, name='am.conf')
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    assert 'am.conf [global] config.allowed_modules' in str(info.value)


@pytest.mark.parametrize('value, kind', [
    ('cherrypy.dispatch.MethodDispatcher(1, 2, 3, 4)', 'TypeError'),
    ('cherrypy.lib.sessions.Nope', 'has no attribute'),
    ('brokenmod.X', 'ZeroDivisionError'),
])
def test_every_error_from_a_value_names_file_section_and_key(tmp_path, monkeypatch, value,
                                                            kind):
    (tmp_path / 'brokenmod.py').write_text('1 / 0\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, "[global]\nconfig.allowed_modules = ['brokenmod']\n"
                 "[/api]\nrequest.dispatch: %s\n" % value, name='err.conf')
    with pytest.raises(ConfigError) as info:
        parse_file(path)
    msg = str(info.value)
    assert 'err.conf [/api] request.dispatch' in msg and kind in msg


def test_config_from_an_open_file():
    conf = io.StringIO("[global]\nserver.socket_port = 8123\n[/]\ntools.gzip.on = True\n")
    assert parse_file(conf) == {'global': {'server.socket_port': 8123},
                                '/': {'tools.gzip.on': True}}
    cherrypy.config.update(io.StringIO("[global]\nserver.thread_pool = 7\n"))
    assert cherrypy.config['server.thread_pool'] == 7
    with pytest.raises(ConfigError) as info:
        parse_file(io.StringIO("[/]\nx = nope.nope\n"))
    assert '<config> [/] x' in str(info.value)
