"""The built-in toolbox: ``cherrypy.tools``, with CherryPy's names and priorities.

The priority table lives in ``hooks`` (module docstring); the numbers here
must match it.
"""
from __future__ import annotations

from typing import Any, Callable

from .hooks import HandlerTool, Tool, Toolbox
from .lib import cptools, encoding, jsontools, static
from .lib import auth_basic, auth_digest, caching
from .lib import sessions

__all__ = ['tools', 'CoreTool']


class CoreTool(Tool):
    """A tool the core runs itself (``encode``); config keys are read in finalize."""

    def __init__(self, callable: Callable[..., Any]) -> None:
        super().__init__('before_finalize', callable, priority=70)

    def _hooks(self, conf: dict[str, Any]) -> list:
        return []


def _encode(encoding: str = 'utf-8', text_only: bool = True, add_charset: bool = True,
            debug: bool = False, errors: str = 'strict', default_encoding: str = 'utf-8',
            failmsg: str = '') -> None:
    """``tools.encode``: encode text bodies (run by the core in finalize)."""


def build_toolbox() -> Toolbox:
    """Return a toolbox with every built-in tool registered."""
    t = Toolbox('tools')
    t.trailing_slash = Tool('before_handler', cptools.trailing_slash, priority=60)
    t.proxy = Tool('before_request_body', cptools.proxy, priority=30)
    t.allow = Tool('on_start_resource', cptools.allow)
    t.response_headers = Tool('on_start_resource', cptools.response_headers)
    t.log_tracebacks = Tool('before_error_response', cptools.log_traceback)
    t.log_headers = Tool('before_error_response', cptools.log_request_headers)
    t.referer = Tool('before_request_body', cptools.referer)
    t.redirect = Tool('on_start_resource', cptools.redirect)
    t.accept = Tool('on_start_resource', cptools.accept)
    t.autovary = Tool('on_start_resource', cptools.autovary, priority=0)
    t.flatten = Tool('before_finalize', cptools.flatten)
    t.ignore_headers = Tool('before_request_body', cptools.ignore_headers)
    t.encode = CoreTool(_encode)
    t.gzip = Tool('before_finalize', encoding.gzip, priority=80)
    t.json_in = Tool('before_request_body', jsontools.json_in, priority=30)
    t.json_out = Tool('before_finalize', jsontools.json_out, priority=30)
    t.staticdir = HandlerTool(static.staticdir)
    t.staticfile = HandlerTool(static.staticfile)
    t.caching = caching.CachingTool()
    t.expires = Tool('before_finalize', caching.expires)
    t.auth_basic = Tool('before_handler', auth_basic.basic_auth, priority=1)
    t.auth_digest = Tool('before_handler', auth_digest.digest_auth, priority=1)
    t.sessions = sessions.SessionTool()
    return t


tools = build_toolbox()
