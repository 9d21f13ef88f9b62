"""The README's config reference lists every key the template sets."""
from __future__ import annotations

import os
import re

from app import CONF_DIR
from app.core.config import parse_file
from app.site import app_config

ROOT = os.path.dirname(CONF_DIR)


def _reference_keys() -> set[str]:
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    start = text.index('### Every key the template sets')
    end = text.index('\n## ', start)
    keys = set()
    for line in text[start:end].splitlines():
        if line.startswith('| `'):
            first = line.split('|')[1]
            keys.update(re.findall(r'`([^`]+)`', first))
    return keys


def _keys_set_by_the_template() -> dict[str, str]:
    where: dict[str, str] = {}
    for name in ('dev.conf', 'prod.conf', 'test.conf'):
        for section, values in parse_file(os.path.join(CONF_DIR, name)).items():
            for key in values:
                where.setdefault(key, '%s [%s]' % (name, section))
    for section, values in app_config().items():
        for key in values:
            where.setdefault(key, 'app_config() %s' % (section,))
    with open(os.path.join(ROOT, 'app', '__init__.py'), encoding='utf-8') as f:
        for key in re.findall(r"config\.update\(\{'([a-z_.]+)'", f.read()):
            where.setdefault(key, 'app/__init__.py')
    with open(os.path.join(ROOT, 'k8s', 'deployment.yaml'), encoding='utf-8') as f:
        for var in re.findall(r'- name: ([A-Z_]+)', f.read()):
            key = var[4:].lower().replace('__', '.') if var.startswith('APP_') else var
            where.setdefault(key, 'k8s/deployment.yaml %s' % (var,))
    return where


def test_every_key_the_template_sets_is_in_the_readme_reference():
    documented = _reference_keys()
    where = _keys_set_by_the_template()
    assert len(where) > 20
    missing = {k: w for k, w in where.items() if k not in documented}
    assert not missing, 'add these to README "Every key the template sets": %r' % (missing,)


def test_the_reference_names_no_key_the_template_does_not_set():
    stale = _reference_keys() - set(_keys_set_by_the_template())
    assert not stale, 'README lists keys nothing sets: %r' % (sorted(stale),)


def _check(tmp_path, doc: str, tests: dict) -> 'subprocess.CompletedProcess':
    import json
    import subprocess
    import sys
    (tmp_path / 'compat.md').write_text(doc)
    (tmp_path / 'results.json').write_text(json.dumps({'modules': {'test_x': {'core': {
        'summary': {'timed_out': False}, 'tests': tests}}}}))
    return subprocess.run([sys.executable, os.path.join(ROOT, '.ci', 'cptests_check.py'),
                           str(tmp_path / 'compat.md'), str(tmp_path / 'results.json')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_cherrypy_suite_check_fails_on_an_unlisted_failure_and_on_a_stale_entry(tmp_path):
    doc = '| test | reason |\n| --- | --- |\n| `test_x.py::T::test_b` | deliberate: b |\n'
    ok = _check(tmp_path, doc, {'test_x.py::T::test_a': 'passed', 'test_x.py::T::test_b': 'failed'})
    assert ok.returncode == 0, ok.stdout
    unlisted = _check(tmp_path, doc, {'test_x.py::T::test_a': 'error',
                                      'test_x.py::T::test_b': 'failed'})
    assert unlisted.returncode == 1 and 'test_a error, and docs/compatibility.md' in unlisted.stdout
    stale = _check(tmp_path, doc, {'test_x.py::T::test_b': 'passed'})
    assert stale.returncode == 1 and 'test_b passes now' in stale.stdout


def test_every_listed_cherrypy_test_has_a_reason():
    with open(os.path.join(ROOT, 'docs', 'compatibility.md'), encoding='utf-8') as f:
        rows = [ln for ln in f if ln.startswith('| `test_')]
    assert len(rows) > 10
    for row in rows:
        reason = row.split('|')[2].strip()
        assert len(reason) > 15 and 'UNEXPLAINED' not in reason, row
