"""Config a team can trust: declared namespaces, the environment over path sections, handlers.

Every line of the README's precedence list is one test here (``test_precedence_*``).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import app.core as cherrypy
from app.core.config import ConfigError
from app.core.config_env import read_env
from app.core.namespaces import Namespace, NamespaceSet
from app.core.request_response import Request

from helpers import ROOT, call, free_port, http_get, start_app_process

ORDERS_APP = os.path.join(ROOT, 'tests', 'programs', 'orders_app.py')


def write(tmp_path, text: str, name: str = 'app.conf') -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding='utf-8')
    return str(path)


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    """No PORT/HOST/APP_* from outside, no 'orders' declared; all undone after the test."""
    for name in list(os.environ):
        if name in ('PORT', 'HOST') or name.startswith('APP_'):
            monkeypatch.delenv(name)
    declared = dict(cherrypy.config.declared)
    # NOTE: these tests declare 'orders' themselves; app.api's declaration
    # (imported by other tests) is put back afterwards.
    cherrypy.config.declared = {k: v for k, v in declared.items() if k != 'orders'}
    handlers = dict(cherrypy.config.namespaces)
    request_handlers = dict(Request.namespaces)
    yield monkeypatch
    cherrypy.config.declared = declared
    for ns in (cherrypy.config.namespaces, Request.namespaces):
        ns.clear()
    cherrypy.config.namespaces.update(handlers)
    Request.namespaces.update(request_handlers)


def setenv(monkeypatch, **env: str) -> None:
    """Set variables and re-read them, as a process start does."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cherrypy.config.reset()


class Orders:
    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)

    @cherrypy.expose
    @cherrypy.config(**{'orders.max_quantity': 99})
    def coded(self):
        return str(ORDERS.max_quantity)


class Api:
    orders = Orders()

    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)


class Root:
    api = Api()

    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)


ORDERS: Namespace


def declare() -> Namespace:
    global ORDERS
    ORDERS = cherrypy.config.declare('orders', max_quantity=10, ratio=0.5, express=False,
                                     region='eu', tags=[], webhook=None)
    return ORDERS


def limits() -> tuple[str, str, str]:
    return tuple(call(None, p).text for p in ('/limit', '/api/limit', '/api/orders/limit'))


# -- declaring and reading -------------------------------------------------------

def test_a_declared_key_reads_its_default_then_global_then_the_route_config():
    orders = declare()
    assert orders.max_quantity == 10 and orders['region'] == 'eu'
    cherrypy.config.update({'orders.max_quantity': 12})
    assert orders.max_quantity == 12
    cherrypy.tree.mount(Root(), '', {'/api/orders': {'orders.max_quantity': 5}})
    assert limits() == ('12', '12', '5')
    assert orders.max_quantity == 12  # outside a request: the global value


def test_reading_an_undeclared_key_names_the_close_matches():
    orders = declare()
    with pytest.raises(KeyError, match="'max_quantiy'.*did you mean 'max_quantity'"):
        orders['max_quantiy']
    with pytest.raises(AttributeError, match='max_quantiy'):
        orders.max_quantiy  # noqa: B018
    assert 'max_quantity=10' in repr(orders) and orders.defaults()['ratio'] == 0.5
    assert not hasattr(orders, '_private')
    assert Namespace('alone', {'a': 1}).a == 1  # no config to read: the default


@pytest.mark.parametrize('name, keys, message', [
    ('server', {'x': 1}, "the core's own"),
    ('tools', {'x': 1}, "the core's own"),
    ('my.ns', {'x': 1}, 'letters, digits'),
    ('', {'x': 1}, 'letters, digits'),
    ('orders', {'check': 1}, 'clashes with Namespace.check'),
    ('orders', {'.x': 1}, 'not a key name'),
])
def test_bad_declarations_are_refused(name, keys, message):
    with pytest.raises(ConfigError, match=message):
        cherrypy.config.declare(name, **keys)
    assert name not in cherrypy.config.declared


