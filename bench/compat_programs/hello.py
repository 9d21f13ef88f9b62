"""The smallest program: quickstart of a root whose index says "Hello World!"."""
import cherrypy


class Root(object):
    @cherrypy.expose
    def index(self):
        return "Hello World!"


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/')
