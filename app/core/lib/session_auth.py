"""``tools.session_auth``: a login form and a user name kept in the session.

CherryPy's ``SessionAuth``, with its names and hooks: every request under
the tool is checked for ``session[session_key]``; without one the login
form is the answer. ``.../do_login`` (POST) checks the credentials with
``check_username_and_password`` and redirects back to ``from_page``;
``.../do_logout`` (POST) forgets the user. Any attribute may be overridden
through config (``tools.session_auth.<name>``), the callables too.

Two differences from CherryPy, both for safety: what the form echoes
(message, user name, page) is HTML-escaped, and ``from_page`` may only
lead back to this site (an off-site or scheme-relative URL goes to ``/``),
so the form is neither an injection point nor an open redirect.
"""
from __future__ import annotations

import html
import urllib.parse
from typing import Any

from .. import _serving
from ..errors import HTTPError, HTTPRedirect
from ..logs import log

__all__ = ['SessionAuth', 'session_auth']


class SessionAuth:
    """Assert that the user is logged in (CherryPy's class; override any attribute)."""

    session_key = 'username'
    debug = False

    def check_username_and_password(self, username: str, password: str) -> str | None:
        """An error message when the credentials are wrong, else None (override this)."""
        return None

    def anonymous(self) -> str | None:
        """A temporary user name for anonymous users, or None to ask for a login."""
        return None

    def on_login(self, username: str) -> None:
        """Called after a successful login."""

    def on_logout(self, username: str) -> None:
        """Called after a logout."""

    def on_check(self, username: str) -> None:
        """Called on each request of a logged-in user."""

    def login_screen(self, from_page: str = '..', username: str = '', error_msg: str = '',
                     **kwargs: Any) -> bytes:
        """The login form, as UTF-8 bytes; what it echoes is HTML-escaped."""
        e = {k: html.escape(str(v or ''), quote=True) for k, v in
             (('from_page', from_page), ('username', username), ('error_msg', error_msg))}
        return ("""<html><body>
Message: %(error_msg)s
<form method="post" action="do_login">
    Login: <input type="text" name="username" value="%(username)s" size="10" />
    <br />
    Password: <input type="password" name="password" size="10" />
    <br />
    <input type="hidden" name="from_page" value="%(from_page)s" />
    <br />
    <input type="submit" />
</form>
</body></html>""" % e).encode('utf-8')

    def do_login(self, username: str = '', password: str = '', from_page: str = '..',
                 **kwargs: Any) -> bool:
        """Log in: the form again with the error, or a redirect to ``from_page``."""
        request = _serving.current()
        error_msg = self.check_username_and_password(username, password)
        if error_msg:
            _answer(request, self.login_screen(from_page, username, error_msg))
            return True
        request.login = username
        _session(request)[self.session_key] = username
        self.on_login(username)
        raise HTTPRedirect(_same_site(request, from_page or '/'))

    def do_logout(self, from_page: str = '..', **kwargs: Any) -> bool:
        """Log out and redirect to ``from_page``."""
        request = _serving.current()
        sess = _session(request)
        username = sess.get(self.session_key)
        sess[self.session_key] = None
        if username:
            request.login = None
            self.on_logout(username)
        raise HTTPRedirect(_same_site(request, from_page))

    def do_check(self) -> bool | None:
        """The login form (True) unless the session names a user (or ``anonymous`` does)."""
        request = _serving.current()
        sess = _session(request)
        username = sess.get(self.session_key)
        if not username:
            sess[self.session_key] = username = self.anonymous()
            self._debug_message('No session[username], trying anonymous')
        if not username:
            qs = request.query_string
            url = request.base + request.script_name + request.path_info + (
                '?' + qs if qs else '')
            self._debug_message('No username, routing to login_screen with from_page %r'
                                % (url,))
            _answer(request, self.login_screen(url))
            return True
        request.login = username
        self.on_check(username)
        return None

    def _debug_message(self, message: str) -> None:
        if self.debug:
            log(message, 'TOOLS.SESSAUTH')

    def run(self) -> bool | None:
        """Route ``login_screen``, ``do_login``, ``do_logout``; check anything else."""
        request = _serving.current()
        path = request.path_info
        if path.endswith('login_screen'):
            _answer(request, self.login_screen())
            return True
        for name, action in (('do_login', self.do_login), ('do_logout', self.do_logout)):
            if path.endswith(name):
                if request.method != 'POST':
                    request.response.headers['Allow'] = 'POST'
                    raise HTTPError(405)
                return action(**request.params)
        return self.do_check()


def _answer(request: Any, body: bytes) -> None:
    response = request.response
    response.body = body
    response.headers.pop('Content-Length', None)


def _session(request: Any) -> Any:
    sess = request.session
    if sess is None:
        raise RuntimeError('tools.session_auth needs tools.sessions.on for the same path.')
    return sess


def _same_site(request: Any, target: str) -> str:
    """``target`` when it stays on this site (a path, or this base's URL), else ``/``."""
    parts = urllib.parse.urlsplit(target)
    if not parts.scheme and not parts.netloc and not target.startswith(('//', '/\\', '\\')):
        return target
    if '%s://%s' % (parts.scheme, parts.netloc) == request.base:
        return target
    return '/'


def session_auth(**kwargs: Any) -> bool | None:
    """The tool: a ``SessionAuth`` with ``kwargs`` as its attributes, run for this request."""
    sa = SessionAuth()
    for k, v in kwargs.items():
        setattr(sa, k, v)
    return sa.run()
