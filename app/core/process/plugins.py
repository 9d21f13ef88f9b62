"""``cherrypy.process.plugins``: engine plugins under CherryPy's names.

A plugin subscribes its methods named after channels (``start``, ``stop``,
``graceful``, ``exit``, ...) to a bus. Mapping:

- ``SignalHandler``: the engine's own (``app.core.engine.SignalHandler``):
  SIGTERM/SIGINT drain and stop, SIGHUP is ``graceful``;
- ``ThreadManager``: the engine's (``engine.thread_manager``), which the
  server feeds: ``start_thread``/``stop_thread`` for request threads;
- ``SimplePlugin``: ``app.core.bus``'s;
- ``BackgroundTask``, ``Monitor``, ``PIDFile``, ``Daemonizer``: small
  implementations here (``python -m cherrypy -d`` daemonizes with the last);
- ``Autoreloader``: a Monitor that notices a changed module file and exits
  the engine (a process manager starts it again); the core has no re-exec.

Not carried: ``DropPrivileges`` (a container runs the process as its user).
"""
from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..bus import Bus, SimplePlugin
from ..engine import SignalHandler, ThreadManager

__all__ = ['SimplePlugin', 'SignalHandler', 'BackgroundTask', 'Monitor', 'PIDFile',
           'Autoreloader', 'ThreadManager', 'Daemonizer']


class BackgroundTask(threading.Thread):
    """A daemon thread that calls ``function`` every ``interval`` seconds until cancelled.

    A failing call is logged on ``bus`` (when given) and ends the task.
    """

    def __init__(self, interval: float, function: Callable[..., Any], args: Iterable[Any] = (),
                 kwargs: dict[str, Any] | None = None, bus: Bus | None = None) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.bus = bus
        self.running = False
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop after the current call (or at once, if waiting)."""
        self.running = False
        self._cancelled.set()

    def run(self) -> None:
        """Call ``function`` every ``interval`` seconds until cancelled."""
        self.running = True
        while not self._cancelled.wait(self.interval):
            try:
                self.function(*self.args, **self.kwargs)
            except Exception:
                if self.bus is not None:
                    self.bus.log('Error in background task %r.' % (self.name,), level=40,
                                 traceback=True)
                self.running = False
                raise


class Monitor(SimplePlugin):
    """Calls ``callback`` every ``frequency`` seconds while the bus is started."""

    def __init__(self, bus: Bus, callback: Callable[[], Any], frequency: float = 60,
                 name: str | None = None) -> None:
        super().__init__(bus)
        self.callback = callback
        self.frequency = frequency
        self.thread: BackgroundTask | None = None
        self.name = name

    def start(self) -> None:
        """Start the thread (none when ``frequency`` is not positive)."""
        if self.frequency > 0 and self.thread is None:
            name = self.name or self.__class__.__name__
            self.thread = BackgroundTask(self.frequency, self.callback, bus=self.bus)
            self.thread.name = name
            self.thread.start()
            self.bus.log('Started monitor thread %r.' % name)
    start.priority = 70  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        t = self.thread
        self.thread = None
        if t is not None:
            t.cancel()
            if t is not threading.current_thread():
                t.join()
            self.bus.log('Stopped thread %r.' % t.name)

    def graceful(self) -> None:
        """Restart the thread."""
        self.stop()
        self.start()


class PIDFile(SimplePlugin):
    """Writes the process id to ``pidfile`` at start and removes it at exit."""

    def __init__(self, bus: Bus, pidfile: str) -> None:
        super().__init__(bus)
        self.pidfile = pidfile
        self.finalized = False

    def start(self) -> None:
        """Write the pid file (once)."""
        if self.finalized:
            self.bus.log('PID %r already written to %r.' % (os.getpid(), self.pidfile))
            return
        with open(self.pidfile, 'w') as f:
            f.write('%d\n' % os.getpid())
        self.bus.log('PID %r written to %r.' % (os.getpid(), self.pidfile))
        self.finalized = True
    start.priority = 70  # type: ignore[attr-defined]

    def exit(self) -> None:
        """Remove the pid file."""
        try:
            os.remove(self.pidfile)
            self.bus.log('PID file removed: %r.' % (self.pidfile,))
        except FileNotFoundError:
            pass


class Daemonizer(SimplePlugin):
    """Detach from the terminal at ``start``: fork twice, a new session, stdio to ``/dev/null``.

    Runs before the pid file is written and the server binds (priority 65),
    so both are the daemon's. The first process exits 0 once the first fork
    succeeds; a later failure shows only in the daemon's logs.
    """

    def __init__(self, bus: Bus, stdin: str = '/dev/null', stdout: str = '/dev/null',
                 stderr: str = '/dev/null') -> None:
        super().__init__(bus)
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.finalized = False

    def start(self) -> None:
        """Daemonize (once)."""
        if self.finalized:
            self.bus.log('Already daemonized.')
            return
        sys.stdout.flush()
        sys.stderr.flush()
        for n in (1, 2):
            if os.fork() > 0:
                os._exit(0)  # NOTE: the parent: nothing of its own to clean up
            if n == 1:
                os.setsid()
        os.umask(0o022)
        for name, mode, stream in ((self.stdin, os.O_RDONLY, sys.stdin),
                                   (self.stdout, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                    sys.stdout),
                                   (self.stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                    sys.stderr)):
            fd = os.open(name, mode, 0o644)
            os.dup2(fd, stream.fileno())
            os.close(fd)
        self.bus.log('Daemonized to PID: %d' % os.getpid())
        self.finalized = True
    start.priority = 65  # type: ignore[attr-defined]


class Autoreloader(Monitor):
    """Exits the engine when a loaded module's file changes (``engine.autoreload``).

    ``files`` are watched besides the modules' files; ``match`` is a regular
    expression module names must match.
    """

    def __init__(self, bus: Bus, frequency: float = 1, match: str = '.*') -> None:
        self.mtimes: dict[str, float | None] = {}
        self.files: set[str] = set()
        self.match = match
        super().__init__(bus, self.run, frequency)

    def start(self) -> None:
        """Start watching (remembers the files' times at the first check)."""
        self.mtimes = {}
        super().start()
    start.priority = 70  # type: ignore[attr-defined]

    @classmethod
    def _file_for_module(cls, module: Any) -> str | None:
        """The source file of ``module``, or None."""
        return cls._file_for_file_module(module)

    @staticmethod
    def _file_for_file_module(module: Any) -> str | None:
        """The file of a module loaded from one (None when ``__file__`` is None)."""
        f = getattr(module, '__file__', None)
        if not f:
            return None
        if f.endswith(('.pyc', '.pyo')) and os.path.exists(f[:-1]):
            return f[:-1]
        return f

    def sysfiles(self) -> set[str]:
        """The files of every loaded module whose name matches ``match``."""
        pattern = re.compile(self.match)
        found = set()
        for name, module in list(sys.modules.items()):
            if pattern.match(name):
                f = self._file_for_module(module)
                if f:
                    found.add(f)
        return found

    def run(self) -> None:
        """One check: exit the engine when a file's modification time changed."""
        for filename in self.sysfiles() | self.files:
            try:
                mtime: float | None = os.stat(filename).st_mtime
            except OSError:
                mtime = None
            if filename not in self.mtimes:
                self.mtimes[filename] = mtime
            elif mtime != self.mtimes[filename]:
                self.bus.log('%s changed: exiting so that the process is restarted.'
                             % filename)
                if self.thread is not None:
                    self.thread.cancel()
                threading.Thread(target=self.bus.exit, daemon=True).start()
                return
