"""Sessions in process memory and in files, through the in-process WSGI call."""
from __future__ import annotations

import datetime
import decimal
import http.cookies
import logging
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

import app.core as cherrypy
from app.core import _serving
from app.core.config import ConfigError
from app.core.lib import sessions
from app.core.lib.sessions import (FileSession, RamSession, Session, StorageUnavailable,
                                   dumps, loads)

from helpers import ROOT, call, wait_until


class Root:
    @cherrypy.expose
    def incr(self):
        n = cherrypy.session.get('n', 0) + 1
        cherrypy.session['n'] = n
        return str(n)

    @cherrypy.expose
    def slowincr(self):
        n = cherrypy.session.get('n', 0) + 1
        time.sleep(0.002)     # a wide window for a lost update, were there no lock
        cherrypy.session['n'] = n
        return str(n)

    @cherrypy.expose
    def read(self):
        return repr(cherrypy.session.get('n'))

    @cherrypy.expose
    def noop(self):
        return 'noop'

    @cherrypy.expose
    def ident(self):
        return cherrypy.session.id

    @cherrypy.expose
    def regen(self):
        old = cherrypy.session.id
        cherrypy.tools.sessions.regenerate()
        return '%s %s %s' % (old, cherrypy.session.id, cherrypy.session['n'])

    @cherrypy.expose
    def logout(self):
        sessions.expire()
        return 'bye'

    @cherrypy.expose
    def locked(self):
        return str(cherrypy.session.locked)

    @cherrypy.expose
    def explicit(self):
        s = cherrypy.session
        before = s.locked
        s.acquire_lock()
        during = s.locked
        s['n'] = 7
        s.release_lock()
        return '%s %s %s' % (before, during, s.locked)

    @cherrypy.expose
    def redirect(self):
        cherrypy.session['n'] = 'redirected'
        raise cherrypy.HTTPRedirect('/read')

    @cherrypy.expose
    def internal(self):
        cherrypy.session['n'] = 'internal'
        raise cherrypy.InternalRedirect('/read')

    @cherrypy.expose
    def crash(self):
        cherrypy.session['n'] = 'crashed'
        raise RuntimeError('boom')

    @cherrypy.expose
    def gen(self):
        def body():
            cherrypy.session['n'] = 'from a generator'
            yield 'g'
        return body()

    @cherrypy.expose
    def stream(self):
        cherrypy.response.stream = True

        def body():
            yield 'a'
            cherrypy.session['n'] = 'streamed'
            yield 'b'
        return body()

    @cherrypy.expose
    def dictlike(self):
        s = cherrypy.session
        s.update({'a': 1}, b=2)
        s.setdefault('c', 3)
        del s['b']
        popped = s.pop('c')
        keys = sorted(s.keys())
        out = '%s %s %s %s %s %s' % (keys, list(s.values()), list(s.items()), popped,
                                     'a' in s, len(s))
        s.clear()
        return out + ' %s %s' % (len(s), list(iter(s)))


def mount(**conf):
    c = {'tools.sessions.on': True}
    c.update({'tools.sessions.' + k: v for k, v in conf.items()})
    cherrypy.tree.mount(Root(), '', {'/': c, '/noop': {'tools.sessions.on': False}})


def morsel(r, name='session_id'):
    jar = http.cookies.SimpleCookie()
    for line in r.headers.get('Set-Cookie', '').split('\n'):
        if line:
            jar.load(line)
    return jar.get(name)


def cookie(r, name='session_id'):
    return {'Cookie': '%s=%s' % (name, morsel(r, name).value)}


def get(path, r=None, **kw):
    return call(None, path, headers=cookie(r) if r is not None else None, **kw)


# -- the basics ---------------------------------------------------------------

def test_counter_increments_across_requests_with_the_cookie():
    mount()
    r1 = get('/incr')
    assert r1.status == 200 and r1.body == b'1'
    r2 = get('/incr', r1)
    r3 = get('/incr', r2)
    assert (r2.body, r3.body) == (b'2', b'3')
    assert morsel(r1).value == morsel(r3).value
    assert len(morsel(r1).value) == 40 and int(morsel(r1).value, 16) >= 0
    # Without the cookie, a new session.
    assert get('/incr').body == b'1'


