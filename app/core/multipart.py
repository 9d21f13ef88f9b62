"""Multipart request bodies: ``Part``, header parameters, and the parser.

A multipart body is split into parts at its boundary lines; a part with a
filename becomes a ``Part`` whose ``file`` holds the upload, any other
part's text is decoded with its charset, else ``Part.attempt_charsets``.
Malformed input is a 400 with a message.
"""
from __future__ import annotations

import codecs
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import HTTPError

if TYPE_CHECKING:
    from .body import RequestBody

__all__ = ['Part', 'ContentType', 'parse_header', 'add_param', 'known_charset', 'not_decoded',
           'process_form_data', 'process_parts', 'parts']

_SPOOL = 1024 * 1024


def _params(s: str) -> Iterator[str]:
    """The ``;``-separated parameters of a header value; a ``;`` inside quotes stays."""
    while s[:1] == ';':
        s = s[1:]
        end = s.find(';')
        while end > 0 and (s.count('"', 0, end) - s.count('\\"', 0, end)) % 2:
            end = s.find(';', end + 1)
        if end < 0:
            end = len(s)
        yield s[:end].strip()
        s = s[end:]


def parse_header(line: str) -> tuple[str, dict[str, str]]:
    """``'form-data; name="a;b"'`` -> ``('form-data', {'name': 'a;b'})`` (the ``cgi`` rules)."""
    parts = _params(';' + line)
    value = next(parts).lower()
    params = {}
    for p in parts:
        k, sep, v = p.partition('=')
        if sep:
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1].replace('\\\\', '\\').replace('\\"', '"')
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

    __slots__ = ('name', 'filename', 'content_type', 'file', 'headers', 'value', 'charset')

    #: An upload up to this many bytes stays in memory; a bigger one goes to
    #: a temporary file (CherryPy's name).
    maxrambytes = _SPOOL

    #: The charsets a field without a ``charset`` parameter is decoded with,
    #: in order (CherryPy's: RFC 2046's US-ASCII, then what browsers send).
    attempt_charsets = ['us-ascii', 'utf-8']

    def __init__(self, name: str | None, filename: str | None, content_type: str,
                 file: Any, headers: dict[str, str], value: Any = None) -> None:
        self.name = name
        self.filename = filename
        self.content_type = ContentType(content_type)
        self.file = file
        self.headers = headers
        self.value = value
        #: The charset a text field was decoded with (None for an upload).
        self.charset: str | None = None

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


def add_param(params: dict[str, Any], key: str, value: Any) -> None:
    """Add ``key=value`` to ``params``; a repeated key becomes a list."""
    if key in params:
        old = params[key]
        if isinstance(old, list):
            old.append(value)
        else:
            params[key] = [old, value]
    else:
        params[key] = value


def not_decoded(charsets: list[str]) -> HTTPError:
    """The 400 for a body none of ``charsets`` decodes (CherryPy's message)."""
    return HTTPError(400, 'The request entity could not be decoded. The following '
                     'charsets were attempted: %r' % (charsets,))


def known_charset(charset: str | None, what: str) -> None:
    """400 when the client named a charset Python does not know."""
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            raise HTTPError(400, '%s names an unknown charset: %r.' % (what, charset)) from None


def process_form_data(body: RequestBody) -> None:
    """``multipart/form-data``: named parts into ``params``, the others into ``parts``."""
    for part in parts(body):
        if part.name is None:
            body.parts.append(part)
        else:
            add_param(body.params, part.name, part if part.filename is not None else part.value)


def process_parts(body: RequestBody) -> None:
    """Other ``multipart/*`` types: as form-data, but unnamed parts go to ``params['parts']``.

    CherryPy's behaviour: a ``multipart/alternative`` body reaches the
    handler as a ``parts`` argument, its texts in order.
    """
    for part in parts(body):
        add_param(body.params, 'parts' if part.name is None else part.name,
             part if part.filename is not None else part.value)


