"""Response encoding: text to bytes (``tools.encode``), gzip, and finalize.

``tools.encode`` is on by default, as in CherryPy: a text body is encoded
(UTF-8 unless the Content-Type names a charset) and ``text/*`` types get a
``charset`` parameter. The core runs it inside ``finalize`` rather than as
a hook, since nearly every response needs it.
"""
from __future__ import annotations

import zlib
from typing import Any, Iterable, Iterator

from ..errors import HTTPError
from .httputil import valid_status, header_elements

__all__ = ['finalize', 'encode_body', 'gzip', 'compress', 'decompress']

_NO_BODY = frozenset((204, 205, 304))


def _charset(request: Any, headers: Any) -> str:
    """The charset to encode text with: the Content-Type's, else tools.encode's.

    Declares it on a ``text/*`` Content-Type when tools.encode is on: as in
    CherryPy, only for what a page handler produced; a tool that answered
    (staticdir) sends its own type.
    """
    ct = dict.get(headers, 'Content-Type') or ''
    encode_on, charset, add_charset = request.plan.encode
    i = ct.find('charset=')
    if i >= 0:
        named = ct[i + 8:].split(';', 1)[0].strip().strip('"')
        if named:
            return named
    if not encode_on:
        return 'utf-8'
    if i < 0 and ct[:5] == 'text/' and add_charset and request.stage == 'before_finalize':
        dict.__setitem__(headers, 'Content-Type', ct + ';charset=' + charset)
    return charset


