"""Whole processes: python -m app, standalone CherryPy-style programs, graceful signals."""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers import ROOT, free_port, start_app_process, wait_for_output

PROGRAMS = os.path.join(ROOT, 'tests', 'programs')
# bench/compat.py runs the programs in bench/compat_programs/ on app.core and on
# CherryPy, so they say ``import cherrypy``; the tests that need one run it from
# there with ``cherrypy`` aliased to app.core (AS_CHERRYPY), not from a copy.
COMPAT_PROGRAMS = os.path.join(ROOT, 'bench', 'compat_programs')
AS_CHERRYPY = ('import runpy, sys, app.core; sys.modules["cherrypy"] = app.core; '
               'runpy.run_path(sys.argv[1], run_name="__main__")')


def get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


def test_python_m_app_serves_the_service_and_stops_on_sigterm():
    proc, port = start_app_process(['-m', 'app', '--config', 'conf/dev.conf'])
    try:
        status, body, headers = get(port, '/')
        assert status == 200 and b'<img class="logo" src="/static/logo.svg"' in body
        status, body, headers = get(port, '/static/logo.svg')
        assert status == 200 and headers['content-type'] == 'image/svg+xml'
        assert body.startswith(b'<svg')
        status, body, headers = get(port, '/static/style.css')
        assert status == 200 and headers['content-type'].startswith('text/css')
        assert get(port, '/healthcheck')[:2] == (200, b'OK')
        assert get(port, '/readyz')[:2] == (200, b'ready')
        status, body, headers = get(port, '/api/items/42')
        assert status == 200 and headers['content-type'] == 'application/json'
        assert body == b'{"id": 42, "name": "item 42"}'
        assert get(port, '/no/such/page')[0] == 404
        status, body, headers = get(port, '/metrics')
        assert status == 200 and b'http_requests_total{code="200",handler="Root.healthcheck"' in body
        # The server's own gauges: the pool of conf/dev.conf, and no drain yet.
        assert b'\nhttp_server_workers 10.0\n' in body
        assert b'\nhttp_server_draining 0.0\n' in body
        assert b'\nhttp_server_request_heads_timed_out_total 0.0\n' in body
        assert b'\nhttp_server_connections_open ' in body
    finally:
        assert stop(proc) == 0


def test_sigterm_lets_a_request_in_flight_finish_and_exits_0():
    proc, port = start_app_process([os.path.join(PROGRAMS, 'slow_app.py')])
    result = {}

    def slow():
        result['r'] = get(port, '/slow?seconds=1.5')
    t = threading.Thread(target=slow)
    t.start()
    seen = wait_for_output(proc, 'slow request started')  # the request is in the handler
    proc.send_signal(signal.SIGTERM)
    t.join(10)
    code = proc.wait(15)
    out = b''.join(seen).decode() + proc.stdout.read().decode()
    proc.stdout.close()
    assert result['r'][0] == 200 and result['r'][1] == b'finished after 1.5', out
    assert code == 0, out
    assert 'Caught signal SIGTERM' in out


def test_sigint_is_graceful_too():
    proc, port = start_app_process([os.path.join(PROGRAMS, 'slow_app.py')])
    assert get(port, '/')[1] == b'up'
    assert stop(proc, signal.SIGINT) == 0


def test_sigterm_during_start_up_exits_cleanly():
    port = free_port()
    env = dict(os.environ, PORT=str(port), START_DELAY='2', PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(PROGRAMS, 'slow_app.py')],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_output(proc, 'slow start begins')  # inside the slow start listener
    code = stop(proc)
    assert code == 0


def test_hello_world_with_only_the_import_changed():
    proc, port = start_app_process([os.path.join(PROGRAMS, 'hello.py')])
    try:
        status, body, headers = get(port, '/')
        assert (status, body) == (200, b'Hello World!')
        assert headers['content-type'] == 'text/html;charset=utf-8'
    finally:
        assert stop(proc) == 0


def test_tree_mount_then_engine_start_and_block():
    proc, port = start_app_process(['-c', AS_CHERRYPY,
                                    os.path.join(COMPAT_PROGRAMS, 'tree_engine.py')],
                                   env={'HOST': '127.0.0.1'})
    try:
        assert get(port, '/')[:2] == (200, b'HelloWorld')
    finally:
        assert stop(proc) == 0


def test_configured_landing_healthcheck_and_static_logo(tmp_path):
    logo = tmp_path / 'logo.svg'
    shutil.copy(os.path.join(ROOT, 'app', 'static', 'logo.svg'), logo)
    (tmp_path / 'prod.conf').write_text(
        '[/logo.svg]\ntools.staticfile.on = True\ntools.staticfile.filename = "%s"\n' % logo)
    port = free_port()
    # the program sets 0.0.0.0:80 in code; HOST and PORT from the environment win
    env = dict(os.environ, PORT=str(port), HOST='127.0.0.1', PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(PROGRAMS, 'configured_landing.py')],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        from helpers import wait_port
        wait_port(port)
        assert get(port, '/')[1] == b'<html><body>scripted landing</body></html>'
        # trailing_slash is off, so /healthcheck answers without a redirect
        assert get(port, '/healthcheck')[:2] == (200, b'Yay<br />\n')
        status, body, headers = get(port, '/logo.svg')
        assert status == 200 and body == logo.read_bytes()
    finally:
        assert stop(proc) == 0


def test_bad_config_fails_at_start_up_naming_the_key(tmp_path):
    bad = tmp_path / 'bad.conf'
    bad.write_text('[global]\nserver.socket_prot = 8080\n')
    r = subprocess.run([sys.executable, '-m', 'app', '--config', str(bad)], cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                       timeout=30, text=True)
    assert r.returncode == 2
    assert "server.socket_prot" in r.stderr


@pytest.mark.parametrize('port_value', ['abc'])
def test_bad_port_environment_fails_clearly(port_value):
    r = subprocess.run([sys.executable, '-m', 'app'], cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT, PORT=port_value),
                       capture_output=True, timeout=30, text=True)
    assert r.returncode != 0 and 'PORT' in r.stderr


def test_metrics_on_their_own_port_and_404_on_the_public_one():
    from helpers import free_port
    metrics_port = free_port()
    proc, port = start_app_process(['-m', 'app', '--config', 'conf/prod.conf'], env={
        'APP_METRICS__PORT': str(metrics_port), 'APP_ENGINE__DRAIN_SECONDS': '0',
        'HOST': '127.0.0.1', 'APP_LOG__SCREEN': 'False'})
    try:
        assert get(port, '/healthcheck')[0] == 200
        assert get(port, '/metrics')[0] == 404
        status, body, headers = get(metrics_port, '/metrics')
        assert status == 200 and headers['content-type'].startswith('text/plain')
        assert b'http_requests_total{code="200",handler="Root.healthcheck"' in body
        assert b'\napp_info{' in body
        assert get(metrics_port, '/healthcheck')[0] == 404   # only /metrics there
    finally:
        assert stop(proc) == 0
    with socket.socket() as s:      # the metrics server stopped with the engine
        assert s.connect_ex(('127.0.0.1', metrics_port)) != 0
