"""log.json: one JSON object per log line, with a request id echoed on the response."""
from __future__ import annotations

import json
import logging
import uuid

import pytest

import app.core as cherrypy

from helpers import call


class Root:
    @cherrypy.expose
    def index(self):
        return 'id ' + cherrypy.request.unique_id

    @cherrypy.expose
    def boom(self):
        raise RuntimeError('kaput')


@pytest.fixture
def lines(capsys):
    cherrypy.config.update({'log.screen': True, 'log.json': True})
    cherrypy.tree.mount(Root(), '', {'/': {'tools.proxy.on': True}})

    def read():
        out = capsys.readouterr()
        return [json.loads(ln) for ln in (out.out + out.err).splitlines() if ln.strip()]
    yield read
    cherrypy.config.update({'log.json': False})


def test_an_access_line_is_one_json_object_with_the_request_fields(lines):
    r = call(None, '/', headers={'User-Agent': 'probe/1.0', 'X-Forwarded-For': '198.51.100.7',
                                 'X-Request-ID': 'abc-123'})
    assert r.status == 200 and r.text == 'id abc-123' and r.headers['X-Request-ID'] == 'abc-123'
    [line] = [ln for ln in lines() if ln['logger'] == 'cherrypy.access']
    assert line['level'] == 'INFO' and line['time'].endswith('Z')
    assert line['message'] == 'GET / HTTP/1.1'
    assert {k: line[k] for k in ('method', 'path', 'status', 'bytes', 'client', 'user_agent',
                                 'request_id')} == {
        'method': 'GET', 'path': '/', 'status': 200, 'bytes': len(r.body),
        'client': '198.51.100.7', 'user_agent': 'probe/1.0', 'request_id': 'abc-123'}
    assert 0 <= line['duration_ms'] < 5000


@pytest.mark.parametrize('given', ['', 'a b', 'x' * 129, '"}{"', 'id\u00e9'])
def test_a_malformed_request_id_is_replaced(lines, given):
    r = call(None, '/', headers={'X-Request-ID': given})
    rid = r.headers['X-Request-ID']
    assert rid != given and str(uuid.UUID(rid, version=4)) == rid and r.text == 'id ' + rid
    [line] = [ln for ln in lines() if ln['logger'] == 'cherrypy.access']
    assert line['request_id'] == rid


def test_an_error_line_carries_its_traceback(lines):
    assert call(None, '/boom').status == 500
    errors = [ln for ln in lines() if ln['logger'] == 'cherrypy.error']
    [err] = [e for e in errors if e['level'] == 'ERROR']
    assert err['context'] == 'HTTP' and err['message'] == 'GET /boom'
    assert 'RuntimeError: kaput' in err['traceback']


def test_development_keeps_the_readable_format(capsys):
    cherrypy.config.update({'log.screen': True})
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/')
    assert 'X-Request-ID' not in r.headers
    out = capsys.readouterr().out
    assert '"GET / HTTP/1.1" 200' in out and not out.lstrip().startswith('{')
    cherrypy.log('hello', 'TEST', logging.WARNING)
    assert 'TEST hello' in capsys.readouterr().err