def test_default_cookie_attributes():
    mount()
    m = morsel(get('/incr'))
    assert m['httponly'] is True and m['samesite'] == 'Lax' and m['path'] == '/'
    assert m['secure'] == '' and m['domain'] == ''
    assert m['max-age'] == '3600' and m['expires']


def test_cookie_options():
    mount(secure=True, httponly=False, samesite=None, persistent=False, domain='example.org',
          path='/app', name='sid')
    r = get('/incr')
    assert morsel(r) is None
    m = morsel(r, 'sid')
    assert m['secure'] is True and m['domain'] == 'example.org' and m['path'] == '/app'
    assert m['httponly'] == '' and m['samesite'] == ''
    assert m['max-age'] == '' and m['expires'] == ''
    r2 = call(None, '/incr', headers={'Cookie': 'sid=' + m.value})
    assert r2.body == b'2'


def test_cookie_path_from_a_header():
    mount(path_header='X-Script-Path', timeout=2)
    m = morsel(call(None, '/incr', headers={'X-Script-Path': '/mounted'}))
    assert m['path'] == '/mounted' and m['max-age'] == '120'


def test_regenerate_changes_the_id_and_keeps_the_data():
    mount()
    r1 = get('/incr')
    r2 = get('/regen', r1)
    old, new, n = r2.text.split()
    assert old == morsel(r1).value and new != old and n == '1'
    assert morsel(r2).value == new and morsel(r2)['httponly'] is True
    assert get('/incr', r2).body == b'2'
    # The old id is gone: a client still sending it starts afresh.
    r3 = get('/read', r1)
    assert r3.body == b'None' and morsel(r3).value not in (old, new)


def test_expire_deletes_the_session_and_expires_the_cookie():
    mount()
    r1 = get('/incr')
    r2 = get('/logout', r1)
    m = morsel(r2)
    assert m['max-age'] == '0'
    assert datetime.datetime.strptime(m['expires'], '%a, %d %b %Y %H:%M:%S GMT') \
        < datetime.datetime.utcnow()
    assert morsel(r1).value not in RamSession.cache
    assert get('/read', r1).body == b'None'


def test_expire_without_the_tool_still_expires_the_cookie():
    class R:
        @cherrypy.expose
        def index(self):
            sessions.expire()
            return 'x'
    cherrypy.tree.mount(R(), '', {'/': {'tools.sessions.name': 'sid',
                                        'tools.sessions.path': '/p'}})
    m = morsel(call(None, '/'), 'sid')
    assert m.value == '' and m['path'] == '/p' and m['max-age'] == '0'


@pytest.mark.parametrize('value', [
    '0' * 40,                  # well formed but never issued
    'a' * 10000,               # huge
    '../../etc/passwd',        # garbage
    'ABCDEF' * 8,              # not lower-case hex
    '"quoted"',
])
def test_an_id_the_server_did_not_issue_is_replaced(value):
    mount()
    r = call(None, '/incr', headers={'Cookie': 'session_id=' + value})
    assert r.status == 200 and r.body == b'1'
    new = morsel(r).value
    assert new != value and len(new) == 40
    assert value not in RamSession.cache and new in RamSession.cache


def test_a_malformed_cookie_header_is_not_an_error():
    mount()
    r = call(None, '/incr', headers={'Cookie': 'session_id="unterminated; ;; ==='})
    assert r.status == 200 and r.body == b'1'


def test_sessions_expire_after_timeout():
    mount(timeout=0.002)  # minutes: 0.12 s
    r1 = get('/incr')
    assert get('/incr', r1).body == b'2'
    time.sleep(0.2)
    r3 = get('/incr', r1)
    assert r3.body == b'1' and morsel(r3).value != morsel(r1).value


def test_the_session_proxy_fails_clearly_without_the_tool():
    mount()
    with pytest.raises(_serving.OutsideRequestError):
        cherrypy.session['x']
    cherrypy.tree.apps.clear()
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/incr')
    assert r.status == 500 and b'tools.sessions.on' in r.body


def test_dict_interface():
    mount()
    r = get('/dictlike')
    assert r.text == "['a'] [1] [('a', 1)] 3 True 1 0 []"


# -- saving -------------------------------------------------------------------

