"""A landing page, a health check, trailing_slash off, a logo from prod.conf.

No host or port here (a deployed program would set 0.0.0.0:80): the harness
binds 127.0.0.1 on a free port. staticfile.root makes prod.conf's file path
relative to this directory, so the logo is found wherever the repo lives.
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


# Optional, but a load balancer that keeps a connection open to every cluster
# node holds one thread per node: 100 threads, where 10 would starve.
cherrypy.config.update({
    'server.thread_pool': 100,  # 10 is default
    'tools.trailing_slash.on': False,  # True is default
    'tools.staticfile.root': os.path.dirname(os.path.abspath(__file__)),
})

if __name__ == "__main__":
    cherrypy.quickstart(Landing(), '/', "prod.conf")
