"""CherryPy's documented tool extension points: a Tool subclass whose _setup
attaches a second hook, request.hooks.attach from a handler, tools.autovary."""
import cherrypy


class Timer(cherrypy.Tool):
    def __init__(self):
        cherrypy.Tool.__init__(self, 'on_start_resource', self.start, priority=10)

    def _setup(self):
        cherrypy.Tool._setup(self)
        cherrypy.request.hooks.attach('before_finalize', self.stop, priority=95)

    def start(self, label='t'):
        cherrypy.request.timer_label = label

    def stop(self):
        cherrypy.response.headers['X-Timer'] = cherrypy.request.timer_label


cherrypy.tools.timer = Timer()


class Root(object):
    @cherrypy.expose
    @cherrypy.tools.timer(label='decorated')
    def index(self):
        return "timed"

    @cherrypy.expose
    def configured(self):
        return "timed by config"

    @cherrypy.expose
    def attach(self, loud='0'):
        if loud == '1':
            cherrypy.request.hooks.attach('on_end_resource', lambda: None)
            cherrypy.request.hooks.attach('before_finalize', lambda: cherrypy.response.headers.__setitem__('X-Loud', '1'))
        return "attached"

    @cherrypy.expose
    def vary(self):
        lang = cherrypy.request.headers.get('Accept-Language', 'en')
        if 'X-Debug' in cherrypy.request.headers:
            lang += '+debug'
        return lang
    vary._cp_config = {'tools.autovary.on': True}

    @cherrypy.expose
    def vary_ignored(self):
        return cherrypy.request.headers.get('Accept-Language', 'en')
    vary_ignored._cp_config = {'tools.autovary.on': True,
                               'tools.autovary.ignore': ['Accept-Language']}


if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', {'/configured': {'tools.timer.on': True}})
