"""Shared state (app.core.lib.state): the same behaviour in RAM and in a real memcached."""
from __future__ import annotations

import logging
import threading
import time

import pytest

import app.core as cherrypy
from app.core.config import ConfigError
from app.core.lib import memcache, state
from app.core.lib.state import MemcachedStore, RamStore, StateUnavailable

from helpers import call, wait_until


@pytest.fixture(params=['ram', 'memcached'])
def store(request):
    """A store of each kind; the memcached one on a real server of its own."""
    if request.param == 'ram':
        yield RamStore()
        return
    m = request.getfixturevalue('memcached')
    cherrypy.config.update({'state.storage': 'memcached', 'state.servers': [m.address]})
    s = state.store()
    assert isinstance(s, MemcachedStore)
    yield s
    memcache.close_clients()


def test_get_set_add_delete(store):
    assert store.get('a') is None and store.get('a', 7) == 7
    store.set('a', {'x': [1, 'é'], 'n': None})
    assert store.get('a') == {'x': [1, 'é'], 'n': None}
    store.set('t', (1, 2))
    assert store.get('t') == [1, 2]                 # JSON both ways, as memcached does
    assert store.add('a', 1) is False and store.get('a')['x'] == [1, 'é']
    assert store.add('b', 'first') is True and store.get('b') == 'first'
    assert store.delete('b') is True and store.delete('b') is False
    assert store.get('b') is None
    assert store.get_many(['a', 'nope', 't']) == {'a': {'x': [1, 'é'], 'n': None}, 't': [1, 2]}


def test_incr_is_a_counter_that_starts_at_delta(store):
    assert store.incr('n') == 1
    assert store.incr('n') == 2
    assert store.incr('n', 5) == 7
    assert store.get('n') == 7                      # a counter reads back as a number
    store.set('s', 'text')
    with pytest.raises(ValueError, match='counter'):
        store.incr('s')
    with pytest.raises(ValueError, match='delta'):
        store.incr('n', -1)


def test_gets_and_cas_refuse_a_stale_token(store):
    assert store.gets('c') == (None, None)
    assert store.cas('c', 1, None) is True          # no token: only if still absent
    assert store.cas('c', 2, None) is False
    value, token = store.gets('c')
    assert value == 1 and token is not None
    store.set('c', 5)                               # someone else writes in between
    assert store.cas('c', 2, token) is False and store.get('c') == 5
    value, token = store.gets('c')
    assert store.cas('c', 6, token) is True and store.get('c') == 6


def test_update_loses_no_concurrent_change(store):
    errors = []

    def add_one():
        try:
            for _ in range(25):
                store.update('list', lambda cur: cur + [1], default=[])
        except Exception as ex:  # NOTE: a thread's exception would otherwise be lost
            errors.append(ex)

    threads = [threading.Thread(target=add_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert store.get('list') == [1] * 100


def test_update_gives_up_with_a_503_when_it_always_loses(store):
    def meddle(current):
        store.set('k', 'another writer')    # gets in between every read and write
        return 1
    with pytest.raises(StateUnavailable, match='too busy'):
        store.update('k', meddle, attempts=3)
    assert store.get('k') == 'another writer'


def test_expiry(store):
    store.set('gone', 1, expire=1)
    store.set('stays', 1)
    assert store.get('gone') == 1
    wait_until(lambda: store.get('gone') is None, 5, 'the value expires after 1 s')
    assert store.get('stays') == 1
    with pytest.raises(ValueError, match='expire'):
        store.set('x', 1, expire=-1)


def test_bad_keys_and_values_are_value_errors(store):
    with pytest.raises(ValueError, match='key'):
        store.set('has space', 1)
    with pytest.raises(ValueError, match='key'):
        store.get('k' * 300)
    with pytest.raises(TypeError):
        store.get(42)
    with pytest.raises(ValueError, match='limited'):
        store.set('big', 'x' * state.MAX_VALUE)
    with pytest.raises(TypeError):
        store.set('obj', object())                  # not JSON


def test_ram_is_the_default_and_reset_empties_it():
    s = state.store()
    assert isinstance(s, RamStore) and state.store() is s
    s.set('k', 1)
    state.reset()
    assert state.store().get('k') is None


def test_an_unknown_storage_or_key_is_a_config_error():
    with pytest.raises(ConfigError, match='ram.*memcached'):
        cherrypy.config.update({'state.storage': 'redis'})
    with pytest.raises(ConfigError, match="did you mean 'state.storage'"):
        cherrypy.config.update({'state.storag': 'ram'})
    assert isinstance(state.store(), RamStore)


def test_two_processes_worth_of_clients_see_one_value(memcached):
    """Two stores on the same node (as two pods have) share every value."""
    a = MemcachedStore(memcache.SharedClient((memcached.address,)))
    b = MemcachedStore(memcache.SharedClient((memcached.address,)))
    a.set('seen', 'by a')
    assert b.get('seen') == 'by a'
    assert a.incr('hits') == 1 and b.incr('hits') == 2


class Counter:
    @cherrypy.expose
    def index(self):
        return str(state.store().incr('hits'))


def test_an_outage_is_a_quick_503_logged_once_and_service_resumes(memcached, caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.error')
    cherrypy.config.update({'state.storage': 'memcached', 'state.servers': [memcached.address]})
    cherrypy.tree.mount(Counter(), '/')
    try:
        assert call(None, '/').body == b'1'
        memcached.stop()
        for _ in range(4):
            t0 = time.monotonic()
            r = call(None, '/')
            assert r.status == 503 and time.monotonic() - t0 < 2
            assert r.headers['Retry-After'] == '2'
            assert b'Shared state is unavailable' in r.body
        down = [m for m in caplog.messages if 'is unavailable' in m]
        assert len(down) == 1 and 'shared state get 503' in down[0]
        memcached.start()                           # same port, empty
        r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(call(None, '/')),
                       10, 'state answers again once memcached is back')
        assert r.body == b'1'
        assert len([m for m in caplog.messages if 'reachable again' in m]) == 1
    finally:
        memcache.close_clients()
