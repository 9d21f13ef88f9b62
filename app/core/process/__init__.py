"""CherryPy's ``cherrypy.process`` package: the bus, its plugins, server helpers.

``wspbus`` and ``plugins`` name the core's own bus (``app.core.bus``) and
engine plugins as CherryPy programs import them; ``servers`` has the port
helpers. Nothing here is needed by the core itself.
"""
from . import plugins, servers, wspbus  # noqa: F401

__all__ = ['wspbus', 'plugins', 'servers']
