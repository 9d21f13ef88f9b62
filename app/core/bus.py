"""A publish/subscribe bus with CherryPy's states and channels.

``Bus`` is the generic part of ``cherrypy.engine``: named channels whose
listeners run in priority order (lower first), the ``start``/``stop``/
``graceful``/``exit`` transitions through ``states``, a ``log`` channel,
``wait`` and ``block``. ``Engine`` (engine.py) is a Bus that also drains,
handles signals and writes its log channel to the error log.

A plain Bus behaves as CherryPy's ``wspbus.Bus``: every failing listener is
logged and collected, and ``publish`` then raises ``ChannelFailures``
holding them all (the other listeners still run).
"""
from __future__ import annotations

import functools
import sys
import threading
import time
import traceback as _traceback
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ['Bus', 'ChannelFailures', 'SimplePlugin', 'states', 'CHANNELS']


class states:
    """Bus states, as CherryPy names them."""

    STOPPED = 'STOPPED'
    STARTING = 'STARTING'
    STARTED = 'STARTED'
    STOPPING = 'STOPPING'
    EXITING = 'EXITING'


#: The channels every bus has from the start (others appear on subscribe).
CHANNELS = ('start', 'stop', 'exit', 'graceful', 'log', 'main')


class ChannelFailures(Exception):
    """The exceptions that listeners of one ``publish`` raised."""

    delimiter = '\n'

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._exceptions: list[BaseException] = []

    def handle_exception(self) -> None:
        """Add the exception being handled now."""
        exc = sys.exc_info()[1]
        if exc is not None:
            self._exceptions.append(exc)

    def get_instances(self) -> list[BaseException]:
        """The collected exceptions, in the order they were raised."""
        return list(self._exceptions)

    def __str__(self) -> str:
        return self.delimiter.join(repr(e) for e in self._exceptions)

    def __bool__(self) -> bool:
        return bool(self._exceptions)