def test_a_session_is_saved_only_when_it_changed():
    mount()
    r1 = get('/incr')
    sid = morsel(r1).value
    rec = RamSession.cache[sid]
    data, expires = rec
    time.sleep(0.01)
    assert get('/read', r1).body == b'1'
    assert RamSession.cache[sid][0] is data       # not rewritten...
    assert RamSession.cache[sid][1] > expires     # ...but kept alive
    get('/incr', r1)
    assert RamSession.cache[sid][0] is not data and RamSession.cache[sid][0]['n'] == 2


def test_a_new_session_nobody_wrote_to_is_not_stored():
    mount()
    r = get('/read')
    assert r.body == b'None' and morsel(r).value not in RamSession.cache
    assert morsel(r).value not in RamSession.locks


def test_a_handler_that_ignores_the_session_costs_no_storage():
    mount()
    r = get('/ident')
    assert morsel(r).value not in RamSession.cache


def test_saved_on_redirect_and_internal_redirect_not_after_a_crash():
    mount()
    r1 = get('/incr')
    assert get('/redirect', r1).status == 303
    assert get('/read', r1).body == b"'redirected'"
    r = get('/internal', r1)
    assert r.status == 200 and r.body == b"'internal'"
    assert get('/read', r1).body == b"'internal'"
    assert get('/crash', r1).status == 500
    # Not saved, and the lock was released (this would wait, then 503).
    r = get('/read', r1)
    assert r.status == 200 and r.body == b"'internal'"


def test_generator_and_streamed_bodies_are_saved_after_they_ran():
    mount()
    r1 = get('/incr')
    assert get('/gen', r1).body == b'g'
    assert get('/read', r1).body == b"'from a generator'"
    assert get('/stream', r1).body == b'ab'
    assert get('/read', r1).body == b"'streamed'"


def test_a_path_without_sessions_has_no_cookie():
    mount()
    r = call(None, '/noop')
    assert r.status == 200 and morsel(r) is None


# -- locking ------------------------------------------------------------------

def _probe_locking(locking):
    seen = []

    def probe():
        seen.append(_serving.current().session.locked)
    cherrypy.tools.probe = cherrypy.Tool('before_handler', probe, priority=10)
    try:
        cherrypy.tree.mount(Root(), '', {'/': {'tools.sessions.on': True, 'tools.probe.on': True,
                                               'tools.sessions.locking': locking}})
        handler_saw = call(None, '/locked').text
    finally:
        del cherrypy.tools.probe
    return seen[0], handler_saw


def test_locking_modes():
    # implicit: locked for the handler, not yet before it; early: before it too.
    assert _probe_locking('implicit') == (False, 'True')
    assert _probe_locking('early') == (True, 'True')
    assert _probe_locking('explicit') == (False, 'False')


def test_explicit_locking_is_up_to_the_handler():
    mount(locking='explicit')
    r1 = get('/incr')
    r2 = get('/explicit', r1)
    assert r2.text == 'False True False'
    assert get('/read', r1).body == b'7'


@pytest.mark.parametrize('conf, message', [
    ({'locking': 'sometimes'}, b'locking'),
    ({'storage_type': 'carrier-pigeon'}, b'storage_type'),
    ({'storage_type': 'file'}, b'storage_path is required'),
])
def test_bad_session_config_fails_at_the_first_request(conf, message):
    mount(**conf)
    r = call(None, '/incr')
    assert r.status == 500 and message in r.body


def test_an_unknown_config_key_fails_at_mount():
    with pytest.raises(ConfigError, match='tools.sessions.colour'):
        mount(colour='blue')
    # Storage classes' keys are known.
    mount(storage_path='/tmp', servers='127.0.0.1:1', lock_wait=1, prefix='x-')


def test_concurrent_requests_to_one_session_lose_no_increment():
    mount()
    r1 = get('/incr')
    seen = []

    def worker():
        for _ in range(10):
            seen.append(int(get('/slowincr', r1).body))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(seen) == list(range(2, 82))
    assert get('/read', r1).body == b'81'


def test_a_busy_lock_gives_503_after_lock_wait():
    s = RamSession(None)
    s['n'] = 1
    s.save()
    a = RamSession(s.id)
    b = RamSession(s.id, lock_wait=0.1)
    a.acquire_lock()
    a.acquire_lock()  # idempotent
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        b.acquire_lock()
    assert info.value.code == 503 and 0.1 <= time.monotonic() - t0 < 1
    a.release_lock()
    a.release_lock()  # idempotent
    b.acquire_lock()
    assert b.locked
    b.release_lock()


