"""Error pages (template file, callable, default) and HTTPError/HTTPRedirect/NotFound."""
import os

import cherrypy

HERE = os.path.dirname(os.path.abspath(__file__))


def error_page_402(status, message, traceback, version):
    return "Custom %s: %s" % (status, message)


def error_page_410(status, message, traceback, version):
    cherrypy.response.headers['Content-Type'] = 'application/json'
    return '{"status": "%s", "message": "%s"}' % (status, message)


def error_page_default(status, message, traceback, version):
    return "Default handler: %s" % status


class Sub(object):
    @cherrypy.expose
    def index(self):
        raise cherrypy.HTTPError(409, 'Conflict here')


class Root(object):
    sub = Sub()

    @cherrypy.expose
    def index(self):
        return "errors"

    @cherrypy.expose
    def forbidden(self):
        raise cherrypy.HTTPError(403, 'Go away')

    @cherrypy.expose
    def teapot(self):
        raise cherrypy.HTTPError(418)

    @cherrypy.expose
    def pay(self):
        raise cherrypy.HTTPError(402, 'Pay up')

    @cherrypy.expose
    def gone(self):
        raise cherrypy.NotFound()

    @cherrypy.expose
    def api_gone(self):
        raise cherrypy.HTTPError(410, 'Removed')

    @cherrypy.expose
    def moved(self):
        raise cherrypy.HTTPRedirect('/target')

    @cherrypy.expose
    def perm(self):
        raise cherrypy.HTTPRedirect('target?a=1', 301)

    @cherrypy.expose
    def temp(self):
        raise cherrypy.HTTPRedirect('target', 307)

    @cherrypy.expose
    def many(self):
        raise cherrypy.HTTPRedirect(['/a', '/b'], 300)

    @cherrypy.expose
    def boom(self):
        raise ValueError('kaboom')

    @cherrypy.expose
    def target(self, a=None):
        return "target a=%s" % a

    @cherrypy.expose
    def accepted(self):
        cherrypy.response.status = 202
        return "accepted"

    @cherrypy.expose
    def custom_status(self):
        cherrypy.response.status = '299 Fine Thanks'
        return "custom"


conf = {
    '/': {'error_page.404': os.path.join(HERE, 'error404.html'),
          'error_page.402': error_page_402,
          'error_page.410': error_page_410},
    '/sub': {'error_page.default': error_page_default},
}

if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', conf)
