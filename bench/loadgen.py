"""Run ``wrk`` against one URL and parse what it prints.

Parsed from ``wrk --latency`` output: ``Requests/sec``, the 50% and 99% lines
of ``Latency Distribution`` (units us, ms, s, m, h; returned in ms), the
request count, ``Non-2xx or 3xx responses`` and ``Socket errors``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any, Sequence

_UNIT_MS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3, 'h': 3600e3}
_RPS = re.compile(r'^Requests/sec:\s+([\d.]+)\s*$', re.M)
_REQUESTS = re.compile(r'^\s*(\d+) requests in ', re.M)
_NON2XX = re.compile(r'^\s*Non-2xx or 3xx responses:\s+(\d+)', re.M)
_SOCKET = re.compile(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)')


class WrkError(RuntimeError):
    """wrk failed, or printed something this parser does not understand."""


@dataclass
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and error counts."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]

    @property
    def errors(self) -> int:
        """Non-2xx/3xx responses plus socket errors of every kind."""
        return self.non_2xx + sum(self.socket_errors.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON dump."""
        return asdict(self)


def to_ms(text: str) -> float:
    """Convert a wrk duration such as ``180.00us`` or ``1.02s`` to ms."""
    m = re.fullmatch(r'([\d.]+)(us|ms|s|m|h)', text.strip())
    if not m:
        raise WrkError(f'unknown wrk duration {text!r}')
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def percentile(output: str, pct: str) -> float:
    """Return the ``pct`` line (e.g. ``'99%'``) of the Latency Distribution in ms."""
    _, sep, dist = output.partition('Latency Distribution')
    m = re.search(rf'^\s*{re.escape(pct)}\s+(\S+)\s*$', dist, re.M) if sep else None
    if not m:
        raise WrkError(f'no {pct} line in wrk Latency Distribution')
    return to_ms(m.group(1))


def parse(output: str) -> WrkResult:
    """Parse the text that ``wrk --latency`` prints for one run."""
    rps, requests = _RPS.search(output), _REQUESTS.search(output)
    if not rps or not requests:
        raise WrkError('no "Requests/sec" or request count in wrk output:\n' + output)
    non2xx, sock = _NON2XX.search(output), _SOCKET.search(output)
    kinds = ('connect', 'read', 'write', 'timeout')
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=percentile(output, '50%'),
        p99_ms=percentile(output, '99%'),
        requests=int(requests.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors={k: int(v) for k, v in zip(kinds, sock.groups())} if sock else {},
    )


def run(url: str, connections: int, duration: float, threads: int = 2,
        headers: tuple[tuple[str, str], ...] = (), wrk: str = 'wrk',
        script: str | None = None, script_args: Sequence[str] = (),
        cpu: str | None = None) -> WrkResult:
    """Load ``url`` for ``duration`` seconds with ``connections`` connections.

    wrk uses ``min(threads, connections)`` threads: -c1 -t1, -c50 -t2. A Lua
    ``script`` gets ``script_args`` (after ``--``). The run is bounded: wrk
    is killed if it outlives its duration by 30 s.
    """
    exe = shutil.which(wrk)
    if not exe:
        raise WrkError(f'{wrk} not found: install it with `apt-get install wrk`')
    cmd = [exe, f'-t{min(threads, connections)}', f'-c{connections}',
           f'-d{max(1, round(duration))}s', '--latency']
    for name, value in headers:
        cmd += ['-H', f'{name}: {value}']
    if script:
        cmd += ['-s', script]
    cmd.append(url)
    if script_args:
        cmd += ['--', *script_args]
    if cpu is not None:
        cmd = ['taskset', '-c', cpu, *cmd]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    except subprocess.TimeoutExpired as ex:
        raise WrkError(f'wrk hung: {" ".join(cmd)}') from ex
    if done.returncode != 0:
        raise WrkError(f'wrk exited {done.returncode}: {(done.stderr or done.stdout).strip()}'
                       f' (command: {" ".join(cmd)})')
    return parse(done.stdout)
