"""A program for caching tests: responses cached in memcached, shared by processes.

``MEMCACHED_SERVERS`` names the memcached. Each response says which process
computed it, so a test can tell a shared cache hit from a local computation.
"""
import itertools
import os

import app.core as cherrypy

_count = itertools.count(1)


class Root:
    @cherrypy.expose
    def item(self, id='0'):
        return 'item %s computed by %d (#%d)' % (id, os.getpid(), next(_count))


if __name__ == '__main__':
    cherrypy.config.update({'server.thread_pool': 4, 'log.screen': True})
    cherrypy.quickstart(Root(), '/', {'/': {
        'tools.caching.on': True,
        'tools.caching.store': 'memcached',
        'tools.caching.dead_timeout': 0.5,
    }})
