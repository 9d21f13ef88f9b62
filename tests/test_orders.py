"""The example API, /api/orders: method routing, validation, shared state across pods."""
from __future__ import annotations

import http.client as httpclient
import json
import signal

import pytest
from pymemcache.client.base import Client as Client_

import app
from app.core.testing import Client, http, live

from helpers import start_app_process


@pytest.fixture
def client():
    app.build(app.CONF_DIR + '/test.conf')
    return Client()


def test_post_creates_an_order_and_get_lists_it(client):
    assert client.get('/api/orders').json() == {'orders': []}
    r = client.post('/api/orders', json={'item': 'tea', 'quantity': 2})
    assert r.status == 201
    order = r.json()
    assert order['id'] == 1 and order['item'] == 'tea' and order['quantity'] == 2
    assert order['note'] is None and order['created'].endswith('Z')
    assert r.headers['Location'].endswith('/api/orders/1')
    client.post('/api/orders', json={'item': 'cake', 'quantity': 1, 'note': 'no nuts'})
    listed = client.get('/api/orders').json()['orders']
    assert [o['item'] for o in listed] == ['cake', 'tea']          # newest first
    assert client.get('/api/orders?limit=1').json()['orders'][0]['item'] == 'cake'
    assert client.get('/api/orders/1').json() == order


def test_a_lost_id_counter_never_puts_an_order_over_another(client, caplog):
    from app.core.lib import state
    for item in ('tea', 'cake', 'jam'):
        assert client.post('/api/orders', json={'item': item, 'quantity': 1}).status == 201
    state.store().delete('orders:last')             # evicted, or its node restarted empty
    r = client.post('/api/orders', json={'item': 'pie', 'quantity': 1})
    assert r.status == 201 and r.json()['id'] == 1002  # 1 was taken: 1 + 1001
    assert [client.get('/api/orders/%d' % i).json()['item'] for i in (1, 2, 3, 1002)] == \
        ['tea', 'cake', 'jam', 'pie']
    assert 'order id 1 is taken' in caplog.text
    assert client.post('/api/orders', json={'item': 'nut', 'quantity': 1}).json()['id'] == 1003


def test_shared_state_is_empty_again_in_the_next_test(client):
    assert client.get('/api/orders').json() == {'orders': []}


@pytest.mark.parametrize('body, errors', [
    ({'quantity': 'x'}, [{'field': 'item', 'message': 'is required'},
                         {'field': 'quantity', 'message': 'must be an integer'}]),
    ({'item': ' ', 'quantity': 11}, [{'field': 'item', 'message': 'must not be empty'},
                                     {'field': 'quantity', 'message': 'must be from 1 to 10'}]),
    ({'item': 'tea', 'quantity': 1, 'colour': 'red'}, [{'field': 'colour',
                                                        'message': 'is not a known field'}]),
])
def test_a_bad_body_gets_400_listing_every_error(client, body, errors):
    r = client.post('/api/orders', json=body)
    assert r.status == 400 and r.headers['Content-Type'] == 'application/problem+json'
    assert r.json()['errors'] == errors
    assert client.get('/api/orders').json() == {'orders': []}


def test_the_dispatcher_answers_405_with_allow_and_404_for_unknown_orders(client):
    r = client.delete('/api/orders/1')
    assert r.status == 405 and r.headers['Allow'] == 'GET, HEAD, POST'
    assert r.headers['Content-Type'] == 'application/problem+json'
    assert r.json()['status'] == 405
    assert client.request('HEAD', '/api/orders').status == 200
    for path in ('/api/orders/7', '/api/orders/seven'):
        r = client.get(path)
        assert r.status == 404 and r.json()['title'] == 'Not Found'
    r = client.get('/api/orders?limit=500')
    assert r.status == 400 and 'limit' in r.json()['detail']


def test_a_body_that_is_not_json_gets_problem_details(client):
    r = client.post('/api/orders', body=b'item=tea', headers={'Content-Type': 'text/plain'})
    assert r.status == 415 and r.headers['Content-Type'] == 'application/problem+json'
    r = client.post('/api/orders', body=b'{"item": ', headers={'Content-Type': 'application/json'})
    assert r.status == 400 and r.headers['Content-Type'] == 'application/problem+json'


def test_orders_through_the_real_server(client):
    import app.core as cherrypy
    with live(cherrypy.tree) as server:
        body = json.dumps({'item': 'tea', 'quantity': 3}).encode()
        status, headers, data = http(server, '/api/orders', 'POST', body,
                                     {'Content-Type': 'application/json'})
        assert status == 201 and json.loads(data)['quantity'] == 3
        status, headers, data = http(server, '/api/orders', 'PUT', b'{}',
                                     {'Content-Type': 'application/json'})
        assert status == 405 and headers['allow'] == 'GET, HEAD, POST'


def _request(port, method, path, body=None):
    conn = httpclient.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        headers = {'Content-Type': 'application/json'} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_two_pods_see_the_same_orders_through_memcached(memcached):
    env = {'HOST': '127.0.0.1', 'MEMCACHED_SERVERS': memcached.address,
           'APP_ENGINE__DRAIN_SECONDS': '0'}
    pods = [start_app_process(['-m', 'app', '--config', 'conf/prod.conf'], env=env)
            for _ in range(2)]
    try:
        (_a, port_a), (_b, port_b) = pods
        assert _request(port_a, 'POST', '/api/orders', {'item': 'tea', 'quantity': 1})[0] == 201
        assert _request(port_b, 'POST', '/api/orders', {'item': 'cake', 'quantity': 2})[0] == 201
        for port in (port_a, port_b):
            status, doc = _request(port, 'GET', '/api/orders')
            assert status == 200
            assert [(o['id'], o['item']) for o in doc['orders']] == [(2, 'cake'), (1, 'tea')]
        # memcached evicts the id counter (or its node restarts empty): the
        # next order must not land on order 1's id.
        Client_(('127.0.0.1', memcached.port)).delete('st:orders:last')
        status, doc = _request(port_b, 'POST', '/api/orders', {'item': 'jam', 'quantity': 3})
        assert status == 201 and doc['id'] > 2
        assert _request(port_a, 'GET', '/api/orders/1')[1]['item'] == 'tea'
        assert _request(port_a, 'GET', '/api/orders/%d' % doc['id'])[1]['item'] == 'jam'
        memcached.stop()
        status, doc = _request(port_a, 'GET', '/api/orders')
        assert status == 503 and 'Shared state is unavailable' in doc['detail']
        assert doc.get('traceback') is None                          # production
    finally:
        for proc, _port in pods:
            proc.send_signal(signal.SIGTERM)
        for proc, _port in pods:
            proc.communicate(timeout=20)


@pytest.mark.parametrize('path', ['/api//orders', '/api///orders', '//api/orders/'])
def test_repeated_slashes_reach_the_same_resource(client, path):
    """The dispatchers skip empty segments, and so does choosing the dispatcher:
    found by the fuzz test, ``POST /api///orders`` met the default dispatcher,
    which called the resource object (a TypeError, 500)."""
    r = client.post(path, json={'item': 'tea', 'quantity': 1})
    assert r.status == 201 and r.json()['item'] == 'tea'
    assert client.get(path).json()['orders'][0]['item'] == 'tea'
    assert client.put(path, json={}).status == 405
