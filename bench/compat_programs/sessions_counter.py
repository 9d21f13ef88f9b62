"""A session counter (RAM sessions), and expiring the session."""
import cherrypy
from cherrypy.lib import sessions


class Root(object):
    @cherrypy.expose
    def index(self):
        if 'count' not in cherrypy.session:
            cherrypy.session['count'] = 0
        cherrypy.session['count'] += 1
        return "count %d" % cherrypy.session['count']

    @cherrypy.expose
    def peek(self):
        return "count is %s" % cherrypy.session.get('count', 'unset')

    @cherrypy.expose
    def logout(self):
        sessions.expire()
        return "bye"


conf = {'/': {'tools.sessions.on': True, 'tools.sessions.timeout': 60}}

if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', conf)
