"""A landing page and a health check, configured in code, then quickstart with prod.conf.

The code sets 0.0.0.0:80 (``HOST`` and ``PORT`` override it), 100 threads and
trailing_slash off; "prod.conf" is read from the working directory.
"""
import app.core as cherrypy

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
    'server.socket_host': '0.0.0.0', # 127.0.0.1 is default
    'server.socket_port': 80, # 8080 is default
    'server.thread_pool': 100, # 10 is default
    'tools.trailing_slash.on': False # True is default
})

if __name__ == "__main__":
    cherrypy.quickstart(Landing(), '/', "prod.conf")
