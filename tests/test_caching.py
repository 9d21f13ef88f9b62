"""tools.caching (memory and memcached stores), tools.expires, tools.response_headers."""
from __future__ import annotations

import datetime
import gzip
import http.client as httpclient
import json
import os
import threading
import time

import pytest

import app.core as cherrypy
from app.core import Application
from app.core.lib import caching
from app.core.lib.caching import Cache, CachedResponse, MemcachedCache, MemoryCache
from app.core.lib.httputil import HTTPDate

from helpers import ROOT, call, http, live, start_app_process, wait_until

SLOW = 0.5


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):
    monkeypatch.delenv('MEMCACHED_SERVERS', raising=False)
    caching.clear_caches()
    yield
    caching.clear_caches()


class WebSvc:
    """A service whose call is costly (quadruple sleeps), and a few variations for the tests."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def _count(self):
        with self.lock:
            self.calls += 1
            return self.calls

    @cherrypy.expose
    def quadruple(self, number):
        self._count()
        time.sleep(SLOW)  # make the real call somewhat costly
        return str(int(number) * 4)

    @cherrypy.expose
    def counter(self, **kw):
        return 'call %d' % self._count()

    @cherrypy.expose
    def big(self, **kw):
        self._count()
        return 'x' * 5000

    @cherrypy.expose
    def cookie(self):
        cherrypy.response.cookie['k'] = 'v'
        return 'call %d' % self._count()

    @cherrypy.expose
    def private(self):
        cherrypy.response.headers['Cache-Control'] = 'private'
        return 'call %d' % self._count()

    @cherrypy.expose
    def missing(self):
        self._count()
        raise cherrypy.NotFound()

    @cherrypy.expose
    def crash_once(self):
        n = self._count()
        time.sleep(SLOW)
        if n == 1:
            raise RuntimeError('first computation fails')
        return 'call %d' % n

    @cherrypy.expose
    def dated(self):
        cherrypy.response.headers['Last-Modified'] = HTTPDate(1_000_000_000)
        return 'call %d' % self._count()

    @cherrypy.expose
    def vary_star(self):
        cherrypy.response.headers['Vary'] = '*'
        return 'call %d' % self._count()

    @cherrypy.expose
    def bad_status(self):
        cherrypy.response.status = 'nonsense'
        return 'call %d' % self._count()

    vary = 'X-A'

    @cherrypy.expose
    def with_session(self, vary=''):
        cherrypy.request.session = {'user': 'someone'}  # what tools.sessions leaves
        if vary:
            cherrypy.response.headers['Vary'] = vary
        return 'call %d' % self._count()

    @cherrypy.expose
    def varying(self):
        cherrypy.response.headers['Vary'] = self.vary
        return 'call %d' % self._count()

    @cherrypy.expose
    def stream(self):
        n = self._count()

        def gen():
            for i in range(3):
                yield 'part %d of call %d\n' % (i, n)
        return gen()
    stream._cp_config = {'response.stream': True}


def mount(conf=None, svc=None):
    svc = svc or WebSvc()
    base = {'tools.caching.on': True}
    base.update(conf or {})
    cherrypy.tree.mount(svc, '', {'/': base})
    return svc


def test_second_request_is_a_hit_with_age():
    svc = mount()
    first = call(None, '/counter')
    second = call(None, '/counter')
    assert first.body == second.body == b'call 1' and svc.calls == 1
    assert 'Age' not in first.headers and second.headers['Age'] == '0'
    assert second.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert call(None, '/counter?a=1').body == b'call 2'  # the query string is in the key
    assert call(None, '/counter', headers={'Host': 'other.example'}).body == b'call 3'


def test_entries_age_and_expire_after_delay():
    svc = mount({'tools.caching.delay': 2})
    assert call(None, '/counter').body == b'call 1'
    r = wait_until(lambda: (lambda r: r if r.headers.get('Age') == '1' else None)(
        call(None, '/counter')), 5, 'the entry did not age to 1 s')
    assert r.body == b'call 1' and svc.calls == 1
    wait_until(lambda: call(None, '/counter').body == b'call 2', 5, 'the entry did not expire')
    assert svc.calls == 2


def test_objects_over_maxobj_size_are_not_cached():
    svc = mount({'tools.caching.maxobj_size': 1000})
    call(None, '/big')
    r = call(None, '/big')
    assert len(r.body) == 5000 and 'Age' not in r.headers and svc.calls == 2


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_writes_invalidate_the_uri(method):
    svc = mount()
    assert call(None, '/counter').body == b'call 1'
    assert call(None, '/counter').body == b'call 1'
    assert call(None, '/counter', method=method).body == b'call 2'
    assert call(None, '/counter').body == b'call 3'
    assert call(None, '/counter').body == b'call 3' and svc.calls == 3


@pytest.mark.parametrize('header', [{'Cache-Control': 'no-cache'}, {'Pragma': 'no-cache'},
                                    {'Cache-Control': 'max-age=0, foo'}])
def test_no_cache_request_bypasses_and_refreshes(header):
    mount()
    call(None, '/counter')
    fresh = call(None, '/counter', headers=header)
    assert fresh.body == b'call 2' and 'Age' not in fresh.headers
    assert call(None, '/counter').body == b'call 2'


def test_no_store_request_is_answered_but_not_stored():
    svc = mount()
    call(None, '/counter', headers={'Cache-Control': 'no-store'})
    assert call(None, '/counter').body == b'call 2' and svc.calls == 2


@pytest.mark.parametrize('path,headers', [
    ('/cookie', {}), ('/private', {}), ('/missing', {}), ('/vary_star', {}), ('/bad_status', {}),
    ('/counter', {'Authorization': 'Basic dTpw'}),
    ('/with_session', {'Cookie': 'session_id=abc'}),
])
def test_uncacheable_responses_are_computed_every_time(path, headers):
    svc = mount()
    first = call(None, path, headers=headers)
    second = call(None, path, headers=headers)
    assert first.status == second.status and svc.calls == 2
    assert 'Age' not in second.headers


def test_session_pages_are_cached_per_cookie_when_they_vary_on_it():
    svc = mount()
    a, b = {'Cookie': 'session_id=a'}, {'Cookie': 'session_id=b'}
    assert call(None, '/with_session?vary=Cookie', headers=a).body == b'call 1'
    assert call(None, '/with_session?vary=Cookie', headers=a).body == b'call 1'
    assert call(None, '/with_session?vary=Cookie', headers=b).body == b'call 2'
    assert svc.calls == 2


def test_head_is_answered_from_the_cache_but_never_stored():
    svc = mount()
    r = call(None, '/counter', method='HEAD')
    assert r.body == b'' and svc.calls == 1
    assert call(None, '/counter').body == b'call 2'
    r = call(None, '/counter', method='HEAD')
    assert r.headers['Age'] == '0' and r.headers['Content-Length'] == '6' and svc.calls == 2


def test_gzip_variants_are_cached_separately_with_their_encoding():
    svc = mount({'tools.gzip.on': True})
    gz = {'Accept-Encoding': 'gzip'}
    plain = call(None, '/counter')
    first = call(None, '/counter', headers=gz)
    hit = call(None, '/counter', headers=gz)
    assert svc.calls == 2 and hit.headers['Age'] == '0'
    assert hit.headers['Content-Encoding'] == 'gzip' and hit.headers['Vary'] == 'Accept-Encoding'
    assert gzip.decompress(hit.body) == b'call 2' == gzip.decompress(first.body)
    again = call(None, '/counter')
    assert again.body == plain.body == b'call 1' and 'Content-Encoding' not in again.headers


def test_if_modified_since_on_a_cached_entry_is_304():
    mount()
    call(None, '/dated')
    r = call(None, '/dated', headers={'If-Modified-Since': HTTPDate(1_000_000_500)})
    assert r.status == 304 and r.body == b''
    assert call(None, '/dated', headers={'If-Modified-Since': HTTPDate(999_000_000)}).body \
        == b'call 1'


def test_streamed_response_is_captured_while_it_streams():
    svc = mount()
    first = call(None, '/stream')
    second = call(None, '/stream')
    assert first.body == second.body == b'part 0 of call 1\npart 1 of call 1\npart 2 of call 1\n'
    assert second.headers['Age'] == '0' and svc.calls == 1


def test_streamed_response_over_maxobj_size_is_not_kept():
    svc = mount({'tools.caching.maxobj_size': 20})
    call(None, '/stream')
    assert b'call 2' in call(None, '/stream').body and svc.calls == 2


def test_memory_store_evicts_least_recently_used():
    store = MemoryCache(maxobjects=2)
    svc = mount({'tools.caching.cache_class': store})
    for q in ('a', 'b', 'a', 'c'):  # c evicts b, the least recently used
        call(None, '/counter?' + q)
    assert len(store) == 2 and svc.calls == 3
    assert call(None, '/counter?a').body == b'call 1'
    assert call(None, '/counter?b').body == b'call 4'


def test_memory_store_bounds_total_size():
    store = MemoryCache(maxsize=7000)
    svc = mount({'tools.caching.cache_class': store})
    call(None, '/big?v=1')
    call(None, '/big?v=2')  # the two do not fit together: the first goes
    assert len(store) == 1 and store._size <= 7000
    call(None, '/big?v=2')
    call(None, '/big?v=1')
    assert svc.calls == 3


def test_other_methods_pass_through_and_invalid_methods_are_configurable():
    svc = mount()
    call(None, '/counter')
    assert call(None, '/counter', method='PATCH').body == b'call 2'
    assert call(None, '/counter').body == b'call 1'  # PATCH is not in CherryPy's list
    cherrypy.tree.apps.clear()
    mount({'tools.caching.invalid_methods': ['PATCH']}, svc)
    call(None, '/counter?x')
    call(None, '/counter?x', method='PATCH')
    assert call(None, '/counter?x').body == b'call 5' and svc.calls == 5


def test_debug_logs_hits(caplog):
    mount({'tools.caching.debug': True})
    call(None, '/counter')
    call(None, '/counter?z=1')
    assert 'serving http://127.0.0.1/counter from the cache' not in caplog.text
    call(None, '/counter')
    assert 'serving http://127.0.0.1/counter from the cache (age 0 s)' in caplog.text


def test_static_files_over_maxobj_size_are_not_read_into_the_cache(tmp_path):
    big = tmp_path / 'big.bin'
    big.write_bytes(b'b' * 50_000)
    store = MemoryCache()
    cherrypy.tree.mount(WebSvc(), '', {'/big.bin': {
        'tools.staticfile.on': True, 'tools.staticfile.filename': str(big),
        'tools.caching.on': True, 'tools.caching.cache_class': store,
        'tools.caching.maxobj_size': 10_000}})
    r = call(None, '/big.bin')
    assert r.body == b'b' * 50_000 and len(store) == 0
    cherrypy.tree.apps[''].merge({'/big.bin': {'tools.caching.maxobj_size': 100_000}})
    call(None, '/big.bin')
    hit = call(None, '/big.bin')
    assert hit.body == b'b' * 50_000 and hit.headers['Age'] == '0' and len(store) == 1


def test_a_new_vary_for_a_uri_replaces_its_variants():
    store = MemoryCache()
    svc = mount({'tools.caching.cache_class': store})
    call(None, '/varying', headers={'X-A': '1'})
    call(None, '/varying', headers={'X-A': '2'})
    assert call(None, '/varying', headers={'X-A': '2', 'X-B': '1'}).body == b'call 2'
    assert len(store) == 2
    svc.vary = 'X-B'
    r = call(None, '/varying', headers={'X-A': '1', 'Cache-Control': 'no-cache'})
    assert r.headers['Vary'] == 'X-B' and len(store) == 1
    assert call(None, '/varying', headers={'X-A': '2'}).body == b'call 3'  # X-B is '' here too
    assert call(None, '/varying', headers={'X-B': 'z'}).body == b'call 4'


def test_memory_store_sweeps_expired_entries():
    store = MemoryCache()
    mount({'tools.caching.cache_class': store, 'tools.caching.delay': 0.2})
    call(None, '/counter?a=1')
    call(None, '/counter?a=2')
    n = iter(range(3, 10000))
    # A store a second after the last sweep removes what expired, leaving only
    # itself (the polls are further apart than an entry lives).
    wait_until(lambda: call(None, '/counter?a=%d' % next(n)) and len(store) == 1, 5,
               'expired entries were not swept', interval=0.3)


def test_memory_store_refuses_objects_bigger_than_the_store():
    store = MemoryCache(maxsize=1000)
    mount({'tools.caching.cache_class': store})
    call(None, '/big')
    assert len(store) == 0 and store._size == 0


def test_memory_store_claims_expire_and_only_their_holder_releases_them():
    store = MemoryCache()
    key = ('http://x/', ())
    first = store.claim(key, 0.05)
    assert first is not None and store.claim(key, 0.05) is None
    assert store.wait(key, 0.01) is False
    time.sleep(0.06)
    second = store.claim(key, 0.05)  # the first holder is presumed dead
    assert second is not None and first.is_set()
    store.release(key, first)  # a late release by the old holder changes nothing
    assert store.claim(key, 5) is None
    store.release(key, second)
    assert store.wait(key, 0.01) is True and store.claim(key, 5) is not None


class CountingStore(Cache):
    """A user's store class (CherryPy's ``cache_class``): no-arg constructor."""

    def __init__(self):
        self.inner = MemoryCache()
        self.ops = []

    def lookup(self, uri, headers):
        self.ops.append('lookup')
        return self.inner.lookup(uri, headers)

    def put(self, uri, names, variant, entry):
        self.ops.append('put')
        self.inner.put(uri, names, variant, entry)

    def delete(self, uri):
        self.ops.append('delete')
        self.inner.delete(uri)

    def claim(self, key, timeout):
        return self.inner.claim(key, timeout)

    def wait(self, key, timeout):
        return self.inner.wait(key, timeout)

    def release(self, key, token):
        self.inner.release(key, token)


def test_a_user_store_class_is_created_once_and_used():
    svc = mount({'tools.caching.cache_class': CountingStore})
    call(None, '/counter')
    call(None, '/counter')
    call(None, '/counter', method='DELETE')
    store = caching.get_cache(CountingStore)
    assert isinstance(store, CountingStore) and svc.calls == 2
    assert store.ops == ['lookup', 'put', 'lookup', 'delete', 'delete']


def _at_once(server, path: str, n: int, timeout: float) -> tuple[list, float]:
    """``n`` clients GET ``path`` at once; their (status, headers, body) and the seconds taken."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(http(server, path, timeout=timeout)))
               for _ in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results, time.monotonic() - t0


