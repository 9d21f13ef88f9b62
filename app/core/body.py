"""The request body: size limits, form fields (multipart ones: ``multipart.py``).

Bad input is a 4xx with a message: a Content-Length that is not a number
(400), a body over ``server.max_request_body_size`` (413), a malformed
multipart body (400), undecodable form text (400).
"""
from __future__ import annotations

import io
import re
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cheroot import errors as _errors

from .errors import HTTPError
from .multipart import (
    ContentType,
    Part,
    add_param,
    known_charset,
    not_decoded,
    parse_header,
    process_form_data,
    process_parts,
)

if TYPE_CHECKING:
    from .request_response import Request

__all__ = ['RequestBody', 'Part', 'DEFAULT_MAX_BODY', 'parse_query_string', 'MAX_QUERY_FIELDS']

#: CherryPy's default for ``server.max_request_body_size``: 100 MB.
DEFAULT_MAX_BODY = 100 * 1024 * 1024
_CHUNK = 64 * 1024


class RequestBody:
    """``request.body``: ``fp``, ``length``, ``content_type``, ``params``, ``read()``.

    ``processors`` maps a media type to a function ``proc(body)`` that fills
    ``body.params`` (the json_in tool installs one for JSON). A form is
    decoded with ``attempt_charsets`` in order (``tools.decode`` changes
    them); ``charset`` is the one that worked.
    """

    #: The charsets a form is decoded with when the Content-Type names none
    #: (CherryPy's default); one it names is tried first.
    default_charsets = ['utf-8']

    def __init__(self, request: Request) -> None:
        env = request.environ
        self.request = request
        self.fp = env.get('wsgi.input') or io.BytesIO()
        self.params: dict[str, Any] = {}
        self.content_type = ContentType(env.get('CONTENT_TYPE') or '')
        self.processors: dict[str, Callable[[RequestBody], None]] = {
            'application/x-www-form-urlencoded': _process_urlencoded,
            'multipart/form-data': process_form_data,
            'multipart': process_parts,
        }
        self.default_proc: Callable[[RequestBody], None] | None = None
        #: Multipart parts without a name (``multipart/form-data``).
        self.parts: list[Part] = []
        #: The charset the form was decoded with.
        self.charset: str | None = None
        self._charsets: list[str] | None = None
        self.maxbytes = DEFAULT_MAX_BODY
        self._read = 0
        cl = env.get('CONTENT_LENGTH')
        if cl:
            try:
                self.length: int | None = int(cl)
            except ValueError:
                raise HTTPError(400, 'Malformed Content-Length header: %r' % (cl,)) from None
            if self.length < 0:
                raise HTTPError(400, 'Malformed Content-Length header: %r' % (cl,))
        else:
            self.length = None
        self.chunked = bool(env.get('wsgi.input_terminated')) or (
            'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower())

    @property
    def attempt_charsets(self) -> list[str]:
        """The charsets to decode the form with, in order (CherryPy's name).

        The Content-Type's ``charset`` first, then ``default_charsets``; for
        ``text/*`` bodies ISO-8859-1 last, as HTTP/1.1 has it.
        """
        cs = self._charsets
        if cs is None:
            named = parse_header(self.content_type)[1].get('charset')
            cs = [named] if named else []
            cs += [c for c in self.default_charsets if c != named]
            if self.content_type.value.lower().startswith('text/') and not any(
                    c.lower() in ('iso-8859-1', 'latin-1') for c in cs):
                cs.append('ISO-8859-1')
            self._charsets = cs
        return cs

    @attempt_charsets.setter
    def attempt_charsets(self, value: list[str]) -> None:
        self._charsets = list(value)

    def check_size(self, maxbytes: int | None) -> None:
        """Refuse with 413 when the declared length exceeds ``maxbytes``.

        The smaller of ``maxbytes`` (the server's) and the route's own
        ``request.body.maxbytes`` applies.
        """
        if maxbytes and (not self.maxbytes or self.maxbytes == DEFAULT_MAX_BODY
                         or maxbytes < self.maxbytes):
            self.maxbytes = maxbytes
        if self.maxbytes and self.length is not None and self.length > self.maxbytes:
            raise HTTPError(413, 'The entity sent with the request exceeds the maximum '
                            'allowed bytes (%d).' % self.maxbytes)

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes (all when None), within the size limit."""
        remaining = None
        if self.length is not None:
            remaining = self.length - self._read
            if remaining <= 0:
                return b''
            if size is None or size < 0 or size > remaining:
                size = remaining
        elif not self.chunked:
            return b''
        if size is None or size < 0:
            chunks = []
            while True:
                data = self._fp('read', _CHUNK)
                if not data:
                    break
                self._account(len(data))
                chunks.append(data)
            return b''.join(chunks)
        data = self._fp('read', size)
        self._account(len(data))
        return data

    def _fp(self, method: str, size: int) -> bytes:
        """``self.fp.<method>(size)``, with the server's framing errors as 4xx.

        cheroot raises ValueError for a malformed chunked body and
        MaxSizeExceeded (or an IOError) past ``max_request_body_size``.
        """
        try:
            return getattr(self.fp, method)(size)
        except _errors.MaxSizeExceeded:
            raise HTTPError(413, 'The request body exceeds the maximum allowed size.') from None
        except ValueError as ex:
            raise HTTPError(400, 'Malformed chunked request body: %s' % (ex,)) from None
        except OSError as ex:
            if 'Request Entity Too Large' in str(ex):
                raise HTTPError(413, 'The request body exceeds the maximum allowed size.') \
                    from None
            raise

    def _account(self, n: int) -> None:
        self._read += n
        if self.maxbytes and self._read > self.maxbytes:
            raise HTTPError(413, 'The entity sent with the request exceeds the maximum '
                            'allowed bytes (%d).' % self.maxbytes)

    def readline(self, size: int = -1) -> bytes:
        """Read one line (for parsers that want lines)."""
        if self.length is not None:
            remaining = self.length - self._read
            if remaining <= 0:
                return b''
            size = remaining if size < 0 else min(size, remaining)
        line = self._fp('readline', size)
        self._account(len(line))
        return line

    def __iter__(self):
        while True:
            chunk = self.read(_CHUNK)
            if not chunk:
                return
            yield chunk

    def process(self) -> None:
        """Parse the body by its media type into ``params`` (merged into request).

        A body with neither Content-Length nor chunked framing is 411, as in
        CherryPy: its length cannot be known.
        """
        if self.length is None and not self.chunked:
            raise HTTPError(411, 'A request body needs a Content-Length header.')
        ctype = self.content_type.value.lower()
        proc = self.processors.get(ctype)
        if proc is None:
            proc = self.processors.get(ctype.split('/', 1)[0])
        if proc is None:
            proc = self.default_proc
        if proc is None:
            return
        proc(self)
        if self.params:
            req = self.request
            merged = dict(req.params)
            for k, v in self.params.items():
                if k in merged:
                    old = merged[k]
                    merged[k] = (old if isinstance(old, list) else [old]) + (
                        v if isinstance(v, list) else [v])
                else:
                    merged[k] = v
            req.params = merged


#: What an ``<img ismap>`` click sends as the whole query string.
_IMAGE_MAP = re.compile(r'[0-9]{1,9},[0-9]{1,9}')

#: More query fields than this is an absurd query string: 400, not work.
MAX_QUERY_FIELDS = 1000


def parse_query_string(qs: str, encoding: str = 'utf-8') -> dict[str, Any]:
    """Parse a query string; a repeated field becomes a list.

    Raises HTTPError 404 for undecodable text (as CherryPy does) and 400 for
    more than MAX_QUERY_FIELDS fields. The coordinates an ``<img ismap>``
    link sends (``?223,114``) become ``x`` and ``y``.
    """
    if _IMAGE_MAP.fullmatch(qs):
        x, y = qs.split(',')
        return {'x': int(x), 'y': int(y)}
    try:
        pairs = urllib.parse.parse_qsl(qs, keep_blank_values=True, encoding=encoding,
                                       errors='strict', max_num_fields=MAX_QUERY_FIELDS,
                                       separator='&')
    except UnicodeDecodeError:
        raise HTTPError(404, 'The given query string could not be processed. Query '
                        'strings for this resource must be encoded with %r.'
                        % (encoding,)) from None
    except ValueError:
        raise HTTPError(400, 'Too many query string fields (at most %d).'
                        % MAX_QUERY_FIELDS) from None
    params: dict[str, Any] = {}
    for k, v in pairs:
        add_param(params, k, v)
    return params


def _unquote(atom: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(atom.replace(b'+', b' '))


def _process_urlencoded(body: RequestBody) -> None:
    """A form: each name and value unquoted, then decoded with ``attempt_charsets``.

    The first charset that decodes every field wins (``body.charset``);
    when none does, 400 naming the charsets tried.
    """
    known_charset(parse_header(body.content_type)[1].get('charset'), 'The Content-Type')
    data = body.read()
    if data.count(b'&') >= MAX_FORM_FIELDS:
        raise HTTPError(400, 'Too many form fields (at most %d).' % MAX_FORM_FIELDS)
    pairs = []
    for field in data.split(b'&'):
        if field:
            k, _, v = field.partition(b'=')
            pairs.append((_unquote(k), _unquote(v)))
    charsets = body.attempt_charsets
    for charset in charsets:
        try:
            decoded = [(k.decode(charset), v.decode(charset)) for k, v in pairs]
        except (UnicodeDecodeError, LookupError):
            continue
        body.charset = charset
        break
    else:
        raise not_decoded(charsets)
    for name, value in decoded:
        add_param(body.params, name, value)


#: More form fields than this is an absurd form: 400, not work.
MAX_FORM_FIELDS = 10000