def _boundary_line(data: bytes, delim: bytes, start: int) -> tuple[int, int, bool] | None:
    """The next boundary line at or after ``start``: (content end, next line, final).

    A boundary line starts a line and holds the delimiter, ``--`` after it
    when it is the last, and nothing else but white space. The line break
    before it (CRLF or a bare LF) belongs to it, not to the part's content.
    """
    i = data.find(delim, start)
    while i >= 0:
        if i == 0 or data[i - 1] == 10:
            eol = data.find(b'\n', i + len(delim))
            line_end = len(data) if eol < 0 else eol
            tail = data[i + len(delim):line_end].strip()
            if tail == b'' or tail == b'--':
                cut = i - 1 if i > 0 else 0
                if cut > 0 and data[cut - 1] == 13:
                    cut -= 1
                return cut, line_end + 1, tail == b'--'
        i = data.find(delim, i + 1)
    return None


def _header_text(raw: bytes) -> str:
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw.decode('latin-1')


def _part_headers(data: bytes, pos: int) -> tuple[dict[str, str], int]:
    """Part headers from ``pos`` to the blank line; lines end in CRLF or LF."""
    headers: dict[str, str] = {}
    last = None
    while True:
        nl = data.find(b'\n', pos)
        if nl < 0:
            raise HTTPError(400, 'Invalid multipart body: unterminated part headers.')
        line = data[pos:nl].rstrip(b'\r')
        pos = nl + 1
        if not line:
            return headers, pos
        if line[:1] in (b' ', b'\t') and last is not None:
            headers[last] += ' ' + _header_text(line.strip())
            continue
        k, sep, v = _header_text(line).partition(':')
        if not sep or not k.strip():
            raise HTTPError(400, 'Invalid multipart body: bad part header.')
        last = k.strip().title()
        v = v.strip()
        headers[last] = headers[last] + ', ' + v if last in headers else v


def parts(body: RequestBody) -> Iterator[Part]:
    """The parts of a multipart body, in order; 400 for a malformed one.

    Forgiving where clients are: boundary lines may end in a bare LF, the
    last one may lack its line break, a quoted filename may hold ``;``.
    """
    boundary = parse_header(body.content_type)[1].get('boundary', '')
    if not re.fullmatch(r'[ -~]{0,200}[!-~]', boundary):
        raise HTTPError(400, 'Invalid multipart body: missing or bad boundary.')
    delim = b'--' + boundary.encode('ascii')
    data = body.read()
    # NOTE: the body is bounded by max_request_body_size before we get here;
    # parts with a filename go to spooled files so handlers can stream them.
    found = _boundary_line(data, delim, 0)
    if found is None:
        raise HTTPError(400, 'Invalid multipart body: boundary not found.')
    pos, final = found[1], found[2]
    # NOTE: a body cut after a boundary line (as CherryPy reads it) ends there.
    while not final and data[pos:].strip():
        headers, start = _part_headers(data, pos)
        found = _boundary_line(data, delim, start)
        if found is None:
            raise HTTPError(400, 'Invalid multipart body: unterminated part.')
        end, pos, final = found
        yield _make_part(headers, data[start:end])


def _make_part(headers: dict[str, str], content: bytes) -> Part:
    _disp, dparams = parse_header(headers.get('Content-Disposition', ''))
    name = dparams.get('name')
    filename = dparams.get('filename')
    if 'filename*' in dparams:
        # RFC 5987: charset'language'percent-encoded
        charset, _, rest = dparams['filename*'].partition("'")
        _lang, _, quoted = rest.partition("'")
        try:
            filename = urllib.parse.unquote(quoted, charset or 'utf-8', errors='strict')
        except (UnicodeDecodeError, LookupError):
            raise HTTPError(400, 'Invalid multipart body: bad filename*.') from None
    ctype = headers.get('Content-Type', 'text/plain' if filename is None
                        else 'application/octet-stream')
    if filename is not None:
        f = tempfile.SpooledTemporaryFile(max_size=Part.maxrambytes)
        f.write(content)
        f.seek(0)
        return Part(name, filename, ctype, f, headers)
    part = Part(name, None, ctype, None, headers)
    named = parse_header(ctype)[1].get('charset')
    known_charset(named, 'Invalid multipart body: the Content-Type of field %r' % (name,))
    charsets = [named] if named else []
    charsets += [c for c in part.attempt_charsets if c != named]
    for charset in charsets:
        try:
            part.value = content.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
        part.charset = charset
        return part
    raise not_decoded(charsets)
