"""Session leases and replicas in memcached: no single failure loses or blocks a session.

Real memcached processes on free loopback ports and real server processes,
stopped by PID.
"""
from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from pymemcache.client.base import Client

from app.core.lib import session_memcached
from app.core.lib.memcache import close_clients
from app.core.lib.sessions import MemcachedSession, StorageUnavailable

from helpers import Memcached, require_memcached, start_app_process, wait_until
from test_sessions_memcached import _request, _stop


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv('MEMCACHED_SERVERS', raising=False)
    yield
    close_clients()


def raw(m):
    return Client(('127.0.0.1', m.port), connect_timeout=1, timeout=1)


def saved_session(m):
    """A session stored in memcached ``m``; returns its id."""
    s = MemcachedSession(None, servers=[m.address])
    s['n'] = 1
    s.save()
    return s.id


def test_a_lease_is_renewed_for_as_long_as_its_request_runs(memcached):
    sid = saved_session(memcached)
    holder = MemcachedSession(sid, servers=[memcached.address], lock_lease=1)
    holder.acquire_lock()
    renewed = session_memcached.leases.renewed
    t0 = time.monotonic()
    # Three lease lengths: without renewal the lock would have expired twice.
    wait_until(lambda: time.monotonic() - t0 > 3, 5, 'time did not pass')
    assert session_memcached.leases.renewed >= renewed + 6
    from app import metrics
    body = metrics.exposition()[1].decode()
    line = [ln for ln in body.splitlines() if ln.startswith('session_lease_renewals_total ')]
    assert line and float(line[0].split()[1]) >= renewed + 6
    other = MemcachedSession(sid, servers=[memcached.address], lock_wait=0.3)
    with pytest.raises(StorageUnavailable, match='locked by another request'):
        other.acquire_lock()
    holder.release_lock()
    other.acquire_lock()
    other.release_lock()


def test_release_after_the_lease_was_lost_keeps_the_new_holders_lock(memcached):
    sid = saved_session(memcached)
    late = MemcachedSession(sid, servers=[memcached.address], lock_lease=1)
    late.acquire_lock()
    session_memcached.leases.drop(late)   # as if its process stalled: no renewal
    lock_key = 'session-%s.lock' % sid
    wait_until(lambda: raw(memcached).get(lock_key) is None, 5, 'the lease did not expire')
    now = MemcachedSession(sid, servers=[memcached.address], lock_lease=5)
    now.acquire_lock()
    token = raw(memcached).get(lock_key)
    late.release_lock()                   # its CAS is stale: nothing is deleted
    assert raw(memcached).get(lock_key) == token
    assert not late.renew()               # and a renewal finds the lease lost
    now.release_lock()
    assert raw(memcached).get(lock_key) is None


def test_a_lock_whose_holder_was_killed_frees_within_the_lease(memcached, tmp_path):
    env = {'MEMCACHED_SERVERS': memcached.address, 'SESSION_LOG': str(tmp_path / 'a.log')}
    a = start_app_process(['tests/programs/session_app.py'], env=env)
    b = start_app_process(['tests/programs/session_app.py'],
                          env=dict(env, SESSION_LOG=str(tmp_path / 'b.log')))
    try:
        status, set_cookie, _ = _request(a[1], '/incr')
        jar = {'Cookie': set_cookie.split(';')[0]}
        sid = set_cookie.split(';')[0].split('=', 1)[1]
        def held():
            try:
                _request(a[1], '/slow?seconds=30', jar, 40)
            except Exception:  # NOTE: its server is killed mid-request
                pass
        slow = threading.Thread(target=held, daemon=True)
        slow.start()
        lock_key = 'session-%s.lock' % sid
        wait_until(lambda: raw(memcached).get(lock_key) is not None, 10, 'no lock taken')
        a[0].send_signal(signal.SIGKILL)
        a[0].wait(5)
        killed = time.monotonic()
        status, _c, body = _request(b[1], '/incr', jar)
        recovered = time.monotonic() - killed
        print('a lock whose holder was killed freed after %.2fs' % recovered)
        assert status == 200 and body == b'2'   # the killed request's count never saved
        assert recovered < MemcachedSession.lock_lease + 1.5
    finally:
        for proc, _port in (a, b):
            if proc.poll() is None:
                _stop(proc)
            proc.stdout.close()


