"""``cherrypy._cplogging``: the logs under CherryPy's module name.

``LogManager`` (``cherrypy.log``'s class, whose ``access_log_format`` a
program may change) and ``LazyRfc3339UtcTime`` (the ``{z}`` field) are
``app.core.logs``'s.
"""
from .logs import LazyRfc3339UtcTime, LogManager

__all__ = ['LogManager', 'LazyRfc3339UtcTime']
