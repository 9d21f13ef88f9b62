"""Sessions in a real memcached: storage, shared locks, two server processes, outages.

Every test takes the ``memcached`` fixture, so all of them skip, naming the
reason, where the memcached binary is not installed.
"""
from __future__ import annotations

import datetime
import http.client as httpclient
import json
import logging
import socket
import subprocess
import threading
import time

import pytest
from pymemcache.client.base import Client

import app.core as cherrypy
from app.core.lib import sessions
from app.core.lib.session_memcached import servers_from
from app.core.lib.sessions import MemcachedSession, StorageUnavailable, health

from helpers import Memcached, call, start_app_process, wait_until
from test_sessions import Root, cookie, get, morsel


@pytest.fixture(autouse=True)
def _close_pools(memcached):
    # No pooled socket outlives the memcached it was connected to.
    yield
    sessions.close_clients()


def mount(memcached, **conf):
    c = {'tools.sessions.on': True, 'tools.sessions.storage_type': 'memcached',
         'tools.sessions.servers': [memcached.address], 'tools.sessions.dead_timeout': 0.5}
    c.update({'tools.sessions.' + k: v for k, v in conf.items()})
    cherrypy.tree.mount(Root(), '', {'/': c, '/noop': {'tools.sessions.on': False}})


def raw(memcached):
    return Client(('127.0.0.1', memcached.port), connect_timeout=1, timeout=1)


def ttl(memcached, key):
    """The remaining life of ``key`` in seconds, from memcached's meta get."""
    with socket.create_connection(('127.0.0.1', memcached.port), timeout=2) as s:
        s.sendall(b'mg %s t\r\n' % key.encode())
        line = s.recv(200).split(b'\r\n')[0].split()
    assert line[0] == b'HD', line
    return int(line[1][1:])


def test_stored_types_round_trip(memcached):
    s = MemcachedSession(None, servers=[memcached.address])
    value = {'tuple': (1, 'a'), 'set': {1, 2}, 'bytes': b'\x00\x01', 'nested': [{'k': (2,)}],
             'when': datetime.datetime(2026, 5, 6, 7, 8, 9), 'none': None, 'float': 0.25}
    s.update(value)
    s.save()
    back = MemcachedSession(s.id, servers=[memcached.address])
    assert back.id == s.id and not back.missing
    assert dict(back.items()) == value
    assert type(back['tuple']) is tuple and type(back['set']) is set


def test_key_prefix_and_expiry_are_visible_in_memcached(memcached):
    mount(memcached, prefix='myapp:', timeout=2)
    r = get('/incr')
    sid = morsel(r).value
    stored = raw(memcached).get('myapp:' + sid)
    assert stored.split(b'\n', 1)[1] == b'{"n":1}'
    assert 100 < ttl(memcached, 'myapp:' + sid) <= 120
    assert raw(memcached).get('myapp:' + sid + '.lock') is None    # released
    assert raw(memcached).get('session-' + sid) is None


def test_a_long_timeout_is_sent_as_an_absolute_time(memcached):
    s = MemcachedSession(None, servers=[memcached.address], timeout=60 * 24 * 40)
    s['n'] = 1
    s.save()
    assert 40 * 86400 - 60 < ttl(memcached, 'session-' + s.id) <= 40 * 86400 + 2


def test_memcached_expiry_ends_the_session(memcached):
    mount(memcached, timeout=1 / 60)   # one second
    r1 = get('/incr')
    assert get('/incr', r1).body == b'2'
    key = 'session-' + morsel(r1).value
    wait_until(lambda: raw(memcached).get(key) is None, 5, 'memcached kept the session')
    r3 = get('/incr', r1)
    assert r3.body == b'1' and morsel(r3).value != morsel(r1).value


def test_saved_only_when_changed(memcached):
    mount(memcached)
    r1 = get('/incr')
    key = 'session-' + morsel(r1).value
    _v, cas = raw(memcached).gets(key)
    assert get('/read', r1).body == b'1'
    assert raw(memcached).gets(key)[1] == cas        # not written
    get('/incr', r1)
    assert raw(memcached).gets(key)[1] != cas


