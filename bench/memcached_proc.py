"""A private memcached for the session-mc endpoint, started and stopped by PID.

    mc = memcached_proc.start()      # None (with a reason) if the binary is missing
    ...  mc.address                  # '127.0.0.1:<free port>'
    memcached_proc.stop(mc)

It listens on a free loopback port with UDP off (``-U 0``), never on a port
another memcached may be using.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

from servers import terminate

BINARY = '/usr/bin/memcached'


class MemcachedError(RuntimeError):
    """memcached is installed but did not start listening."""


@dataclass
class Memcached:
    """One running memcached process."""

    proc: subprocess.Popen
    port: int

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, as ``tools.sessions.servers`` takes it."""
        return f'127.0.0.1:{self.port}'


def binary() -> str | None:
    """The memcached executable: /usr/bin/memcached, else one on PATH, else None."""
    return BINARY if os.access(BINARY, os.X_OK) else shutil.which('memcached')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2):
            return True
    except OSError:
        return False


def start(memory_mb: int = 64, wait: float = 10) -> Memcached:
    """Start memcached on a free loopback port and wait until it accepts connections."""
    exe = binary()
    if exe is None:
        raise FileNotFoundError('memcached not installed (apt-get install memcached)')
    port = _free_port()
    cmd = [exe, '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-m', str(memory_mb)]
    if os.geteuid() == 0:
        cmd += ['-u', 'root']  # memcached refuses to run as root without -u
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    mc = Memcached(proc, port)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors='replace') if proc.stderr else ''
            raise MemcachedError(f'memcached exited {proc.returncode}: {err.strip()}')
        if _listening(port):
            return mc
        time.sleep(0.05)
    stop(mc)
    raise MemcachedError(f'memcached did not listen on port {port} within {wait:.0f}s')


def stop(mc: Memcached, wait: float = 5) -> None:
    """SIGTERM memcached by its PID; SIGKILL it if it lingers."""
    terminate(mc.proc, wait)
    if mc.proc.stderr:
        mc.proc.stderr.close()
