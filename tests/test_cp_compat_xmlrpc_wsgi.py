"""XML-RPC controllers (``tools.xmlrpc``) and an app's WSGI pipeline (``wsgi.*``)."""
from __future__ import annotations

import xmlrpc.client

import pytest

import app.core as cherrypy
from app.core import _cptools
from app.core.config import ConfigError
from helpers import call, fresh_core


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    fresh_core()


class Rpc(_cptools.XMLRPCController):
    @cherrypy.expose
    def double(self, n):
        return n * 2

    @cherrypy.expose
    def nothing(self):
        return None

    @cherrypy.expose
    def fault(self):
        return xmlrpc.client.Fault(7, 'told to')

    def hidden(self):
        return 'secret'


def _mount(**root_conf):
    class Root:
        rpc = Rpc()
    cherrypy.tree.mount(Root(), config={'/': {
        'request.dispatch': cherrypy.dispatch.XMLRPCDispatcher(), **root_conf}})


def _rpc(path, method, *params):
    r = call(None, path, 'POST', body=xmlrpc.client.dumps(params, method),
             headers={'Content-Type': 'text/xml'})
    assert r.status == 200
    assert r.headers['Content-Type'].startswith('text/xml')
    return xmlrpc.client.loads(r.body)[0][0]


def test_a_method_named_in_the_body_is_called_with_its_arguments():
    _mount()
    assert _rpc('/rpc/', 'double', 21) == 42


def test_rpc2_prefix_is_stripped_by_the_dispatcher():
    _mount()
    assert _rpc('/RPC2/rpc/', 'double', 'ab') == 'abab'


def test_an_error_in_the_method_is_a_fault_with_status_200():
    _mount()
    with pytest.raises(xmlrpc.client.Fault) as ex:
        _rpc('/rpc/', 'double', {})
    assert ex.value.faultString == "unsupported operand type(s) for *: 'dict' and 'int'"


def test_a_missing_or_unexposed_method_is_a_fault():
    _mount()
    for name in ('non_method', 'hidden'):
        with pytest.raises(xmlrpc.client.Fault) as ex:
            _rpc('/rpc/', name)
        assert ex.value.faultString == 'method "%s" is not supported' % name


def test_a_returned_fault_goes_out_as_it_is():
    _mount()
    with pytest.raises(xmlrpc.client.Fault) as ex:
        _rpc('/rpc/', 'fault')
    assert (ex.value.faultCode, ex.value.faultString) == (7, 'told to')


def test_allow_none_config_lets_none_through():
    _mount()
    with pytest.raises(xmlrpc.client.Fault, match='cannot marshal None'):
        _rpc('/rpc/', 'nothing')
    fresh_core()
    _mount(**{'tools.xmlrpc.allow_none': True})
    assert _rpc('/rpc/', 'nothing') is None


class _Upper:
    def __init__(self, app, suffix=b''):
        self.app, self.suffix = app, suffix

    def __call__(self, environ, start_response):
        return [b''.join(self.app(environ, start_response)).upper() + self.suffix]


class _Swap:
    def __init__(self, app, old=b'', new=b''):
        self.app, self.old, self.new = app, old, new

    def __call__(self, environ, start_response):
        return [b''.join(self.app(environ, start_response)).replace(self.old, self.new)]


class Page:
    @cherrypy.expose
    def index(self):
        return 'Hello'


def test_an_apps_wsgi_pipeline_wraps_its_cycle_outermost_first():
    app = cherrypy.Application(Page())
    app.wsgiapp.pipeline.append(('upper', _Upper))
    app.wsgiapp.config['upper'] = {'suffix': b'!'}
    cherrypy.tree.mount(app, config={'/': {'wsgi.pipeline': [('swap', _Swap)],
                                           'wsgi.swap.old': b'l', 'wsgi.swap.new': b'y'}})
    # swap runs inside upper: "Heyyo" -> "HEYYO!"
    assert call(None, '/').body == b'HEYYO!'
    assert [n for n, _f in app.wsgiapp.pipeline] == ['upper', 'swap']


def test_an_app_without_a_pipeline_calls_its_cycle_directly():
    app = cherrypy.tree.mount(Page())
    assert type(app) is cherrypy.Application
    assert call(None, '/').body == b'Hello'


def test_a_bare_wsgi_key_is_refused():
    with pytest.raises(ConfigError, match='wsgi.response_class'):
        cherrypy.tree.mount(Page(), config={'/': {'wsgi.response_class': object}})
