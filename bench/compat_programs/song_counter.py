"""A REST song counter on the MethodDispatcher: GET/POST per song, GET/DELETE on the root.

Handlers are named after HTTP methods, so the dispatcher answers 405 with an Allow
header for the others. Python 2's ``counts.iteritems()`` is ``counts.items()``.
"""
from collections import defaultdict

import cherrypy

counts = defaultdict(int)


class SongCounts(object):
    exposed = True

    def GET(self, id):
        return str(counts[id])

    def POST(self, id):
        counts[id] += 1
        return str(counts[id])


class CounterApp(object):
    exposed = True
    song = SongCounts()

    def GET(self):
        return ','.join(['%s=%s' % (k, v) for k, v in counts.items()])

    def DELETE(self):
        return 'OK'


sc_conf = {
    '/': {
        'request.dispatch': cherrypy.dispatch.MethodDispatcher(),
    }
}

application = cherrypy.tree.mount(CounterApp(), config=sc_conf)

if __name__ == '__main__':
    cherrypy.engine.start()
    cherrypy.engine.block()
