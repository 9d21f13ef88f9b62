"""The process's held session leases, renewed by one daemon thread (``leases``).

A ``MemcachedSession`` that holds its lock registers here; the thread calls
its ``renew()`` a quarter of ``lock_lease`` after it was taken or last
renewed, so the lease never runs out while its request lives.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from ..logs import log

if TYPE_CHECKING:
    from .session_memcached import MemcachedSession

__all__ = ['Leases', 'leases']


class Leases:
    """The process's held session leases, renewed by one daemon thread.

    Each lease is renewed a quarter of its length after it was taken or last
    renewed, so it never runs out while its request lives.
    """

    def __init__(self) -> None:
        self._held: weakref.WeakKeyDictionary[MemcachedSession, float] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: Leases renewed, and leases found lost, since start.
        self.renewed = 0
        self.lost = 0

    def hold(self, session: MemcachedSession) -> None:
        """Renew ``session``'s lease until ``drop``."""
        with self._lock:
            self._held[session] = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name='session-leases',
                                                daemon=True)
                self._thread.start()

    def drop(self, session: MemcachedSession) -> None:
        """Stop renewing ``session``'s lease."""
        with self._lock:
            self._held.pop(session, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                held = list(self._held.items())
            now = time.monotonic()
            wait = 0.25
            for session, since in held:
                due = since + session.lock_lease / 4
                if due > now:
                    wait = min(wait, due - now)
                    continue
                try:
                    ok = session.renew()
                except Exception as ex:  # NOTE: never let the renewer die
                    log('session lease renewal failed: %r' % (ex,), 'SESSION', logging.WARNING)
                    ok = True
                with self._lock:
                    if session in self._held:
                        self._held[session] = time.monotonic()
                        if not ok:
                            self._held.pop(session, None)
                if ok:
                    self.renewed += 1
                else:
                    self.lost += 1
            self._wake.wait(max(wait, 0.01))


leases = Leases()
