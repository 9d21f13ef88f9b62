"""``application``: the WSGI entry point, for any WSGI server.

The config file is ``$APP_CONFIG`` (default ``conf/prod.conf``).
"""
from __future__ import annotations

import os

from . import CONF_DIR, build

application = build(os.environ.get('APP_CONFIG') or os.path.join(CONF_DIR, 'prod.conf'))
