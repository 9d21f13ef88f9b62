"""The scripted requests ``compat.py`` sends to each program in compat_programs/.

Every step runs in order against both frameworks. Cookies a response sets
go into the step's cookie jar (``jar``, default ``'a'``) and are sent on
later steps using that jar; a step with its own ``Cookie`` header sends only
that. ``digest=(user, password)`` answers the server's Digest challenge: the
step first sends the request bare, then again with an Authorization computed
from the 401's nonce, and the second answer is the one compared.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One request: method, path (with query), headers, body, jar, digest, note."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b''
    jar: str = 'a'
    digest: tuple[str, str] | None = None
    note: str = ''

    @property
    def label(self) -> str:
        """How the table names this request."""
        extra = self.note or ', '.join('%s: %s' % h for h in self.headers
                                       if h[0] != 'Content-Type')
        return '%s %s%s' % (self.method, self.path, ' [%s]' % extra if extra else '')


def S(method: str, path: str, *headers: tuple[str, str], body: bytes | str = b'',
      jar: str = 'a', digest: tuple[str, str] | None = None, note: str = '') -> Step:
    """A step; ``headers`` as ``('Name', 'value')`` pairs."""
    if isinstance(body, str):
        body = body.encode('utf-8')
    return Step(method, path, tuple(headers), body, jar, digest, note)


def form(method: str, path: str, data: str, note: str = '') -> Step:
    """A urlencoded form post."""
    return S(method, path, ('Content-Type', 'application/x-www-form-urlencoded'),
             body=data, note=note)


def js(path: str, obj: object, method: str = 'POST', note: str = '') -> Step:
    """A JSON request body."""
    return S(method, path, ('Content-Type', 'application/json'), body=json.dumps(obj), note=note)


def upload(path: str, field: str, filename: str, data: bytes, ctype: str) -> Step:
    """A multipart/form-data post of one file."""
    boundary = 'compatBoundary7MA4YWxk'
    body = (('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
             'Content-Type: %s\r\n\r\n' % (boundary, field, filename, ctype)).encode()
            + data + ('\r\n--%s--\r\n' % boundary).encode())
    return S('POST', path, ('Content-Type', 'multipart/form-data; boundary=' + boundary),
             body=body, note='upload %s' % filename)


def basic(user: str, password: str) -> tuple[str, str]:
    """An Authorization header for HTTP Basic."""
    token = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    return ('Authorization', 'Basic ' + token)


GZ = ('Accept-Encoding', 'gzip')
IMS = 'If-Modified-Since'

CASES: dict[str, list[Step]] = {
    'hello': [
        S('GET', '/'), S('GET', '/index'), S('HEAD', '/'), S('POST', '/'),
        S('GET', '/nope'), S('GET', '/?x=1', note='unexpected query arg'),
        S('GET', '/index/extra', note='extra positional'),
        S('GET', '/%zz', note='bad percent-encoding'),
        S('GET', '/%E0%A4', note='invalid utf-8'),
    ],
    'multi_apps': [
        S('GET', '/blog/'), S('GET', '/blog/', GZ), S('GET', '/blog', note='no slash'),
        S('GET', '/blog/post/7'), S('GET', '/blog/post?id=8'),
        S('GET', '/forum/'), S('GET', '/forum/where'), S('GET', '/forum/where/'),
        S('GET', '/', note='nothing mounted at /'), S('GET', '/elsewhere'),
    ],
    'conf_file': [
        S('GET', '/'), S('GET', '/', GZ), S('GET', '/plain', GZ), S('GET', '/quiet', GZ),
        S('GET', '/data'),
        S('GET', '/api'), S('GET', '/api/'), form('PUT', '/api/', 'name=bob'),
        S('DELETE', '/api/', note='405'),
    ],
    'cookies': [
        S('GET', '/cookie/read'), S('GET', '/cookie/set'), S('GET', '/cookie/read'),
        S('GET', '/cookie/read', ('Cookie', 'a=1; b="two words"'), note='own Cookie header'),
        S('GET', '/cookie/delete'), S('GET', '/cookie/read', note='after delete'),
    ],
    'sessions_counter': [
        S('GET', '/'), S('GET', '/'), S('GET', '/peek'), S('GET', '/', jar='b', note='2nd client'),
        S('GET', '/'), S('GET', '/', ('Cookie', 'session_id=bogus0123'), note='unknown id'),
        S('GET', '/logout'), S('GET', '/peek', note='after logout'),
        S('GET', '/', note='after logout'),
    ],
    'static_files': [
        S('GET', '/'), S('GET', '/style.css'), S('HEAD', '/style.css'),
        S('GET', '/static/'), S('GET', '/static', note='dir without slash'),
        S('GET', '/static/index.html'), S('GET', '/static/js/app.js'),
        S('GET', '/static/logo.png'), S('GET', '/static/notes.txt'),
        S('GET', '/static/notes.txt', ('Range', 'bytes=0-3'), note='range'),
        S('GET', '/static/notes.txt', ('Range', 'bytes=500-'), note='bad range'),
        S('GET', '/static/notes.txt', (IMS, 'Wed, 01 Jan 2020 00:00:00 GMT'), note='IMS equal'),
        S('GET', '/static/notes.txt', (IMS, 'Thu, 02 Jan 2020 00:00:00 GMT'), note='IMS later'),
        S('GET', '/static/notes.txt', (IMS, 'Tue, 31 Dec 2019 00:00:00 GMT'), note='IMS older'),
        S('GET', '/static/missing.txt'), S('GET', '/static/../static_files.py', note='dotdot'),
        S('GET', '/static/%2e%2e/static_files.py', note='encoded dotdot'),
        S('GET', '/noindex/', note='staticdir without index'),
        S('GET', '/download?name=notes.txt'), S('GET', '/download?name=nope.txt'),
    ],
    'json_tools': [
        S('GET', '/item/7'), S('GET', '/item?id=8'), S('GET', '/items'),
        js('/echo', {'a': 1, 'b': [1, 2]}), js('/echo', [1, 2, 3]),
        js('/echo', 'caf\u00e9', note='non-ascii string'),
        S('POST', '/echo', ('Content-Type', 'application/json'), body='{bad json', note='bad json'),
        S('POST', '/echo', ('Content-Type', 'text/plain'), body='hi', note='wrong type'),
        S('GET', '/missing'), js('/count', {'x': 1, 'y': 2}),
    ],
    'auth_basic_prog': [
        S('GET', '/'), S('GET', '/protected/area/'),
        S('GET', '/protected/area/', basic('jon', 'wrong')),
        S('GET', '/protected/area/', basic('jon', 'secret')),
        S('GET', '/protected/area/', ('Authorization', 'Basic !!!notb64'), note='garbage'),
        S('GET', '/protected/area/', ('Authorization', 'Bearer abc'), note='other scheme'),
        S('GET', '/other/'), S('GET', '/other/', basic('jon', 'secret')),
    ],
    'auth_digest_prog': [
        S('GET', '/'), S('GET', '/protected/area/'),
        S('GET', '/protected/area/', digest=('jon', 'secret'), note='digest handshake'),
        S('GET', '/protected/area/', digest=('jon', 'wrong'), note='wrong password'),
        S('GET', '/protected/area/', basic('jon', 'secret'), note='basic on digest'),
    ],
    'errors_prog': [
        S('GET', '/'), S('GET', '/forbidden'), S('GET', '/teapot'), S('GET', '/pay'),
        S('GET', '/gone'), S('GET', '/nope'), S('GET', '/api_gone'), S('GET', '/moved'),
        S('GET', '/perm'), S('GET', '/temp'), S('GET', '/many'), S('GET', '/boom'),
        S('GET', '/sub/'), S('GET', '/sub/nope'), S('GET', '/accepted'), S('GET', '/custom_status'),
        S('HEAD', '/forbidden'),
    ],
    'song_counter': [
        S('GET', '/'), S('POST', '/song/1'), S('POST', '/song/1'), S('POST', '/song/2'),
        S('GET', '/song/1'), S('GET', '/'), S('HEAD', '/song/1'), S('PUT', '/song/1'),
        S('DELETE', '/'), S('PATCH', '/'), S('GET', '/song', note='missing id'),
        S('GET', '/song/1/2', note='extra segment'), S('OPTIONS', '/'),
    ],
    'caching_prog': [
        S('GET', '/quadruple?number=4'), S('GET', '/quadruple?number=4', note='cached'),
        S('GET', '/quadruple?number=5'),
        S('GET', '/quadruple?number=4', ('Cache-Control', 'no-cache'), note='no-cache'),
        form('POST', '/quadruple', 'number=4'),
        S('GET', '/quadruple?number=4', note='after POST'),
        S('HEAD', '/quadruple?number=5'),
    ],
    'landing': [
        S('GET', '/'), S('GET', '/healthcheck'), S('GET', '/healthcheck/'),
        S('GET', '/index'), S('GET', '/logo.png'), S('GET', '/nope'),
    ],
    'tutorial': [
        S('GET', '/'), S('GET', '/greet'), S('GET', '/greet?name=bob&times=2'),
        S('GET', '/greet/ann'), S('GET', '/greet?nom=x', note='unexpected'),
        S('GET', '/form/1/2/3', note='too many'), S('GET', '/form', note='missing'),
        form('POST', '/form', 'a=1&b=3'), form('POST', '/form?b=9', 'a=1', note='query+form'),
        S('GET', '/tags?tag=a&tag=b'), S('GET', '/tags?tag=%C3%A9'),
        S('GET', '/alias1'), S('GET', '/alias2'), S('GET', '/aliased'),
        S('GET', '/item/1/2/3?x=y'), S('GET', '/files/a/b.txt?v=1'), S('GET', '/files'),
        S('GET', '/archive/2024/05'), S('GET', '/archive/2024/'), S('GET', '/archive/'),
        S('GET', '/archive/2024/05/'), S('GET', '/band/Queen'), S('GET', '/band/Queen/'),
        S('GET', '/band/Queen/albums/Jazz'), S('GET', '/band/Queen/albums/Jazz/'),
        S('GET', '/sub?q=1', note='301 keeps query'), S('GET', '/sub/?q=1'),
        S('GET', '/sub/leaf/', note='extra slash'), S('GET', '/sub/index'),
        S('GET', '/submit'), form('POST', '/submit', 'k=v'), S('GET', '/hidden'),
        S('GET', '/params?a=1&a=2&b=', note='repeated + empty'),
        S('POST', '/params?q=1', ('Content-Type', 'application/x-www-form-urlencoded'),
          body='a=%ZZ', note='bad form encoding'),
        S('GET', '/params?' + 'x' * 3000, note='long query'),
    ],
    'tools_gzip': [
        S('GET', '/'), S('GET', '/', GZ),
        S('GET', '/', ('Accept-Encoding', 'gzip;q=0'), note='q=0'),
        S('GET', '/', ('Accept-Encoding', 'br'), note='no acceptable coding'),
        S('GET', '/', ('Accept-Encoding', 'identity, gzip'), note='identity first'),
        S('GET', '/tagged'), S('GET', '/stream'), S('GET', '/stream', GZ),
        S('GET', '/generator'), S('GET', '/plain', GZ), S('GET', '/unicode'),
        S('GET', '/octets', GZ), S('GET', '/listbody'), S('GET', '/empty'),
        S('HEAD', '/', GZ),
    ],
    'tree_engine': [S('GET', '/'), S('GET', '/index'), S('GET', '/missing'),
                    S('POST', '/', body='x=1', note='unexpected form field')],
    # CherryPy's own tutorial programs, run from the installed cherrypy/tutorial/
    # of the bench venv, unchanged (see compat.program_path).
    'tut01_helloworld': [S('GET', '/'), S('GET', '/nothing')],
    'tut02_expose_methods': [S('GET', '/'), S('GET', '/showMessage'), S('GET', '/showMessage/')],
    'tut03_get_and_post': [
        S('GET', '/'), S('GET', '/greetUser?name=Ann'), S('GET', '/greetUser'),
        S('GET', '/greetUser?name='), form('POST', '/greetUser', 'name=Bob'),
        S('GET', '/greetUser?who=x', note='unexpected argument'),
    ],
    'tut04_complex_site': [
        S('GET', '/'), S('GET', '/joke/'), S('GET', '/links/'), S('GET', '/links/extra/'),
        S('GET', '/links'), S('GET', '/links/extra?x=1'), S('GET', '/joke/index'),
    ],
    'tut05_derived_objects': [S('GET', '/'), S('GET', '/another/'), S('GET', '/another')],
    'tut06_default_method': [
        S('GET', '/'), S('GET', '/remi'), S('GET', '/hendrik'), S('GET', '/nobody'),
        S('GET', '/remi/extra', note='too many segments'), S('GET', '/lorenzo/'),
    ],
    'tut07_sessions': [S('GET', '/'), S('GET', '/'), S('GET', '/'), S('GET', '/', jar='b')],
    'tut08_generators_and_yield': [S('GET', '/'), S('HEAD', '/')],
    'tut09_files': [
        S('GET', '/'), upload('/upload', 'myFile', 'notes.txt', b'hello\r\nworld\n' * 100,
                              'text/plain'),
        upload('/upload', 'myFile', 'empty.bin', b'', 'application/octet-stream'),
        S('POST', '/upload', ('Content-Type', 'application/x-www-form-urlencoded'),
          body='other=1', note='no file'),
        S('GET', '/download'), S('HEAD', '/download'),
        S('GET', '/download', ('Range', 'bytes=0-99')),
    ],
    'tut10_http_errors': [
        S('GET', '/'), S('GET', '/doesNotExist'), S('GET', '/error?code=403'),
        S('GET', '/error?code=400'), S('GET', '/error?code=401'), S('GET', '/error?code=402'),
        S('GET', '/error?code=500'), S('GET', '/error?code=abc', note='bad code'),
        S('GET', '/messageArg'), S('GET', '/toggleTracebacks'), S('GET', '/'),
        S('GET', '/messageArg', note='tracebacks toggled'),
    ],
    'tool_classes': [
        S('GET', '/'), S('GET', '/'), S('GET', '/configured'),
        S('GET', '/attach'), S('GET', '/attach?loud=1'), S('GET', '/attach'),
        S('GET', '/vary', ('Accept-Language', 'fr')), S('GET', '/vary_ignored'),
    ],
}
