"""The caching tool in front of a costly call: repeats are answered from the cache."""
import time

import cherrypy

calls = {'n': 0}


class WebSvc(object):
    @cherrypy.expose
    def quadruple(self, number):
        time.sleep(0.05)  # make the real call somewhat costly
        calls['n'] += 1
        return "%d (call %d)" % (int(number) * 4, calls['n'])


if __name__ == '__main__':
    cherrypy.quickstart(WebSvc(), '/', {'/': {'tools.caching.on': True}})
