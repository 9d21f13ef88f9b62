"""Shared fixtures: a clean core per test, a real memcached when asked."""
from __future__ import annotations

import shutil

import pytest

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
