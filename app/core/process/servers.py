"""``cherrypy.process.servers``: waiting for a port to be free or taken.

The HTTP server itself is ``cherrypy.server`` (``app.core.server``); these
helpers are what CherryPy programs and tests call around it.
"""
from __future__ import annotations

import contextlib
import socket
import time
import warnings
from collections.abc import Iterator

__all__ = ['wait_for_free_port', 'wait_for_occupied_port', 'client_host']

#: Hosts that mean "every interface": a client connects to loopback instead.
INADDR_ANY = ('0.0.0.0', '::', '::0', '::0.0.0.0', '')


def client_host(server_host: str) -> str:
    """The host a client on this machine connects to for ``server_host``."""
    if server_host in ('0.0.0.0', ''):
        return '127.0.0.1'
    if server_host in ('::', '::0', '::0.0.0.0'):
        return '::1'
    return server_host


def _occupied(host: str, port: int) -> bool:
    try:
        with socket.create_connection((client_host(host), port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_free_port(host: str, port: int, timeout: float | None = None) -> None:
    """Wait until nothing listens on ``host:port``; OSError after ``timeout`` s."""
    deadline = time.monotonic() + (5.0 if timeout is None else timeout)
    while _occupied(host, port):
        if time.monotonic() > deadline:
            raise OSError('Port %r not free on %r' % (port, host))
        time.sleep(0.1)


def wait_for_occupied_port(host: str, port: int, timeout: float | None = None) -> None:
    """Wait until something listens on ``host:port``.

    For a wildcard host a timeout only warns: the server may be bound on an
    interface the loopback check cannot see.
    """
    with _safe_wait(host, port):
        deadline = time.monotonic() + (5.0 if timeout is None else timeout)
        while not _occupied(host, port):
            if time.monotonic() > deadline:
                raise OSError('Port %r not bound on %r' % (port, host))
            time.sleep(0.1)


@contextlib.contextmanager
def _safe_wait(host: str, port: int) -> Iterator[None]:
    """Turn a failed wait on a wildcard host into a warning (other hosts: re-raise)."""
    try:
        yield
    except OSError:
        if host not in INADDR_ANY:
            raise
        warnings.warn('Unable to verify that the server is bound on %r' % port,
                      stacklevel=3)