def test_forged_ids_are_replaced_and_never_stored(memcached):
    mount(memcached)
    for forged in ('0' * 40, 'x' * 5000, 'bad key with spaces'):
        r = call(None, '/incr', headers={'Cookie': 'session_id=' + forged})
        assert r.status == 200 and r.body == b'1' and morsel(r).value != forged
    assert raw(memcached).get('session-' + '0' * 40) is None


def test_the_lock_is_shared_between_session_objects(memcached):
    a = MemcachedSession(None, servers=[memcached.address])
    a['n'] = 1
    a.save()
    a = MemcachedSession(a.id, servers=[memcached.address])
    a.acquire_lock()
    assert raw(memcached).get('session-%s.lock' % a.id) is not None
    b = MemcachedSession(a.id, servers=[memcached.address], lock_wait=0.2)
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailable, match='locked by another request'):
        b.acquire_lock()
    assert 0.2 <= time.monotonic() - t0 < 1
    a.release_lock()
    b.acquire_lock()
    b.release_lock()
    assert raw(memcached).get('session-%s.lock' % a.id) is None


class Concurrent:
    """Handlers that let another writer in between load and save."""

    def __init__(self, address):
        self.address = address

    def _other(self, sid):
        other = MemcachedSession(sid, servers=[self.address])
        assert other.id == sid
        return other

    @cherrypy.expose
    def start(self):
        cherrypy.session['start'] = 1
        return 'ok'

    @cherrypy.expose
    def both(self):
        s = cherrypy.session
        s.pop('start')                # loaded, and changed below
        other = self._other(s.id)     # another pod writes another key meanwhile
        other['theirs'] = 'kept'
        other.save()
        s['mine'] = 'kept too'
        return 'ok'

    @cherrypy.expose
    def gone(self):
        s = cherrypy.session
        s.get('x')
        self._other(s.id).delete()    # a logout elsewhere
        s['late'] = 'write'
        return 'ok'

    @cherrypy.expose
    def regen(self):
        s = cherrypy.session
        old = s.id
        s.regenerate()
        return old

    @cherrypy.expose
    def dump(self):
        return json.dumps(dict(cherrypy.session.items()), sort_keys=True)


def mount_concurrent(memcached, **conf):
    c = {'tools.sessions.on': True, 'tools.sessions.storage_type': 'memcached',
         'tools.sessions.servers': memcached.address, 'tools.sessions.locking': 'explicit'}
    c.update({'tools.sessions.' + k: v for k, v in conf.items()})
    cherrypy.tree.mount(Concurrent(memcached.address), '', {'/': c})


def test_concurrent_writes_without_a_lock_merge(memcached):
    mount_concurrent(memcached)
    r = call(None, '/start')
    assert call(None, '/both', headers=cookie(r)).status == 200   # a compare-and-swap conflict
    assert call(None, '/dump', headers=cookie(r)).json() == {
        'mine': 'kept too', 'theirs': 'kept'}


def test_a_merge_that_keeps_conflicting_gives_up_with_503(memcached):
    mount_concurrent(memcached, cas_attempts=0)
    r = call(None, '/start')
    r2 = call(None, '/both', headers=cookie(r))
    assert r2.status == 503 and b'too many requests at once' in r2.body


def test_a_session_deleted_meanwhile_is_not_resurrected(memcached):
    mount_concurrent(memcached)
    r = call(None, '/start')
    sid = morsel(r).value
    assert raw(memcached).get('session-' + sid) is not None
    assert call(None, '/gone', headers=cookie(r)).status == 200
    assert raw(memcached).get('session-' + sid) is None


def test_regenerate_moves_the_stored_session(memcached):
    mount_concurrent(memcached)
    r = call(None, '/start')
    r2 = call(None, '/regen', headers=cookie(r))
    new = morsel(r2).value
    assert r2.text == morsel(r).value != new
    assert raw(memcached).get('session-' + r2.text) is None
    assert call(None, '/dump', headers=cookie(r2)).json() == {'start': 1}