def test_two_replicas_on_three_nodes_survive_each_node_dying_and_returning_empty(tmp_path):
    require_memcached()
    nodes = [Memcached().start() for _ in range(3)]
    servers = ','.join(n.address for n in nodes)
    procs = []
    try:
        for name in ('a', 'b'):
            procs.append(start_app_process(
                ['tests/programs/session_app.py'],
                env={'MEMCACHED_SERVERS': servers, 'SESSION_REPLICAS': '2',
                     'SESSION_LOG': str(tmp_path / (name + '.log'))}))
        ports = [p for _proc, p in procs]
        clients = []
        for i in range(6):
            status, set_cookie, body = _request(ports[i % 2], '/incr')
            assert status == 200 and body == b'1'
            clients.append({'jar': {'Cookie': set_cookie.split(';')[0]}, 'n': 1})
        failures: list = []
        stop = threading.Event()

        def traffic(client, k):
            while not stop.is_set():
                status, _c, body = _request(ports[k % 2], '/incr', client['jar'])
                k += 1
                if status != 200 or int(body) != client['n'] + 1:
                    failures.append((status, body[:200], client['n']))
                    return
                client['n'] += 1
        threads = [threading.Thread(target=traffic, args=(c, i)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()

        def progress(seconds):
            before = sum(c['n'] for c in clients)
            t0 = time.monotonic()
            wait_until(lambda: failures or time.monotonic() - t0 > seconds, seconds + 5, '')
            assert not failures, failures
            assert sum(c['n'] for c in clients) > before   # traffic kept flowing
        progress(1)
        for node in nodes:
            node.stop()                   # SIGKILL: its sessions' other copy serves
            progress(1.5)
            node.start()                  # back on the same port, empty
            progress(1.5)
        stop.set()
        for t in threads:
            t.join(20)
        assert not failures, failures
        total = sum(c['n'] for c in clients)
        for i, c in enumerate(clients):
            status, _c, body = _request(ports[i % 2], '/dump', c['jar'])
            assert status == 200 and json.loads(body) == {'n': c['n']}
        print('two replicas, three nodes, each killed and restarted empty: %d increments, '
              '0 lost, 0 non-200' % total)
        assert total > 100
    finally:
        for proc, _port in procs:
            _stop(proc)
            proc.stdout.close()
        for n in nodes:
            n.stop()


def test_the_kubernetes_setting_puts_each_session_on_two_nodes(monkeypatch):
    import os

    import app
    import app.core as cherrypy
    from helpers import ROOT, call
    require_memcached()
    nodes = [Memcached().start(), Memcached().start()]
    try:
        monkeypatch.setenv('MEMCACHED_SERVERS', ','.join(n.address for n in nodes))
        monkeypatch.setenv('APP_TOOLS__SESSIONS__REPLICAS', '2')   # k8s/deployment.yaml
        cherrypy.config.reset()
        app.build(os.path.join(ROOT, 'conf', 'prod.conf'))
        cherrypy.config.update({'log.screen': False})
        r = call(None, '/api/visits', headers={'Host': 'localhost'})
        assert r.status == 200
        sid = r.headers['Set-Cookie'].split(';')[0].split('=', 1)[1]
        assert all(raw(n).get('session-' + sid) is not None for n in nodes)
        nodes[0].stop()
        r = call(None, '/api/visits', headers={'Host': 'localhost',
                                               'Cookie': 'session_id=' + sid})
        assert r.status == 200 and b'2' in r.body
    finally:
        for n in nodes:
            n.stop()
