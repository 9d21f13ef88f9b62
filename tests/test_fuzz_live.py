"""Seeded, time-bounded raw-socket mutations of valid requests against live servers.

Two targets: the app as production runs it (conf/prod.conf, sessions in a
real memcached) and a program with the other tools on (auth basic and
digest, json_in, gzip, caching, staticdir with Range, redirects to a
user-supplied target, file sessions, proxy). Each case mutates a valid
request, sends it on a new connection, half-closes, and reads what comes
back. A case fails on a 5xx other than 501/505, a control character or a
request-made header in a response head, no complete answer in time (a
hang), or a server that no longer answers a plain request. A failure
prints the seed, the case number and the bytes to replay.

FUZZ_SECONDS (default 60 under CI, 15 otherwise) bounds the run, shared
by the targets; FUZZ_SEED picks the seed (default fixed, so CI replays).
"""
from __future__ import annotations

import os
import random
import re
import socket
import time
from collections import Counter

import pytest

import app
import app.core as cherrypy
from app.core.lib import auth_basic, auth_digest

from helpers import ROOT, live

SECONDS = float(os.environ.get('FUZZ_SECONDS') or (60 if os.environ.get('CI') else 15))
SEED = int(os.environ.get('FUZZ_SEED') or 20261201)
#: Seconds a case may take before it counts as a hang (the server's head
#: timeout below is 2 s, its socket timeout 2 s).
HANG = 8.0
MARKER = b'X-Injected'

# -- the valid requests the mutations start from --------------------------

APP_REQUESTS = [
    b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n',
    b'GET /healthcheck HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\r\n',
    b'GET /readyz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: kube-probe/1.31\r\n\r\n',
    b'HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n',
    b'GET /api HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.9\r\n'
    b'X-Forwarded-Proto: https\r\n\r\n',
    b'GET /api/items/42?verbose=1 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n',
    b'GET /api/visits HTTP/1.1\r\nHost: localhost\r\nCookie: session_id=abc\r\n\r\n',
    b'GET /static/logo.svg HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-10\r\n'
    b'If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n',
    b'GET /metrics HTTP/1.1\r\nHost: 10.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n',
    b'GET /status HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n',
    b'POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
    b'Content-Length: 13\r\n\r\n{"name": "a"}',
    b'GET http://localhost/api/ HTTP/1.1\r\nHost: other\r\n\r\n',
    b'GET /api/orders?limit=5 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n',
    b'GET /api/orders/1 HTTP/1.1\r\nHost: localhost\r\n\r\n',
    b'POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
    b'Content-Length: 42\r\n\r\n{"item": "tea", "quantity": 2, "note": ""}',
    b'DELETE /api/orders/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n',
]

TOOLS_REQUESTS = [
    b'GET /basic/ HTTP/1.1\r\nHost: svc.example\r\nAuthorization: Basic am9uOnNlY3JldA==\r\n\r\n',
    b'GET /digest/ HTTP/1.1\r\nHost: svc.example\r\nAuthorization: Digest username="jon", '
    b'realm="fuzz", nonce="1700000000:abc", uri="/digest/", response="0123", qop=auth, '
    b'nc=00000001, cnonce="x"\r\n\r\n',
    b'POST /json HTTP/1.1\r\nHost: svc.example\r\nContent-Type: application/json\r\n'
    b'Content-Length: 16\r\n\r\n{"a": [1, 2, 3]}',
    b'POST /json HTTP/1.1\r\nHost: svc.example\r\nContent-Type: application/json\r\n'
    b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n4\r\n: 1}\r\n0\r\n\r\n',
    b'GET /gz HTTP/1.1\r\nHost: svc.example\r\nAccept-Encoding: gzip;q=1, deflate\r\n\r\n',
    b'GET /cached?x=1 HTTP/1.1\r\nHost: svc.example\r\nIf-None-Match: "abc"\r\n\r\n',
    b'GET /static/digits.txt HTTP/1.1\r\nHost: svc.example\r\nRange: bytes=2-5\r\n'
    b'If-Range: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n',
    b'GET /static/digits.txt HTTP/1.1\r\nHost: svc.example\r\nRange: bytes=0-1,4-5,-2\r\n'
    b'Accept-Charset: iso-8859-1;q=0.5, utf-8\r\n\r\n',
    b'GET /go?to=/next HTTP/1.1\r\nHost: svc.example\r\n\r\n',
    b'GET /go?to=http%3A%2F%2Fa.example%2Fx HTTP/1.1\r\nHost: svc.example\r\n\r\n',
    b'GET /sess HTTP/1.1\r\nHost: svc.example\r\nCookie: session_id=0123456789abcdef\r\n\r\n',
    b'GET /whoami HTTP/1.1\r\nHost: svc.example\r\nX-Forwarded-For: 198.51.100.1\r\n'
    b'X-Forwarded-Host: www.svc.example\r\nX-Forwarded-Proto: https\r\n\r\n',
    b'POST /form HTTP/1.1\r\nHost: svc.example\r\nContent-Type: application/x-www-form-urlencoded'
    b'\r\nContent-Length: 7\r\n\r\na=1&b=2',
    b'POST /form HTTP/1.1\r\nHost: svc.example\r\nContent-Type: multipart/form-data; boundary=XX'
    b'\r\nContent-Length: 68\r\n\r\n--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
    b'--XX--\r\n',
]

