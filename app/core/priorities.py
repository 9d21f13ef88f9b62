"""The built-in tools' priorities: the one table of their hook points and order.

Built-in tools run in the order of ``PRIORITIES`` (lowest first within a
hook point; CherryPy's values). ``tests/test_core_shape.py`` checks
this table against the toolbox and against the rendering below:

.. priority-table

====================  =====================  ========
tool                  hook point             priority
====================  =====================  ========
autovary              on_start_resource             0
xmlrpc                on_start_resource             0
allow                 on_start_resource            50
response_headers      on_start_resource            50
redirect              on_start_resource            50
accept                on_start_resource            50
proxy                 before_request_body          30
json_in               before_request_body          30
sessions              before_request_body          50
referer               before_request_body          50
ignore_headers        before_request_body          50
decode                before_request_body          50
sessions.lock_early   before_request_body          60
auth_basic            before_handler                1
auth_digest           before_handler                1
params                before_handler               15
caching               before_handler               20
staticdir             before_handler               50
staticfile            before_handler               50
session_auth          before_handler               50
sessions.lock         before_handler               50
trailing_slash        before_handler               60
json_out              before_finalize              30
flatten               before_finalize              50
expires               before_finalize              50
sessions.save         before_finalize              50
encode                before_finalize              70
etags                 before_finalize              75
gzip                  before_finalize              80
autovary.vary         before_finalize              95
caching.store         before_finalize             100
log_tracebacks        before_error_response        50
log_headers           before_error_response        50
err_redirect          before_error_response        50
caching.release       on_end_request               50
sessions.close        on_end_request               50
log_hooks             on_end_request               80
====================  =====================  ========

.. end-priority-table

``name.role`` rows are the further hooks of a tool with several.
``encode`` is applied by the core while finalizing, at its place in this
order. Custom hooks from config (``hooks.<point>``), tools without a
priority and ``request.hooks.attach`` without one take 50. Ties keep the
order of attachment.
"""
from __future__ import annotations

from .hookpoints import HOOK_POINTS

__all__ = ['PRIORITIES', 'priority_table']

#: The built-in tools' hooks: ``name`` or ``name.role`` -> (hook point, priority).
#: The one place these numbers live; tools read theirs from here.
PRIORITIES: dict[str, tuple[str, int]] = {
    'autovary': ('on_start_resource', 0),
    'xmlrpc': ('on_start_resource', 0),
    'allow': ('on_start_resource', 50),
    'response_headers': ('on_start_resource', 50),
    'redirect': ('on_start_resource', 50),
    'accept': ('on_start_resource', 50),
    'proxy': ('before_request_body', 30),
    'json_in': ('before_request_body', 30),
    'sessions': ('before_request_body', 50),
    'referer': ('before_request_body', 50),
    'ignore_headers': ('before_request_body', 50),
    'decode': ('before_request_body', 50),
    'sessions.lock_early': ('before_request_body', 60),
    'auth_basic': ('before_handler', 1),
    'auth_digest': ('before_handler', 1),
    'params': ('before_handler', 15),
    'caching': ('before_handler', 20),
    'staticdir': ('before_handler', 50),
    'staticfile': ('before_handler', 50),
    'session_auth': ('before_handler', 50),
    'sessions.lock': ('before_handler', 50),
    'trailing_slash': ('before_handler', 60),
    'json_out': ('before_finalize', 30),
    'flatten': ('before_finalize', 50),
    'expires': ('before_finalize', 50),
    'sessions.save': ('before_finalize', 50),
    'encode': ('before_finalize', 70),
    'etags': ('before_finalize', 75),
    'gzip': ('before_finalize', 80),
    'autovary.vary': ('before_finalize', 95),
    'caching.store': ('before_finalize', 100),
    'log_tracebacks': ('before_error_response', 50),
    'log_headers': ('before_error_response', 50),
    'err_redirect': ('before_error_response', 50),
    'caching.release': ('on_end_request', 50),
    'sessions.close': ('on_end_request', 50),
    'log_hooks': ('on_end_request', 80),
}


def priority_table() -> str:
    """``PRIORITIES`` as the reStructuredText table in this module's docstring."""
    rule = '=' * 20 + '  ' + '=' * 21 + '  ' + '=' * 8
    rows = [rule, '%-20s  %-21s  %s' % ('tool', 'hook point', 'priority'), rule]
    rows += ['%-20s  %-21s  %8d' % (name, point, prio) for name, (point, prio)
             in sorted(PRIORITIES.items(), key=lambda kv: (HOOK_POINTS.index(kv[1][0]),
                                                           kv[1][1]))]
    rows.append(rule)
    return '\n'.join(rows)