def test_a_bad_key_prefix_is_a_bug_not_an_outage(memcached, caplog):
    mount(memcached, prefix='has space ')
    r = call(None, '/incr', headers={'Cookie': 'session_id=' + 'a' * 40})
    assert r.status == 500 and b'whitespace' in r.body
    assert 'is unavailable' not in caplog.text


def test_a_server_that_hangs_up_is_an_outage(memcached, caplog):
    # Something accepts connections and closes them at once (a dying proxy).
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                listener.accept()[0].close()
            except OSError:
                pass
    t = threading.Thread(target=serve)
    t.start()
    try:
        mount(memcached, servers='127.0.0.1:%d' % port)
        r = call(None, '/incr', headers={'Cookie': 'session_id=' + 'a' * 40})
        assert r.status == 503
        assert len([m for m in caplog.messages if 'is unavailable' in m]) == 1
    finally:
        stop.set()
        t.join(5)
        listener.close()


def test_servers_from_config_strings_and_the_environment(memcached, monkeypatch):
    monkeypatch.delenv('MEMCACHED_SERVERS', raising=False)
    assert servers_from(' a:1 , b:2,') == ('a:1', 'b:2')
    assert servers_from(['a:1']) == ('a:1',)
    with pytest.raises(ValueError, match='no memcached server'):
        servers_from('')
    monkeypatch.setenv('MEMCACHED_SERVERS', memcached.address)
    assert servers_from(['127.0.0.1:1']) == (memcached.address,)
    mount(memcached, servers='127.0.0.1:1')      # nothing listens there; the env wins
    r = get('/incr')
    assert get('/incr', r).body == b'2'


def test_a_value_memcached_refuses_is_a_503_not_an_outage(memcached, caplog):
    class Big:
        @cherrypy.expose
        def index(self):
            cherrypy.session['blob'] = b'x' * (2 * 1024 * 1024)
            return 'x'
    cherrypy.tree.mount(Big(), '', {'/': {
        'tools.sessions.on': True, 'tools.sessions.storage_type': 'memcached',
        'tools.sessions.servers': [memcached.address]}})
    r = call(None, '/')
    assert r.status == 503 and b'refused' in r.body
    assert 'is unavailable' not in caplog.text