# -- typos fail at start-up, naming the key, where it is, and the close matches ------

def test_a_typo_in_global_config_names_the_key_and_the_close_match():
    declare()
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update({'orders.max_quantiy': 3})
    msg = str(info.value)
    assert "global config: unknown config key 'orders.max_quantiy'" in msg
    assert "did you mean 'orders.max_quantity'" in msg
    assert 'orders.max_quantiy' not in cherrypy.config
    with pytest.raises(ConfigError, match='orders.regoin'):
        cherrypy.config['orders.regoin'] = 'us'


def test_a_typo_in_a_conf_files_global_section_names_the_file(tmp_path):
    declare()
    path = write(tmp_path, '[global]\norders.max_quantiy = 3\n', name='prod.conf')
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update(path)
    assert '%s [global]: unknown config key \'orders.max_quantiy\'' % path in str(info.value)


def test_a_typo_in_a_path_section_fails_at_mount_and_merge_naming_file_and_section(tmp_path):
    declare()
    with pytest.raises(ConfigError) as info:
        cherrypy.tree.mount(Root(), '', {'/api/orders': {'orders.max_quantiy': 3}})
    assert "app '/' [/api/orders]: unknown config key 'orders.max_quantiy'" in str(info.value)
    assert "did you mean 'orders.max_quantity'" in str(info.value)
    assert '' not in cherrypy.tree.apps
    path = write(tmp_path, '[/api/orders]\norders.max_quantiy = 3\n', name='prod.conf')
    with pytest.raises(ConfigError) as info:
        cherrypy.tree.mount(Root(), '', path)
    assert "app '/' %s [/api/orders]" % path in str(info.value)
    app = cherrypy.tree.mount(Root(), '')
    with pytest.raises(ConfigError, match=r"prod\.conf \[/api/orders\].*orders\.max_quantiy"):
        app.merge(path)
    assert '/api/orders' not in app.config  # nothing of a refused file is merged


def test_a_typo_in_an_environment_variable_names_the_variable(clean):
    declare()
    clean.setenv('APP_ORDERS__MAX_QUANTIY', '3')
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update({})
    msg = str(info.value)
    assert "environment variable APP_ORDERS__MAX_QUANTIY: unknown config key " \
           "'orders.max_quantiy' (did you mean 'orders.max_quantity'?)" in msg
    cherrypy.config.reset()  # resetting (importing the core) does not raise...
    with pytest.raises(ConfigError, match='APP_ORDERS__MAX_QUANTIY'):
        cherrypy._check_config()  # ...engine start does


def test_declaring_checks_the_values_already_set(clean):
    clean.setenv('APP_ORDERS__MAX_QUANTIY', '3')
    cherrypy.config.reset()
    with pytest.raises(ConfigError, match='APP_ORDERS__MAX_QUANTIY.*did you mean'):
        declare()
    clean.delenv('APP_ORDERS__MAX_QUANTIY')
    cherrypy.config.reset()
    cherrypy.config.update({'orders.max_quantity': '7'})  # undeclared yet: any value
    declare()
    assert cherrypy.config['orders.max_quantity'] == 7  # checked and coerced when declared


def test_a_typo_in_app_config_mounted_before_the_declaration_fails_at_engine_start():
    cherrypy.tree.mount(Root(), '', {'/api': {'orders.max_quantiy': 3}})
    declare()
    with pytest.raises(ConfigError, match=r"app '/' \[/api\].*'orders\.max_quantiy'"):
        cherrypy._check_config()


def test_a_typo_in_cp_config_fails_the_route_with_the_key_logged(caplog):
    declare()

    class Bad:
        @cherrypy.expose
        @cherrypy.config(**{'orders.max_quantiy': 3})
        def index(self):
            return 'never'
    cherrypy.tree.mount(Bad(), '')
    with caplog.at_level(logging.ERROR, logger='cherrypy.error'):
        r = call(None, '/')
    assert r.status == 500 and b'never' not in r.body
    assert 'orders.max_quantiy' in caplog.text and 'did you mean' in caplog.text


