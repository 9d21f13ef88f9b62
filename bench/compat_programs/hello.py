"""Seed 004: the one-minute application."""
import cherrypy


class Root(object):
    @cherrypy.expose
    def index(self):
        return "Hello World!"


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/')
