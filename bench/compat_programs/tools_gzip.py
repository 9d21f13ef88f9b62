"""Tutorial-style tools: gzip, a custom Tool, streaming, text encoding."""
import cherrypy


def add_header(value='yes'):
    cherrypy.response.headers['X-Custom'] = value


cherrypy.tools.custom = cherrypy.Tool('before_finalize', add_header)


class Root(object):
    _cp_config = {'tools.gzip.on': True}

    @cherrypy.expose
    def index(self):
        return "compress me " * 50

    @cherrypy.expose
    @cherrypy.tools.custom(value='on')
    def tagged(self):
        return "tagged"

    @cherrypy.expose
    def stream(self):
        def gen():
            for i in range(3):
                yield "chunk %d\n" % i
        return gen()
    stream._cp_config = {'response.stream': True}

    @cherrypy.expose
    def generator(self):
        for i in range(3):
            yield "part %d;" % i

    @cherrypy.expose
    def plain(self):
        cherrypy.response.headers['Content-Type'] = 'text/plain'
        return "plain text " * 20

    @cherrypy.expose
    def unicode(self):
        return u"h\u00e9llo w\u00f6rld \u2713"

    @cherrypy.expose
    def octets(self):
        cherrypy.response.headers['Content-Type'] = 'application/octet-stream'
        return b'\x00\x01\x02binary'

    @cherrypy.expose
    def listbody(self):
        return ['a', 'b', 'c']

    @cherrypy.expose
    def empty(self):
        return None


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', {'/': {'tools.custom.on': True}})
