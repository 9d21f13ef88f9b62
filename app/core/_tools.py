"""The built-in toolbox: ``cherrypy.tools``, with CherryPy's names.

Each tool's hook point and priority come from ``hooks.PRIORITIES``, the one
priority table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .hooks import HandlerTool, SettingsTool, Tool, Toolbox
from .lib import auth_basic, auth_digest, caching, cptools, encoding, jsontools, sessions, static
from .lib.xmlrpcutil import error_tool as _xmlrpc_error
from .priorities import PRIORITIES

__all__ = ['tools', 'build_toolbox']


def _tool(name: str, callable: Callable[..., Any]) -> Tool:
    point, priority = PRIORITIES[name]
    return Tool(point, callable, priority=priority)


def build_toolbox() -> Toolbox:
    """Return a toolbox with every built-in tool registered."""
    t = Toolbox('tools')
    t.trailing_slash = _tool('trailing_slash', cptools.trailing_slash)
    t.proxy = _tool('proxy', cptools.proxy)
    t.allow = _tool('allow', cptools.allow)
    t.response_headers = _tool('response_headers', cptools.response_headers)
    t.log_tracebacks = _tool('log_tracebacks', cptools.log_traceback)
    t.log_headers = _tool('log_headers', cptools.log_request_headers)
    t.log_hooks = _tool('log_hooks', cptools.log_hooks)
    t.referer = _tool('referer', cptools.referer)
    t.redirect = _tool('redirect', cptools.redirect)
    # NOTE: the same redirect, on the error path (a 500 redirects instead).
    t.err_redirect = _tool('err_redirect', cptools.redirect)
    t.accept = _tool('accept', cptools.accept)
    t.autovary = _tool('autovary', cptools.autovary)
    t.flatten = _tool('flatten', cptools.flatten)
    t.ignore_headers = _tool('ignore_headers', cptools.ignore_headers)
    t.etags = _tool('etags', cptools.validate_etags)
    t.params = _tool('params', cptools.convert_params)
    # NOTE: applied by the core while finalizing; the plan reads its keys.
    t.encode = SettingsTool(*PRIORITIES['encode'][:1], keys=encoding.ENCODE_KEYS,
                            priority=PRIORITIES['encode'][1])
    t.gzip = _tool('gzip', encoding.gzip)
    t.decode = _tool('decode', encoding.decode)
    t.json_in = _tool('json_in', jsontools.json_in)
    t.json_out = _tool('json_out', jsontools.json_out)
    t.staticdir = HandlerTool(static.staticdir, priority=PRIORITIES['staticdir'][1])
    t.staticfile = HandlerTool(static.staticfile, priority=PRIORITIES['staticfile'][1])
    t.caching = caching.CachingTool()
    t.expires = _tool('expires', caching.expires)
    t.auth_basic = _tool('auth_basic', auth_basic.basic_auth)
    t.auth_digest = _tool('auth_digest', auth_digest.digest_auth)
    t.sessions = sessions.SessionTool()
    t.xmlrpc = _tool('xmlrpc', _xmlrpc_error)
    t.session_auth = HandlerTool(cptools.session_auth,
                                 priority=PRIORITIES['session_auth'][1])
    return t


tools = build_toolbox()
