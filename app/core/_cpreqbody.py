"""``cherrypy._cpreqbody``: the request body under CherryPy's module name.

``RequestBody`` and ``Part`` are ``app.core.body``'s. ``Entity`` names
``RequestBody`` (CherryPy's base class of both). The body processors:
``process_urlencoded`` fills ``body.params`` from a form;
``process_multipart_form_data`` from a multipart body (one ``Part`` per
upload); ``process_multipart`` puts every part in ``body.parts``.
A processor is installed as ``request.body.processors[media_type] = fn``.
"""
from .body import DEFAULT_MAX_BODY, Part, RequestBody
from .body import _process_urlencoded as process_urlencoded
from .multipart import parts as _parts
from .multipart import process_form_data as process_multipart_form_data

__all__ = ['Entity', 'Part', 'RequestBody', 'process_urlencoded', 'process_multipart',
           'process_multipart_form_data', 'DEFAULT_MAX_BODY']

Entity = RequestBody


def process_multipart(entity: RequestBody) -> None:
    """Read every part of a multipart body into ``entity.parts``."""
    entity.parts.extend(_parts(entity))
