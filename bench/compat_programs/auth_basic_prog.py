"""HTTP Basic authentication on a protected area."""
import cherrypy
from cherrypy.lib import auth_basic

USERS = {'jon': 'secret'}


def validate_password(realm, username, password):
    if username in USERS and USERS[username] == password:
        return True
    return False


class Area(object):
    @cherrypy.expose
    def index(self):
        return "welcome %s" % cherrypy.request.login


class Protected(object):
    area = Area()


class Root(object):
    protected = Protected()
    other = Area()

    @cherrypy.expose
    def index(self):
        return "public"


conf = {
    '/protected/area': {
        'tools.auth_basic.on': True,
        'tools.auth_basic.realm': 'localhost',
        'tools.auth_basic.checkpassword': validate_password,
    },
    '/other': {
        'tools.auth_basic.on': True,
        'tools.auth_basic.realm': 'other realm',
        'tools.auth_basic.checkpassword': auth_basic.checkpassword_dict(USERS),
    },
}

if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', conf)
