"""A program for process tests: a slow handler, served with quickstart.

``START_DELAY`` (seconds) makes start-up slow, to test a SIGTERM then.
"""
import os
import time

import app.core as cherrypy


class Root:
    @cherrypy.expose
    def index(self):
        return 'up'

    @cherrypy.expose
    def slow(self, seconds='1'):
        cherrypy.log('slow request started')  # tests wait for this line
        time.sleep(float(seconds))
        return 'finished after %s' % seconds

    @cherrypy.expose
    def ready(self):
        return 'draining' if cherrypy.engine.draining else 'ready'


def _slow_start():
    cherrypy.log('slow start begins')  # tests wait for this line
    time.sleep(float(os.environ.get('START_DELAY', '0')))


if __name__ == '__main__':
    cherrypy.engine.subscribe('start', _slow_start, priority=5)
    cherrypy.config.update({'log.screen': True, 'server.thread_pool': 4})
    cherrypy.quickstart(Root(), '/')
