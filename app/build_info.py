"""What this build is: version, git commit, build time (``GET /version``, ``app_info``).

The version is the installed package's (``pyproject.toml``); the commit and
the build time come from the image (the Dockerfile's ``GIT_COMMIT`` and
``BUILD_TIME`` build arguments become the ``BUILD_COMMIT`` and
``BUILD_TIME`` environment variables), else ``"unknown"``.
"""
from __future__ import annotations

import os
from importlib import metadata

__all__ = ['build_info']


def build_info() -> dict[str, str]:
    """``{'version', 'commit', 'built'}`` of the running code."""
    try:
        version = metadata.version('cherry-service')
    except metadata.PackageNotFoundError:
        version = 'unknown'
    return {'version': version,
            'commit': os.environ.get('BUILD_COMMIT') or 'unknown',
            'built': os.environ.get('BUILD_TIME') or 'unknown'}