# Pieces the mutations insert: framing, encodings, control characters, numbers.
TOKENS = [
    b'\r\n', b'\n', b'\r', b'\x00', b'\x0b', b'\x7f', b'\xff', b'\xc3\xa9', b'\xe2\x80\xa8', b' ',
    b'\t', b':', b';', b',', b'=', b'"', b'%', b'%0d%0a', b'%00', b'%2F', b'%E2%80%A8', b'../',
    b'//', b'?', b'#', b'*', b'-1', b'0', b'99999999999999999999', b'2540be400', b'\r\n\r\n',
    b'\r\n ' + MARKER + b': 1', b'%0d%0a' + MARKER + b':%201', b'\r\n' + MARKER + b': 1\r\n',
]
HEADER_LINES = [
    b'Transfer-Encoding: chunked', b'Transfer-Encoding: gzip, chunked', b'Transfer-Encoding: x',
    b'Content-Length: 5', b'Content-Length: -1', b'Content-Length: 1e3', b'Content-Length: ',
    b'Host: evil.example', b'Host: [::1', b'Host: a b', b'Expect: 100-continue',
    b'Range: bytes=0-0,0-0,0-0', b'Range: bytes=-0', b'Range: bytes=9999999999999999999-',
    b'Range: bytes=0-1,3-4,6-', b'Range: bytes=' + b'0-1,' * 9 + b'2-3', b'Accept-Charset: x;q=0',
    b'If-Modified-Since: Mon, 01 Jan 2024 00:00:0999999999999999999 GMT',
    b'Cookie: session_id=../../etc/passwd', b'Cookie: a=b; \x00=c', b'Connection: close, upgrade',
    b'Upgrade: websocket', b'Authorization: Basic !!!', b'Authorization: Digest username=',
    b'Accept-Encoding: gzip;q=nan', b'Accept-Charset: utf-16', b'Accept: */*;q=2',
    b'X-Forwarded-For: ' + b'1.1.1.1,' * 50, b'X-Forwarded-Host: evil.example\r\n' + MARKER + b': 1',
    b'Content-Type: multipart/form-data; boundary=', b'Content-Type: application/json; charset=x',
]


def mutate(rng: random.Random, base: bytes) -> bytes:
    """One to four random edits of ``base``."""
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        pos = rng.randint(0, len(data))
        if op == 0 and data:  # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a token
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and data:  # delete a run
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3:  # add a header line after the request line
            at = data.find(b'\r\n') + 2
            data[at:at] = rng.choice(HEADER_LINES) + b'\r\n'
        elif op == 4:  # duplicate a line
            lines = bytes(data).split(b'\r\n')
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = bytearray(b'\r\n'.join(lines))
        elif op == 5:  # replace a number with an odd one
            nums = list(re.finditer(rb'\d+', data))
            if nums:
                m = rng.choice(nums)
                data[m.start():m.end()] = rng.choice([b'0', b'-1', b'99999999999999999999',
                                                      b'1' * 30, b'00', b'+5'])
        elif op == 6:  # truncate
            del data[pos:]
        elif op == 7:  # pipeline a second request
            data += rng.choice([b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n',
                                b'GET /go?to=/smuggled HTTP/1.1\r\nHost: svc.example\r\n\r\n'])
        else:  # change the method or the version
            sp = data.find(b' ')
            if sp > 0:
                data[:sp] = rng.choice([b'GET', b'POST', b'PUT', b'DELETE', b'OPTIONS', b'PATCH',
                                        b'CONNECT', b'TRACE', b'get', b'G\x00T', b'BREW'])
            data = data.replace(b'HTTP/1.1', rng.choice(
                [b'HTTP/1.0', b'HTTP/2.0', b'HTTP/1.9', b'HTTP/0.9', b'HTTPS/1.1', b'HTTP/1.1']), 1)
    return bytes(data)


