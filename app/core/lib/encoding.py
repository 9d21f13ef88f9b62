"""Response encoding: text to bytes (``tools.encode``) and gzip.

``tools.encode`` is on by default, as in CherryPy: a text body is encoded
(UTF-8 unless the Content-Type names a charset) and ``text/*`` types get a
``charset`` parameter. The core applies it while finalizing (``cycle.py``)
rather than as a hook, since nearly every response needs it.
"""
from __future__ import annotations

import codecs
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import _serving
from ..errors import HTTPError
from .httputil import header_elements

if TYPE_CHECKING:
    from ..request_response import Request, Response
    from .httputil import HeaderMap

__all__ = ['response_charset', 'encode_text', 'encode_body', 'decode', 'gzip', 'compress',
           'decompress', 'ENCODE_KEYS']

_NO_BODY = frozenset((204, 205, 304))

#: The ``tools.encode.<key>`` names (CherryPy's); the plan reads ``on``,
#: ``encoding`` and ``add_charset``.
ENCODE_KEYS = ('encoding', 'text_only', 'add_charset', 'debug', 'errors',
               'default_encoding', 'failmsg')


def response_charset(request: Request, headers: HeaderMap, body: Any = None) -> str:
    """The charset to encode text with: the Content-Type's, else tools.encode's.

    Declares it on a ``text/*`` Content-Type (any type with
    ``tools.encode.text_only`` off) when tools.encode is on: as in CherryPy,
    only for what a page handler produced; a tool that answered (staticdir)
    sends its own type. When the request has an ``Accept-Charset`` header
    the charset is negotiated (``negotiate``), trying ``body``.

    PERF: without Accept-Charset (browsers no longer send it), for what a
    handler produced the answer depends only on the route and the
    Content-Type, so it is kept in the plan (``plan.charsets``).
    """
    ct = dict.get(headers, 'Content-Type') or ''
    plan = request.plan
    handler_made = request.stage == 'before_finalize'
    accept = None
    if handler_made:
        accept = request.environ.get('HTTP_ACCEPT_CHARSET')
        known = plan.charsets.get(ct) if accept is None else None
        if known is not None:
            declared, charset = known
            if declared is not ct:
                dict.__setitem__(headers, 'Content-Type', declared)
            return charset
    encode_on, forced, default, add_charset, text_only = plan.encode
    charset = forced or default
    declared = ct
    i = ct.find('charset=')
    named = ct[i + 8:].split(';', 1)[0].strip().strip('"') if i >= 0 else ''
    if named:
        charset = named
    elif not encode_on:
        charset = 'utf-8'
    elif i < 0 and handler_made and _declares(plan, ct):
        if accept is not None:
            charset = negotiate(accept, forced, default, body)
        declared = ct + ';charset=' + charset
        dict.__setitem__(headers, 'Content-Type', declared)
    if handler_made and accept is None and len(plan.charsets) < _CHARSETS_PER_PLAN:
        plan.charsets[ct] = (declared, charset)
    return charset


def _declares(plan: Any, ct: str) -> bool:
    """Whether tools.encode declares (and negotiates) a charset on ``ct`` for ``plan``."""
    encode_on, _forced, _default, add_charset, text_only = plan.encode
    return bool(encode_on and ct and add_charset and (not text_only or ct[:5].lower() == 'text/'))


def reads_accept_charset(request: Request) -> bool:
    """Whether this response's charset follows the request's Accept-Charset (for autovary)."""
    ct = dict.get(request.response.headers, 'Content-Type') or ''
    return request.stage == 'before_finalize' and _declares(request.plan, ct.split(';', 1)[0])


def negotiate(accept: str, forced: str | None, default: str, body: Any = None) -> str:
    """The charset to send for an ``Accept-Charset`` header, as CherryPy's encode tool picks it.

    With ``forced`` (``tools.encode.encoding``), that one if the client
    accepts it; else the client's charsets by preference (``*`` meaning
    ``default``), then ISO-8859-1 unless the client named it or ``*``.
    A charset is taken only when ``body``'s text encodes in it. None fits:
    406 naming the header and the charsets tried; a malformed q-value: 400.
    """
    elements = header_elements('Accept-Charset', accept)
    for e in elements:
        q = e.params.get('q')
        if q is not None:
            try:
                float(q)
            except ValueError:
                raise HTTPError(400, 'Malformed HTTP header: `Accept-Charset: %s`'
                                % (accept,)) from None
    elements.sort(key=lambda e: (e.qvalue, str(e)), reverse=True)
    charsets = [e.value.lower() for e in elements]
    tried: set[str] = set()

    def fits(charset: str) -> bool:
        if charset in tried:
            return False
        tried.add(charset)
        return _encodable(body, charset)

    if forced:
        want = forced.lower()
        if (not charsets or '*' in charsets or want in charsets) and fits(want):
            return want
    elif not elements:
        if fits(default):
            return default
    else:
        for e in elements:
            if e.qvalue > 0:
                charset = default if e.value == '*' else e.value
                if fits(charset):
                    return charset
        if '*' not in charsets and 'iso-8859-1' not in charsets and fits('iso-8859-1'):
            return 'iso-8859-1'
    raise HTTPError(406, 'Your client sent this Accept-Charset header: %s. We tried these '
                    'charsets: %s.' % (accept, ', '.join(sorted(tried))))


