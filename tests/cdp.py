"""Headless Chromium driven over the DevTools protocol on a pipe, with no extra dependency.

``--remote-debugging-pipe`` makes Chromium read CDP messages (JSON, each
ended by a NUL byte) from its fd 3 and write its replies and events to its
fd 4. ``Chromium`` starts the browser with those two pipes, a fresh
profile in a temporary directory and every background service off, sends
commands with ``send`` (bounded by a timeout) and keeps the events it
reads in ``events``. ``close`` ends the browser by its process group id.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--remote-debugging-pipe']
_TRAMPOLINE = ('import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); '
               'os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); '
               'os.execv(sys.argv[3], sys.argv[3:])')


def find_chromium() -> str | None:
    """The ``chromium`` binary on PATH (Debian's package), or None."""
    return shutil.which('chromium')


class CDPError(RuntimeError):
    """A command answered with an error, or no answer in time."""


class Chromium:
    """One headless browser process and its DevTools pipe."""

    def __init__(self, binary: str, timeout: float = 30) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buf = b''
        self._profile = tempfile.mkdtemp(prefix='chromium-profile-')
        # Pipe ends the child gets as fds 3 and 4, first moved above 9 so
        # that mapping one cannot overwrite the other.
        to_child_r, self._to_child = _pipe_above(9)
        self._from_child, from_child_w = _pipe_above(9, write_end_for_child=True)
        # NOTE: a Python trampoline maps them to 3 and 4 and execs Chromium,
        # so the PID (and its process group, a new session) is the browser's.
        args = [binary, *FLAGS, '--user-data-dir=' + self._profile, 'about:blank']
        # Its log goes to a file: a pipe nobody reads could fill and stall it.
        self._log = tempfile.TemporaryFile()
        env = {k: v for k, v in os.environ.items() if k != 'COVERAGE_PROCESS_START'}
        self.proc = subprocess.Popen(
            [sys.executable, '-S', '-c', _TRAMPOLINE, str(to_child_r), str(from_child_w),
             *args], pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)

    # -- the protocol --------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Send one command and return its ``result``; events read meanwhile are kept."""
        self._next_id += 1
        msg: dict[str, Any] = {'id': self._next_id, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        data = json.dumps(msg).encode() + b'\0'
        while data:
            data = data[os.write(self._to_child, data):]
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for reply in self._read(deadline):
                if reply.get('id') == self._next_id:
                    if 'error' in reply:
                        raise CDPError('%s: %s' % (method, reply['error']))
                    return reply.get('result', {})
                if 'method' in reply:
                    self.events.append(reply)

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CDPError('no answer from Chromium in time')
        if not select.select([self._from_child], [], [], left)[0]:
            raise CDPError('no answer from Chromium in time')
        chunk = os.read(self._from_child, 1 << 20)
        if not chunk:
            raise CDPError('Chromium closed its DevTools pipe: %s' % self.stderr_tail())
        self._buf += chunk
        *done, self._buf = self._buf.split(b'\0')
        return [json.loads(m) for m in done]

    def new_page(self, url: str = 'about:blank') -> str:
        """Open a tab, attach to it (flat sessions) and return its session id."""
        target = self.send('Target.createTarget', {'url': url})['targetId']
        return self.send('Target.attachToTarget', {'targetId': target, 'flatten': True})[
            'sessionId']

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True,
                                           'awaitPromise': True}, session)
        if 'exceptionDetails' in r:
            raise CDPError('%s: %s' % (expression, r['exceptionDetails']))
        return r['result'].get('value')

    def wait_for(self, session: str, expression: str, timeout: float, what: str) -> Any:
        """Poll ``expression`` until it is truthy; fail with ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(session, expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError('%s (last value %r)' % (what, value))
            time.sleep(0.05)

    def stderr_tail(self) -> str:
        """The end of Chromium's output so far (for failure messages)."""
        self._log.seek(0)
        return self._log.read()[-2000:].decode('utf-8', 'replace')

    # -- the process ---------------------------------------------------------

    def close(self) -> None:
        """Ask the browser to close, then kill its process group by id; drop the profile."""
        try:
            if self.proc.poll() is None:
                try:
                    self.send('Browser.close', timeout=5)
                except (CDPError, OSError):
                    pass
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # renderers and helpers too
            except ProcessLookupError:
                pass
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self._log.close()
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)


def _pipe_above(low: int, write_end_for_child: bool = False) -> tuple[int, int]:
    """A pipe whose child's end is an inheritable-on-request fd above ``low``."""
    r, w = os.pipe()
    child, parent = (w, r) if write_end_for_child else (r, w)
    high = fcntl.fcntl(child, fcntl.F_DUPFD_CLOEXEC, low + 1)
    os.close(child)
    return (parent, high) if write_end_for_child else (high, parent)