def exchange(addr: tuple, data: bytes) -> tuple[bytes, bool]:
    """Send ``data``, half-close, read until the server closes: (answer, in time)."""
    deadline = time.monotonic() + HANG
    with socket.create_connection(addr, timeout=HANG) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # NOTE: the server may answer and close before all is sent
        out = b''
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, False
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk


_STATUS = re.compile(rb'HTTP/1\.[01] (\d{3})[^\r\n]*\r\n')
_HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\x00-\x08\x0a-\x1f\x7f]*")
_LENGTH = re.compile(rb'(?im)^content-length:[ \t]*(\d+)[ \t]*$')


def responses(answer: bytes) -> list[tuple[int, list[bytes]]]:
    """``(status, header lines)`` of each response in ``answer``, in order.

    Bodies are skipped by their Content-Length; after a body without one
    (chunked, or to the close) nothing more can be told apart.
    """
    out = []
    pos = 0
    while True:
        m = _STATUS.match(answer, pos)
        if m is None:
            return out
        status = int(m.group(1))
        end = answer.find(b'\r\n\r\n', m.end() - 2)
        head = answer[m.end():end] if end >= m.end() else b''
        out.append((status, head.split(b'\r\n') if head else []))
        if end < 0:
            return out
        pos = end + 4
        if 100 <= status < 200 or status in (204, 304):
            continue
        length = _LENGTH.search(head)
        if length is None:
            return out
        pos += int(length.group(1))


def problems(answer: bytes) -> list[str]:
    """What is wrong with the responses in ``answer`` (empty: nothing)."""
    found = []
    for status, lines in responses(answer):
        if status >= 500 and status not in (501, 505):
            found.append('status %d' % status)
        for line in lines:
            if not _HEADER_LINE.fullmatch(line):
                found.append('bad header line %r' % line[:80])
            elif line.lower().startswith(MARKER.lower()):
                found.append('injected header %r' % line[:80])
    return found


class Tools:
    """A program with the tools switched on that the app itself does not use."""

    @cherrypy.expose
    def go(self, to='/'):
        raise cherrypy.HTTPRedirect(to)

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def json(self):
        return {'got': cherrypy.request.json}

    @cherrypy.expose
    def form(self, **kwargs):
        return 'form %s' % sorted(kwargs)

    @cherrypy.expose
    def gz(self):
        return 'zip me ' * 100

    @cherrypy.expose
    def cached(self, **kwargs):
        return 'cached %s' % sorted(kwargs)

    @cherrypy.expose
    def sess(self):
        n = cherrypy.session.get('n', 0) + 1
        cherrypy.session['n'] = n
        return str(n)

    @cherrypy.expose
    def whoami(self):
        req = cherrypy.request
        return '%s %s' % (req.remote.ip, req.base)

    class basic:  # noqa: N801
        @cherrypy.expose
        def index(self):
            return 'basic ' + cherrypy.request.login

    class digest:  # noqa: N801
        @cherrypy.expose
        def index(self):
            return 'digest ' + cherrypy.request.login


def tools_config(tmp: str) -> dict:
    static = os.path.join(tmp, 'static')
    os.makedirs(static, exist_ok=True)
    with open(os.path.join(static, 'digits.txt'), 'w') as f:
        f.write('0123456789' * 50)
    sessions = os.path.join(tmp, 'sessions')
    os.makedirs(sessions, exist_ok=True)
    users = {'jon': 'secret'}
    return {
        '/': {'tools.proxy.on': True, 'tools.proxy.local': 'X-Forwarded-Host',
              'request.allowed_hosts': ['svc.example', '.svc.example', 'localhost'],
              'request.show_tracebacks': False},
        '/basic': {'tools.auth_basic.on': True, 'tools.auth_basic.realm': 'fuzz',
                   'tools.auth_basic.checkpassword': auth_basic.checkpassword_dict(users)},
        '/digest': {'tools.auth_digest.on': True, 'tools.auth_digest.realm': 'fuzz',
                    'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(users),
                    'tools.auth_digest.key': 'fuzz-key'},
        '/gz': {'tools.gzip.on': True},
        '/cached': {'tools.caching.on': True},
        '/static': {'tools.staticdir.on': True, 'tools.staticdir.dir': static},
        '/sess': {'tools.sessions.on': True, 'tools.sessions.storage_type': 'file',
                  'tools.sessions.storage_path': sessions},
    }


