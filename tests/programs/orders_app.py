"""A program for the config tests: a team's own ``orders`` namespace, served by the engine.

``python tests/programs/orders_app.py CONF`` applies CONF as ``app.build``
does (global section, then the app's per-path config and the file's path
sections) and serves ``/limit``, ``/api/limit`` and ``/api/orders/limit``:
the ``orders.max_quantity`` in force at each. A config error exits 2, with
the message on stderr.
"""
import sys

import app.core as cherrypy
from app.core.config import ConfigError
from app.core.namespaces import Namespace

ORDERS: Namespace


class Orders:
    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)


class Api:
    orders = Orders()

    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)


class Root:
    api = Api()

    @cherrypy.expose
    def limit(self):
        return str(ORDERS.max_quantity)


def main(conf: str) -> int:
    global ORDERS
    try:
        # NOTE: as the app's own module would, at import: before any config.
        ORDERS = cherrypy.config.declare('orders', max_quantity=10)
        cherrypy.config.update({'log.screen': True, 'server.thread_pool': 4})
        cherrypy.config.update(conf)
        application = cherrypy.tree.mount(Root(), '', {'/api': {'orders.max_quantity': 20}})
        application.merge(conf)
        cherrypy.engine.signal_handler.subscribe()
        cherrypy.engine.start()
    except ConfigError as ex:
        print('orders_app: cannot start: %s' % (ex,), file=sys.stderr)
        cherrypy.engine.exit()
        return 2
    cherrypy.engine.block()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
