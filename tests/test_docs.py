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
