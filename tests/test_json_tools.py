"""tools.json_in and tools.json_out: parsing, errors (4xx, never 500), encoding."""
from __future__ import annotations

import gzip
import http.client as httpclient
import json

import pytest

import app.core as cherrypy
from app.core.lib import jsontools

from helpers import call, http, live

JSON = {'Content-Type': 'application/json'}


class Api:
    @cherrypy.expose
    @cherrypy.tools.json_in()
    def echo(self, **kw):
        return json.dumps({'json': cherrypy.request.json, 'params': kw})

    @cherrypy.expose
    @cherrypy.tools.json_in(content_type=['application/vnd.api+json', 'application/json-patch'])
    def vendor(self):
        return json.dumps(cherrypy.request.json)

    @cherrypy.expose
    @cherrypy.tools.json_in(content_type='application/vnd.one+json')
    def one(self):
        return json.dumps(cherrypy.request.json)

    @cherrypy.expose
    @cherrypy.tools.json_in(force=False)
    def lenient(self, **kw):
        return json.dumps({'json': cherrypy.request.json, 'params': kw})

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def obj(self):
        return {'key': 'value', 'n': [1, 2.5, None, True], 'text': 'ünï'}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def items(self):
        return [i * i for i in range(4)]

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def gen(self):
        return ({'i': i} for i in range(3))

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def nested(self):
        return {'squares': (i * i for i in range(3)), 'tags': {'a'}}

    @cherrypy.expose
    @cherrypy.tools.json_out(content_type='application/vnd.api+json')
    def vendor_out(self):
        return {'ok': True}

    @cherrypy.expose
    @cherrypy.tools.json_out(content_type=None)
    def no_ctype(self):
        return 1

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def unencodable(self):
        return {'when': object()}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def text(self):
        return 'caf\u00e9 "quoted"'

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def cyclic(self):
        loop = {'name': 'loop'}
        loop['self'] = [loop]
        return loop

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def fails(self):
        raise cherrypy.HTTPError(409, 'Conflict here')

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def roundtrip(self):
        data = cherrypy.request.json
        return {'sum': sum(data['values'])}


def delegating_handler(*args, **kwargs):
    """A custom handler that post-processes CherryPy's default one."""
    return jsontools.json_handler(*args, **kwargs) + b'\n'


def wrapped_handler(*args, **kwargs):
    """A CherryPy-style custom handler around the page handler's value."""
    value = cherrypy.request._json_inner_handler(*args, **kwargs)
    return json.dumps({'data': value, 'args': list(args)}, sort_keys=True).encode('utf-8')


@pytest.fixture
def api():
    root = Api()
    cherrypy.tree.mount(root, '', {'/custom': {'tools.json_out.on': True,
                                               'tools.json_out.handler': wrapped_handler}})

    class Custom:
        @cherrypy.expose
        def default(self, *args):
            return {'x': 1}
    root.custom = Custom()
    return root


def test_json_in_sets_request_json(api):
    r = call(None, '/echo', 'POST', body='{"a": [1, 2], "b": "ünï"}', headers=JSON)
    assert r.status == 200 and r.json() == {'json': {'a': [1, 2], 'b': 'ünï'}, 'params': {}}
    r = call(None, '/echo?q=1', 'PUT', body='[1]',
             headers={'Content-Type': 'application/json; charset=utf-8'})
    assert r.json() == {'json': [1], 'params': {'q': '1'}}
    r = call(None, '/echo', 'POST', body='"s"', headers={'Content-Type': 'text/javascript'})
    assert r.json()['json'] == 's'


def test_json_in_without_a_body_leaves_json_none(api):
    assert call(None, '/echo?x=2').json() == {'json': None, 'params': {'x': '2'}}
    assert call(None, '/echo', 'POST').json() == {'json': None, 'params': {}}


@pytest.mark.parametrize('ctype', ['text/plain', 'application/x-www-form-urlencoded',
                                   'multipart/form-data; boundary=x', ''])
def test_json_in_wrong_content_type_is_415(api, ctype):
    headers = {'Content-Type': ctype} if ctype else {}
    r = call(None, '/echo', 'POST', body='{"a": 1}', headers=headers)
    assert r.status == 415
    assert b'application/json, text/javascript' in r.body


@pytest.mark.parametrize('body,why', [
    (b'{"a":', b'Expecting value'),
    (b'{"a": 1,}', b'Expecting property name'),
    (b'nul', b'Expecting value'),
    (b'\xff\xfe{}', b'Invalid JSON document'),
    (b'[' * 100_000 + b']' * 100_000, b'Invalid JSON document'),
    (b'1' * 5000, b'Invalid JSON document'),
    (b'{"a": 1} trailing', b'Extra data'),
])
def test_malformed_json_is_400_with_a_message(api, body, why):
    r = call(None, '/echo', 'POST', body=body, headers=JSON)
    assert r.status == 400 and b'Invalid JSON document' in r.body and why in r.body


def test_empty_json_body_is_400(api):
    for headers in (JSON, dict(JSON, **{'Content-Length': '0'})):
        r = call(None, '/echo', 'POST', headers=headers)
        assert r.status == 400 and b'Invalid JSON document: empty body' in r.body


