"""CherryPy tutorial-style dispatch: query args, default, _cp_dispatch, popargs, aliases."""
import cherrypy


@cherrypy.popargs('year', 'month')
class Archive(object):
    @cherrypy.expose
    def index(self, year=None, month=None):
        return "archive %s/%s" % (year, month)


class Album(object):
    @cherrypy.expose
    def index(self, artist, title):
        return 'About %s by %s...' % (title, artist)


class Band(object):
    def __init__(self):
        self.albums = Album()

    def _cp_dispatch(self, vpath):
        if len(vpath) == 1:
            cherrypy.request.params['name'] = vpath.pop()
            return self
        if len(vpath) == 3:
            cherrypy.request.params['artist'] = vpath.pop(0)  # /band name/
            vpath.pop(0)  # /albums/
            cherrypy.request.params['title'] = vpath.pop(0)  # /album title/
            return self.albums
        return vpath

    @cherrypy.expose
    def index(self, name):
        return 'About %s...' % name


class Files(object):
    @cherrypy.expose
    def default(self, *path, **kwargs):
        return "file %s %r" % ('/'.join(path), sorted(kwargs.items()))


class Sub(object):
    @cherrypy.expose
    def index(self, q=None):
        return "sub index q=%s" % q

    @cherrypy.expose
    def leaf(self):
        return "leaf"


class Root(object):
    archive = Archive()
    band = Band()
    files = Files()
    sub = Sub()

    @cherrypy.expose
    def index(self):
        return "tutorial"

    @cherrypy.expose
    def greet(self, name='world', times='1'):
        return ' '.join(['hello %s' % name] * int(times))

    @cherrypy.expose
    def tags(self, tag=None):
        return "tags %r" % (tag,)

    @cherrypy.expose(['alias1', 'alias2'])
    def aliased(self):
        return "aliased via %s" % cherrypy.request.path_info

    @cherrypy.expose
    def item(self, *args, **kwargs):
        return "item args=%r kwargs=%r" % (args, sorted(kwargs.items()))

    @cherrypy.expose
    def form(self, a, b='2'):
        return "form a=%s b=%s" % (a, b)

    @cherrypy.expose
    @cherrypy.tools.allow(methods=['POST'])
    def submit(self, **kwargs):
        return "submitted %r" % sorted(kwargs.items())

    def hidden(self):
        return "not exposed"

    @cherrypy.expose
    def params(self, **kwargs):
        return "%s %s %r" % (cherrypy.request.method, cherrypy.request.query_string,
                             sorted(kwargs.items()))


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/')
