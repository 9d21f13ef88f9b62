"""``app.wsgi.application``: the entry point any WSGI server imports."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import urllib.request
import wsgiref.validate

import pytest

import app
import app.core as cherrypy
from app import CONF_DIR

from helpers import ROOT, call, start_app_process

TEST_CONF = os.path.join(CONF_DIR, 'test.conf')


@pytest.fixture
def import_wsgi(monkeypatch):
    """Import ``app.wsgi`` afresh (its import builds the app); forget it afterwards."""
    def _import(config_path: str | None):
        if config_path is None:
            monkeypatch.delenv('APP_CONFIG', raising=False)
        else:
            monkeypatch.setenv('APP_CONFIG', config_path)
        sys.modules.pop('app.wsgi', None)
        return importlib.import_module('app.wsgi')
    yield _import
    sys.modules.pop('app.wsgi', None)
    if hasattr(app, 'wsgi'):
        del app.wsgi


def test_application_is_built_from_app_config(import_wsgi):
    mod = import_wsgi(TEST_CONF)
    application = mod.application
    assert isinstance(application, cherrypy.Application)
    assert cherrypy.tree.apps[''] is application
    assert cherrypy.config['environment'] == 'test_suite'
    assert cherrypy.config['server.socket_port'] == 0
    r = call(application, '/healthcheck')
    assert r.status == 200 and r.text == 'OK' and r.headers['Cache-Control'] == 'no-store'
    r = call(application, '/api/items/7')
    assert r.status == 200 and r.json() == {'id': 7, 'name': 'item 7'}
    r = call(application, '/api/items/x')
    assert r.status == 400 and b'Item id must be an integer' in r.body
    # The test config keeps tracebacks in error pages.
    assert b'Traceback' in r.body


def test_application_defaults_to_the_production_config(import_wsgi):
    mod = import_wsgi(None)
    assert cherrypy.config['environment'] == 'production'
    assert cherrypy.config['server.thread_pool'] == 16  # conf/prod.conf's pool
    assert mod.application.config['/api/visits']['tools.sessions.storage_type'] == 'memcached'
    r = call(mod.application, '/healthcheck')
    assert r.status == 200 and r.text == 'OK'
    r = call(mod.application, '/api/items/x')
    assert r.status == 400 and b'Traceback' not in r.body  # production hides them


def test_application_passes_the_wsgi_validator(import_wsgi):
    # wsgiref's validator checks start_response, header types, the body
    # iterable and that close() is honoured (PEP 3333).
    mod = import_wsgi(TEST_CONF)
    checked = wsgiref.validate.validator(mod.application)
    r = call(checked, '/healthcheck')
    assert r.status == 200 and r.body == b'OK'
    r = call(checked, '/no/such/page')
    assert r.status == 404
    r = call(checked, '/healthcheck', method='HEAD')
    assert r.status == 200 and r.body == b''


def test_a_fresh_interpreter_imports_it_from_any_directory(tmp_path):
    script = ('import json, sys\n'
              'from wsgiref.util import setup_testing_defaults\n'
              'from app.wsgi import application\n'
              'env = {"PATH_INFO": "/healthcheck"}\n'
              'setup_testing_defaults(env)\n'
              'out = {}\n'
              'def start(status, headers, exc_info=None):\n'
              '    out["status"] = status\n'
              'body = b"".join(application(env, start))\n'
              'print(json.dumps([out["status"], body.decode()]))\n')
    env = dict(os.environ, APP_CONFIG=TEST_CONF, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', script], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == '["200 OK", "OK"]'


def test_served_by_a_foreign_wsgi_server():
    # Any WSGI server will do: here the standard library's.
    script = ('import os\n'
              'from wsgiref.simple_server import make_server, WSGIRequestHandler\n'
              'from app.wsgi import application\n'
              'class Quiet(WSGIRequestHandler):\n'
              '    def log_message(self, *a):\n'
              '        pass\n'
              'make_server("127.0.0.1", int(os.environ["PORT"]), application,\n'
              '            handler_class=Quiet).serve_forever()\n')
    proc, port = start_app_process(['-c', script], env={'APP_CONFIG': TEST_CONF})
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/api/items/3' % port, timeout=10) as r:
            assert r.status == 200 and r.headers['Content-Type'] == 'application/json'
            assert r.read() == b'{"id": 3, "name": "item 3"}'
        with urllib.request.urlopen('http://127.0.0.1:%d/healthcheck' % port, timeout=10) as r:
            assert r.read() == b'OK'
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
