"""Tool bodies at CherryPy's paths (``cherrypy.lib.static`` and so on)."""
