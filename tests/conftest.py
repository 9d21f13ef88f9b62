"""Shared fixtures: a clean core per test, a real memcached when asked."""
from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings

# NOTE: no per-example deadline (coverage and a busy CI machine slow them);
# under CI the examples are derandomized, so a red run replays as it was.
settings.register_profile('suite', deadline=None, derandomize=bool(os.environ.get('CI')))
settings.load_profile('suite')

from helpers import Memcached, fresh_core


@pytest.fixture(autouse=True)
def _clean_core():
    fresh_core()
    yield
    fresh_core()


@pytest.fixture
def memcached():
    """A real memcached on a free loopback port (skips if the binary is missing)."""
    if shutil.which('memcached') is None:
        pytest.skip('memcached binary not installed (apt-get install memcached)')
    m = Memcached().start()
    try:
        yield m
    finally:
        m.stop()