def test_a_busy_lock_answers_503_with_retry_after():
    class R:
        @cherrypy.expose
        def index(self):
            return 'x'
    holder = RamSession(None)
    holder['n'] = 1
    holder.save()
    holder.acquire_lock()
    try:
        cherrypy.tree.mount(R(), '', {'/': {'tools.sessions.on': True,
                                            'tools.sessions.lock_wait': 0.05}})
        r = call(None, '/', headers={'Cookie': 'session_id=' + holder.id})
        assert r.status == 503 and r.headers['Retry-After'] == '2'
        assert b'locked by another request' in r.body
    finally:
        holder.release_lock()


# -- clean-up -----------------------------------------------------------------

def test_ram_clean_up_sweeps_expired_sessions_at_most_every_clean_freq():
    s = RamSession(None, timeout=0.001)
    s['n'] = 1
    s.save()
    s.acquire_lock()
    s.release_lock()
    other = RamSession(None)
    other.acquire_lock()          # never stored: its lock goes on release...
    RamSession.locks['f' * 40] = threading.Lock()   # ...an orphan goes on clean-up
    other.release_lock()
    assert other.id not in RamSession.locks
    time.sleep(0.1)
    RamSession(None, clean_freq=10)  # too soon for a sweep (the clock starts now)
    assert s.id in RamSession.cache
    RamSession(None, clean_freq=0.0001)
    time.sleep(0.01)
    RamSession(None, clean_freq=0.0001)
    assert s.id not in RamSession.cache and 'f' * 40 not in RamSession.locks


def test_a_stored_sessions_lock_is_forgotten_once_nobody_holds_or_waits_for_it():
    s = RamSession(None)
    s['n'] = 1
    s.save()
    s.acquire_lock()
    waiter = RamSession(s.id)
    got = threading.Event()

    def wait_then_release():
        waiter.acquire_lock()
        got.set()
        waiter.release_lock()
    t = threading.Thread(target=wait_then_release)
    t.start()
    wait_until(lambda: RamSession._lock_users.get(s.id) == 2, 5, 'the waiter queued')
    RamSession(None).clean_up()                 # a lock someone waits for stays
    assert s.id in RamSession.locks and not got.is_set()
    s.release_lock()
    t.join(5)
    assert got.is_set()
    assert s.id in RamSession.cache and s.id not in RamSession.locks


def test_a_failing_clean_up_is_logged_not_raised(caplog):
    class Broken(RamSession):
        def clean_up(self):
            raise OSError('disk on fire')
    Broken(None, clean_freq=0.0001)
    time.sleep(0.01)
    Broken(None, clean_freq=0.0001)
    assert 'disk on fire' in caplog.text


# -- the serializer -----------------------------------------------------------

def test_the_serializer_round_trips_what_handlers_store():
    import enum

    class Colour(str, enum.Enum):
        RED = 'red'

    class Num(enum.IntEnum):
        ONE = 1
    data = {
        'none': None, 'bool': True, 'int': 10 ** 30, 'float': 1.5, 'str': 'héllo',
        'list': [1, [2, 3]], 'tuple': (1, (2, 'x')), 'set': {3, 1, 2},
        'frozen': frozenset({'a'}), 'bytes': b'\x00\xff', 'ba': bytearray(b'ab'),
        'dt': datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        'date': datetime.date(2026, 1, 2), 'time': datetime.time(3, 4, 5),
        'td': datetime.timedelta(days=1, seconds=2, microseconds=3),
        'dec': decimal.Decimal('1.10'), 'uuid': uuid.UUID(int=5),
        'intkeys': {1: 'a', (2, 3): 'b'}, 'tagkey': {'__t': 'not a tag', 'v': 1},
        'nested': {'s': [{'t': (1,)}]}, 'enum': Colour.RED, 'num': Num.ONE,
    }
    back = loads(dumps(data))
    expected = dict(data, ba=b'ab', enum='red', num=1)
    assert back == expected
    for k in ('tuple', 'set', 'frozen', 'bytes', 'dt', 'date', 'time', 'td', 'dec', 'uuid'):
        assert type(back[k]) is type(expected[k]), k
    assert type(back['enum']) is str and type(back['num']) is int
    # Deterministic: a set serializes the same way whatever its order.
    assert dumps({'s': {'b', 'a', 'c'}}) == dumps({'s': {'c', 'a', 'b'}})


