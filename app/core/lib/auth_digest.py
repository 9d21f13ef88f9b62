"""HTTP Digest authentication (RFC 7616, ``qop=auth``): ``tools.auth_digest``.

Config, as in CherryPy::

    '/protected': {'tools.auth_digest.on': True,
                   'tools.auth_digest.realm': 'localhost',
                   'tools.auth_digest.get_ha1': get_ha1_dict_plain(USERS),
                   'tools.auth_digest.key': 'a565c27146791cfb'}

The nonce is ``<timestamp>:<HMAC-SHA256(key, timestamp:realm)>``: the server
keeps no state, any process holding ``key`` accepts it, and it expires after
``nonce_max_age`` seconds (CherryPy's 600), answered with 401 and
``stale=true`` so the client retries without asking the user again. Wrong
credentials, realm or nonce get 401; a header that cannot be parsed, an
unsupported ``qop`` or algorithm, or a ``uri`` other than the request's get
400 (RFC 7616 section 3.4.6). ``algorithm`` may list ``'MD5'`` and
``'SHA-256'`` (then ``get_ha1`` must accept ``algorithm=``, as the one from
``get_ha1_dict_plain`` does). Nonce counts are not tracked, as in CherryPy:
a captured request can be replayed to the same URI while its nonce lives.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from .. import _serving
from ..errors import HTTPError
from ..logs import log

__all__ = ['get_ha1_dict_plain', 'get_ha1_dict', 'get_ha1_file_htdigest', 'H',
           'synthesize_nonce', 'www_authenticate', 'digest_auth']

_HASHES = {'MD5': hashlib.md5, 'SHA-256': hashlib.sha256}
_REQUIRED = ('realm', 'nonce', 'uri', 'response', 'qop', 'nc', 'cnonce')
_HEX = re.compile(r'[0-9a-fA-F]+\Z')
_NC = re.compile(r'[0-9a-fA-F]{8}\Z')


def H(data: str, algorithm: str = 'MD5') -> str:
    """The hex digest of ``data`` (UTF-8) with ``algorithm`` (MD5 or SHA-256)."""
    return _HASHES[algorithm](data.encode('utf-8')).hexdigest()


def get_ha1_dict_plain(user_password_dict: dict[str, str]) -> Callable[..., str | None]:
    """Return a ``get_ha1(realm, username, algorithm='MD5')`` over plain passwords."""
    def get_ha1(realm: str, username: str, algorithm: str = 'MD5') -> str | None:
        password = user_password_dict.get(username)
        return H('%s:%s:%s' % (username, realm, password), algorithm) if password else None
    return get_ha1


def get_ha1_dict(user_ha1_dict: dict[str, str]) -> Callable[[str, str], str | None]:
    """Return a ``get_ha1(realm, username)`` over ``{username: HA1}`` (MD5 HA1s)."""
    def get_ha1(realm: str, username: str) -> str | None:
        return user_ha1_dict.get(username)
    return get_ha1


def get_ha1_file_htdigest(filename: str) -> Callable[[str, str], str | None]:
    """Return a ``get_ha1(realm, username)`` reading an Apache htdigest file.

    Lines are ``user:realm:HA1``; the file is read on every call, so edits
    apply at once. Malformed lines are skipped.
    """
    def get_ha1(realm: str, username: str) -> str | None:
        with open(filename, encoding='utf-8') as f:
            for line in f:
                parts = line.rstrip('\r\n').split(':')
                if len(parts) == 3 and parts[0] == username and parts[1] == realm:
                    return parts[2]
        return None
    return get_ha1


def _sign(realm: str, key: str | bytes, timestamp: str) -> str:
    k = key.encode('utf-8') if isinstance(key, str) else key
    return hmac.new(k, ('%s:%s' % (timestamp, realm)).encode('utf-8'), hashlib.sha256).hexdigest()


def synthesize_nonce(realm: str, key: str | bytes, timestamp: int | None = None) -> str:
    """A nonce ``<timestamp>:<signature>`` for ``realm``, signed with ``key``."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    return '%s:%s' % (ts, _sign(realm, key, ts))


def _nonce_age(nonce: str, realm: str, key: str | bytes) -> float | None:
    """Seconds since the nonce was made; None unless we signed it."""
    ts, _, sig = nonce.partition(':')
    if not ts.isdigit() or not hmac.compare_digest(sig.encode('utf-8'),
                                                   _sign(realm, key, ts).encode('ascii')):
        return None
    return time.time() - int(ts)


def www_authenticate(realm: str, key: str | bytes, algorithm: str = 'MD5',
                     nonce: str | None = None, qop: str = 'auth', stale: bool = False,
                     accept_charset: str = 'utf-8') -> str:
    """The value of one ``WWW-Authenticate`` Digest challenge."""
    if '"' in realm:
        raise ValueError('Realm cannot contain the " (quote) character.')
    value = 'Digest realm="%s", nonce="%s", algorithm=%s, qop="%s"' % (
        realm, nonce or synthesize_nonce(realm, key), algorithm, qop)
    if accept_charset.upper() in ('UTF-8', 'UTF8'):
        value += ', charset="UTF-8"'
    return value + (', stale=true' if stale else '')


