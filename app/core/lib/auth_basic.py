"""HTTP Basic authentication (RFC 7617): ``tools.auth_basic``.

Config, as in CherryPy::

    '/protected': {'tools.auth_basic.on': True,
                   'tools.auth_basic.realm': 'localhost',
                   'tools.auth_basic.checkpassword': checkpassword_dict(USERS)}

``checkpassword(realm, username, password)`` returns True for valid
credentials. A request without valid credentials gets 401 with
``WWW-Authenticate: Basic realm="...", charset="UTF-8"``; a header that is
not even well-formed (no scheme, bad base64, no colon) gets 400. Basic
sends the password in clear: serve it over TLS only.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import unicodedata
from collections.abc import Callable

from .. import _serving
from ..errors import HTTPError
from ..logs import log

__all__ = ['basic_auth', 'checkpassword_dict']

_FALLBACK_CHARSET = 'ISO-8859-1'


def checkpassword_dict(user_password_dict: dict[str, str]) -> Callable[[str, str, str], bool]:
    """Return a ``checkpassword`` over a ``{username: password}`` dict.

    Passwords are compared in constant time; an unknown user costs the same
    comparison, so timing tells nothing about which users exist.
    """
    def checkpassword(realm: str, username: str, password: str) -> bool:
        expected = user_password_dict.get(username)
        given = password.encode('utf-8')
        if expected is None:
            hmac.compare_digest(given, given)
            return False
        return hmac.compare_digest(expected.encode('utf-8'), given)
    return checkpassword


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode(_FALLBACK_CHARSET)  # NOTE: never fails: every byte is a character


def basic_auth(realm: str, checkpassword: Callable[[str, str, str], bool], debug: bool = False,
               accept_charset: str = 'utf-8') -> None:
    """Let the request through if its Basic credentials pass ``checkpassword``.

    Sets ``request.login`` to the user name. Otherwise raises 401 (missing
    or wrong credentials, another scheme) or 400 (a malformed header).
    Credentials are decoded with ``accept_charset``, then ISO-8859-1, and
    NFC-normalised.
    """
    if '"' in realm:
        raise ValueError('Realm cannot contain the " (quote) character.')
    request = _serving.current()
    header = request.headers.get('Authorization')
    if header is not None:
        scheme, _, params = header.strip().partition(' ')
        if scheme.lower() == 'basic':
            try:
                raw = base64.b64decode(params.strip().encode('ascii'), validate=True)
                text = _decode(raw, accept_charset)
                username, sep, password = unicodedata.normalize('NFC', text).partition(':')
                if not sep:
                    raise ValueError('no colon between user name and password')
            except (ValueError, binascii.Error) as ex:
                if debug:
                    log('malformed Basic credentials: %r' % (ex,), 'TOOLS.AUTH_BASIC')
                raise HTTPError(400, 'Bad Request') from None
            if checkpassword(realm, username, password):
                if debug:
                    log('authenticated %r' % (username,), 'TOOLS.AUTH_BASIC')
                request.login = username
                return
    charset = accept_charset.upper()
    declaration = ', charset="%s"' % charset if charset != _FALLBACK_CHARSET else ''
    request.response.headers['WWW-Authenticate'] = 'Basic realm="%s"%s' % (realm, declaration)
    raise HTTPError(401, 'You are not authorized to access that resource')
