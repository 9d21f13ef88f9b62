"""HTTP helpers: case-insensitive headers, status lines, dates, Accept parsing."""
from __future__ import annotations

import base64
import datetime
import email.header
import email.utils
import re
import time
import urllib.parse
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

__all__ = ['HeaderMap', 'Host', 'valid_status', 'response_codes', 'HTTPDate',
           'header_elements', 'parse_http_date', 'urljoin', 'get_ranges', 'decode_TEXT',
           'decode_TEXT_maybe']

#: ``{code: (reason, long message)}`` as CherryPy's ``httputil.response_codes``.
response_codes: dict[int, tuple[str, str]] = {
    s.value: (s.phrase, s.description) for s in HTTPStatus}
response_codes[500] = ('Internal Server Error',
                       'The server encountered an unexpected condition '
                       'which prevented it from fulfilling the request.')
response_codes[503] = ('Service Unavailable',
                       'The server is currently unable to handle the '
                       'request due to a temporary overloading or '
                       'maintenance of the server.')


class Host:
    """An address: ``ip``, ``port`` and ``name`` (CherryPy's ``httputil.Host``)."""

    __slots__ = ('ip', 'port', 'name')

    def __init__(self, ip: str, port: int, name: str | None = None) -> None:
        self.ip = ip
        self.port = port
        self.name = name or ip

    def __repr__(self) -> str:
        return 'Host(%r, %r, %r)' % (self.ip, self.port, self.name)


_new_dict = dict.__new__

#: Header name -> its title-cased form. PERF: ``str.title`` costs more than
#: a lookup; names are few, and past _TITLED_MAX new ones are not kept.
_titled: dict[str, str] = {}
_TITLED_MAX = 512


def _title(key: Any) -> str:
    if key.__class__ is not str:
        key = str(key)
    t = key.title()
    if not (t.isascii() and t.isprintable()) or ':' in t or ' ' in t:
        raise ValueError('not a header name: %r' % (key,))
    if len(_titled) < _TITLED_MAX:
        _titled[key] = t
    return t