def test_server_and_tool_typos_suggest_the_close_match_too():
    with pytest.raises(ConfigError, match="did you mean 'server.socket_port'"):
        cherrypy.config.update({'server.socket_prot': 80})
    with pytest.raises(ConfigError, match="did you mean 'gzip'"):
        cherrypy.tree.mount(Root(), '', {'/': {'tools.gzipp.on': True}})


# -- types ------------------------------------------------------------------------

@pytest.mark.parametrize('key, given, stored', [
    ('max_quantity', '5', 5),
    ('max_quantity', 5, 5),
    ('ratio', 1, 1.0),
    ('ratio', '0.25', 0.25),
    ('express', 'yes', True),
    ('express', 'off', False),
    ('express', 1, True),
    ('tags', ('a', 'b'), ['a', 'b']),
    ('webhook', {'any': 'thing'}, {'any': 'thing'}),
])
def test_values_are_coerced_to_the_declared_type(key, given, stored):
    declare()
    cherrypy.config.update({'orders.' + key: given})
    got = cherrypy.config['orders.' + key]
    assert got == stored and type(got) is type(stored)


@pytest.mark.parametrize('key, given', [
    ('max_quantity', 'many'), ('max_quantity', True), ('max_quantity', 2.5),
    ('ratio', 'half'), ('express', 'maybe'), ('express', 2), ('region', 42), ('tags', 'a'),
])
def test_a_value_of_the_wrong_type_is_refused_with_the_expected_type(key, given, tmp_path):
    declare()
    with pytest.raises(ConfigError) as info:
        cherrypy.config.update({'orders.' + key: given})
    msg = str(info.value)
    default = ORDERS.defaults()[key]
    assert "'orders.%s' is %r, not a %s" % (key, given, type(default).__name__) in msg
    assert 'declared default is %r' % (default,) in msg
    with pytest.raises(ConfigError, match=r"\[/api\]: config key 'orders\.%s'" % key):
        cherrypy.tree.mount(Root(), '', {'/api': {'orders.' + key: given}})


def test_a_string_key_from_the_environment_keeps_the_text(clean):
    declare()
    setenv(clean, APP_ORDERS__REGION='042', APP_ORDERS__MAX_QUANTITY='7')
    assert cherrypy.config['orders.region'] == '042'  # not the int 42
    assert cherrypy.config['orders.max_quantity'] == 7
    setenv(clean, APP_ORDERS__MAX_QUANTITY='seven')
    with pytest.raises(ConfigError, match="APP_ORDERS__MAX_QUANTITY: config key "
                                          "'orders.max_quantity' is 'seven', not a int"):
        cherrypy.config.update({})


# -- precedence: one test per line of the README's list ---------------------------

def test_precedence_1_the_declared_default_when_nothing_sets_the_key():
    declare()
    cherrypy.tree.mount(Root(), '')
    assert limits() == ('10', '10', '10')


def test_precedence_2_the_preset_over_the_cores_defaults_and_under_global_config():
    assert cherrypy.config['request.show_tracebacks'] is True  # the core's default
    cherrypy.config.update({'environment': 'production'})
    assert cherrypy.config['request.show_tracebacks'] is False
    cherrypy.config.update({'environment': 'production', 'request.show_tracebacks': True})
    assert cherrypy.config['request.show_tracebacks'] is True


def test_precedence_4_the_environment_over_global_config(tmp_path, clean):
    declare()
    setenv(clean, APP_ORDERS__MAX_QUANTITY='3', APP_SERVER__THREAD_POOL='50', PORT='9123')
    cherrypy.config.update(write(tmp_path, '''
        [global]
        orders.max_quantity = 12
        server.thread_pool = 5
        server.socket_port = 8080
    '''))
    cherrypy.config.update({'server.thread_pool': 6, 'orders.max_quantity': 13})
    cherrypy.config['server.thread_pool'] = 7
    c = cherrypy.config
    assert (c['orders.max_quantity'], c['server.thread_pool'], c['server.socket_port']) \
        == (3, 50, 9123)
    assert ORDERS.max_quantity == 3


