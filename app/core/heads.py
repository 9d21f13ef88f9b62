"""Request heads as the I/O thread sees them: when one is whole, and its reader.

``head_ready`` tells, from the bytes buffered so far, whether a request's
head (and a small body) has arrived, and refuses framing that could be read
two ways. ``HeadReader`` is the connection's ``rfile`` then: the buffered
bytes from memory first, then the socket. ``OriginRequest`` is cheroot's
request, reading request targets as an origin server must.
"""
from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from io import BytesIO
from typing import Any

from cheroot import server as _server

__all__ = ['BadFraming', 'HeadReader', 'OriginRequest', 'head_ready']

# A framing header with whitespace before its colon (in the lower-cased head).
_SPACED = re.compile(rb'\n(?:host|content-length|transfer-encoding|expect)[ \t]+:')
# NOTE: the line end is looked ahead at, not consumed, so that two headers in a
# row both match.
_CONTENT_LENGTH = re.compile(rb'\ncontent-length:[ \t]*(\d{1,18})[ \t]*(?=\r?\n)')
_QUOTED_SLASH = re.compile(rb'%2F', re.I)


class BadFraming(ValueError):
    """A request head whose body length cannot be trusted (RFC 9112 section 6.3)."""


def head_ready(buf: bytes | bytearray, body_limit: int) -> bool:
    """Whether ``buf`` holds a whole request head, and its body if it is small.

    Empty lines before the request line are skipped, as servers should.
    Raises BadFraming for a head with both Transfer-Encoding and
    Content-Length, or with Content-Lengths that differ (its body could be
    read two ways, and the rest taken for another request), for a
    continuation line where the first header should be, for more than
    one Host header, and for whitespace between a framing header's name and
    its colon.
    """
    start = len(buf) - len(buf.lstrip(b'\r\n')) if buf[:1] in (b'\r', b'\n') else 0
    # PERF: the head ends at the first empty line, CRLF or bare LF; two finds
    # in C cost less than one regex search.
    crlf = buf.find(b'\n\r\n', start)
    lf = buf.find(b'\n\n', start, crlf if crlf >= 0 else len(buf))
    if lf >= 0:
        end = lf + 2
    elif crlf >= 0:
        end = crlf + 3
    else:
        return False
    head = buf[start:end]
    first = head.find(b'\n') + 1
    if head[first:first + 1] in (b' ', b'\t'):
        # NOTE: a folded line that continues no header (cheroot itself would crash).
        raise BadFraming('a header continuation line before any header')
    h = head.lower()
    if (b' :' in h or b'\t:' in h) and _SPACED.search(h):
        # RFC 9112 section 5.1; cheroot would strip the space and believe it.
        raise BadFraming('whitespace between a header name and its colon')
    if h.count(b'\nhost:') > 1:
        raise BadFraming('more than one Host header')  # RFC 9112 section 3.2
    cl = b'\ncontent-length:' in h
    if b'\ntransfer-encoding:' in h:
        if cl:
            raise BadFraming('Transfer-Encoding and Content-Length together')
        return True
    if not cl or b'\nexpect:' in h:
        return True
    lengths = _CONTENT_LENGTH.findall(h)
    if len(lengths) != h.count(b'\ncontent-length:'):
        raise BadFraming('a Content-Length that is not a number')
    if len(lengths) > 1 and len({int(n) for n in lengths}) > 1:
        raise BadFraming('Content-Length headers that differ')
    length = int(lengths[0])
    return length > body_limit or len(buf) - end >= length