class HeaderMap(dict):
    """A dict of HTTP headers whose keys compare case-insensitively.

    Keys are stored title-cased (``content-type`` -> ``Content-Type``), which
    is what CherryPy programs see when they iterate.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kw: Any) -> None:
        # NOTE: dict's own constructor would keep the keys as given.
        dict.__init__(self)
        if args or kw:
            self.update(*args, **kw)

    @staticmethod
    def _k(key: str) -> str:
        return _titled.get(key) or _title(key)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, _titled.get(key) or _title(key))

    def __setitem__(self, key: str, value: Any) -> None:
        name = _titled.get(key) or _title(key)
        if value.__class__ is str and not (value.isascii() and value.isprintable()):
            value = safe_header_value(name, value)  # NOTE: no control character, only Latin-1
        dict.__setitem__(self, name, value)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, self._k(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._k(key))  # type: ignore[arg-type]

    def get(self, key: str, default: Any = None) -> Any:
        return dict.get(self, self._k(key), default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        name = self._k(key)
        if default.__class__ is str and not (default.isascii() and default.isprintable()):
            default = safe_header_value(name, default)
        return dict.setdefault(self, name, default)

    def pop(self, key: str, *default: Any) -> Any:
        return dict.pop(self, self._k(key), *default)

    def update(self, other: Any = (), **kw: Any) -> None:  # type: ignore[override]
        items = other.items() if hasattr(other, 'items') else other
        for k, v in items:
            self[k] = v
        for k, v in kw.items():
            self[k] = v

    def copy(self) -> HeaderMap:
        h = _new_dict(HeaderMap)  # PERF: skips __init__; the keys are already titled
        dict.update(h, self)
        return h

    def elements(self, key: str) -> list[HeaderElement]:
        """Return the parsed elements of header ``key``.

        Accept* elements come most preferred first, as CherryPy orders them:
        by q-value, equal ones by their text, descending (so
        ``text/html;level=1`` before ``text/html`` before ``text/*``).
        """
        elements = header_elements(key, self.get(key))
        if key.lower().startswith('accept'):
            elements.sort(key=lambda e: (e.qvalue, str(e)), reverse=True)
        return elements

    def values(self, key: str | None = None):
        """With a key: the element values of that header (CherryPy API)."""
        if key is None:
            return dict.values(self)
        return [e.value for e in self.elements(key)]

    def output(self) -> list[tuple[str, str]]:
        """Return ``[(name, value)]`` for WSGI ``start_response``."""
        return [(k, v) if v.__class__ is str else
                (k, v.decode('latin-1') if isinstance(v, bytes) else str(v))
                for k, v in dict.items(self)]


class HeaderElement:
    """One element of a comma-separated header, with its parameters."""

    __slots__ = ('value', 'params')

    def __init__(self, value: str, params: dict[str, str] | None = None) -> None:
        self.value = value
        self.params = params or {}

    @property
    def qvalue(self) -> float:
        """The ``q`` parameter as a float (1.0 when absent, 0.0 when malformed)."""
        try:
            return float(self.params.get('q', '1'))
        except ValueError:
            return 0.0

    def __str__(self) -> str:
        p = ''.join(';%s=%s' % kv for kv in self.params.items())
        return self.value + p

    def __repr__(self) -> str:
        return 'HeaderElement(%r, %r)' % (self.value, self.params)


def header_elements(fieldname: str, fieldvalue: str | None) -> list[HeaderElement]:
    """Parse a header into elements; Accept* headers are sorted by q-value."""
    if not fieldvalue:
        return []
    result = []
    for element in fieldvalue.split(','):
        parts = [p.strip() for p in element.split(';')]
        if not parts[0]:
            continue
        params = {}
        for atom in parts[1:]:
            k, _, v = atom.partition('=')
            if k:
                params[k.strip().lower()] = v.strip().strip('"')
        result.append(HeaderElement(parts[0], params))
    if fieldname.lower().startswith('accept'):
        result.sort(key=lambda e: e.qvalue, reverse=True)
    return result


def valid_status(status: Any) -> tuple[int, str, str]:
    """Return ``(code, reason, message)`` for an int or ``'404 Reason'`` string.

    Raises ValueError for anything that is not a status from 100 to 599.
    """
    if not status:
        status = 200
    if not isinstance(status, (str, int)):
        raise ValueError('Illegal response status from server (%r is non-numeric).'
                         % (status,))
    code_s, _, reason = str(status).strip().partition(' ')
    try:
        code = int(code_s)
    except (TypeError, ValueError):
        raise ValueError('Illegal response status from server (%r is non-numeric).'
                         % (code_s,)) from None
    if code < 100 or code > 599:
        raise ValueError('Illegal response status from server (%s is out of range).'
                         % (code,))
    default_reason, message = response_codes.get(code, ('', ''))
    return code, reason or default_reason, message


def HTTPDate(timeval: float | None = None) -> str:
    """Format a timestamp as an RFC 7231 date (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    return email.utils.formatdate(time.time() if timeval is None else timeval,
                                  usegmt=True)


def parse_http_date(value: str | None) -> float | None:
    """Parse an HTTP date to a timestamp; None when absent or malformed."""
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
        if dt.tzinfo is None:
            # NOTE: asctime dates and "-0000" carry no zone; HTTP dates are GMT.
            dt = dt.replace(tzinfo=datetime.UTC)
        return dt.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # NOTE: a date no calendar has (second 999...9) is no date


#: Control characters a header value must not carry (tab is allowed).
_CONTROLS = re.compile('[\x00-\x08\x0a-\x1f\x7f]')
#: What may stay as it is in a Location: RFC 3986's reserved and unreserved, and %.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"


def safe_header_value(name: str, value: str) -> str:
    """``value`` as it may go on the wire: no control characters, only Latin-1.

    Control characters (0-31 but tab, and 127) are removed, as CherryPy
    does, so no value can end its header line and start another. A
    ``Location`` beyond ASCII becomes a percent-encoded URI (UTF-8, RFC
    3986); elsewhere text beyond Latin-1 becomes an RFC 2047 encoded-word.
    """
    value = _CONTROLS.sub('', value)
    if value.isascii():
        return value
    if name.lower() == 'location':
        return urllib.parse.quote(value, safe=_URI_SAFE)
    try:
        value.encode('latin-1')
        return value
    except UnicodeEncodeError:
        # NOTE: one encoded-word, never folded (email.header folds long
        # values onto a second line, which would end the header).
        return '=?utf-8?b?%s?=' % base64.b64encode(value.encode('utf-8')).decode('ascii')


def qvalue_pick(header: str | None, offers: Iterable[str]) -> list[str]:
    """Return the offers acceptable under an Accept-* header, best first.

    ``*`` stands only for offers the header does not name (RFC 9110 12.5.3).
    """
    elements = header_elements('accept', header)
    listed = {e.value.lower() for e in elements}
    out = []
    for e in elements:
        if e.qvalue <= 0:
            continue
        for o in offers:
            if o not in out and (e.value.lower() == o.lower()
                                 or (e.value == '*' and o.lower() not in listed)):
                out.append(o)
    return out


def urljoin(*atoms: str) -> str:
    """Join URL path pieces (``SCRIPT_NAME``, ``PATH_INFO``) with single slashes.

    Empty pieces are skipped; nothing at all gives ``'/'``.
    """
    url = '/'.join(a for a in atoms if a)
    while '//' in url:
        url = url.replace('//', '/')
    return url or '/'


def get_ranges(headervalue: str | None, content_length: int) -> list[tuple[int, int]] | None:
    """The ``(start, stop)`` slices a ``Range: bytes=...`` header asks for, in order.

    ``bytes=3-6`` gives ``[(3, 7)]``; ``-N`` is the last N bytes (the whole
    content when N is larger). None when there is no header or it is not
    valid (the request is then answered as if it had none, RFC 9110 14.2);
    an empty list when no range is satisfiable (answer 416).
    """
    if not headervalue:
        return None
    unit, sep, spec = headervalue.partition('=')
    if not sep or unit.strip().lower() != 'bytes':
        return None
    result = []
    for brange in spec.split(','):
        first, dash, last = (x.strip() for x in brange.partition('-'))
        if not dash or (first and not _is_digits(first)) or (last and not _is_digits(last)):
            return None
        if first:
            start = int(first)
            stop = int(last) if last else content_length - 1
            if start >= content_length:
                continue  # NOTE: unsatisfiable; 416 if none is left
            if stop < start:
                return None
            result.append((start, min(stop + 1, content_length)))
        elif not last:
            return None
        else:
            n = int(last)
            result.append((max(content_length - n, 0), content_length))
    return result


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def decode_TEXT(value: str) -> str:
    """Decode RFC 2047 encoded-words: ``'=?utf-8?q?f=C3=BCr?='`` gives ``'für'``.

    A word in an unknown charset, or that does not decode, is kept as
    Latin-1 text rather than failing the request.
    """
    out = []
    for atom, charset in email.header.decode_header(value):
        if isinstance(atom, bytes):
            try:
                atom = atom.decode(charset or 'latin-1')
            except (LookupError, UnicodeDecodeError):
                atom = atom.decode('latin-1')
        out.append(atom)
    return ''.join(out)


def decode_TEXT_maybe(value: str) -> str:
    """``decode_TEXT(value)`` if it holds an encoded-word (``=?``), else ``value``."""
    return decode_TEXT(value) if '=?' in value else value
