"""Pre-created session ids for the session endpoints.

Both frameworks replace a session id they did not issue, so wrk can't
invent one, and without a cookie every request would create (and store) a
new session. Instead the harness primes ``n`` sessions per target and
endpoint: one GET without a cookie each, keeping the ``Set-Cookie`` id. Then
it checks that a request with the first id keeps that id and counts on.
wrk sends them with ``-H Cookie:`` (one id) or ``cookies.lua`` (several).
"""
from __future__ import annotations

import http.client
import http.cookies
import os

from apps import Endpoint
from servers import Server

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cookies.lua')
NAME = 'session_id'  # the cookie name both frameworks use by default


def _get(port: int, path: str, cookie: str | None) -> tuple[int, str, str | None]:
    """GET path; return (status, body text, session id from Set-Cookie or None)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request('GET', path, headers={'Cookie': cookie} if cookie else {})
        resp = conn.getresponse()
        body = resp.read().decode('utf-8', 'replace')
    finally:
        conn.close()
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    for header in resp.headers.get_all('Set-Cookie') or []:
        jar.load(header)
    return resp.status, body, jar[NAME].value if NAME in jar else None


def prime(server: Server, endpoint: Endpoint, n: int) -> tuple[list[str], list[str]]:
    """Create ``n`` sessions on ``endpoint``; return (Cookie values, problems)."""
    where = f'{server.target} GET {endpoint.path}'
    cookies: list[str] = []
    try:
        for _ in range(n):
            status, body, sid = _get(server.port, endpoint.path, None)
            if status != 200 or sid is None or body != '1':
                return [], [f'{where} (no cookie): status {status}, body {body[:80]!r}, '
                            f'{NAME} {sid!r}; want 200, a new {NAME} and body "1"']
            cookies.append(f'{NAME}={sid}')
        first = cookies[0]
        status, body, sid = _get(server.port, endpoint.path, first)
    except OSError as ex:
        return [], [f'{where}: {type(ex).__name__}: {ex}']
    if status != 200 or body != '2' or sid not in (None, first.split('=', 1)[1]):
        return [], [f'{where} (primed cookie): status {status}, body {body[:80]!r}, '
                    f'{NAME} {sid!r}; want 200, body "2" and the primed id kept']
    return cookies, []


def wrk_options(cookies: list[str], threads: int) -> tuple[tuple[tuple[str, str], ...],
                                                          str | None, list[str]]:
    """(extra headers, script, script args) that make wrk send ``cookies`` (if any)."""
    if not cookies:
        return (), None, []
    if len(cookies) == 1:
        return (('Cookie', cookies[0]),), None, []
    return (), LUA, [str(threads), *cookies]
