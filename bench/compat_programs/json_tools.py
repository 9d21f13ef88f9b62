"""json_in and json_out."""
import cherrypy


class Root(object):
    @cherrypy.expose
    @cherrypy.tools.json_out()
    def item(self, id):
        return {'id': int(id), 'name': 'item %s' % id}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def items(self):
        return [1, 'two', None, 3.5, {'nested': True}]

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def echo(self):
        data = cherrypy.request.json
        return {'got': data, 'type': type(data).__name__}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def missing(self):
        raise cherrypy.HTTPError(404, 'No such item')

    @cherrypy.expose
    @cherrypy.tools.json_in()
    def count(self):
        return "%d keys" % len(cherrypy.request.json)


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/')