def test_the_serializer_refuses_what_it_cannot_restore_safely():
    with pytest.raises(TypeError, match='cannot store a object'):
        dumps({'x': object()})
    with pytest.raises(ValueError, match='bad tagged value'):
        loads(b'{"x":{"__t":"pickle","v":"cos\\nsystem"}}')
    with pytest.raises(ValueError):
        loads(b'not json')
    with pytest.raises(ValueError, match='nested too deeply'):
        loads(b'[' * 100000 + b']' * 100000)


def test_an_object_that_cannot_be_stored_is_a_500_with_the_reason():
    class R:
        @cherrypy.expose
        def index(self):
            cherrypy.session['x'] = object()
            return 'x'
    cherrypy.tree.mount(R(), '', {'/': {'tools.sessions.on': True,
                                        'tools.sessions.storage_type': 'file',
                                        'tools.sessions.storage_path': '/tmp/app-core-sessions'}})
    r = call(None, '/')
    assert r.status == 500 and b'cannot store a object' in r.body


def test_the_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        Session('0' * 40)
    s = RamSession(None)
    for name in ('_exists', '_load', '_delete', 'acquire_lock', 'release_lock'):
        with pytest.raises(NotImplementedError):
            getattr(Session, name)(s)
    with pytest.raises(NotImplementedError):
        Session._save(s, 0)
    Session.clean_up(s)
    assert repr(s).startswith('<RamSession ')


# -- FileSession ----------------------------------------------------------------

def file_conf(tmp_path, **kw):
    return dict(storage_type='file', storage_path=str(tmp_path), **kw)


def test_file_sessions_round_trip(tmp_path):
    mount(**file_conf(tmp_path))
    r1 = get('/incr')
    assert get('/incr', r1).body == b'2'
    sid = morsel(r1).value
    assert sorted(os.listdir(tmp_path)) == ['session-' + sid]   # no lock or temp left
    with open(tmp_path / ('session-' + sid), 'rb') as f:
        head, _, body = f.read().partition(b'\n')
    assert body == b'{"n":2}' and float(head) > time.time() + 3500
    r = get('/regen', r1)
    new = r.text.split()[1]
    assert sorted(os.listdir(tmp_path)) == ['session-' + new]
    get('/logout', r)
    assert os.listdir(tmp_path) == []


def test_file_storage_path_is_required_and_created(tmp_path):
    with pytest.raises(ValueError, match='storage_path'):
        FileSession(None)
    FileSession(None, storage_path=str(tmp_path / 'new' / 'dir'))
    assert os.path.isdir(tmp_path / 'new' / 'dir')


def test_file_session_saved_only_when_changed_and_refreshed_when_old(tmp_path):
    mount(**file_conf(tmp_path))
    r1 = get('/incr')
    path = tmp_path / ('session-' + morsel(r1).value)
    st = os.stat(path)
    get('/read', r1)
    assert os.stat(path).st_ino == st.st_ino      # unchanged: not rewritten
    get('/incr', r1)
    st2 = os.stat(path)
    assert st2.st_ino != st.st_ino                # rewritten by rename (atomic)
    cherrypy.tree.apps.clear()
    mount(refresh_fraction=0, **file_conf(tmp_path))
    get('/read', r1)
    assert os.stat(path).st_ino != st2.st_ino     # unchanged but due for a refresh


def test_garbage_and_corrupt_files_are_replaced_not_errors(tmp_path, caplog):
    mount(**file_conf(tmp_path))
    r = call(None, '/incr', headers={'Cookie': 'session_id=../../../etc/passwd'})
    assert r.status == 200 and os.listdir(tmp_path) == ['session-' + morsel(r).value]
    bad = 'e' * 40
    (tmp_path / ('session-' + bad)).write_bytes(b'no newline here')
    r = call(None, '/incr', headers={'Cookie': 'session_id=' + bad})
    assert r.status == 200 and morsel(r).value != bad
    ugly = 'd' * 40
    (tmp_path / ('session-' + ugly)).write_bytes(b'%f\n[1, 2]' % (time.time() + 60))
    r = call(None, '/incr', headers={'Cookie': 'session_id=' + ugly})
    assert r.status == 200 and r.body == b'1'     # the id was known; its data unreadable
    assert 'unreadable session record' in caplog.text
    assert 'unreadable session data' in caplog.text


