"""Mounted at import, for ``python -m app.core -i cherryd_app`` (CherryPy's cherryd flow)."""
import os

import app.core as cherrypy


class Root:
    @cherrypy.expose
    def pid(self):
        return str(os.getpid())

    @cherrypy.expose
    def exit(self):
        cherrypy.engine.wait(cherrypy.engine.states.STARTED)
        cherrypy.engine.exit()
        return 'bye'


cherrypy.tree.mount(Root(), '/')
