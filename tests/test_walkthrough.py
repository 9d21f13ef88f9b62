"""The README's "Your first endpoint", done to a copy of the project, step by step.

Each step is a code block after a ``<!-- walkthrough: ... -->`` comment:

- ``create PATH``: a new file with the block;
- ``in PATH, after the line "LINE"`` / ``before the line "LINE"``: the
  block inserted there (the line must occur exactly once);
- ``append to PATH``: the block added at the end;
- ``run against ./run.sh``: ``$ curl ...`` lines sent to the served copy,
  each answer compared with the line after it.

Then the walkthrough's own test file runs in the copy, and the copy is
served as ``./run.sh`` serves it, for the curl lines.
"""
from __future__ import annotations

import http.client as httpclient
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from helpers import ROOT, wait_for_output

STEP = re.compile(r'<!-- walkthrough: (.+?) -->\n```[a-z]*\n(.*?)```\n', re.S)
PLACE = re.compile(r'in (\S+), (after|before) the line "(.*)"\Z')


def steps() -> list[tuple[str, str]]:
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    start = text.index('## Your first endpoint')
    end = text.index('\n## ', start + 1)
    return STEP.findall(text[start:end])


def apply(root: str, what: str, block: str) -> None:
    """Do one step to the copy at ``root``."""
    m = PLACE.match(what)
    if what.startswith('create '):
        path = os.path.join(root, what[len('create '):])
        assert not os.path.exists(path), '%s exists already' % (path,)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(block)
    elif what.startswith('append to '):
        with open(os.path.join(root, what[len('append to '):]), 'a', encoding='utf-8') as f:
            f.write('\n' + block)
    elif m:
        path, where, line = os.path.join(root, m.group(1)), m.group(2), m.group(3)
        with open(path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        assert lines.count(line) == 1, '%r is not exactly once in %s' % (line, path)
        i = lines.index(line) + (1 if where == 'after' else 0)
        lines[i:i] = block.rstrip('\n').split('\n')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines))
    else:
        raise AssertionError('unknown walkthrough step %r' % (what,))


def curl(port: int, command: str) -> str:
    """Send what a ``curl -s [-X M] URL [-H h] [-d body]`` line sends; the answer's body."""
    args = shlex.split(command)
    assert args[:2] == ['curl', '-s'], command
    method, headers, body, url = 'GET', {}, None, None
    it = iter(args[2:])
    for a in it:
        if a == '-X':
            method = next(it)
        elif a == '-H':
            name, value = next(it).split(':', 1)
            headers[name.strip()] = value.strip()
        elif a == '-d':
            body = next(it).encode()
            method = 'POST' if method == 'GET' else method
        else:
            url = a
    parts = urlsplit('http://' + url)
    assert parts.port == 8080, 'the walkthrough serves on 8080: %s' % (url,)
    conn = httpclient.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request(method, parts.path, body=body, headers=headers)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


@pytest.fixture
def project(tmp_path):
    """A copy of the project's code, config and tests, with the walkthrough applied."""
    root = str(tmp_path / 'project')
    os.mkdir(root)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for name in ('app', 'conf', 'k8s', 'tests'):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(root, name), symlinks=True,
                        ignore=ignore)
    shutil.copy(os.path.join(ROOT, 'pyproject.toml'), root)
    found = steps()
    assert len(found) >= 6, 'the walkthrough lost its steps: %r' % ([w for w, _ in found],)
    for what, block in found:
        if not what.startswith('run '):
            apply(root, what, block)
    return root, [b for w, b in found if w.startswith('run ')]


def _env(root: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith('COVERAGE_')}
    env['PYTHONPATH'] = root
    return env


def test_the_walkthroughs_test_passes_in_the_copy(project):
    root, _ = project
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                        'tests/test_notes.py'], cwd=root, env=_env(root),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode('utf-8', 'replace')
    assert r.returncode == 0, out
    assert '2 passed' in out


def test_the_walkthroughs_curl_lines_answer_as_shown(project):
    root, runs = project
    assert runs, 'the walkthrough has no "run" step'
    env = _env(root)
    env['PORT'] = '0'
    proc = subprocess.Popen([sys.executable, '-m', 'app'], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = b'\n'.join(wait_for_output(proc, 'Serving on'))
        port = int(re.search(rb'Serving on \S+:(\d+)', lines).group(1))
        for block in runs:
            shown = block.strip().split('\n')
            for i in range(0, len(shown), 2):
                assert shown[i].startswith('$ curl '), shown[i]
                assert curl(port, shown[i][2:]) == shown[i + 1], shown[i]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
