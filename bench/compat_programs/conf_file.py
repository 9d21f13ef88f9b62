"""Config from a .conf file, a custom section, _cp_config and decorators."""
import cherrypy


class Api(object):
    exposed = True

    def GET(self):
        return "api GET"

    def PUT(self, name='nobody'):
        return "api PUT %s" % name


class Root(object):
    _cp_config = {'tools.response_headers.on': True,
                  'tools.response_headers.headers': [('X-Class', 'root')]}
    api = Api()

    @cherrypy.expose
    def index(self):
        google_appid = cherrypy.request.app.config['googleapi']['appid']
        return "appid=%s " % google_appid + "-" * 200

    @cherrypy.expose
    def plain(self):
        return "never gzipped " * 30
    plain._cp_config = {'tools.gzip.on': False}

    @cherrypy.expose
    def quiet(self):
        return "gzip off in _cp_config, on in [/quiet] " * 10
    quiet._cp_config = {'tools.gzip.on': False}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def data(self):
        return {'key': cherrypy.request.app.config['googleapi']['key']}


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', "app.conf")