def test_file_writes_are_atomic(tmp_path):
    s = FileSession(None, storage_path=str(tmp_path))
    s['v'] = 'x' * 200000
    s.save()
    path = tmp_path / ('session-' + s.id)
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                with open(path, 'rb') as f:
                    rec = f.read()
                v = loads(rec.partition(b'\n')[2])['v']
                if len(v) != 200000 or len(set(v)) != 1:
                    errors.append('torn')
            except Exception as ex:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(ex))
    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(40):
            w = FileSession(s.id, storage_path=str(tmp_path))
            w['v'] = 'xy'[i % 2] * 200000
            w.save()
    finally:
        stop.set()
        t.join(10)
    assert errors == []
    assert [n for n in os.listdir(tmp_path) if n.endswith('.tmp')] == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    s = FileSession(None, storage_path=str(tmp_path))
    s['n'] = 1
    os.mkdir(tmp_path / ('session-' + s.id))      # os.replace onto a directory fails
    with pytest.raises(OSError):
        s.save()
    assert os.listdir(tmp_path) == ['session-' + s.id]


HOLD = r'''
import sys, time
from app.core.lib.sessions import FileSession
s = FileSession(sys.argv[1], storage_path=sys.argv[2])
assert s.id == sys.argv[1]
s.acquire_lock()
print('locked', flush=True)
time.sleep(float(sys.argv[3]))
s.release_lock()
'''

INCREMENT = r'''
import sys
from app.core.lib.sessions import FileSession
for _ in range(int(sys.argv[3])):
    s = FileSession(sys.argv[1], storage_path=sys.argv[2])
    s.acquire_lock()
    s['n'] = s.get('n', 0) + 1
    s.save()
'''