class HeadReader:
    """A connection's ``rfile``: what the I/O thread buffered, then the socket.

    The buffered bytes are served from memory (``feed``); reads past them
    go to cheroot's own socket reader, so a large body or a pipelined
    request still streams as before.
    """

    def __init__(self, sock_reader: Any) -> None:
        self._sock = sock_reader
        self._mem = BytesIO()
        self._left = 0
        self.bytes_read = 0

    def feed(self, data: bytes) -> None:
        """Serve ``data`` before anything more from the socket."""
        if self._left:
            data = self._mem.read() + data
        self._mem = BytesIO(data)
        self._left = len(data)

    def take_buffered(self) -> bytes:
        """Remove and return every byte read from the socket but not yet consumed."""
        data = self._mem.read() if self._left else b''
        self._left = 0
        if self._sock.has_data():
            data += self._sock.read1(1 << 20)
        return data

    def has_data(self) -> bool:
        """True when bytes are buffered (a pipelined request, say)."""
        return self._left > 0 or self._sock.has_data()

    def readline(self, size: int = -1) -> bytes:
        """A line, from the buffered bytes and then, if it runs on, the socket."""
        if not self._left:
            line = self._sock.readline(size)
        else:
            line = self._mem.readline(size)
            self._left -= len(line)
            if not self._left and not line.endswith(b'\n') and (size < 0 or len(line) < size):
                line += self._sock.readline(size - len(line) if size >= 0 else -1)
        self.bytes_read += len(line)
        return line

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (all, for -1), from the buffered bytes then the socket."""
        if not self._left:
            data = self._sock.read(size)
        else:
            data = self._mem.read(size)
            self._left -= len(data)
            if not self._left and (size < 0 or len(data) < size):
                data += self._sock.read(size - len(data) if size >= 0 else -1)
        self.bytes_read += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Lines until the end (or about ``hint`` bytes)."""
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 <= hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Close the socket reader."""
        self._sock.close()


def split_target(target: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(authority, path, query)`` of a request target; None when it is refused.

    ``//a/b`` is an origin-form path (its first segment is empty), not an
    authority. The absolute form must be ``http`` or ``https`` with a host
    and no user info (RFC 9110 section 4.2.4). The path is %-decoded except
    for encoded slashes, as cheroot decodes origin-form paths.
    """
    if target.startswith(b'/'):
        raw, _, query = target.partition(b'?')
        authority = b''
    else:
        scheme, sep, rest = target.partition(b'://')
        if not sep or scheme.lower() not in (b'http', b'https'):
            return None
        authority, slash, tail = rest.partition(b'/')
        authority, q, query = authority.partition(b'?')
        if q:
            tail, slash = b'', b''
        else:
            tail, _, query = tail.partition(b'?')
        if not authority or b'@' in authority or b'#' in target:
            return None
        raw = slash + tail
    try:
        path = b'%2F'.join(urllib.parse.unquote_to_bytes(x) for x in _QUOTED_SLASH.split(raw))
    except ValueError:
        return None
    return authority, path if path.startswith(b'/') else b'/' + path, query


class OriginRequest(_server.HTTPRequest):
    """cheroot's request, reading its target as an origin server (RFC 9112 section 3.2).

    cheroot refuses the absolute form (``GET http://host/path HTTP/1.1``)
    unless it is a proxy, yet an origin server must accept it and take the
    host from it rather than from the Host header. Here it is accepted: its
    authority becomes the Host header and the scheme stays the
    connection's own (a client's ``https://`` over plain HTTP changes
    nothing). A scheme other than http or https, and CONNECT, which only
    proxies serve, are refused.
    """

    def __init__(self, server: Any, conn: Any, proxy_mode: bool = False,
                 strict_mode: bool = True) -> None:
        # NOTE: cheroot's proxy mode is what accepts the absolute form.
        super().__init__(server, conn, True, strict_mode)

    def parse_request(self) -> None:
        """cheroot's, then the checks above (``ready`` is False when it answered)."""
        scheme = self.scheme
        try:
            super().parse_request()
        except ValueError:
            # NOTE: urlsplit refuses a bracket in the authority ('//a]b/'); cheroot
            # would answer 500.
            self.simple_response('400 Bad Request', 'Malformed Request-URI')
            return
        if not self.ready:
            return
        if self.method == b'CONNECT':
            self.ready = False
            self.simple_response('405 Method Not Allowed', 'This server is not a proxy.')
        elif self.authority or self.uri[:1] != b'/' and self.uri != b'*':
            target = split_target(self.uri)
            if target is None:
                self.ready = False
                self.simple_response('400 Bad Request', 'Unsupported request target.')
                return
            self.authority, self.path, self.qs = target
            self.scheme = scheme
            if self.authority:
                self.inheaders[b'Host'] = self.authority
