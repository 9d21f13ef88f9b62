"""``cherrypy.process.wspbus``: the core's bus under CherryPy's module name.

``Bus``, ``states`` and ``ChannelFailures`` are ``app.core.bus``'s; the
engine (``cherrypy.engine``) is a ``Bus``.
"""
from ..bus import CHANNELS, Bus, ChannelFailures, states

__all__ = ['Bus', 'ChannelFailures', 'states', 'CHANNELS']