def _python(script, *args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, '-c', script] + [str(a) for a in args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_file_lock_holds_across_processes(tmp_path):
    s = FileSession(None, storage_path=str(tmp_path))
    s['n'] = 0
    s.save()
    holder = _python(HOLD, s.id, tmp_path, 1.0)
    try:
        assert holder.stdout.readline() == b'locked\n'
        t0 = time.monotonic()
        with pytest.raises(StorageUnavailable):
            FileSession(s.id, storage_path=str(tmp_path), lock_wait=0.2).acquire_lock()
        assert time.monotonic() - t0 < 1
        waiter = FileSession(s.id, storage_path=str(tmp_path), lock_wait=10)
        waiter.acquire_lock()     # granted once the other process lets go
        assert holder.wait(10) == 0 and time.monotonic() - t0 >= 0.5
        waiter.release_lock()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(5)


def test_concurrent_processes_lose_no_file_session_write(tmp_path):
    s = FileSession(None, storage_path=str(tmp_path))
    s['n'] = 0
    s.save()
    procs = [_python(INCREMENT, s.id, tmp_path, 100) for _ in range(2)]
    try:
        for p in procs:
            assert p.wait(60) == 0, p.stderr.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    assert FileSession(s.id, storage_path=str(tmp_path))['n'] == 200
    assert sorted(os.listdir(tmp_path)) == ['session-' + s.id]


def test_file_clean_up_removes_expired_and_orphaned_files(tmp_path):
    now = time.time()
    live, dead, junk = 'a' * 40, 'b' * 40, 'c' * 40
    (tmp_path / ('session-' + live)).write_bytes(b'%.3f\n{}' % (now + 60))
    (tmp_path / ('session-' + dead)).write_bytes(b'%.3f\n{}' % (now - 1))
    (tmp_path / ('session-' + junk)).write_bytes(b'garbage')
    (tmp_path / ('session-' + live + '.1234.tmp')).write_bytes(b'')
    (tmp_path / ('session-' + live + '.lock')).write_bytes(b'')
    (tmp_path / ('session-' + dead + '.5678.tmp')).write_bytes(b'')
    (tmp_path / 'unrelated.txt').write_bytes(b'keep me')
    old = now - 7200
    os.utime(tmp_path / ('session-' + live + '.1234.tmp'), (old, old))
    os.utime(tmp_path / ('session-' + live + '.lock'), (old, old))
    FileSession(None, storage_path=str(tmp_path)).clean_up()
    assert sorted(os.listdir(tmp_path)) == sorted([
        'session-' + live, 'session-' + dead + '.5678.tmp', 'unrelated.txt'])


def test_file_clean_up_leaves_a_session_in_use(tmp_path):
    now = time.time()
    dead = 'b' * 40
    (tmp_path / ('session-' + dead)).write_bytes(b'%.3f\n{}' % (now - 1))
    holder = FileSession(None, storage_path=str(tmp_path))
    holder._id = dead       # hold its lock as a request would
    holder.acquire_lock()
    try:
        FileSession(None, storage_path=str(tmp_path)).clean_up()
        assert ('session-' + dead) in os.listdir(tmp_path)
    finally:
        holder.release_lock()
    FileSession(None, storage_path=str(tmp_path)).clean_up()
    assert os.listdir(tmp_path) == []


def test_file_clean_up_runs_from_requests(tmp_path):
    dead = 'b' * 40
    (tmp_path / ('session-' + dead)).write_bytes(b'%.3f\n{}' % (time.time() - 1))
    mount(clean_freq=0.0001, **file_conf(tmp_path))
    get('/noop')
    call(None, '/read')
    time.sleep(0.02)
    call(None, '/read')
    assert os.listdir(tmp_path) == []


def test_a_custom_storage_class_by_dotted_name():
    mount(storage_class='app.core.lib.sessions.RamSession')
    r = get('/incr')
    assert get('/incr', r).body == b'2'


class DictStore(Session):
    """A storage class written against the documented protocol, nothing more."""

    store: dict = {}

    def _exists(self):
        return self.id in self.store

    def _load(self):
        rec = self.store.get(self.id)
        return None if rec is None else dict(rec[0])

    def _save(self, expires):
        self.store[self.id] = (dict(self._data), expires)

    def _delete(self):
        self.store.pop(self.id, None)

    def acquire_lock(self):
        self.locked = True

    def release_lock(self):
        self.locked = False


def test_a_custom_storage_class_gets_the_whole_protocol():
    mount(storage_class=DictStore, clean_freq=0)
    r1 = get('/incr')
    sid = morsel(r1).value
    assert DictStore.store[sid][0] == {'n': 1}
    expires = DictStore.store[sid][1]
    time.sleep(0.01)
    assert get('/read', r1).body == b'1'
    assert DictStore.store[sid][1] > expires      # the default refresh saves again
    assert get('/incr', r1).body == b'2'
    get('/logout', r1)
    assert sid not in DictStore.store


def test_debug_logs_the_tool_decisions(caplog):
    caplog.set_level(logging.DEBUG, logger='cherrypy.error')
    mount(debug=True)
    call(None, '/incr', headers={'Cookie': 'session_id=forged'})
    assert 'replaced an unknown or malformed session id' in caplog.text
    assert '(new)' in caplog.text


def test_container_subclasses_are_stored_as_their_base_type():
    import collections
    back = loads(dumps({'od': collections.OrderedDict(a=1),
                        'ul': type('L', (list,), {})([1]),
                        'dd': collections.defaultdict(int, b=2)}))
    assert back == {'od': {'a': 1}, 'ul': [1], 'dd': {'b': 2}}
    assert type(back['od']) is dict and type(back['ul']) is list


def test_file_lock_calls_are_idempotent_and_delete_tolerates_absence(tmp_path):
    s = FileSession(None, storage_path=str(tmp_path))
    s.release_lock()
    s.acquire_lock()
    s.acquire_lock()
    assert os.listdir(tmp_path) == ['session-%s.lock' % s.id]
    s.release_lock()
    s.release_lock()
    s.delete()
    assert os.listdir(tmp_path) == []


def test_serialized_stores_must_read_and_write():
    from app.core.lib.sessions import SerializedSession
    s = RamSession(None)
    with pytest.raises(NotImplementedError):
        SerializedSession._read(s)
    with pytest.raises(NotImplementedError):
        SerializedSession._write(s, b'')
