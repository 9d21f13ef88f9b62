"""Static files: ``serve_file``, ``serve_download``, ``staticdir``, ``staticfile``.

Sends ``Last-Modified`` and answers ``If-Modified-Since`` with 304; answers
a ``Range`` with 206 (416 when unsatisfiable), honouring ``If-Range``:
several ranges as ``multipart/byteranges`` while they are at most
``MAX_RANGES`` and ask for no more bytes than the file has, else the
whole file (RFC 9110 14.2 allows it), so no Range makes a response
larger than the file plus the parts' headers.
A path that leaves the configured directory (``..``, encoded slashes or
dots, a symlink pointing outside) is refused with 403; a NUL byte in it
is a 404 (no file has such a name).
"""
from __future__ import annotations

import functools
import mimetypes
import os
import re
import secrets
import stat
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .. import _serving
from ..errors import HTTPError, HTTPRedirect, NotFound
from .httputil import HTTPDate, get_ranges, parse_http_date

__all__ = ['serve_file', 'serve_fileobj', 'serve_download', 'staticdir', 'staticfile']

_CHUNK = 64 * 1024
#: The most ranges one request gets as multipart/byteranges.
MAX_RANGES = 8
mimetypes.add_type('image/svg+xml', '.svg')
mimetypes.add_type('application/javascript', '.js')
mimetypes.add_type('font/woff2', '.woff2')


