"""A program for the memcached session tests: a session counter on the real server.

``PORT`` picks the port, ``MEMCACHED_SERVERS`` the memcached, ``SESSION_LOG``
the error log file (the tests count its outage lines), ``SESSION_REPLICAS``
how many nodes hold each session.
"""
import json
import os
import time

import app.core as cherrypy


class Root:
    @cherrypy.expose
    def incr(self):
        n = cherrypy.session.get('n', 0) + 1
        cherrypy.session['n'] = n
        return str(n)

    @cherrypy.expose
    def put(self, key, value):
        cherrypy.session[key] = value
        return 'ok'

    @cherrypy.expose
    def dump(self):
        return json.dumps({k: cherrypy.session[k] for k in cherrypy.session})

    @cherrypy.expose
    def slow(self, seconds='30'):
        """Count, then hold the session (and its lock) for ``seconds``."""
        cherrypy.session['n'] = cherrypy.session.get('n', 0) + 1
        time.sleep(float(seconds))
        return str(cherrypy.session['n'])

    @cherrypy.expose
    def health(self):
        return 'OK'


if __name__ == '__main__':
    cherrypy.config.update({'log.screen': False, 'log.error_file': os.environ['SESSION_LOG'],
                            'server.thread_pool': 8})
    cherrypy.quickstart(Root(), '', {
        '/': {'tools.sessions.on': True, 'tools.sessions.storage_type': 'memcached',
              'tools.sessions.dead_timeout': 0.5,
              'tools.sessions.replicas': int(os.environ.get('SESSION_REPLICAS') or 1)},
        '/health': {'tools.sessions.on': False},
    })