def test_precedence_3_global_config_updates_the_later_winning(tmp_path):
    declare()
    cherrypy.config.update({'orders.max_quantity': 11})
    cherrypy.config.update(write(tmp_path, '[global]\norders.max_quantity = 12\n'))
    cherrypy.tree.mount(Root(), '')
    assert limits() == ('12', '12', '12')
    cherrypy.config.update({'orders.max_quantity': 13})
    assert limits() == ('13', '13', '13')


def test_precedence_5_app_config_sections_over_global_deeper_paths_and_later_merges_winning(
        tmp_path):
    declare()
    cherrypy.config.update({'orders.max_quantity': 11})
    app = cherrypy.tree.mount(Root(), '', {'/': {'orders.max_quantity': 21},
                                           '/api': {'orders.max_quantity': 22},
                                           '/api/orders': {'orders.max_quantity': 23}})
    assert limits() == ('21', '22', '23')
    app.merge(write(tmp_path, '[/api/orders]\norders.max_quantity = 33\n'))
    assert limits() == ('21', '22', '33')  # the file merged after the dict wins


def test_precedence_6_cp_config_over_path_sections():
    declare()
    cherrypy.tree.mount(Root(), '', {'/api/orders': {'orders.max_quantity': 23}})
    assert call(None, '/api/orders/coded').text == '99'


def test_precedence_7_the_environment_over_everything_for_a_declared_key(tmp_path, clean):
    # The example: APP_ORDERS__MAX_QUANTITY=3, a [/api/orders] section setting it.
    declare()
    setenv(clean, APP_ORDERS__MAX_QUANTITY='3')
    conf = write(tmp_path, '''
        [global]
        orders.max_quantity = 12
        [/api/orders]
        orders.max_quantity = 7
    ''')
    cherrypy.config.update(conf)
    app = cherrypy.tree.mount(Root(), '', {'/': {'orders.max_quantity': 21}})
    app.merge(conf)
    assert limits() == ('3', '3', '3')
    assert call(None, '/api/orders/coded').text == '3'  # over _cp_config too
    cherrypy.config.update({'orders.max_quantity': 4})
    assert cherrypy.config['orders.max_quantity'] == 3 and limits() == ('3', '3', '3')
    cherrypy.config['orders.max_quantity'] = 5
    assert cherrypy.config['orders.max_quantity'] == 3


def test_precedence_7_for_a_core_key_the_environment_stays_a_global_value(clean):
    # Path sections of the core's keys refine the environment's global value:
    # this is what keeps /healthcheck answering any host when
    # APP_REQUEST__ALLOWED_HOSTS names the public ones.
    setenv(clean, APP_REQUEST__ALLOWED_HOSTS='["www.example.com"]',
           APP_RESPONSE__HEADERS__SERVER='env')
    cherrypy.tree.mount(Root(), '', {'/api': {'request.allowed_hosts': [],
                                              'response.headers.server': 'api'}})
    assert call(None, '/limit').status == 400  # Host 127.0.0.1 is not www.example.com
    assert call(None, '/limit', headers={'Host': 'www.example.com'}).headers['Server'] == 'env'
    r = call(None, '/api/limit')
    assert r.status == 200 and r.headers['Server'] == 'api'


def test_precedence_8_env_path_sections_over_everything_at_their_paths(clean):
    declare()
    setenv(clean, APP_ORDERS__MAX_QUANTITY='3', APP_CONFIG_OVERRIDES=textwrap.dedent('''
        [/api]
        orders.max_quantity = 4
        [/api/orders/]
        orders.max_quantity = 5
        [/api/orders/coded]
        orders.max_quantity = 6
        request.allowed_hosts = ["www.example.com"]
    '''))
    cherrypy.tree.mount(Root(), '', {'/api/orders': {'orders.max_quantity': 23}})
    assert limits() == ('3', '4', '5')
    assert call(None, '/api/orders/coded').status == 400  # a core key, over the code's
    r = call(None, '/api/orders/coded', headers={'Host': 'www.example.com'})
    assert (r.status, r.text) == (200, '6')  # over the handler's _cp_config


