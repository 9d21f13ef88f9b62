"""The engine: start, block, stop, exit; channels; signals.

``engine.start()`` publishes ``start`` (which starts the HTTP server) and
``engine.block()`` waits in the main thread until the engine exits. SIGHUP
publishes ``graceful`` (log files are reopened). SIGTERM or SIGINT stop it
gracefully, on this timeline:

1. At once: ``draining`` turns true, so ``/readyz`` answers 503, and the
   ``drain`` channel is published: the server keeps accepting and serving,
   but every response says ``Connection: close``, so keep-alive clients and
   load balancers move their connections elsewhere without a race.
2. For ``engine.drain_seconds`` (0 unless configured): serving goes on, so
   a balancer that learns of the stop from its own health checks has time
   to see readiness fail. A second SIGTERM or SIGINT ends the drain early.
3. ``stop``: the listener closes, idle connections are closed, requests in
   flight finish within ``server.shutdown_timeout``; ``block()`` returns
   and the process exits 0.
"""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from . import _serving
from .logs import log

__all__ = ['Engine', 'states', 'ThreadManager']


class states:
    """Engine states, as CherryPy names them."""

    STOPPED = 'STOPPED'
    STARTING = 'STARTING'
    STARTED = 'STARTED'
    STOPPING = 'STOPPING'
    EXITING = 'EXITING'


class _Plugin:
    """A CherryPy plugin we accept but do not need (autoreload, ...).

    Programs set ``on`` and call ``subscribe``/``unsubscribe``; all are no-ops.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.on = False

    def subscribe(self) -> None:
        """Accepted for compatibility; does nothing."""

    def unsubscribe(self) -> None:
        """Accepted for compatibility; does nothing."""


class ThreadManager:
    """CherryPy's thread manager: ``start_thread`` and ``stop_thread`` for request threads.

    ``engine.subscribe('start_thread', fn)`` makes every worker thread publish
    ``start_thread(i)`` (``i`` = 1, 2, ...) before its first request, in that
    thread, so a program opens a per-thread connection there; ``stop_thread(i)``
    is published for each such thread when the engine stops (or on
    ``graceful``). Until something subscribes, requests pay nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Thread ident -> its index.
        self.threads: dict[int, int] = {}
        self._lock = threading.Lock()

    def acquire_thread(self) -> None:
        """Publish ``start_thread(i)`` if this thread has not served a request yet."""
        ident = threading.get_ident()
        if ident in self.threads:
            return
        with self._lock:
            i = self.threads[ident] = len(self.threads) + 1
        self.engine.publish('start_thread', i)

    def release_thread(self) -> None:
        """Publish ``stop_thread(i)`` for this thread (it will serve no more)."""
        with self._lock:
            i = self.threads.pop(threading.get_ident(), None)
        if i is not None:
            self.engine.publish('stop_thread', i)

    def stop(self) -> None:
        """Publish ``stop_thread(i)`` for every thread that started."""
        with self._lock:
            released, self.threads = sorted(self.threads.values()), {}
        for i in released:
            self.engine.publish('stop_thread', i)

    graceful = stop


