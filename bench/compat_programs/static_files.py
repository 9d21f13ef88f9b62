"""staticfile, staticdir with an index, and serve_file downloads."""
import os

import cherrypy
from cherrypy.lib.static import serve_file

HERE = os.path.dirname(os.path.abspath(__file__))
SITE = os.path.join(HERE, 'site')
# A fixed mtime (2020-01-01 00:00:00 UTC), so that the harness's
# If-Modified-Since requests mean the same thing on every checkout.
os.utime(os.path.join(SITE, 'notes.txt'), (1577836800, 1577836800))


class Root(object):
    @cherrypy.expose
    def index(self):
        return "static demo"

    @cherrypy.expose
    def download(self, name):
        return serve_file(os.path.join(SITE, name), "application/x-download", "attachment")


conf = {
    '/': {'tools.staticdir.root': SITE},
    '/static': {'tools.staticdir.on': True,
                'tools.staticdir.dir': '.',
                'tools.staticdir.index': 'index.html'},
    '/noindex': {'tools.staticdir.on': True, 'tools.staticdir.dir': 'js'},
    '/style.css': {'tools.staticfile.on': True,
                   'tools.staticfile.filename': os.path.join(SITE, 'style.css')},
}

if __name__ == '__main__':
    cherrypy.quickstart(Root(), '/', conf)