def open_fds() -> int:
    return len(os.listdir('/proc/self/fd'))


def fuzz(server, corpus: list[bytes], seconds: float, seed: int, plain: bytes) -> Counter:
    """Mutate ``corpus`` for ``seconds``; fail with the seed and bytes on a finding."""
    rng = random.Random(seed)
    addr = server.bound_addr
    statuses: Counter = Counter()
    fds = open_fds()
    end = time.monotonic() + seconds
    case = 0
    while time.monotonic() < end:
        case += 1
        data = mutate(rng, rng.choice(corpus))
        answer, in_time = exchange(addr, data)
        found = problems(answer)
        if not in_time:
            found.append('no complete answer within %g s' % HANG)
        if case % 200 == 0 or found:
            alive, ok = exchange(addr, plain)
            if not (ok and alive.startswith(b'HTTP/1.1 200')):
                found.append('the server stopped answering: %r' % alive[:100])
        assert not found, ('FUZZ_SEED=%d case %d: %s\nrequest: %r\nanswer: %r'
                           % (seed, case, '; '.join(found), data, answer[:600]))
        for status, _ in responses(answer):
            statuses[status] += 1
        statuses['cases'] += 1
    # Nothing leaked: the connections are closed, the files shut.
    deadline = time.monotonic() + 10
    while open_fds() > fds + 10 and time.monotonic() < deadline:
        time.sleep(0.05)  # NOTE: polling a condition, the last workers closing
    assert open_fds() <= fds + 10, 'file descriptors leaked: %d -> %d' % (fds, open_fds())
    print('fuzz seed %d: %s' % (seed, dict(sorted(statuses.items(), key=str))))
    return statuses


SERVER_KEYS = {'head_timeout': 2, 'socket_timeout': 2, 'thread_pool': 8}


def test_fuzz_the_app_as_production_runs_it(memcached, monkeypatch):
    monkeypatch.setenv('MEMCACHED_SERVERS', memcached.address)  # NOTE: read per request
    cherrypy.config.update({'log.screen': False})
    app.build(os.path.join(ROOT, 'conf', 'prod.conf'))
    cherrypy.config.update({'log.screen': False, 'engine.drain_seconds': 0})
    with live(cherrypy.tree, **SERVER_KEYS) as server:
        visit = b'GET /api/visits HTTP/1.1\r\nHost: localhost\r\n\r\n'
        answer, _ = exchange(server.bound_addr, visit)
        assert answer.startswith(b'HTTP/1.1 200') and b'Set-Cookie: session_id=' in answer
        stats = fuzz(server, APP_REQUESTS, SECONDS / 2, SEED,
                     b'GET /healthcheck HTTP/1.1\r\nHost: localhost\r\n\r\n')
    assert stats['cases'] > 50 and stats[200] and stats[400]


def test_fuzz_a_program_with_the_other_tools(tmp_path):
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Tools(), '', tools_config(str(tmp_path)))
    with live(cherrypy.tree, **SERVER_KEYS) as server:
        stats = fuzz(server, TOOLS_REQUESTS, SECONDS / 2, SEED + 1,
                     b'GET /gz HTTP/1.1\r\nHost: svc.example\r\n\r\n')
    assert stats['cases'] > 50 and stats[200] and stats[400]


@pytest.mark.parametrize('answer, found', [
    (b'HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody', []),
    (b'HTTP/1.1 500 Internal Server Error\r\n\r\n', ['status 500']),
    (b'HTTP/1.1 501 Not Implemented\r\n\r\nHTTP/1.1 505 x\r\n\r\n', []),
    (b'HTTP/1.1 303 See Other\r\nLocation: /x\r\nX-Injected: 1\r\n\r\n',
     ["injected header b'X-Injected: 1'"]),
    (b'HTTP/1.1 200 OK\r\nA: b\x0bc\r\n\r\n', ["bad header line b'A: b\\x0bc'"]),
    (b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad\r\nContent-Length: 3\r\n\r\nabc'
     b'HTTP/1.1 502 Bad Gateway\r\n\r\n', ['status 502']),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nHTTP/1.1 500 xHTTP/1.1 200 OK\r\n\r\n', []),
])
def test_the_checks_find_what_they_look_for(answer, found):
    assert problems(answer) == found
