"""The JSON API under ``/api``: the example endpoints a team copies from.

- ``/api/orders``: a resource routed by HTTP method (``MethodDispatcher``,
  see ``app_config`` in ``app/site.py``): ``GET`` lists the orders, ``POST``
  creates one from a validated JSON body, ``GET /api/orders/<id>`` reads one.
  Any other method gets 405 with ``Allow``, from the core. The orders live
  in shared state (``app.core.lib.state``): RAM in development, memcached
  in production, so every pod sees the same orders.
- ``/api/items/<id>``: a value from the path; ``/api/visits``: a session.

Every error under ``/api`` is an RFC 9457 problem document.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import app.core as cherrypy
from app.core.lib import state
from app.core.lib.validate import ValidationError

__all__ = ['Api', 'Orders', 'NewOrder', 'ORDERS']

#: The API's own config keys: ``orders.max_quantity`` in a ``[/api/orders]``
#: section or ``APP_ORDERS__MAX_QUANTITY``; a misspelled ``orders.*`` key
#: stops start-up.
ORDERS = cherrypy.config.declare('orders', max_quantity=10)


@dataclasses.dataclass
class NewOrder:
    """The body of ``POST /api/orders``."""

    item: str
    quantity: int
    note: str | None = None


@cherrypy.expose
class Orders:
    """``/api/orders``: one method per HTTP method."""

    #: Orders listed by ``GET /api/orders`` unless ``?limit=`` says otherwise.
    page = 50

    @cherrypy.tools.json_out()
    def GET(self, id: str | None = None, limit: str | None = None) -> dict[str, Any]:
        """The newest orders (``?limit=N``, at most 200), or one order by id."""
        store = state.store()
        if id is not None:
            order = store.get('orders:%s' % (_order_id(id),))
            if order is None:
                raise cherrypy.HTTPError(404, 'No order %s.' % (id,))
            return dict(order)
        n = _bounded_int(limit, 'limit', 1, 200) if limit is not None else self.page
        last = store.get('orders:last', 0)
        ids = range(last, max(last - n, 0), -1)
        found = store.get_many('orders:%d' % i for i in ids)
        return {'orders': [found['orders:%d' % i] for i in ids if 'orders:%d' % i in found]}

    @cherrypy.tools.json_in(schema=NewOrder)
    @cherrypy.tools.json_out()
    def POST(self) -> dict[str, Any]:
        """Create an order: 201 with its ``Location``; 400 lists what is wrong."""
        new: NewOrder = cherrypy.request.json
        most = ORDERS.max_quantity                  # this path's value
        errors = []
        if not new.item.strip():
            errors.append({'field': 'item', 'message': 'must not be empty'})
        if not 1 <= new.quantity <= most:
            errors.append({'field': 'quantity', 'message': 'must be from 1 to %d' % most})
        if errors:
            raise ValidationError(errors)
        order = _store_new(state.store(), dict(
            dataclasses.asdict(new), created=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())))
        order_id = order['id']
        cherrypy.response.status = 201
        cherrypy.response.headers['Location'] = cherrypy.url('/api/orders/%d' % order_id)
        return order


def _store_new(store: state.Store, fields: dict[str, Any]) -> dict[str, Any]:
    """Store a new order under the next id; never over an order already stored.

    The id comes from an atomic counter (``incr``, one across pods). memcached
    may lose the counter (its node restarted empty, or it was evicted) while
    orders on other nodes survive: the counter then starts again below them.
    ``add`` refuses a taken id, and the counter jumps ahead, further each
    time, until it is past them.
    """
    jump = 0
    for _ in range(_ID_ATTEMPTS):
        order_id = store.incr('orders:last', 1 + jump)
        order = dict(fields, id=order_id)
        if store.add('orders:%d' % order_id, order):
            return order
        cherrypy.log('order id %d is taken: the id counter was lost and restarted below the '
                     'stored orders; moving it ahead' % (order_id,), 'ORDERS', logging.WARNING)
        jump = jump * 2 or 1000
    raise cherrypy.HTTPError(503, 'No free order id was found; try again.')


#: Attempts at a free order id (the jumps reach past a billion orders).
_ID_ATTEMPTS = 21


def _order_id(value: str) -> int:
    if not value.isdigit():
        raise cherrypy.HTTPError(404, 'No order %s: order ids are numbers.' % (value,))
    return int(value)


def _bounded_int(value: str, name: str, low: int, high: int) -> int:
    try:
        n = int(value)
    except ValueError:
        n = low - 1
    if not low <= n <= high:
        raise cherrypy.HTTPError(400, '%s must be a whole number from %d to %d, not %r.'
                                 % (name, low, high, value))
    return n


class Api:
    """JSON endpoints under ``/api``."""

    orders = Orders()

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def index(self) -> dict[str, Any]:
        """List the API's endpoints."""
        return {'endpoints': ['/api/orders', '/api/orders/<id>', '/api/items/<id>',
                              '/api/visits']}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def items(self, id: str) -> dict[str, Any]:
        """One item; ``id`` comes from the path (``/api/items/42``)."""
        try:
            n = int(id)
        except ValueError:
            raise cherrypy.HTTPError(400, 'Item id must be an integer, got %r.' % (id,)) from None
        return {'id': n, 'name': 'item %d' % n}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    @cherrypy.tools.sessions()
    def visits(self) -> dict[str, int]:
        """Count this client's visits in its session (memcached in production).

        While memcached is down this answers 503; the rest of the service,
        /healthcheck and /readyz included, keeps answering.
        """
        n = cherrypy.session.get('visits', 0) + 1
        cherrypy.session['visits'] = n
        return {'visits': n}
