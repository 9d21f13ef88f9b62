"""The shared memcached layer (app.core.lib.memcache), on a real memcached.

Server lists, one pooled client per servers and timeouts, one health object
per process: an outage seen by sessions and caching together is logged once,
counted, passed to listeners, and its end logged once.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest

from app.core.lib import memcache, session_memcached
from app.core.lib.mcclient import ClientError, NodeDown, ServerError
from app.core.lib.memcache import (DEFAULT_SERVERS, Refused, Unavailable, close_clients, health,
                                   servers_from, shared_client)
from app.core.lib.cache_store import CachedResponse
from app.core.lib.memcached_cache import MemcachedCache
from app.core.lib.sessions import MemcachedSession, StorageUnavailable


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv('MEMCACHED_SERVERS', raising=False)
    yield
    close_clients()


@pytest.fixture
def listened():
    """Record the ``(node, exception)`` every failure passes to listeners."""
    seen: list[tuple[str, BaseException]] = []

    def listener(node, ex):
        seen.append((node, ex))
    health.listeners.append(listener)
    try:
        yield seen
    finally:
        health.listeners.remove(listener)


def _lines(caplog, text):
    return [m for m in caplog.messages if text in m]


def test_server_lists_from_config_and_the_environment(monkeypatch):
    assert servers_from(' a:1 , b:2,') == ('a:1', 'b:2')
    assert servers_from('a:1 b:2') == ('a:1', 'b:2')
    assert servers_from(['a:1', ' b:2 ']) == ('a:1', 'b:2')
    assert servers_from(('a:1',)) == ('a:1',)
    assert servers_from(None) == DEFAULT_SERVERS == ('127.0.0.1:11211',)
    for empty in ('', ' , ', []):
        with pytest.raises(ValueError, match='no memcached server'):
            servers_from(empty)
    monkeypatch.setenv('MEMCACHED_SERVERS', 'm1:11211, m2:11211')
    assert servers_from(['a:1']) == servers_from(None) == servers_from('') \
        == ('m1:11211', 'm2:11211')
    monkeypatch.setenv('MEMCACHED_SERVERS', '  ')     # set but blank: not an override
    assert servers_from('a:1') == ('a:1',)


def test_the_old_modules_reexport_the_shared_names():
    assert session_memcached.health is health is memcache.health
    assert session_memcached.servers_from is servers_from
    assert session_memcached.close_clients is close_clients
    assert session_memcached.StorageHealth is memcache.Health


def test_one_pooled_client_per_servers_and_timeouts(memcached, monkeypatch):
    a = shared_client(memcached.address)
    assert shared_client([memcached.address]) is a
    assert shared_client(memcached.address, dead_timeout=9) is not a
    assert shared_client(memcached.address, timeout=0.25) is not a
    assert a.servers == (memcached.address,) and list(a.nodes) == [memcached.address]
    session = MemcachedSession(None, servers=memcached.address, connect_timeout=0.5,
                               socket_timeout=0.5, dead_timeout=2.0)
    assert session.store() is a
    cache = MemcachedCache(servers=[memcached.address], dead_timeout=2.0)
    assert cache.shared is a and cache.client is a.client
    monkeypatch.setenv('MEMCACHED_SERVERS', memcached.address)
    assert shared_client('elsewhere:11211') is a      # the environment wins here too
    a.call('set', 'k', b'v')
    close_clients()
    b = shared_client(memcached.address)
    assert b is not a and b.call('get', 'k') == b'v'
    assert a.call('get', 'k') == b'v'                 # a closed client reconnects


def test_one_outage_seen_by_sessions_and_caching_is_logged_once(memcached, caplog, listened):
    caplog.set_level(logging.INFO, logger='cherrypy.error')
    addr = memcached.address
    # Different dead_timeouts: two distinct clients, one health.
    s = MemcachedSession(None, servers=[addr], dead_timeout=0.3)
    s['n'] = 1
    s.save()
    cache = MemcachedCache(servers=addr, key_prefix='one:', dead_timeout=0.2)
    assert cache.shared is not s.store()
    now = time.time()
    entry = CachedResponse('200 OK', [], b'body', now, now + 60)
    cache.put('http://h/x', (), (), entry)
    assert cache.lookup('http://h/x', {})[1].body == b'body'
    before, failures = health.errors_total, cache.failures

    memcached.stop()
    errors = []

    def both():
        for _ in range(5):
            try:
                MemcachedSession(s.id, servers=[addr], dead_timeout=0.3)
            except StorageUnavailable as ex:
                errors.append(ex.status)
            assert cache.lookup('http://h/x', {}) == ((), None)       # a miss
            assert cache.claim(('http://h/x', ()), 5) is not None     # don't wait
            cache.put('http://h/x', (), (), entry)                    # don't store
    threads = [threading.Thread(target=both) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [503] * 20
    down = _lines(caplog, 'is unavailable')
    assert len(down) == 1 and addr in down[0]
    assert 'requests that need a session get 503' in down[0]
    assert 'responses are served uncached' in down[0]
    assert not cache.available and addr in health.down
    assert cache.failures >= failures + 20
    assert health.errors_total >= before + 40
    assert listened and all(n == addr for n, _ex in listened)
    assert all(isinstance(ex, (NodeDown, ServerError)) for _n, ex in listened)
    assert not _lines(caplog, 'reachable again')

    memcached.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            back = MemcachedSession(None, servers=[addr], dead_timeout=0.3)
            back['n'] = 2
            back.save()
            cache.put('http://h/x', (), (), entry)
            if cache.lookup('http://h/x', {})[1] is not None:
                break
        except StorageUnavailable:
            pass
        assert time.monotonic() < deadline, 'memcached did not come back'
        time.sleep(0.05)
    assert cache.available and addr not in health.down
    up = _lines(caplog, 'reachable again')
    assert len(up) == 1 and addr in up[0] and 'is back' in up[0]
    assert len(_lines(caplog, 'is unavailable')) == 1


def test_many_threads_failing_on_a_dead_node_only_see_unavailable(memcached, caplog):
    addr = memcached.address
    c = shared_client(addr, dead_timeout=0.2)
    c.call('set', 'k', b'v')
    memcached.stop()
    other = []

    def hammer():
        for i in range(30):
            try:
                c.call('get', 'k%d' % i)
            except Unavailable as ex:
                assert ex.node == addr
            except Exception as ex:   # KeyError/ValueError from unlocked bookkeeping
                other.append(ex)
    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert other == []
    assert len(_lines(caplog, 'is unavailable')) == 1
    memcached.start()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert c.call('get', 'k') is None          # the node is re-added, empty
            break
        except Unavailable:
            assert time.monotonic() < deadline, 'the node was not re-added'
            time.sleep(0.05)
    assert c.available


def test_a_refusal_is_counted_but_is_not_an_outage(memcached, caplog, listened):
    c = shared_client(memcached.address)
    before = health.errors_total
    with pytest.raises(Refused) as info:
        c.call('set', 'big', b'x' * (2 * 1024 * 1024), noreply=False)
    assert info.value.node == memcached.address
    assert health.errors_total == before + 1
    assert len(listened) == 1 and isinstance(listened[0][1], ServerError)
    assert not _lines(caplog, 'is unavailable') and c.available
    with pytest.raises(ClientError):                    # a bad key is a bug: raised as is
        c.call('get', 'has space')
    assert health.errors_total == before + 1


def test_a_restart_between_commands_is_not_an_outage(memcached, caplog, listened):
    c = shared_client(memcached.address)
    c.call('set', 'k', b'v')                             # the pool holds a connection now
    memcached.stop()
    memcached.start()
    assert c.call('get', 'k') is None                    # the stale socket was retried
    assert listened == [] and not _lines(caplog, 'is unavailable')


def test_a_broken_listener_is_logged_and_skipped(memcached, caplog, listened):
    def broken(node, ex):
        raise RuntimeError('metrics exploded')
    health.listeners.insert(0, broken)
    try:
        memcached.stop()
        with pytest.raises(Unavailable):
            shared_client(memcached.address).call('get', 'k')
    finally:
        health.listeners.remove(broken)
    assert 'metrics exploded' in caplog.text
    assert [n for n, _ex in listened] == [memcached.address]   # the next one still ran


def test_caching_shares_the_ring_and_its_failure_rules():
    from helpers import Memcached, require_memcached
    require_memcached()
    nodes = [Memcached().start(), Memcached().start()]
    try:
        servers = [n.address for n in nodes]
        cache = MemcachedCache(servers=servers, key_prefix='ring:', dead_timeout=30)
        assert cache.shared.ring.nodes == tuple(servers)
        now = time.time()
        uris = ['http://h/page%d' % i for i in range(40)]
        for u in uris:
            cache.put(u, (), (), CachedResponse('200 OK', [], u.encode(), now, now + 60))
        per_node = [sum(1 for k in n_keys(n)) for n in nodes]
        assert all(c > 0 for c in per_node)               # spread over both nodes
        nodes[0].stop()
        hits = [u for u in uris if cache.lookup(u, {})[1] is not None]
        assert 0 < len(hits) < len(uris)                  # the dead node's entries miss
        for u in uris:                                    # and go to the other node now
            cache.put(u, (), (), CachedResponse('200 OK', [], u.encode(), now, now + 60))
        assert all(cache.lookup(u, {})[1].body == u.encode() for u in uris)
    finally:
        for n in nodes:
            n.stop()


def n_keys(node):
    """The keys a memcached node holds (its lru_crawler metadump)."""
    import socket
    with socket.create_connection(('127.0.0.1', node.port), timeout=2) as s:
        s.sendall(b'lru_crawler metadump all\r\n')
        data = b''
        while not data.endswith(b'END\r\n'):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return [ln.split()[0] for ln in data.splitlines() if ln.startswith(b'key=')]
