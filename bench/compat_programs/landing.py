"""Seed 001: the landing page, a health check, trailing_slash off, prod.conf.

The seed's host and port (0.0.0.0:80) are left out: the harness binds
127.0.0.1 on a free port. staticfile.root makes prod.conf's file path
relative, where the seed used an absolute "/logo.png".
"""
import os

import cherrypy


class HealthCheck(object):
    def index(self):
        return "Yay<br />\n"
    index.exposed = True


class Landing(object):
    healthcheck = HealthCheck()

    @cherrypy.expose
    def index(self):
        return "<html><body>scripted landing</body></html>"


# The config.update is optional, but this will prevent scaling issues in a moment
cherrypy.config.update({
    'server.thread_pool': 100,  # 10 is default
    'tools.trailing_slash.on': False,  # True is default
    'tools.staticfile.root': os.path.dirname(os.path.abspath(__file__)),
})

if __name__ == "__main__":
    cherrypy.quickstart(Landing(), '/', "prod.conf")