class SignalHandler:
    """Installs SIGTERM/SIGINT (graceful stop) and SIGHUP (graceful) handlers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._old: dict[int, Any] = {}

    def subscribe(self) -> None:
        """Install the handlers (main thread only; elsewhere logs and skips)."""
        if threading.current_thread() is not threading.main_thread():
            log('signal handlers not installed: not in the main thread', 'ENGINE')
            return
        for sig, fn in ((signal.SIGTERM, self._stop), (signal.SIGINT, self._stop),
                        (signal.SIGHUP, self._graceful)):
            self._old[sig] = signal.signal(sig, fn)

    def unsubscribe(self) -> None:
        """Restore the handlers that were there before."""
        for sig, old in self._old.items():
            try:
                signal.signal(sig, old)
            except ValueError as ex:
                log('cannot restore handler for %s: %s' % (sig, ex), 'ENGINE')
        self._old.clear()

    def _stop(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.engine.draining:
            log('Caught signal %s while draining: stopping now' % name, 'ENGINE')
            self.engine.end_drain()
            return
        log('Caught signal %s: draining, then stopping' % name, 'ENGINE')
        self.engine.request_exit()

    def _graceful(self, signum: int, frame: Any) -> None:
        self.engine.publish('graceful')


class Engine:
    """``cherrypy.engine``: the process's lifecycle and its channels."""

    states = states

    def __init__(self) -> None:
        self.state = states.STOPPED
        self.listeners: dict[str, list[tuple[int, Callable]]] = {}
        self.draining = False
        self.drain_seconds = 0.0
        self._drain_cut = threading.Event()
        self._exit_requested = threading.Event()
        self._exited = threading.Event()
        self.signal_handler = SignalHandler(self)
        self.autoreload = _Plugin('autoreload')
        self.timeout_monitor = _Plugin('timeout_monitor')
        self.thread_manager = ThreadManager(self)

    # -- channels ----------------------------------------------------------
    def subscribe(self, channel: str, callback: Callable, priority: int | None = None) -> None:
        """Call ``callback`` when ``channel`` is published (lower priority first)."""
        if priority is None:
            priority = getattr(callback, 'priority', 50)
        subs = self.listeners.setdefault(channel, [])
        if not any(cb is callback or cb == callback for _p, cb in subs):
            subs.append((priority, callback))
            subs.sort(key=lambda x: x[0])
        if channel == 'start_thread' and _serving.thread_hook is None:
            _serving.thread_hook = self.thread_manager.acquire_thread
            self.subscribe('stop', self.thread_manager.stop, priority=70)
            self.subscribe('graceful', self.thread_manager.graceful)

    def unsubscribe(self, channel: str, callback: Callable) -> None:
        """Stop calling ``callback`` on ``channel`` (no error if it wasn't)."""
        subs = self.listeners.get(channel, [])
        self.listeners[channel] = [(p, cb) for p, cb in subs
                                   if not (cb is callback or cb == callback)]
        if channel == 'start_thread' and not self.listeners[channel]:
            _serving.thread_hook = None

    def publish(self, channel: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Call every subscriber of ``channel``; errors are logged and re-raised last."""
        out = []
        exc = None
        for _p, cb in list(self.listeners.get(channel, ())):
            try:
                out.append(cb(*args, **kwargs))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as ex:
                log('Error in %r listener %r' % (channel, cb), 'ENGINE', 40, traceback=True)
                exc = exc or ex
        if exc is not None and channel == 'start':
            raise exc
        return out

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Publish ``start``: config checks, logs, the HTTP server."""
        if self.state == states.STARTED:
            return
        self.state = states.STARTING
        self.draining = False
        self._drain_cut.clear()
        self._exited.clear()
        try:
            self.publish('start')
        except BaseException:
            log('Shutting down due to error in start listener', 'ENGINE', 40, traceback=True)
            self.stop()
            self.state = states.EXITING
            raise
        self.state = states.STARTED
        log('Bus STARTED', 'ENGINE')

    def stop(self) -> None:
        """Drain for ``drain_seconds``, then publish ``stop`` (in-flight requests finish)."""
        if self.state in (states.STOPPED, states.STOPPING):
            return
        self.state = states.STOPPING
        self.draining = True
        self.publish('drain')
        if self.drain_seconds > 0:
            log('Draining for %g s' % self.drain_seconds, 'ENGINE')
            # NOTE: an Event, not a sleep, so that end_drain() can cut it short.
            self._drain_cut.wait(self.drain_seconds)
        self.publish('stop')
        self.state = states.STOPPED
        log('Bus STOPPED', 'ENGINE')

    def graceful(self) -> None:
        """Publish ``graceful`` (reopen logs and the like)."""
        self.publish('graceful')

    def exit(self) -> None:
        """Stop and publish ``exit``; ``block()`` then returns."""
        if self.state == states.EXITING and self._exited.is_set():
            return
        self.stop()
        self.state = states.EXITING
        self.publish('exit')
        self._exit_requested.set()
        self._exited.set()
        log('Bus EXITED', 'ENGINE')

    def end_drain(self) -> None:
        """End a drain in progress now (a second SIGTERM or SIGINT does this)."""
        self._drain_cut.set()

    def request_exit(self) -> None:
        """Ask the blocking thread to exit (safe from a signal handler)."""
        self.draining = True
        self._exit_requested.set()

    def block(self, interval: float = 0.1) -> None:
        """Wait until the engine exits; a signal or ``exit()`` ends the wait."""
        try:
            while not self._exit_requested.wait(interval):
                pass
        except KeyboardInterrupt:
            log('Keyboard Interrupt: shutting down', 'ENGINE')
        self.exit()
        self._exit_requested.clear()

    def wait(self, state: str, interval: float = 0.1, timeout: float | None = None) -> None:
        """Wait until the engine reaches ``state``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.state != state:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError('engine did not reach %s' % state)
            time.sleep(interval)
