"""``python -m app.core``: CherryPy's cherryd runner (-c, -i, -p, -d), through real processes."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from helpers import ROOT, http_get, wait_until


def _conf(tmp_path) -> str:
    path = tmp_path / 'd.conf'
    path.write_text("[global]\nserver.socket_host = '127.0.0.1'\nserver.socket_port = 0\n"
                    "log.screen = False\nlog.error_file = %r\n" % (str(tmp_path / 'error.log'),))
    return str(path)


def _port(tmp_path) -> int:
    """The port the server bound, from its error log ("Serving on ...")."""
    log = tmp_path / 'error.log'

    def serving():
        m = log.exists() and re.search(r'Serving on http://127.0.0.1:(\d+)', log.read_text())
        return int(m.group(1)) if m else None
    return wait_until(serving, 20, 'cherryd logs the address it serves on')


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT, os.path.join(ROOT, 'tests', 'programs')])
    return env


def test_cherryd_serves_what_its_import_mounts_and_stops_on_sigterm(tmp_path):
    pidfile = tmp_path / 'app.pid'
    proc = subprocess.Popen([sys.executable, '-m', 'app.core', '-c', _conf(tmp_path),
                             '-i', 'cherryd_app', '-p', str(pidfile)], cwd=str(tmp_path),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = _port(tmp_path)
        assert http_get(port, '/pid') == (200, str(proc.pid).encode())
        assert pidfile.read_text().strip() == str(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not pidfile.exists()                 # removed at exit
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=5)


def test_cherryd_daemonizes_with_d_and_its_pid_file_names_the_daemon(tmp_path):
    pidfile = tmp_path / 'app.pid'
    first = subprocess.run([sys.executable, '-m', 'app.core', '-d', '-c', _conf(tmp_path),
                            '-i', 'cherryd_app', '-p', str(pidfile)], cwd=str(tmp_path),
                           env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30)
    assert first.returncode == 0                   # the launching process exits at once
    daemon_pid = None
    try:
        port = _port(tmp_path)
        status, body = http_get(port, '/pid')
        daemon_pid = int(body)
        assert status == 200 and daemon_pid != os.getpid()
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10,
                   'the daemon writes its pid file')
        assert int(pidfile.read_text()) == daemon_pid
        assert http_get(port, '/exit')[0] == 200
        wait_until(lambda: not pidfile.exists(), 20, 'the daemon exits and removes its pid file')
    finally:
        if daemon_pid is not None and pidfile.exists():
            os.kill(daemon_pid, signal.SIGKILL)


def test_cherryd_refuses_fastcgi_with_a_message():
    r = subprocess.run([sys.executable, '-m', 'app.core', '-f'], env=_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 2 and b'FastCGI, SCGI and CGI are not supported' in r.stderr