def test_env_path_sections_name_url_paths_of_the_app_mounted_there(clean):
    declare()
    setenv(clean, APP_CONFIG_OVERRIDES='[/shop/api]\norders.max_quantity = 8\n'
                                       '[/api]\norders.max_quantity = 9\n')
    cherrypy.tree.mount(Root(), '/shop')
    cherrypy.tree.mount(Root(), '')
    assert call(None, '/shop/api/limit').text == '8'
    assert call(None, '/shop/limit').text == '10'
    assert call(None, '/api/limit').text == '9'


@pytest.mark.parametrize('text, message', [
    ('[global]\norders.max_quantity = 3\n', r'APP_CONFIG_OVERRIDES \[global\]: only \[/path\]'),
    ('[/api]\norders.max_quantity = three\n', r'APP_CONFIG_OVERRIDES \[/api\] orders'),
    ('[/api]\norders.max_quantiy = 3\n', r"APP_CONFIG_OVERRIDES \[/api\]: unknown config key "
                                         r"'orders.max_quantiy' \(did you mean"),
    ('[/api]\ntools.gzipp.on = True\n', r"APP_CONFIG_OVERRIDES \[/api\]: unknown config key "
                                        r"'tools.gzipp.on'"),
    ('no section\n', 'APP_CONFIG_OVERRIDES'),
])
def test_a_bad_env_path_section_fails_naming_the_variable(clean, text, message):
    declare()
    setenv(clean, APP_CONFIG_OVERRIDES=text)
    with pytest.raises(ConfigError, match=message):
        cherrypy._check_config()