def test_outage_gives_quick_503s_logged_once_and_service_resumes(memcached, caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.error')
    seen = []
    health.listeners.append(lambda node, ex: seen.append(node))
    try:
        mount(memcached)
        r1 = get('/incr')
        holder = MemcachedSession(morsel(r1).value, servers=[memcached.address])
        holder.acquire_lock()
        before = health.errors_total
        memcached.stop()
        holder.release_lock()      # cannot reach memcached: logged, not raised
        assert not holder.locked
        for _ in range(6):
            t0 = time.monotonic()
            r = get('/incr', r1)
            assert r.status == 503 and time.monotonic() - t0 < 2
            assert b'memcached' in r.body and r.headers['Retry-After'] == '2'
            assert call(None, '/noop').status == 200        # no session, no problem
        r = call(None, '/incr')                             # a new visitor too
        assert r.status == 503
        assert health.errors_total >= before + 8 and memcached.address in seen
        down = [m for m in caplog.messages if 'is unavailable' in m]
        assert len(down) == 1 and memcached.address in down[0]

        memcached.start()                                   # same port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = get('/incr', r1)
            if r.status == 200:
                break
            time.sleep(0.1)
        assert r.status == 200 and r.body == b'1'           # memcached came back empty
        assert get('/incr', r).body == b'2'
        up = [m for m in caplog.messages if 'reachable again' in m]
        assert len(up) == 1
        assert len([m for m in caplog.messages if 'is unavailable' in m]) == 1
    finally:
        health.listeners.pop()


def test_a_restart_between_requests_is_not_an_outage(memcached, caplog):
    mount(memcached)
    r = get('/incr')
    get('/incr', r)            # the pool now holds a connection
    memcached.stop()
    memcached.start()          # the pooled connection is dead; memcached is fine
    r = get('/incr', r)
    assert r.status == 200 and r.body == b'1'
    assert 'is unavailable' not in caplog.text


def test_a_broken_listener_does_not_break_requests(memcached, caplog):
    def broken(node, ex):
        raise RuntimeError('metrics exploded')
    health.listeners.append(broken)
    try:
        mount(memcached, servers='127.0.0.1:1')
        assert call(None, '/incr').status == 503
    finally:
        health.listeners.remove(broken)
    assert 'metrics exploded' in caplog.text


# -- two server processes sharing one memcached -------------------------------

def _request(port, path, headers=None, timeout=10):
    conn = httpclient.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader('Set-Cookie'), r.read()
    finally:
        conn.close()


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.stdout.close()


def _log_lines(path, text):
    with open(path, encoding='utf-8') as f:
        return [line for line in f if text in line]


def test_two_processes_share_sessions_through_memcached(memcached, tmp_path):
    logs = [str(tmp_path / 'a.log'), str(tmp_path / 'b.log')]
    procs = []
    try:
        for log_file in logs:
            procs.append(start_app_process(
                ['tests/programs/session_app.py'],
                env={'MEMCACHED_SERVERS': memcached.address, 'SESSION_LOG': log_file}))
        a, b = procs[0][1], procs[1][1]

        # Written through one, read through the other.
        status, set_cookie, _ = _request(a, '/put?key=colour&value=blue')
        assert status == 200
        jar = {'Cookie': set_cookie.split(';')[0]}
        assert json.loads(_request(b, '/dump', jar)[2]) == {'colour': 'blue'}

        # Concurrent increments through both lose nothing.
        results = []

        def worker(port):
            for _ in range(25):
                status, _c, body = _request(port, '/incr', jar)
                results.append((status, body))
        threads = [threading.Thread(target=worker, args=(p,)) for p in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [s for s, _ in results] == [200] * 100
        assert sorted(int(body) for _, body in results) == list(range(1, 101))
        assert json.loads(_request(a, '/dump', jar)[2]) == {'colour': 'blue', 'n': 100}

        # memcached dies: quick 503s for session paths, 200 elsewhere.
        memcached.stop()
        for port in (a, b, a, b, a, b):
            t0 = time.monotonic()
            status, _c, body = _request(port, '/incr', jar)
            assert status == 503 and time.monotonic() - t0 < 2
            assert b'Session storage (memcached) is unavailable' in body
            assert _request(port, '/health')[::2] == (200, b'OK')

        # It comes back on the same port: both resume by themselves.
        memcached.start()
        for port in (a, b):
            deadline = time.monotonic() + 10
            while True:
                status, set_cookie, body = _request(port, '/incr', jar)
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert status == 200
        for log_file in logs:
            assert len(_log_lines(log_file, 'is unavailable')) == 1
            assert len(_log_lines(log_file, 'reachable again')) == 1
    finally:
        for proc, _port in procs:
            _stop(proc)


@pytest.mark.parametrize('replicas', [1, 2])
def test_round_trips_per_request_and_the_waits_for_them(memcached, replicas):
    """Lock with the read, save with the release: two round trips per replica, and
    the replicas' overlap, so a request waits for two whatever ``replicas`` is."""
    other = Memcached().start()
    try:
        mount(memcached, servers=[memcached.address, other.address], replicas=replicas)
        r = get('/incr')
        client = MemcachedSession(None, servers=[memcached.address, other.address],
                                  dead_timeout=0.5).store()
        for want in (b'2', b'3'):
            trips = sum(n.round_trips for n in client.nodes.values())
            waits = client.waits
            r2 = get('/incr', r)
            assert r2.status == 200 and r2.body == want
            assert (sum(n.round_trips for n in client.nodes.values()) - trips,
                    client.waits - waits) == (2 * replicas, 2)
        copies = [Client(('127.0.0.1', m.port)).get(MemcachedSession.prefix + morsel(r).value)
                  for m in (memcached, other)]
        assert sum(c is not None for c in copies) == replicas
    finally:
        sessions.close_clients()
        other.stop()
