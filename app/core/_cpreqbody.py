"""``cherrypy._cpreqbody``: the request body under CherryPy's module name.

``RequestBody`` and ``Part`` are ``app.core.body``'s. ``Entity`` names
``RequestBody`` (CherryPy's base class of both). The body processors:
``process_urlencoded`` fills ``body.params`` from a form;
``process_multipart_form_data`` and ``process_multipart`` (the same
function here) from a multipart body, one ``Part`` per upload.
A processor is installed as ``request.body.processors[media_type] = fn``.
"""
from .body import DEFAULT_MAX_BODY, Part, RequestBody
from .body import _process_multipart as process_multipart_form_data
from .body import _process_urlencoded as process_urlencoded

__all__ = ['Entity', 'Part', 'RequestBody', 'process_urlencoded', 'process_multipart',
           'process_multipart_form_data', 'DEFAULT_MAX_BODY']

Entity = RequestBody
process_multipart = process_multipart_form_data
