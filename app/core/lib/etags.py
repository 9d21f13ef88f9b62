"""``tools.etags``: ETags, and the If-Match / If-None-Match preconditions they answer.

With ``autotags``, a 200 response without an ETag gets one: the MD5 of its
encoded body (so the body is read into memory; not for streamed or
non-GET resources). Then, for a 2xx response:

- ``If-Match`` naming neither ``*`` nor this ETag: 412;
- ``If-None-Match`` naming ``*`` or this ETag: 304 for GET/HEAD, else 412.
"""
from __future__ import annotations

import hashlib

from .. import _serving
from ..errors import HTTPError, HTTPRedirect
from .encoding import encode_body

__all__ = ['validate_etags']


def validate_etags(autotags: bool = False, debug: bool = False) -> None:
    """Set the automatic ETag if asked, then answer the request's ETag preconditions."""
    request = _serving.current()
    response = request.response
    try:
        status = int(str(response.status).split(' ', 1)[0])
    except ValueError:
        return  # NOTE: finalize answers a bad status with a 500
    etag = response.headers.get('ETag')
    if not etag and autotags and status == 200:
        encode_body(request, response)
        digest = hashlib.md5(response.collapse_body(), usedforsecurity=False).hexdigest()
        etag = response.headers['ETag'] = '"%s"' % digest
    if not 200 <= status <= 299:
        return
    # NOTE: the answers are set, not raised: a raised HTTPError would run
    # the before_finalize hooks, this one included, a second time.
    match = [str(e) for e in request.headers.elements('If-Match')]
    if match and match != ['*'] and etag not in match:
        HTTPError(412, 'If-Match failed: ETag %r did not match %r'
                  % (etag, match)).set_response(response)
        return
    none_match = [str(e) for e in request.headers.elements('If-None-Match')]
    if none_match == ['*'] or (etag and etag in none_match):
        if request.method in ('GET', 'HEAD'):
            HTTPRedirect([], 304).set_response(response)
        else:
            HTTPError(412, 'If-None-Match failed: ETag %r matched %r'
                      % (etag, none_match)).set_response(response)