def _encodable(body: Any, charset: str) -> bool:
    """Whether ``charset`` is known and every text chunk of ``body`` encodes in it."""
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    chunks = (body,) if isinstance(body, str) else body if isinstance(body, (list, tuple)) \
        else ()
    for chunk in chunks:
        if isinstance(chunk, str):
            try:
                chunk.encode(charset)
            except UnicodeEncodeError:
                return False
    return True


#: A handler may set any Content-Type; a plan remembers this many.
_CHARSETS_PER_PLAN = 16


def encode_text(text: str, charset: str) -> bytes:
    """``text`` in ``charset``; a 500 naming the charset when it cannot be encoded."""
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


def encode_body(request: Request, response: Response) -> None:
    """Make ``response.body`` a list (or, streamed, an iterator) of bytes.

    Adds the charset to ``text/*`` Content-Types when ``tools.encode`` is on.
    Idempotent: later calls find bytes and do nothing.
    """
    body = response.body
    cls = body.__class__
    if cls is bytes:
        response_charset(request, response.headers, body)  # NOTE: declares the charset
        response.body = [body]
        return
    if cls is str:
        body = [body]
    elif body is None:
        body = []
    elif cls is list or cls is tuple:
        if all(c.__class__ is bytes for c in body):
            response_charset(request, response.headers, body)
            return
    elif isinstance(body, (str, bytes, bytearray)):
        body = [str(body) if isinstance(body, str) else bytes(body)]
    elif getattr(body, 'bytes_only', False) or hasattr(body, 'filelike'):
        response_charset(request, response.headers, ())
        return  # a file body (ours or wsgi.file_wrapper): bytes already
    elif hasattr(body, 'read') and not hasattr(body, '__iter__'):
        body = [body.read()]
    elif not response.stream:
        body = list(body)  # NOTE: finalize would join it anyway; now its text can be tried
    charset = response_charset(request, response.headers, body)
    if body.__class__ is list or body.__class__ is tuple:
        try:
            response.body = list(_encode_iter(body, charset))
        except (UnicodeEncodeError, LookupError):
            raise HTTPError(500, 'The response could not be encoded as %r.'
                            % (charset,)) from None
    else:
        response.body = _encode_iter(body, charset)


def decode(encoding: str | list[str] | None = None,
           default_encoding: str | list[str] | None = 'utf-8') -> None:
    """``tools.decode``: the charsets a request body is decoded with (CherryPy's).

    ``encoding`` (one or a list) replaces them, even the one the
    Content-Type names; else ``default_encoding`` is tried after them.
    """
    body = _serving.current().body
    if encoding is not None:
        body.attempt_charsets = encoding if isinstance(encoding, list) else [encoding]
    elif default_encoding:
        extra = default_encoding if isinstance(default_encoding, list) else [default_encoding]
        body.attempt_charsets = body.attempt_charsets + extra


# -- gzip ------------------------------------------------------------------

def compress(body: Iterable[bytes], compress_level: int, flush: bool = False) -> Iterator[bytes]:
    """Gzip an iterable of bytes; with ``flush``, emit data after every chunk.

    The header is the one CherryPy and Python's ``gzip`` module write: the
    current time as MTIME, XFL by level (2 for 9, 4 for 1), OS 255 (unknown).
    """
    xfl = b'\x02' if compress_level == 9 else b'\x04' if compress_level == 1 else b'\x00'
    head = b'\x1f\x8b\x08\x00' + struct.pack('<L', int(time.time()) & 0xFFFFFFFF) + xfl + b'\xff'
    z = zlib.compressobj(compress_level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    crc = 0
    size = 0
    for chunk in body:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        data = z.compress(chunk)
        if flush:
            data += z.flush(zlib.Z_SYNC_FLUSH)
        if data:
            yield head + data  # NOTE: the header goes out with the first data
            head = b''
    yield head + z.flush() + struct.pack('<LL', crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


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
    request = _serving.current()
    response = request.response
    headers = response.headers
    vary = headers.get('Vary')
    if not vary:
        headers['Vary'] = 'Accept-Encoding'
    elif 'accept-encoding' not in vary.lower():
        headers['Vary'] = vary + ', Accept-Encoding'
    if request.cached or 'Content-Encoding' in headers \
            or 'Content-Range' in headers:
        return  # NOTE: a 206's Content-Range counts identity bytes: never compress one
    acceptable = header_elements('Accept-Encoding', request.environ.get('HTTP_ACCEPT_ENCODING'))
    if not acceptable:
        return
    ct = (headers.get('Content-Type') or '').split(';')[0].strip()
    q: dict[str, float] = {}
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