def _recode(value: str, charset: str) -> str:
    # WSGI hands headers over as latin-1 text; the client wrote ``charset``.
    try:
        return value.encode('latin-1').decode(charset)
    except (UnicodeError, LookupError):
        return value


def _parse(header: str, charset: str) -> dict[str, str]:
    """Parse the parameters of a Digest header; ValueError says what is wrong."""
    params: dict[str, str] = {}
    for item in urllib.request.parse_http_list(header.strip()[6:]):
        k, sep, v = item.partition('=')
        k, v = k.strip().lower(), v.strip()
        if not sep or not k or k in params:
            raise ValueError('bad or repeated parameter %r' % (item[:40],))
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        params[k] = v
    if 'username*' in params:
        enc, _, rest = params['username*'].partition("'")
        params['username'] = urllib.parse.unquote(rest.partition("'")[2], enc or 'utf-8',
                                                  errors='strict')
    elif 'username' in params:
        params['username'] = _recode(params['username'], charset)
    missing = [k for k in ('username',) + _REQUIRED if not params.get(k)]
    if missing:
        raise ValueError('missing %s' % ', '.join(missing))
    if params['qop'] != 'auth':
        raise ValueError('unsupported qop %r (only auth)' % (params['qop'],))
    if not _NC.match(params['nc']):
        raise ValueError('nc must be 8 hex digits')
    if not _HEX.match(params['response']):
        raise ValueError('response must be hex digits')
    return params


def _same_uri(digest_uri: str, request: Any) -> bool:
    env = request.environ
    target = env.get('REQUEST_URI') or urllib.parse.quote(
        request.script_name + request.path_info) + (
        '?' + request.query_string if request.query_string else '')
    a, b = urllib.parse.urlsplit(digest_uri), urllib.parse.urlsplit(target)
    return urllib.parse.unquote(a.path) == urllib.parse.unquote(b.path) and a.query == b.query


def digest_auth(realm: str, get_ha1: Callable[..., str | None], key: str | bytes,
                debug: bool = False, accept_charset: str = 'utf-8',
                algorithm: str | Iterable[str] = 'MD5', nonce_max_age: float = 600) -> None:
    """Let the request through if its Digest credentials are valid.

    ``get_ha1(realm, username)`` returns the user's HA1 (hex of
    ``H(user:realm:password)``) or None. Sets ``request.login``. Otherwise
    raises 401 with a challenge per algorithm (``stale=true`` for an
    expired nonce) or 400 for a malformed header.
    """
    request = _serving.current()
    algorithms = [algorithm] if isinstance(algorithm, str) else list(algorithm)
    for alg in algorithms:
        if alg not in _HASHES:
            raise ValueError('unsupported digest algorithm %r (MD5, SHA-256)' % (alg,))

    def challenge(stale: bool = False, why: str = '') -> HTTPError:
        if debug:
            log('digest auth refused: %s' % why, 'TOOLS.AUTH_DIGEST')
        # NOTE: several challenges go in one field (RFC 7235 allows a list),
        # the preferred algorithm first.
        request.response.headers['WWW-Authenticate'] = ', '.join(
            www_authenticate(realm, key, alg, stale=stale, accept_charset=accept_charset)
            for alg in algorithms)
        return HTTPError(401, 'You are not authorized to access that resource')

    header = request.headers.get('Authorization')
    if header is None or header.strip().partition(' ')[0].lower() != 'digest':
        raise challenge(why='no Digest credentials')
    try:
        p = _parse(header, accept_charset)
        alg = p.get('algorithm', 'MD5')
        if alg not in algorithms:
            raise ValueError('algorithm %r not offered' % (alg,))
        if not _same_uri(p['uri'], request):
            raise ValueError('uri does not match the request')
    except (ValueError, LookupError) as ex:
        raise HTTPError(400, 'The Authorization header could not be parsed: %s' % (ex,)) from None
    if p['realm'] != realm:
        raise challenge(why='wrong realm')
    age = _nonce_age(p['nonce'], realm, key)
    if age is None:
        raise challenge(why='nonce not ours')
    username = p['username']
    ha1 = get_ha1(realm, username) if alg == 'MD5' else get_ha1(realm, username, algorithm=alg)
    if ha1 is None:
        raise challenge(why='unknown user')
    ha2 = H('%s:%s' % (request.method, p['uri']), alg)
    expected = H('%s:%s:%s:%s:%s:%s' % (ha1, p['nonce'], p['nc'], p['cnonce'], p['qop'], ha2),
                 alg)
    if not hmac.compare_digest(expected, p['response'].lower()):
        raise challenge(why='wrong response')
    if age > nonce_max_age:
        raise challenge(stale=True, why='stale nonce')
    request.login = username