class Bus:
    """Channels, states and transitions (CherryPy's ``wspbus.Bus``)."""

    states = states

    def __init__(self) -> None:
        self.state = states.STOPPED
        #: ``{channel: [(priority, callback), ...]}``, kept sorted by priority.
        self.listeners: dict[str, list[tuple[int, Callable[..., Any]]]] = {
            ch: [] for ch in CHANNELS}

    # -- channels ----------------------------------------------------------
    def subscribe(self, channel: str, callback: Callable[..., Any] | None = None,
                  priority: int | None = None) -> Any:
        """Call ``callback`` when ``channel`` is published (lower priority first).

        ``priority`` defaults to ``callback.priority``, else 50. Without a
        callback this returns a decorator that subscribes the function.
        """
        if callback is None:
            return functools.partial(self.subscribe, channel, priority=priority)
        if priority is None:
            priority = getattr(callback, 'priority', 50)
        subs = self.listeners.setdefault(channel, [])
        if not any(cb is callback or cb == callback for _p, cb in subs):
            subs.append((priority, callback))
            subs.sort(key=lambda x: x[0])
        return callback

    def unsubscribe(self, channel: str, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback`` on ``channel`` (no error if it wasn't)."""
        subs = self.listeners.get(channel)
        if subs:
            subs[:] = [(p, cb) for p, cb in subs if not (cb is callback or cb == callback)]

    def publish(self, channel: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Call every listener of ``channel``; return their results in order.

        A listener that fails is logged (except on ``log`` itself) and the
        rest still run; then ``_failed`` decides what to raise.
        KeyboardInterrupt and SystemExit pass at once.
        """
        failures = ChannelFailures()
        out = []
        for _p, cb in list(self.listeners.get(channel, ())):
            try:
                out.append(cb(*args, **kwargs))
            except KeyboardInterrupt:
                raise
            except SystemExit as ex:
                if failures and ex.code == 0:
                    ex.code = 1  # NOTE: earlier listeners failed: not a clean exit
                raise
            except Exception:
                failures.handle_exception()
                if channel != 'log':
                    self.log('Error in %r listener %r' % (channel, cb), level=40,
                             traceback=True)
        if failures:
            self._failed(channel, failures)
        return out

    def _failed(self, channel: str, failures: ChannelFailures) -> None:
        """Listeners of ``channel`` failed: a plain bus raises them all."""
        raise failures

    def log(self, msg: str = '', level: int = 20, traceback: bool = False) -> None:
        """Publish ``msg`` on the ``log`` channel (with the current traceback if asked)."""
        if traceback:
            msg += '\n' + ''.join(_traceback.format_exception(*sys.exc_info()))
        self.publish('log', msg, level)

    # -- transitions -------------------------------------------------------
    def start(self) -> None:
        """Publish ``start``; if a listener fails, log it, exit and re-raise."""
        self.state = states.STARTING
        self.log('Bus STARTING')
        try:
            self.publish('start')
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as ex:
            self.log('Shutting down due to error in start listener:', level=40,
                     traceback=True)
            try:
                self.exit()
            except Exception:  # NOTE: the start failure is the one to report
                pass
            raise ex
        self.state = states.STARTED
        self.log('Bus STARTED')

    def stop(self) -> None:
        """Publish ``stop``."""
        self.state = states.STOPPING
        self.log('Bus STOPPING')
        self.publish('stop')
        self.state = states.STOPPED
        self.log('Bus STOPPED')

    def graceful(self) -> None:
        """Publish ``graceful`` (reopen logs and the like)."""
        self.log('Bus graceful')
        self.publish('graceful')

    def exit(self) -> None:
        """Stop, then publish ``exit``."""
        self.stop()
        self.state = states.EXITING
        self.log('Bus EXITING')
        self.publish('exit')
        self.log('Bus EXITED')

    def wait(self, state: str | Iterable[str], interval: float = 0.1,
             channel: str | None = None, timeout: float | None = None) -> None:
        """Wait until the bus is in ``state`` (or one of several).

        ``channel`` is published on every tick of ``interval`` seconds;
        past ``timeout`` seconds, TimeoutError.
        """
        wanted = (state,) if isinstance(state, str) else tuple(state)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.state not in wanted:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError('bus did not reach %s' % ' or '.join(wanted))
            time.sleep(interval)
            if channel:
                self.publish(channel)

    def block(self, interval: float = 0.1) -> None:
        """Wait for ``exit``, then for every other non-daemon thread to end.

        Publishes ``main`` every ``interval``; a KeyboardInterrupt exits.
        """
        try:
            self.wait(states.EXITING, interval=interval, channel='main')
        except KeyboardInterrupt:
            self.log('Keyboard Interrupt: shutting down bus')
            self.exit()
        except SystemExit:
            self.log('SystemExit raised: shutting down bus')
            self.exit()
            raise
        self.log('Waiting for child threads to terminate...')
        me = threading.current_thread()
        for t in threading.enumerate():
            if t is not me and t is not threading.main_thread() and not t.daemon:
                self.log('Waiting for thread %s.' % t.name)
                t.join()

    def start_with_callback(self, func: Callable[..., Any], args: Any = None,
                            kwargs: Any = None) -> threading.Thread:
        """Start the bus, then call ``func(*args, **kwargs)`` in a new thread."""
        args = args or ()
        kwargs = kwargs or {}

        def _callback() -> None:
            self.wait(states.STARTED)
            func(*args, **kwargs)
        t = threading.Thread(target=_callback, name='Bus callback %s' % (func,))
        t.start()
        self.start()
        return t


class SimplePlugin:
    """A plugin whose methods named after the bus's channels are its listeners."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def subscribe(self) -> None:
        """Subscribe every method named after one of the bus's channels."""
        for channel in list(self.bus.listeners):
            method = getattr(self, channel, None)
            if method is not None and callable(method):
                self.bus.subscribe(channel, method)

    def unsubscribe(self) -> None:
        """Undo ``subscribe``."""
        for channel in list(self.bus.listeners):
            method = getattr(self, channel, None)
            if method is not None and callable(method):
                self.bus.unsubscribe(channel, method)
