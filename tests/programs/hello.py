"""CherryPy's hello world with only its import changed to ``app.core``."""
import app.core as cherrypy

class Root(object):
    @cherrypy.expose
    def index(self):
        return "Hello World!"

if __name__ == '__main__':
   cherrypy.quickstart(Root(), '/')