def _file_iter(f: Any, start: int, length: int) -> Iterator[bytes]:
    try:
        f.seek(start)
        remaining = length
        while remaining > 0:
            data = f.read(min(_CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        f.close()


class _FileBody:
    """A file (or a range of it) as a WSGI body of bytes, read 64 KiB at a time.

    ``input`` is the open file, as on CherryPy's ``lib.file_generator`` (what
    its ``serve_file`` returns): a handler may watch ``input.tell()`` or
    ``input.closed`` while the body streams.
    """

    bytes_only = True

    def __init__(self, f: Any, start: int, length: int) -> None:
        self.input = f
        self.start = start
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        return _file_iter(self.input, self.start, self.length)

    def close(self) -> None:
        self.input.close()


class _RangesBody:
    """Several ranges of a file as a ``multipart/byteranges`` body."""

    bytes_only = True

    def __init__(self, f: Any, parts: list[tuple[bytes, int, int]], tail: bytes) -> None:
        self.f = f
        self.parts = parts
        self.tail = tail

    def __iter__(self) -> Iterator[bytes]:
        for head, start, length in self.parts:
            yield head
            self.f.seek(start)
            remaining = length
            while remaining > 0:
                data = self.f.read(min(_CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data
        yield self.tail

    def close(self) -> None:
        self.f.close()


def _multipart_ranges(fileobj: Any, ranges: list[tuple[int, int]], size: int) -> bool:
    """Answer ``ranges`` as multipart/byteranges, if few and small enough; else False."""
    if len(ranges) > MAX_RANGES or sum(stop - start for start, stop in ranges) > size:
        return False
    response = _serving.current().response
    boundary = secrets.token_hex(16)
    ctype = response.headers.get('Content-Type') or 'application/octet-stream'
    parts = [(('\r\n--%s\r\nContent-type: %s\r\nContent-range: bytes %d-%d/%d\r\n\r\n'
               % (boundary, ctype, start, stop - 1, size)).encode('latin-1', 'replace'),
              start, stop - start) for start, stop in ranges]
    tail = ('\r\n--%s--\r\n' % boundary).encode('ascii')
    response.status = '206 Partial Content'
    response.headers['Content-Type'] = 'multipart/byteranges; boundary=%s' % boundary
    response.headers['Content-Length'] = str(sum(len(h) + n for h, _s, n in parts) + len(tail))
    response.body = _RangesBody(fileobj, parts, tail)
    return True


def _validate_since(path_mtime: float) -> None:
    request = _serving.current()
    since = parse_http_date(request.environ.get('HTTP_IF_MODIFIED_SINCE'))
    if since is not None and int(path_mtime) <= int(since) and \
            request.method in ('GET', 'HEAD'):
        raise HTTPRedirect([], 304)


def serve_file(path: str, content_type: str | None = None, disposition: str | None = None,
               name: str | None = None, debug: bool = False) -> Any:
    """Set the response to the file at absolute ``path`` and return its body.

    ``disposition`` (``'attachment'``/``'inline'``) adds Content-Disposition
    with ``name`` (default: the file's basename). 404 if there is no file.
    """
    if not os.path.isabs(path):
        raise ValueError("'%s' is not an absolute path." % (path,))
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        raise NotFound() from None
    if stat.S_ISDIR(st.st_mode):
        raise NotFound()
    return _serve_stat(path, st, content_type, disposition, name)


@functools.lru_cache(maxsize=1024)
def _last_modified(mtime: int) -> str:
    return HTTPDate(mtime)


@functools.lru_cache(maxsize=256)
def _guess_type(ext: str) -> str:
    return mimetypes.guess_type('x' + ext)[0] or 'application/octet-stream'


def _serve_stat(path: str, st: os.stat_result, content_type: str | None,
                disposition: str | None = None, name: str | None = None) -> Any:
    response = _serving.current().response
    response.headers['Last-Modified'] = _last_modified(int(st.st_mtime))
    _validate_since(st.st_mtime)
    if content_type is None:
        content_type = _guess_type(os.path.splitext(path)[1].lower())
    response.headers['Content-Type'] = content_type
    if disposition is not None:
        if name is None:
            name = os.path.basename(path)
        response.headers['Content-Disposition'] = _disposition(disposition, name)
    try:
        f = open(path, 'rb')
    except OSError:
        raise HTTPError(403, 'The file cannot be read.') from None
    return serve_fileobj(f, content_type, None, None, st.st_size)


def _disposition(disposition: str, name: str) -> str:
    # NOTE: the ASCII fallback drops what ASCII lacks (as CherryPy); filename* has it all.
    ascii_name = name.encode('ascii', 'ignore').decode('ascii').replace('"', '')
    quoted = urllib.parse.quote(name)
    if quoted == name:
        return '%s; filename="%s"' % (disposition, name)
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (disposition, ascii_name, quoted)


def serve_fileobj(fileobj: Any, content_type: str | None = None, disposition: str | None = None,
                  name: str | None = None, content_length: int | None = None,
                  debug: bool = False) -> Any:
    """Set the response to an open binary file object and return its body."""
    request = _serving.current()
    response = request.response
    if content_type is not None:
        response.headers['Content-Type'] = content_type
    if disposition is not None:
        response.headers['Content-Disposition'] = _disposition(disposition, name or 'download')
    if content_length is None:
        try:
            content_length = os.fstat(fileobj.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            response.body = fileobj.read()
            fileobj.close()
            return response.body
    response.headers['Accept-Ranges'] = 'bytes'
    start, length = 0, content_length
    rng = request.environ.get('HTTP_RANGE')
    if_range = request.environ.get('HTTP_IF_RANGE')
    if if_range is not None and if_range != response.headers.get('Last-Modified'):
        rng = None  # NOTE: the client's copy changed (RFC 9110 13.1.5): send it whole
    if rng and request.protocol >= (1, 1) and ',' in rng:
        ranges = get_ranges(rng, content_length)
        if ranges == []:
            fileobj.close()
            response.headers['Content-Range'] = 'bytes */%s' % content_length
            raise HTTPError(416, 'Invalid Range (first-byte-pos greater than Content-Length)')
        if ranges and len(ranges) > 1 and _multipart_ranges(fileobj, ranges, content_length):
            return response.body
        if ranges and len(ranges) == 1:
            rng = 'bytes=%d-%d' % (ranges[0][0], ranges[0][1] - 1)
        else:
            rng = None
    if rng and request.protocol >= (1, 1):
        r = _parse_range(rng, content_length)
        if r is None:
            fileobj.close()
            response.headers['Content-Range'] = 'bytes */%s' % content_length
            raise HTTPError(416, 'Invalid Range (first-byte-pos greater than Content-Length)')
        if r != (0, content_length):
            start, stop = r
            length = stop - start
            response.status = '206 Partial Content'
            response.headers['Content-Range'] = 'bytes %s-%s/%s' % (
                start, stop - 1, content_length)
    response.headers['Content-Length'] = str(length)
    wrapper = request.environ.get('wsgi.file_wrapper')
    if wrapper is not None and start == 0 and length == content_length:
        response.body = wrapper(fileobj, _CHUNK)
    else:
        response.body = _FileBody(fileobj, start, length)
    return response.body


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return ``(start, stop)`` for a single byte range, whole file for others.

    None means unsatisfiable (416). A Range header that is not valid
    (another unit, ``5-3``, signs or spaces in the numbers) is ignored, as
    RFC 9110 section 14.2 says. Several ranges are ``serve_fileobj``'s
    (multipart, or the whole file).
    """
    unit, _, spec = header.partition('=')
    if unit.strip().lower() != 'bytes' or not spec:
        return (0, size)
    ranges = [r.strip() for r in spec.split(',') if r.strip()]
    if len(ranges) != 1:
        return (0, size)
    first, dash, last = ranges[0].partition('-')
    if not dash or not _digits(last or '0') or (first and not _digits(first)):
        return (0, size)
    if first == '':
        if not last:
            return (0, size)
        n = int(last)
        return (max(size - n, 0), size) if size and n else None
    start = int(first)
    if last and int(last) < start:
        return (0, size)  # NOTE: last-pos before first-pos: invalid, so ignored
    if start >= size:
        return None
    return (start, min(int(last) + 1 if last else size, size))


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def serve_download(path: str, name: str | None = None) -> Any:
    """Serve ``path`` as an attachment (``application/x-download``)."""
    return serve_file(path, 'application/x-download', 'attachment', name)


def _safe_join(root: str, rel: str) -> str | None:
    """Join ``rel`` under ``root``; None if the result would leave ``root``."""
    if '\x00' in rel or '\\' in rel:
        return None
    parts = []
    for seg in rel.split('/'):
        if seg in ('', '.'):
            continue
        if seg == '..':
            return None
        parts.append(seg)
    candidate = os.path.join(root, *parts)
    # PERF: realpath() lstats every component of the whole path; only the
    # components below root can be symlinks we have not vetted, so look at
    # those, and resolve fully only when one is a link.
    cur = root
    for p in parts:
        cur = os.path.join(cur, p)
        try:
            mode = os.lstat(cur).st_mode
        except (OSError, ValueError):
            return candidate  # missing: the caller answers 404
        if stat.S_ISLNK(mode):
            real_root = _realpath(root)
            real = os.path.realpath(candidate)
            if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
                return None
            return candidate
    return candidate


@functools.lru_cache(maxsize=64)
def _realpath(root: str) -> str:
    return os.path.realpath(root)


def staticdir(section: str, dir: str, root: str = '', match: str = '', content_types: Any = None,
              index: str = '', debug: bool = False) -> bool:
    """``tools.staticdir``: serve files under ``dir`` for the URLs of ``section``.

    ``dir`` is absolute or relative to ``root``. ``index`` names the file
    served for the directory itself; there is no directory listing.
    """
    request = _serving.current()
    # NOTE: a cache hit (tools.caching, priority 20) has answered already.
    if request.method not in ('GET', 'HEAD') or request.cached:
        return False
    if match:
        if not re.search(match, request.path_info):
            return False
    if not os.path.isabs(dir):
        if not root:
            raise ValueError('Static dir requires an absolute dir (or root).')
        dir = os.path.join(root, dir)
    if section == 'global':
        section = '/'
    section = section.rstrip(r'\/')
    branch = request.path_info[len(section) + 1:]
    try:
        branch = urllib.parse.unquote(branch, errors='strict')
    except UnicodeDecodeError:
        raise HTTPError(400, 'Invalid path encoding.') from None
    if '\x00' in branch:
        # NOTE: no file name holds a NUL: not found (as CherryPy), not refused.
        raise HTTPError(404)
    full = _safe_join(dir, branch)
    if full is None:
        raise HTTPError(403)
    st = _stat(full)
    if st is not None and stat.S_ISDIR(st.st_mode):
        if not index:
            return False
        full = os.path.join(full, index)
        st = _stat(full)
        if st is not None and stat.S_ISREG(st.st_mode):
            # As CherryPy: the section's own URL is an index, so trailing_slash
            # redirects /static to /static/ (relative links in the index work).
            request.is_index = not branch or branch.endswith('/')
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    ctype = None
    if content_types:
        ctype = content_types.get(os.path.splitext(full)[1].lstrip('.'))
    _serve_stat(full, st, ctype)
    return True


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def staticfile(filename: str, root: str | None = None, match: str = '',
               content_types: Any = None, debug: bool = False) -> bool:
    """``tools.staticfile``: serve one file (absolute, or relative to ``root``)."""
    request = _serving.current()
    # NOTE: a cache hit (tools.caching, priority 20) has answered already.
    if request.method not in ('GET', 'HEAD') or request.cached:
        return False
    if match:
        if not re.search(match, request.path_info):
            return False
    if not os.path.isabs(filename):
        if not root:
            raise ValueError("Static tool requires an absolute filename (got '%s')." % filename)
        filename = os.path.join(root, filename)
    if not os.path.isfile(filename):
        return False
    ctype = None
    if content_types:
        ctype = content_types.get(os.path.splitext(filename)[1].lstrip('.'))
    serve_file(filename, ctype)
    return True