def test_body_over_the_limit_is_413(api):
    cherrypy.config.update({'server.max_request_body_size': 100})
    r = call(None, '/echo', 'POST', body=json.dumps({'k': 'v' * 200}), headers=JSON)
    assert r.status == 413
    r = call(None, '/echo', 'POST', body=json.dumps({'k': 'v' * 50}), headers=JSON)
    assert r.status == 200


def test_content_type_list_and_single_value(api):
    for ctype in ('application/vnd.api+json', 'application/json-patch'):
        r = call(None, '/vendor', 'POST', body='{"v": 1}', headers={'Content-Type': ctype})
        assert r.json() == {'v': 1}
    assert call(None, '/vendor', 'POST', body='{}', headers=JSON).status == 415
    r = call(None, '/one', 'POST', body='[2]',
             headers={'Content-Type': 'application/vnd.one+json'})
    assert r.json() == [2]


def test_force_false_lets_other_bodies_through(api):
    r = call(None, '/lenient', 'POST', body='a=1',
             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.json() == {'json': None, 'params': {'a': '1'}}
    r = call(None, '/lenient', 'POST', body='{"j": 1}', headers=JSON)
    assert r.json() == {'json': {'j': 1}, 'params': {}}
    assert call(None, '/lenient', 'POST', body='{', headers=JSON).status == 400


def test_json_out_encodes_and_sets_content_type(api):
    r = call(None, '/obj')
    assert r.headers['Content-Type'] == 'application/json'
    assert r.json() == {'key': 'value', 'n': [1, 2.5, None, True], 'text': 'ünï'}
    assert call(None, '/items').json() == [0, 1, 4, 9]
    assert call(None, '/vendor_out').headers['Content-Type'] == 'application/vnd.api+json'
    r = call(None, '/no_ctype')
    assert r.body == b'1' and r.headers['Content-Type'] == 'text/html;charset=utf-8'


def test_json_out_turns_generators_and_sets_into_lists(api):
    assert call(None, '/gen').json() == [{'i': 0}, {'i': 1}, {'i': 2}]
    assert call(None, '/nested').json() == {'squares': [0, 1, 4], 'tags': ['a']}
    assert jsontools.json_encode(iter([1])) == b'[1]'


def test_json_out_custom_handler(api):
    r = call(None, '/custom/a/b')
    assert r.json() == {'args': ['a', 'b'], 'data': {'x': 1}}
    assert r.headers['Content-Type'] == 'application/json'


def test_json_out_custom_handler_can_delegate_to_the_default():
    class R:
        @cherrypy.expose
        @cherrypy.tools.json_out(handler=delegating_handler)
        def index(self):
            return {'a': (i for i in range(2))}
    cherrypy.tree.mount(R(), '')
    assert call(None, '/').body == b'{"a": [0, 1]}\n'


def test_json_out_leaves_error_pages_alone(api):
    r = call(None, '/fails')
    assert r.status == 409 and b'Conflict here' in r.body
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'


def test_json_out_unencodable_value_is_a_clear_500(api):
    r = call(None, '/unencodable')
    assert r.status == 500 and b'JSON cannot encode' in r.body


def test_json_out_encodes_strings_and_scalars(api):
    r = call(None, '/text')
    assert r.status == 200 and r.body == b'"caf\\u00e9 \\"quoted\\""'
    assert json.loads(r.body) == 'caf\u00e9 "quoted"'


def test_json_out_cyclic_value_is_a_clear_500(api):
    r = call(None, '/cyclic')
    assert r.status == 500 and b'JSON cannot encode' in r.body
    assert call(None, '/cyclic').status == 500  # and the shared encoder still works:
    assert call(None, '/obj').status == 200


def test_json_roundtrip_with_gzip(api):
    cherrypy.tree.apps[''].merge({'/': {'tools.gzip.on': True,
                                        'tools.gzip.mime_types': ['application/json']}})
    r = call(None, '/roundtrip', 'POST', body='{"values": [1, 2, 3]}',
             headers={'Content-Type': 'application/json', 'Accept-Encoding': 'gzip'})
    assert r.headers['Content-Encoding'] == 'gzip'
    assert json.loads(gzip.decompress(r.body)) == {'sum': 6}


def test_json_live_including_chunked_bodies(api):
    cherrypy.config.update({'server.max_request_body_size': 1000})
    with live(cherrypy.tree) as server:
        status, headers, body = http(server, '/roundtrip', 'POST', body=b'{"values": [4, 5]}',
                                     headers=JSON)
        assert (status, json.loads(body)) == (200, {'sum': 9})
        status, _h, body = http(server, '/roundtrip', 'POST', body=b'{"values": [',
                                headers=JSON)
        assert status == 400 and b'Invalid JSON document' in body
        host, port = server.bound_addr
        conn = httpclient.HTTPConnection(host, port, timeout=10)
        try:
            def chunks(n):
                yield b'{"values": ['
                yield b','.join(b'1' for _ in range(n))
                yield b']}'
            conn.request('POST', '/roundtrip', body=chunks(10), headers=JSON,
                         encode_chunked=True)
            r = conn.getresponse()
            assert (r.status, json.loads(r.read())) == (200, {'sum': 10})
            conn.request('POST', '/roundtrip', body=chunks(1000), headers=JSON,
                         encode_chunked=True)
            r = conn.getresponse()
            r.read()
            assert r.status == 413
        finally:
            conn.close()