def _encode_text(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        raise HTTPError(500, 'The response could not be encoded as %r.' % (charset,)) from None


def _encode_iter(body: Iterable[Any], charset: str) -> Iterator[bytes]:
    for chunk in body:
        if chunk.__class__ is str:
            yield chunk.encode(charset)
        elif isinstance(chunk, str):
            yield str(chunk).encode(charset)
        else:
            yield chunk


def encode_body(request: Any, response: Any) -> None:
    """Make ``response.body`` a list (or, streamed, an iterator) of bytes.

    Adds the charset to ``text/*`` Content-Types when ``tools.encode`` is on.
    Idempotent: later calls find bytes and do nothing.
    """
    charset = _charset(request, response.headers)
    body = response.body
    cls = body.__class__
    if cls is bytes:
        response.body = [body]
    elif cls is str:
        response.body = [_encode_text(body, charset)]
    elif body is None:
        response.body = []
    elif cls is list or cls is tuple:
        if not all(c.__class__ is bytes for c in body):
            response.body = list(_encode_iter(body, charset))
    elif isinstance(body, (str, bytes, bytearray)):
        response.body = [body.encode(charset) if isinstance(body, str) else bytes(body)]
    elif getattr(body, 'bytes_only', False) or hasattr(body, 'filelike'):
        pass  # a file body (ours or wsgi.file_wrapper): bytes already
    elif hasattr(body, 'read') and not hasattr(body, '__iter__'):
        response.body = [body.read()]
    else:
        response.body = _encode_iter(body, charset)


def finalize(request: Any, response: Any) -> None:
    """Fix the status line, body, Content-Length and header list for WSGI."""
    status = response.status
    if status == 200:
        code = 200
        response.status = status = '200 OK'
    else:
        try:
            code, reason, _ = valid_status(status)
        except ValueError as ex:
            raise HTTPError(500, ex.args[0]) from None
        response.status = status = '%d %s' % (code, reason)
    headers = response.headers
    body = response.body
    cls = body.__class__
    if (cls is str or cls is bytes) and code == 200 and not response.stream:
        # PERF: the common case (a page handler returned text or bytes).
        if cls is str:
            body = _encode_text(body, _charset(request, headers))
        elif (dict.get(headers, 'Content-Type') or '')[:5] == 'text/':
            _charset(request, headers)  # declares the charset of text/* bytes
        response.body = [body]
        if dict.get(headers, 'Content-Length') is None:
            dict.__setitem__(headers, 'Content-Length', str(len(body)))
    else:
        encode_body(request, response)
        if response.stream:
            if dict.get(headers, 'Content-Length') is None:
                dict.pop(headers, 'Content-Length', None)
        elif code < 200 or code in _NO_BODY:
            dict.pop(headers, 'Content-Length', None)
            response.body = []
        elif dict.get(headers, 'Content-Length') is None:
            body = response.body
            if body.__class__ is not list:
                body = response.body = [b''.join(body)]
            n = 0
            for chunk in body:
                n += len(chunk)
            dict.__setitem__(headers, 'Content-Length', str(n))
    response.output_status = status
    h = list(dict.items(headers))
    for value in dict.values(headers):
        if value.__class__ is not str:
            h = [(k, v if v.__class__ is str else str(v)) for k, v in h]
            break
    response.header_list = h
    cookie = response._cookie
    if cookie:
        for line in cookie.output().split('\r\n'):
            name, _, value = line.partition(': ')
            h.append((name, value))


# -- gzip ------------------------------------------------------------------

def compress(body: Iterable[bytes], compress_level: int, flush: bool = False) -> Iterator[bytes]:
    """Gzip an iterable of bytes; with ``flush``, emit data after every chunk."""
    z = zlib.compressobj(compress_level, zlib.DEFLATED, 31)
    for chunk in body:
        data = z.compress(chunk)
        if flush:
            data += z.flush(zlib.Z_SYNC_FLUSH)
        if data:
            yield data
    yield z.flush()


def decompress(body: bytes) -> bytes:
    """Gunzip bytes (for tests and clients)."""
    return zlib.decompress(body, 31)


def _mime_match(ct: str, mime_types: Iterable[str]) -> bool:
    for m in mime_types:
        if m == ct or (m.endswith('/*') and ct.startswith(m[:-1])) or m == '*/*':
            return True
    return False


def gzip(compress_level: int = 5, mime_types: Iterable[str] = ('text/html', 'text/plain'),
         debug: bool = False) -> None:
    """``tools.gzip``: compress the body when the client accepts gzip.

    Negotiates ``Accept-Encoding`` with q-values (406 when neither identity
    nor gzip is acceptable), compresses only ``mime_types`` (``text/*``
    wildcards allowed), always sends ``Vary: Accept-Encoding``. A streamed
    body is compressed chunk by chunk as it streams.
    """
    from .. import _serving
    request = _serving.current()
    response = request.response
    headers = response.headers
    vary = headers.get('Vary')
    if not vary:
        headers['Vary'] = 'Accept-Encoding'
    elif 'accept-encoding' not in vary.lower():
        headers['Vary'] = vary + ', Accept-Encoding'
    if getattr(request, 'cached', False) or 'Content-Encoding' in headers \
            or 'Content-Range' in headers:
        return  # NOTE: a 206's Content-Range counts identity bytes: never compress one
    acceptable = header_elements('Accept-Encoding', request.environ.get('HTTP_ACCEPT_ENCODING'))
    if not acceptable:
        return
    ct = (headers.get('Content-Type') or '').split(';')[0].strip()
    q = {}
    for coding in acceptable:
        q.setdefault(coding.value.lower(), coding.qvalue)
    gzip_listed = 'gzip' in q or 'x-gzip' in q
    for coding in acceptable:  # best q first; ties keep the client's order
        value = coding.value.lower()
        if coding.qvalue <= 0:
            continue
        if value == 'identity':
            return
        # NOTE: ``*`` stands for codings the client did not list.
        if value in ('gzip', 'x-gzip') or (value == '*' and not gzip_listed):
            if not _mime_match(ct, mime_types):
                return
            encode_body(request, response)
            try:
                status = int(str(response.status).split(' ', 1)[0])
            except ValueError:
                status = 200
            if status < 200 or status in _NO_BODY:
                return
            headers['Content-Encoding'] = 'gzip'
            headers.pop('Content-Length', None)
            if response.stream:
                response.body = compress(response.body, compress_level, flush=True)
            else:
                response.body = [b''.join(compress(response.body, compress_level))]
            return
    # Neither gzip nor identity was chosen: identity is still fine unless excluded.
    # NOTE: set, not raised: the error path would run this hook again (as CherryPy does).
    if q.get('identity', q.get('*', 1.0)) <= 0:
        HTTPError(406, 'identity, gzip').set_response(response)
