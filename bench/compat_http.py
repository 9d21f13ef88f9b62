"""The compat harness's plumbing: child servers, and an HTTP client with cookie jars.

``start``/``wait_ready``/``stop`` run ``compat_serve.py`` for one program and
framework; ``run_step`` sends one ``compat_cases.Step`` (answering a Digest
challenge when the step asks for it) and keeps the cookies it is given.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import signal
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from compat_cases import Step
from servers import HERE, ROOT

SERVE = os.path.join(HERE, 'compat_serve.py')


@dataclass
class Answer:
    """One response: status, headers in order, body (gunzipped), raw body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    error: str = ''

    def get_all(self, name: str) -> list[str]:
        """Every value of the header ``name`` (lower case), in order."""
        return [v for k, v in self.headers if k.lower() == name]


@dataclass
class Target:
    """A program served by one framework in a child process."""

    framework: str
    proc: subprocess.Popen
    log: tempfile._TemporaryFileWrapper
    port: int = 0
    jars: dict[str, dict[str, str]] = field(default_factory=dict)

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return ''.join(f.readlines()[-lines:])


def start(python: str, framework: str, program: str) -> Target:
    """Start compat_serve.py for ``program`` under ``framework`` (not yet waited for)."""
    log = tempfile.NamedTemporaryFile('w+', prefix='compat-%s-' % framework, suffix='.log')
    env = {k: v for k, v in os.environ.items()  # app.core reads these over config
           if k not in ('PORT', 'HOST', 'MEMCACHED_SERVERS') and not k.startswith('APP_')}
    env.update(PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE='1')
    proc = subprocess.Popen([python, SERVE, '--framework', framework, program],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=ROOT)
    return Target(framework, proc, log)


def wait_ready(t: Target, timeout: float = 30) -> str:
    """Wait for the READY line; return '' or why the target is not serving."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(t.log.name) as f:
            ready = [ln for ln in f if ln.startswith('READY ')]
        if ready:
            t.port = int(ready[0].split()[1])
            return ''
        if t.proc.poll() is not None:
            return 'exited %s:\n%s' % (t.proc.returncode, t.log_tail())
        time.sleep(0.05)
    return 'not listening after %.0f s:\n%s' % (timeout, t.log_tail())


def stop(t: Target) -> None:
    """SIGTERM the child by its PID; SIGKILL it if it lingers."""
    if t.proc.poll() is None:
        t.proc.send_signal(signal.SIGTERM)
        try:
            t.proc.wait(15)
        except subprocess.TimeoutExpired:
            t.proc.kill()
            t.proc.wait()
    t.log.close()


# -- client -------------------------------------------------------------------
def fetch(t: Target, step: Step, extra: tuple[tuple[str, str], ...] = ()) -> Answer:
    """Send one request on a fresh connection; carry cookies in the step's jar."""
    headers = dict(step.headers + extra)
    jar = t.jars.setdefault(step.jar, {})
    if 'Cookie' not in headers and jar:
        headers['Cookie'] = '; '.join('%s=%s' % kv for kv in jar.items())
    conn = http.client.HTTPConnection('127.0.0.1', t.port, timeout=10)
    try:
        conn.request(step.method, step.path, body=step.body or None, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = resp.getheaders()
    except (OSError, http.client.HTTPException) as ex:
        return Answer(0, [], b'', b'', '%s: %s' % (type(ex).__name__, ex))
    finally:
        conn.close()
    ans = Answer(resp.status, hdrs, raw, raw)
    if 'gzip' in ans.get_all('content-encoding') and raw:
        try:
            ans.body = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as ex:
            ans.body = b'<bad gzip: %s>' % str(ex).encode()
    if 'Cookie' not in dict(step.headers):
        for value in ans.get_all('set-cookie'):
            name, _, val = value.split(';')[0].strip().partition('=')
            if cookie_expired(value):
                jar.pop(name, None)
            else:
                jar[name] = val
    return ans


def cookie_expired(value: str) -> bool:
    attrs = {k.strip().lower(): v.strip() for k, _, v in
             (a.partition('=') for a in value.split(';')[1:])}
    if attrs.get('max-age') == '0':
        return True
    try:
        return 'expires' in attrs and parsedate_to_datetime(attrs['expires']).timestamp() \
            <= time.time() + 1
    except (TypeError, ValueError):
        return False


def digest_authorization(step: Step, challenge: str) -> tuple[tuple[str, str], ...]:
    """The Authorization header answering a Digest challenge (RFC 2617, qop=auth)."""
    params = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge)}
    user, password = step.digest  # type: ignore[misc]
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5('%s:%s:%s' % (user, params['realm'], password))
    ha2 = md5('%s:%s' % (step.method, step.path))
    nc, cnonce = '00000001', '0a4f113b'
    resp = md5('%s:%s:%s:%s:auth:%s' % (ha1, params['nonce'], nc, cnonce, ha2))
    value = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, '
             'response="%s", qop=auth, nc=%s, cnonce="%s"'
             % (user, params['realm'], params['nonce'], step.path, resp, nc, cnonce))
    return (('Authorization', value),)


def run_step(t: Target, step: Step) -> Answer:
    ans = fetch(t, step)
    if step.digest and ans.status == 401:
        challenge = ' '.join(ans.get_all('www-authenticate'))
        if challenge.startswith('Digest'):
            ans = fetch(t, step, digest_authorization(step, challenge))
    return ans
