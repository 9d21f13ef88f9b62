"""The service: a landing page, health and readiness, a JSON API, metrics.

``build(config_path)`` applies a ``.conf`` file and mounts the handler tree;
``app.wsgi.application`` and ``python -m app`` both use it.
"""
from __future__ import annotations

import os
from typing import Any

__all__ = ['build', 'DEFAULT_CONFIG', 'CONF_DIR']

CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'conf')
DEFAULT_CONFIG = os.path.join(CONF_DIR, 'dev.conf')


def build(config_path: str | None = None) -> Any:
    """Apply ``config_path`` (global and per-path sections) and mount the app at ``/``."""
    import app.core as cherrypy

    from . import metrics
    from .site import Root, app_config

    path = config_path or DEFAULT_CONFIG
    # The probes get workers of their own (a .conf file may change the list).
    cherrypy.config.update({'server.probe_paths': ['/healthcheck', '/readyz']})
    cherrypy.config.update(path)
    application = cherrypy.tree.mount(Root(), '', app_config())
    application.merge(path)
    metrics.serve_on_own_port()
    return application
