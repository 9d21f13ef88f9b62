"""The ``raw`` target: a bare WSGI callable, the floor for every ratio.

Fixed answers are a dict lookup. The tools endpoints do per request what the
frameworks do, and nothing more, so their ratios show framework cost only:

- ``/api/catalog``: ``json.dumps`` the catalog and gzip it with
  ``zlib.compress`` at the frameworks' level, on every request (not
  precompressed, since the frameworks compress every response too); plain
  JSON when the request does not mention gzip in Accept-Encoding.
- ``/static/page.html``: open and read the file, then send it (no stat, no
  Last-Modified, no conditional or Range handling).
"""
from __future__ import annotations

import json
import zlib
from typing import Callable, Iterable

import apps

Answer = tuple[str, list[tuple[str, str]], bytes]


def _catalog(environ: dict) -> Answer:
    body = json.dumps(apps.catalog()).encode()
    headers = [('Content-Type', apps.JSON), ('Vary', 'Accept-Encoding')]
    if 'gzip' in environ.get('HTTP_ACCEPT_ENCODING', ''):
        body = zlib.compress(body, apps.GZIP_LEVEL, wbits=31)  # 31: gzip container
        headers.append(('Content-Encoding', 'gzip'))
    headers.append(('Content-Length', str(len(body))))
    return '200 OK', headers, body


def _static(environ: dict) -> Answer:
    with open(apps.STATIC_FILE, 'rb') as f:
        body = f.read()
    return '200 OK', [('Content-Type', 'text/html'), ('Content-Length', str(len(body)))], body


_DYNAMIC: dict[str, Callable[[dict], Answer]] = {
    '/api/catalog': _catalog,
    '/static/page.html': _static,
}

_FIXED: dict[str, Answer] = {
    e.path: ('200 OK', [('Content-Type', e.content_type),
                        ('Content-Length', str(len(e.body or b'')))], e.body or b'')
    for e in apps.ENDPOINTS if e.raw and e.path not in _DYNAMIC
}


def raw_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Answer the raw-served ``ENDPOINTS``: a dict lookup, no framework at all."""
    path = environ.get('PATH_INFO', '')
    if environ['REQUEST_METHOD'] in ('GET', 'HEAD'):
        fn = _DYNAMIC.get(path)
        hit = fn(environ) if fn is not None else _FIXED.get(path)
        if hit is not None:
            status, headers, body = hit
            start_response(status, headers)
            return [body]
    start_response('404 Not Found', [('Content-Type', apps.TEXT), ('Content-Length', '9')])
    return [b'Not Found']
