"""Several applications via tree.mount, each with its own config."""
import cherrypy


class Blog(object):
    @cherrypy.expose
    def index(self):
        cherrypy.log("blog index")
        return "blog mounted at %s " % cherrypy.request.script_name + "x" * 300

    @cherrypy.expose
    def post(self, id):
        return "post %s at %s" % (id, cherrypy.url())


class Forum(object):
    @cherrypy.expose
    def index(self):
        return "forum: %s" % cherrypy.request.app.config['forum']['title']

    @cherrypy.expose
    def where(self):
        return "script_name=%s path_info=%s" % (cherrypy.request.script_name,
                                                cherrypy.request.path_info)


blog_conf = {'/': {'tools.gzip.on': True}}
forum_conf = {'forum': {'title': 'Talk'}}

if __name__ == '__main__':
    cherrypy.tree.mount(Blog(), '/blog', blog_conf)
    cherrypy.quickstart(Forum(), '/forum', forum_conf)
