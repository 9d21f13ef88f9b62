"""HTTP Digest authentication on a protected area."""
import cherrypy
from cherrypy.lib import auth_digest

USERS = {'jon': 'secret'}


class Area(object):
    @cherrypy.expose
    def index(self):
        return "welcome %s" % cherrypy.request.login


class Protected(object):
    area = Area()


class Root(object):
    protected = Protected()

    @cherrypy.expose
    def index(self):
        return "public"


conf = {
    '/protected/area': {
        'tools.auth_digest.on': True,
        'tools.auth_digest.realm': 'localhost',
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'tools.auth_digest.key': 'a565c27146791cfb',
    }
}

if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', conf)
