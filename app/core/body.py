"""The request body: size limits, form fields and multipart uploads.

Bad input is a 4xx with a message: a Content-Length that is not a number
(400), a body over ``server.max_request_body_size`` (413), a malformed
multipart body (400), undecodable form text (400).
"""
from __future__ import annotations

import io
import re
import tempfile
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cheroot import errors as _errors

from .errors import HTTPError

if TYPE_CHECKING:
    from .request_response import Request

__all__ = ['RequestBody', 'Part', 'DEFAULT_MAX_BODY', 'parse_query_string', 'MAX_QUERY_FIELDS']

#: CherryPy's default for ``server.max_request_body_size``: 100 MB.
DEFAULT_MAX_BODY = 100 * 1024 * 1024
_SPOOL = 1024 * 1024
_CHUNK = 64 * 1024


def _parse_header(line: str) -> tuple[str, dict[str, str]]:
    parts = line.split(';')
    value = parts[0].strip().lower()
    params = {}
    for p in parts[1:]:
        k, sep, v = p.partition('=')
        if sep:
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1].replace('\\"', '"')
            params[k.strip().lower()] = v
    return value, params


class ContentType(str):
    """A content type string that also has CherryPy's ``.value``."""

    @property
    def value(self) -> str:
        """The type itself, without parameters."""
        return str(self).split(';', 1)[0].strip()


class Part:
    """One multipart part: ``name``, ``filename``, ``content_type``, ``file``.

    For a field without a filename, ``value`` is its text; for an upload,
    ``file`` is a readable file object positioned at the start.
    """

    __slots__ = ('name', 'filename', 'content_type', 'file', 'headers', 'value')

    #: An upload up to this many bytes stays in memory; a bigger one goes to
    #: a temporary file (CherryPy's name).
    maxrambytes = _SPOOL

    def __init__(self, name: str | None, filename: str | None, content_type: str,
                 file: Any, headers: dict[str, str], value: Any = None) -> None:
        self.name = name
        self.filename = filename
        self.content_type = ContentType(content_type)
        self.file = file
        self.headers = headers
        self.value = value

    def fullvalue(self) -> Any:
        """Return the whole content: text for a field, bytes for a file."""
        if self.file is None:
            return self.value
        pos = self.file.tell()
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(pos)
        return data

    def __repr__(self) -> str:
        return 'Part(name=%r, filename=%r, content_type=%r)' % (
            self.name, self.filename, str(self.content_type))


class RequestBody:
    """``request.body``: ``fp``, ``length``, ``content_type``, ``params``, ``read()``.

    ``processors`` maps a media type to a function ``proc(body)`` that fills
    ``body.params`` (the json_in tool installs one for JSON).
    """

    def __init__(self, request: Request) -> None:
        env = request.environ
        self.request = request
        self.fp = env.get('wsgi.input') or io.BytesIO()
        self.params: dict[str, Any] = {}
        self.content_type = ContentType(env.get('CONTENT_TYPE') or '')
        self.processors: dict[str, Callable[[RequestBody], None]] = {
            'application/x-www-form-urlencoded': _process_urlencoded,
            'multipart/form-data': _process_multipart,
        }
        self.default_proc: Callable[[RequestBody], None] | None = None
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


def _add(params: dict[str, Any], key: str, value: Any) -> None:
    if key in params:
        old = params[key]
        if isinstance(old, list):
            old.append(value)
        else:
            params[key] = [old, value]
    else:
        params[key] = value


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
        _add(params, k, v)
    return params


def _process_urlencoded(body: RequestBody) -> None:
    data = body.read()
    charset = _parse_header(body.content_type)[1].get('charset', 'utf-8')
    try:
        text = data.decode(charset)
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors='strict',
                                       encoding=charset, max_num_fields=10000)
    except (UnicodeDecodeError, LookupError):
        raise HTTPError(400, 'The request entity could not be decoded as %r.'
                        % (charset,)) from None
    except ValueError:
        raise HTTPError(400, 'Too many form fields.') from None
    for k, v in pairs:
        _add(body.params, k, v)


def _process_multipart(body: RequestBody) -> None:
    boundary = _parse_header(body.content_type)[1].get('boundary')
    if not boundary or len(boundary) > 200:
        raise HTTPError(400, 'Invalid multipart body: missing or bad boundary.')
    delim = b'--' + boundary.encode('latin-1', 'replace')
    data = body.read()
    # NOTE: the body is bounded by max_request_body_size before we get here;
    # parts with a filename go to spooled files so handlers can stream them.
    start = data.find(delim)
    if start < 0:
        raise HTTPError(400, 'Invalid multipart body: boundary not found.')
    pos = start + len(delim)
    while True:
        if data[pos:pos + 2] == b'--':
            return
        if data[pos:pos + 2] != b'\r\n':
            raise HTTPError(400, 'Invalid multipart body: bad boundary line.')
        pos += 2
        head_end = data.find(b'\r\n\r\n', pos)
        if head_end < 0:
            raise HTTPError(400, 'Invalid multipart body: unterminated part headers.')
        headers = {}
        for line in data[pos:head_end].split(b'\r\n'):
            k, sep, v = line.decode('utf-8', 'replace').partition(':')
            if not sep:
                raise HTTPError(400, 'Invalid multipart body: bad part header.')
            headers[k.strip().title()] = v.strip()
        end = data.find(b'\r\n' + delim, head_end + 4)
        if end < 0:
            raise HTTPError(400, 'Invalid multipart body: unterminated part.')
        content = data[head_end + 4:end]
        pos = end + 2 + len(delim)
        _disp, dparams = _parse_header(headers.get('Content-Disposition', ''))
        name = dparams.get('name')
        filename = dparams.get('filename')
        ctype = headers.get('Content-Type', 'text/plain' if filename is None
                            else 'application/octet-stream')
        if filename is None:
            charset = _parse_header(ctype)[1].get('charset', 'utf-8')
            try:
                value: Any = content.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise HTTPError(400, 'Invalid multipart body: field %r is not %s text.'
                                % (name, charset)) from None
        else:
            f = tempfile.SpooledTemporaryFile(max_size=Part.maxrambytes)
            f.write(content)
            f.seek(0)
            value = Part(name, filename, ctype, f, headers)
        if name is not None:
            _add(body.params, name, value)
