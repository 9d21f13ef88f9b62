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
from typing import Any

from .bus import Bus, ChannelFailures, SimplePlugin, states
from .logs import log as error_log

__all__ = ['Engine', 'SignalHandler', 'ThreadManager', 'states']


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


class SignalHandler:
    """Installs SIGTERM/SIGINT (graceful stop) and SIGHUP (graceful) handlers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._old: dict[int, Any] = {}

    def subscribe(self) -> None:
        """Install the handlers (main thread only; elsewhere logs and skips)."""
        if threading.current_thread() is not threading.main_thread():
            error_log('signal handlers not installed: not in the main thread', 'ENGINE')
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
                error_log('cannot restore handler for %s: %s' % (sig, ex), 'ENGINE')
        self._old.clear()

    def _stop(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.engine.draining:
            error_log('Caught signal %s while draining: stopping now' % name, 'ENGINE')
            self.engine.end_drain()
            return
        error_log('Caught signal %s: draining, then stopping' % name, 'ENGINE')
        self.engine.request_exit()

    def _graceful(self, signum: int, frame: Any) -> None:
        self.engine.publish('graceful')


class ThreadManager(SimplePlugin):
    """``engine.thread_manager``: ``start_thread(i)``/``stop_thread(i)`` for request threads.

    The server publishes ``acquire_thread`` before a request on a thread
    not seen since the last ``stop``/``graceful``; this publishes
    ``start_thread`` with the thread's number (1, 2, ...), and
    ``stop_thread`` for each at ``stop`` and ``graceful``, as CherryPy's
    plugin does (the per-thread database connection pattern).
    """

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus)
        #: ``{thread ident: thread number}``.
        self.threads: dict[int, int] = {}
        self._lock = threading.Lock()
        for channel in ('acquire_thread', 'start_thread', 'release_thread', 'stop_thread'):
            bus.listeners.setdefault(channel, [])

    def acquire_thread(self) -> None:
        """Publish ``start_thread(i)`` the first time the current thread calls this."""
        ident = threading.get_ident()
        with self._lock:
            if ident in self.threads:
                return
            i = self.threads[ident] = len(self.threads) + 1
        self.bus.publish('start_thread', i)

    def release_thread(self) -> None:
        """Publish ``stop_thread(i)`` for the current thread, if it was acquired."""
        with self._lock:
            i = self.threads.pop(threading.get_ident(), None)
        if i is not None:
            self.bus.publish('stop_thread', i)

    def stop(self) -> None:
        """Publish ``stop_thread(i)`` for every acquired thread."""
        with self._lock:
            numbers = list(self.threads.values())
            self.threads.clear()
        for i in numbers:
            self.bus.publish('stop_thread', i)

    graceful = stop


class Engine(Bus):
    """``cherrypy.engine``: the process's lifecycle and its channels.

    A ``Bus`` whose ``log`` channel is the error log (context ``ENGINE``)
    and whose failing listeners are logged, not raised, except on
    ``start``: the first failure there is raised and the start aborted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.draining = False
        self.drain_seconds = 0.0
        self._drain_cut = threading.Event()
        self._exit_requested = threading.Event()
        self._exited = threading.Event()
        self.signal_handler = SignalHandler(self)
        self.thread_manager = ThreadManager(self)
        self.thread_manager.subscribe()
        self.autoreload = _Plugin('autoreload')
        self.timeout_monitor = _Plugin('timeout_monitor')

    def _failed(self, channel: str, failures: ChannelFailures) -> None:
        """Failures were logged as they happened; only ``start`` raises (the first)."""
        if channel == 'start':
            raise failures.get_instances()[0]

    def log(self, msg: str = '', level: int = 20, traceback: bool = False) -> None:
        """Write ``msg`` to the error log (context ENGINE) and the ``log`` channel."""
        error_log(msg, 'ENGINE', level, traceback=traceback)
        if self.listeners.get('log'):
            super().log(msg, level, traceback)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Publish ``start``: config checks, logs, the HTTP server."""
        if self.state == states.STARTED:
            return
        self.state = states.STARTING
        self.draining = False
        self._drain_cut.clear()
        self._exited.clear()
        self.log('Bus STARTING')
        try:
            self.publish('start')
        except BaseException:
            self.log('Shutting down due to error in start listener', 40, traceback=True)
            self.stop()
            self.state = states.EXITING
            raise
        self.state = states.STARTED
        self.log('Bus STARTED')

    def stop(self) -> None:
        """Drain for ``drain_seconds``, then publish ``stop`` (in-flight requests finish)."""
        if self.state in (states.STOPPED, states.STOPPING):
            return
        self.state = states.STOPPING
        self.log('Bus STOPPING')
        self.draining = True
        self.publish('drain')
        if self.drain_seconds > 0:
            self.log('Draining for %g s' % self.drain_seconds)
            # NOTE: an Event, not a sleep, so that end_drain() can cut it short.
            self._drain_cut.wait(self.drain_seconds)
        self.publish('stop')
        self.state = states.STOPPED
        self.log('Bus STOPPED')

    def exit(self) -> None:
        """Stop and publish ``exit``; ``block()`` then returns."""
        if self.state == states.EXITING and self._exited.is_set():
            return
        self.stop()
        self.state = states.EXITING
        self.log('Bus EXITING')
        self.publish('exit')
        self._exit_requested.set()
        self._exited.set()
        self.log('Bus EXITED')

    def end_drain(self) -> None:
        """End a drain in progress now (a second SIGTERM or SIGINT does this)."""
        self._drain_cut.set()

    def request_exit(self) -> None:
        """Ask the blocking thread to exit (safe from a signal handler)."""
        self.draining = True
        self._exit_requested.set()

    def block(self, interval: float = 0.1) -> None:
        """Wait until the engine exits; a signal or ``exit()`` ends the wait.

        ``main`` is published on every tick of ``interval`` seconds.
        """
        try:
            while not self._exit_requested.wait(interval):
                if self.listeners.get('main'):
                    self.publish('main')
        except KeyboardInterrupt:
            self.log('Keyboard Interrupt: shutting down')
        self.exit()
        self._exit_requested.clear()