def test_ten_concurrent_first_requests_compute_once_live():
    svc = mount()
    with live(cherrypy.tree, thread_pool=12) as server:
        results, elapsed = _at_once(server, '/quadruple?number=3', 10, timeout=10)
    assert svc.calls == 1
    assert [(s, b) for s, _h, b in results] == [(200, b'12')] * 10
    assert sum('age' in h for _s, h, _b in results) == 9
    assert elapsed < SLOW * 3


def test_waiters_do_not_hang_when_the_computation_fails():
    svc = mount({'tools.caching.antistampede_timeout': 5})
    results = []

    def get():
        results.append(call(None, '/crash_once'))
    threads = [threading.Thread(target=get) for _ in range(3)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(10)
    assert time.monotonic() - t0 < SLOW * 4
    assert sorted(r.status for r in results) == [200, 200, 500]
    assert call(None, '/crash_once').headers.get('Age') == '0'


def test_antistampede_timeout_bounds_the_wait(caplog):
    svc = mount({'tools.caching.antistampede_timeout': 0.1})
    out = []
    threads = [threading.Thread(target=lambda: out.append(call(None, '/quadruple?number=1')))
               for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    assert svc.calls == 2 and [r.body for r in out] == [b'4', b'4']
    assert 'timed out waiting' in caplog.text


class CacheAdmin:
    """What a CherryPy program does with ``cherrypy._cache`` (mounted without caching)."""

    @cherrypy.expose
    def forget(self, path=''):
        if path:
            cherrypy._cache.store[cherrypy.request.base + path].clear()
        else:
            cherrypy._cache.clear()
        return 'ok'


def test_cherrypy_cache_clears_one_uri_or_everything():
    svc = mount()
    cherrypy.tree.mount(CacheAdmin(), '/admin')
    assert [call(None, p).body for p in ('/counter', '/counter?x=1', '/counter')] == [
        b'call 1', b'call 2', b'call 1']
    assert call(None, '/admin/forget', query='path=/counter').body == b'ok'
    assert call(None, '/counter').body == b'call 3'
    assert call(None, '/counter?x=1').body == b'call 2'
    call(None, '/admin/forget')
    assert call(None, '/counter?x=1').body == b'call 4'
    assert call(None, '/counter').body == b'call 5'
    assert svc.calls == 5


def test_a_hundred_clients_after_a_clear_compute_once_live():
    """CherryPy's test_antistampede: ten times more clients than workers, one computation."""
    svc = mount()
    cherrypy.tree.mount(CacheAdmin(), '/admin')
    with live(cherrypy.tree, thread_pool=10) as server:
        assert http(server, '/quadruple?number=3')[2] == b'12'
        assert http(server, '/admin/forget?path=%2Fquadruple%3Fnumber%3D3')[2] == b'ok'
        results, elapsed = _at_once(server, '/quadruple?number=3', 100, timeout=30)
    assert svc.calls == 2  # the first request and one of the hundred
    assert [(s, b) for s, _h, b in results] == [(200, b'12')] * 100
    assert sum('age' in h for _s, h, _b in results) == 99
    # without the anti-stampede wait, ten workers at a time would take 10 rounds of SLOW
    assert elapsed < SLOW * 5


def test_bad_store_name_fails_clearly():
    mount({'tools.caching.store': 'redis'})
    r = call(None, '/counter')
    assert r.status == 500
    with pytest.raises(ValueError, match="'memory' or 'memcached'"):
        caching.get_cache(store='redis')


def test_get_outside_the_tool_serves_hits():
    store = MemoryCache()
    mount({'tools.caching.cache_class': store})
    call(None, '/counter')

    class Probe:
        @cherrypy.expose
        def default(self, *args):
            return 'hit' if caching.get(cache_class=store) else 'miss'
    app = Application(Probe(), '', global_config=cherrypy.config,
                      toolboxes={'tools': cherrypy.tools})
    assert call(app, '/counter').body == b'hit'
    assert call(app, '/other').body == b'miss'


# -- memcached --------------------------------------------------------------

_stores = []


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while _stores:
        _stores.pop().clear()  # close the pooled connections


def _mc_app(address, root, prefix='cache:', **conf):
    store = MemcachedCache(servers=address, key_prefix=prefix, dead_timeout=0.3)
    _stores.append(store)
    base = {'tools.caching.on': True, 'tools.caching.cache_class': store}
    base.update(conf)
    return Application(root, '', {'/': base}, global_config=cherrypy.config,
                       toolboxes={'tools': cherrypy.tools})


def test_memcached_store_is_shared_by_two_applications(memcached):
    a_svc, b_svc = WebSvc(), WebSvc()
    a = _mc_app(memcached.address, a_svc, **{'tools.gzip.on': True})
    b = _mc_app(memcached.address, b_svc, **{'tools.gzip.on': True})
    assert a.config['/']['tools.caching.cache_class'] is not \
        b.config['/']['tools.caching.cache_class']
    assert call(a, '/counter').body == b'call 1'
    r = call(b, '/counter')
    assert r.body == b'call 1' and r.headers['Age'] == '0' and b_svc.calls == 0
    gz = call(b, '/counter', headers={'Accept-Encoding': 'gzip'})
    assert gz.headers['Content-Encoding'] == 'gzip' and b_svc.calls == 1
    assert gzip.decompress(call(a, '/counter', headers={'Accept-Encoding': 'gzip'}).body) \
        == b'call 1'
    call(a, '/counter', method='POST')  # invalidates for both
    assert call(b, '/counter').body == b'call 2' and b_svc.calls == 2


def test_memcached_anti_stampede_spans_applications(memcached):
    a_svc, b_svc = WebSvc(), WebSvc()
    apps = [_mc_app(memcached.address, s) for s in (a_svc, b_svc)]
    out = []
    threads = [threading.Thread(target=lambda i=i: out.append(
        call(apps[i % 2], '/quadruple?number=2'))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert a_svc.calls + b_svc.calls == 1 and [r.body for r in out] == [b'8'] * 6


def test_memcached_down_serves_uncached_logs_once_and_resumes(memcached, caplog):
    svc = WebSvc()
    app = _mc_app(memcached.address, svc)
    store = app.config['/']['tools.caching.cache_class']
    assert call(app, '/counter').body == b'call 1'
    assert call(app, '/counter').body == b'call 1'
    memcached.stop()
    caplog.clear()
    for i in range(4):
        r = call(app, '/counter')
        assert r.status == 200 and r.body == b'call %d' % (i + 2)
    assert not store.available and store.failures >= 1
    assert caplog.text.count('unavailable') == 1
    memcached.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        first = call(app, '/counter')
        if call(app, '/counter').body == first.body and store.available:
            break
        time.sleep(0.1)
    else:
        pytest.fail('caching did not resume after memcached returned')
    assert caplog.text.count('is back') == 1 and caplog.text.count('unavailable') == 1


def test_memcached_store_ignores_malformed_values(memcached):
    from pymemcache.client.base import Client
    from app.core.lib.memcached_cache import _h
    svc = WebSvc()
    app = _mc_app(memcached.address, svc, 'bad:')
    assert call(app, '/counter').body == call(app, '/counter').body == b'call 1'
    host, port = memcached.address.split(':')
    raw = Client((host, int(port)), default_noreply=False)
    try:
        meta = raw.get('bad:v:' + _h('http://127.0.0.1/counter'))
        epoch = json.loads(meta)['e']
        # A garbage entry is a miss (and is replaced), never a 500.
        raw.set('bad:r:' + _h('http://127.0.0.1/counter', epoch, ()), b'garbage')
        assert call(app, '/counter').body == b'call 2'
        assert call(app, '/counter').body == b'call 2'
        raw.set('bad:v:' + _h('http://127.0.0.1/counter'), b'not json')
        assert call(app, '/counter').body == b'call 3'
    finally:
        raw.close()
    assert svc.calls == 3


def test_memcached_store_api_across_two_clients(memcached):
    from pymemcache.client.base import Client
    host, port = memcached.address.split(':')
    a = MemcachedCache(servers=memcached.address, key_prefix='api:')
    b = MemcachedCache(servers=[memcached.address], key_prefix='api:',
                       client=Client((host, int(port)), default_noreply=False))
    now = time.time()
    entry = CachedResponse('200 OK', [('Content-Type', 'text/plain'), ('Vary', 'X-Lang')],
                           b'bonjour\n\x00bytes', now, now + 60)
    a.put('http://h/p', ('x-lang',), ('fr',), entry)
    variant, got = b.lookup('http://h/p', {'x-lang': 'fr'})
    assert variant == ('fr',) and got.body == entry.body and got.headers == entry.headers
    assert got.status == '200 OK' and abs(got.created - now) < 1e-6
    assert b.lookup('http://h/p', {'x-lang': 'de'}) == (('de',), None)
    b.delete('http://h/p')
    assert a.lookup('http://h/p', {'x-lang': 'fr'}) == ((), None)
    key = ('http://h/p', ())
    token = a.claim(key, 5)
    assert token is not None and b.claim(key, 5) is None
    assert b.wait(key, 0.1) is False
    b.release(key, 'not-the-token')  # only the holder can release
    assert b.wait(key, 0.05) is False
    a.release(key, token)
    assert b.wait(key, 1) is True
    a.put('http://h/old', (), (), CachedResponse('200 OK', [], b'x', now - 10, now - 1))
    assert a.lookup('http://h/old', {})[1] is None  # expired by its own clock
    a.clear()
    b.clear()


def test_memcached_servers_come_from_the_environment(monkeypatch, memcached):
    monkeypatch.setenv('MEMCACHED_SERVERS', memcached.address + ', 127.0.0.1:1')
    store = caching.get_cache(store='memcached', servers='ignored:11211')
    assert store.servers == [memcached.address, '127.0.0.1:1']
    with pytest.raises(ValueError, match='key_prefix'):
        MemcachedCache(servers=memcached.address, key_prefix='has space')


def test_memcached_cache_is_shared_across_processes(memcached):
    env = {'MEMCACHED_SERVERS': memcached.address}
    procs = [start_app_process([os.path.join(ROOT, 'tests', 'programs', 'caching_app.py')],
                               env=env) for _ in range(2)]
    try:
        def get(port, path='/item?id=7'):
            conn = httpclient.HTTPConnection('127.0.0.1', port, timeout=10)
            try:
                conn.request('GET', path, headers={'Host': 'service.example'})
                r = conn.getresponse()
                return r.status, r.getheader('Age'), r.read().decode()
            finally:
                conn.close()
        (pa, port_a), (pb, port_b) = procs
        status, age, body = get(port_a)
        assert status == 200 and age is None and ('computed by %d' % pa.pid) in body
        status, age, body2 = get(port_b)
        assert status == 200 and age == '0' and body2 == body
        memcached.stop()  # the pods keep serving, uncached
        status, age, body3 = get(port_b)
        assert status == 200 and age is None and ('computed by %d' % pb.pid) in body3
    finally:
        for proc, _port in procs:
            proc.terminate()
            proc.wait(15)
            proc.stdout.close()


# -- expires and response_headers --------------------------------------------

class Expiring:
    @cherrypy.expose
    def plain(self):
        return 'plain'

    @cherrypy.expose
    def tagged(self):
        cherrypy.response.headers['ETag'] = '"v1"'
        return 'tagged'

    @cherrypy.expose
    def private(self):
        cherrypy.response.headers['ETag'] = '"v1"'
        cherrypy.response.headers['Cache-Control'] = 'private'
        return 'private'


def test_expires_needs_an_indicator_unless_forced():
    cherrypy.tree.mount(Expiring(), '', {'/': {'tools.expires.on': True,
                                              'tools.expires.secs': 3600}})
    r = call(None, '/plain')
    assert 'Expires' not in r.headers and 'Cache-Control' not in r.headers
    r = call(None, '/tagged')
    assert r.headers['Cache-Control'] == 'max-age=3600'
    expires = datetime.datetime.strptime(r.headers['Expires'], '%a, %d %b %Y %H:%M:%S GMT')
    ahead = expires - datetime.datetime.utcnow()
    assert 3590 < ahead.total_seconds() <= 3601
    assert call(None, '/private').headers['Cache-Control'] == 'private'


def test_expires_forced_zero_sends_no_cache_headers():
    cherrypy.tree.mount(Expiring(), '', {'/': {'tools.expires.on': True,
                                              'tools.expires.force': True}})
    for path in ('/plain', '/private'):
        r = call(None, path)
        assert r.headers['Pragma'] == 'no-cache'
        assert r.headers['Cache-Control'] == 'no-cache, must-revalidate'
        assert r.headers['Expires'] == 'Sun, 28 Jan 2007 00:00:00 GMT'
    r = call(None, '/plain', protocol='HTTP/1.0')
    assert r.headers['Pragma'] == 'no-cache' and 'Cache-Control' not in r.headers


def test_expires_takes_a_timedelta_and_serves_cached_entries():
    svc = mount({'tools.expires.on': True, 'tools.expires.secs': datetime.timedelta(minutes=1)})
    assert 'Expires' not in call(None, '/counter').headers
    hit = call(None, '/counter')  # the Age of a hit is an indicator
    assert hit.headers['Cache-Control'] == 'max-age=60' and 'Expires' in hit.headers
    assert svc.calls == 1


def test_response_headers_tool_sets_headers_even_on_errors():
    class R:
        @cherrypy.expose
        def index(self):
            return 'ok'

        @cherrypy.expose
        def fail(self):
            raise cherrypy.HTTPError(403)
    cherrypy.tree.mount(R(), '', {'/': {
        'tools.response_headers.on': True,
        'tools.response_headers.headers': [('X-Frame-Options', 'DENY'),
                                           ('Content-Type', 'text/plain')]}})
    r = call(None, '/')
    assert r.headers['X-Frame-Options'] == 'DENY'
    assert r.headers['Content-Type'] == 'text/plain;charset=utf-8'
    assert call(None, '/fail').headers['X-Frame-Options'] == 'DENY'