def test_the_readmes_shell_syntax_sets_a_path_section():
    readme = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    line = next(ln for ln in readme.splitlines() if 'in a shell `APP_CONFIG_OVERRIDES=' in ln)
    assignment = line.split('`')[1]
    script = '%s %s -c "from app.core.config_env import read_env; print(read_env().sections)"' \
        % (assignment, sys.executable)
    out = subprocess.run(['bash', '-c', script], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert out.stdout.strip() == "{'/api/orders': {'orders.max_quantity': 5}}", out.stderr


def test_the_environment_variables_read_as_documented():
    env = read_env({'APP_ORDERS__MAX_QUANTITY': '3', 'APP_ORDERS__NOTE': 'plain text',
                    'PORT': '81', 'APP_CONFIG_OVERRIDES': '[/x/]\na.b = 1\n', 'APP_CONFIG': 'f'})
    assert env.values == {'orders.max_quantity': 3, 'orders.note': 'plain text',
                          'server.socket_port': 81}
    assert env.names['orders.max_quantity'] == 'APP_ORDERS__MAX_QUANTITY'
    assert env.names['server.socket_port'] == 'PORT'
    assert env.sections == {'/x': {'a.b': 1}}
    for name in ('APP_ORDERS__', 'APP_ORDERS____X'):
        with pytest.raises(ConfigError, match='%s: an empty name' % name):
            read_env({name: '1'})


# -- CherryPy's namespace handlers ------------------------------------------------

def test_config_namespaces_call_a_handler_for_each_key_of_an_update(clean):
    seen = []
    cherrypy.config.namespaces['myns'] = lambda k, v: seen.append((k, v))
    cherrypy.config.update({'myns.a': 1, 'myns.b.c': 2, 'other.x': 3})
    assert sorted(seen) == [('a', 1), ('b.c', 2)]
    seen.clear()
    cherrypy.config['myns.d'] = 4
    assert seen == [('d', 4)]
    seen.clear()
    setenv(clean, APP_MYNS__E='5')
    cherrypy.config.update({})
    assert seen == [('e', 5)]  # the environment's value, which wins


def test_a_context_manager_handler_is_entered_once_per_update():
    events = []

    class Handler:
        def __enter__(self):
            events.append('enter')
            return lambda k, v: events.append((k, v))

        def __exit__(self, *exc):
            events.append(('exit', exc[0]))
            return exc[0] is KeyError  # swallows KeyError only

    cherrypy.config.namespaces['cm'] = Handler()
    cherrypy.config.update({'cm.a': 1, 'cm.b': 2})
    assert events == ['enter', ('a', 1), ('b', 2), ('exit', None)]
    events.clear()
    cherrypy.config.update({'unrelated.x': 1})
    assert events == ['enter', ('exit', None)]  # entered and exited even with no key

    def raising(exc):
        class H(Handler):
            def __enter__(self):
                def each(k, v):
                    raise exc(k)
                return each
        return H()
    cherrypy.config.namespaces['cm'] = raising(KeyError)
    cherrypy.config.update({'cm.a': 1})  # swallowed by __exit__
    cherrypy.config.namespaces['cm'] = raising(ValueError)
    with pytest.raises(ValueError):
        cherrypy.config.update({'cm.a': 1})


def test_namespace_set_repr_and_copy():
    ns = NamespaceSet(a=print)
    assert 'NamespaceSet' in repr(ns) and type(ns.copy()) is NamespaceSet
    assert ns.copy() == ns


def test_app_namespaces_get_the_root_section_after_each_merge(tmp_path):
    seen = []
    app = cherrypy.tree.mount(Root(), '')
    app.namespaces['team'] = lambda k, v: seen.append((k, v))
    app.merge({'/': {'team.name': 'blue'}, '/api': {'team.name': 'red'}})
    assert seen == [('name', 'blue')]


def test_request_namespaces_run_on_each_request_with_the_route_config():
    seen = []
    Request.namespaces['team'] = lambda k, v: seen.append((cherrypy.request.path_info, k, v))
    assert cherrypy.tree.mount(Root(), '').request_class.namespaces is Request.namespaces
    cherrypy.tree.mount(Root(), '', {'/api': {'team.name': 'red'}})
    call(None, '/api/limit')
    call(None, '/api/limit')
    call(None, '/limit')
    assert seen == [('/api/limit', 'name', 'red')] * 2


# -- live: a real server, the environment over a path section ------------------------

def _serve(tmp_path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    conf = write(tmp_path, '''
        [global]
        server.socket_host = "127.0.0.1"
        [/api/orders]
        orders.max_quantity = 7
    ''', name='orders.conf')
    return start_app_process([ORDERS_APP, conf], env=env)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize('env, expected', [
    ({}, (b'10', b'20', b'7')),
    ({'APP_ORDERS__MAX_QUANTITY': '3'}, (b'3', b'3', b'3')),
    ({'APP_ORDERS__MAX_QUANTITY': '3', 'APP_CONFIG_OVERRIDES': '[/api/orders]\n'
      'orders.max_quantity = 4'}, (b'3', b'3', b'4')),
])
def test_live_the_environment_wins_over_the_path_section(tmp_path, env, expected):
    proc, port = _serve(tmp_path, env)
    try:
        got = (http_get(port, '/limit'), http_get(port, '/api/limit'),
               http_get(port, '/api/orders/limit'))
        assert got == tuple((200, b) for b in expected)
    finally:
        _stop(proc)


def test_live_a_typo_in_the_environment_stops_start_up_naming_the_key(tmp_path):
    conf = write(tmp_path, '[global]\nserver.socket_host = "127.0.0.1"\n', name='orders.conf')
    env = dict(os.environ, APP_ORDERS__MAX_QUANTIY='3', PORT=str(free_port()),
               PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, ORDERS_APP, conf], env=env, cwd=ROOT,
                          capture_output=True, timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert 'APP_ORDERS__MAX_QUANTIY' in err and "'orders.max_quantiy'" in err
    assert "did you mean 'orders.max_quantity'" in err
