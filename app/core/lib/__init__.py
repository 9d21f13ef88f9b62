"""Tool bodies at CherryPy's paths (``cherrypy.lib.static`` and so on)."""
from __future__ import annotations

import importlib
from typing import Any

#: Modules a CherryPy program reaches as ``cherrypy.lib.<name>`` without importing them.
_LAZY = frozenset(('reprconf', 'httputil', 'static', 'sessions', 'cptools', 'caching',
                   'jsontools', 'encoding', 'auth_basic', 'auth_digest', 'xmlrpcutil'))


def __getattr__(name: str) -> Any:
    """Import ``cherrypy.lib.<name>`` on first attribute access."""
    if name in _LAZY:
        return importlib.import_module('.' + name, __name__)
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
