"""Per-route plans: what one route runs, built once from its merged config.

A *plan* is what one route needs at run time: its merged config, the
request/response attributes config sets, and for each hook point the
callbacks in priority order with their arguments bound (the priority table
is in ``priorities.py``). Plans are built at the first request for a route and
cached (see ``Application``); ``request.hooks.attach`` copies the plan for
one request, never changes it.

PERF: the request cycle's fast paths are read off the plan: a point with no
hooks holds an empty tuple, and ``settings`` is False for a route whose
config sets no request or response attribute.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .config import check_keys
from .hookpoints import HOOK_POINTS, hook_runner
from .hooks import Tool, Toolbox
from .lib.hosts import AllowedHosts

if TYPE_CHECKING:
    from .request_response import Request, Response

__all__ = ['Plan', 'build_plan', 'EMPTY_PLAN']


class Plan:
    """What one route runs: config, attribute settings and sorted hooks."""

    __slots__ = ('config', 'hooks', 'priorities', 'setups', 'request_attrs', 'request_extra',
                 'body_attrs', 'response_attrs', 'response_headers', 'error_page', 'sources',
                 'encode', 'settings', 'charsets', 'run', 'hosts', 'encode_early', '_without')

    def __init__(self, config: dict[str, Any], hooks: dict[str, tuple],
                 request_attrs: tuple, response_attrs: tuple,
                 response_headers: tuple, error_page: dict, sources: tuple,
                 priorities: dict[str, tuple] | None = None, setups: tuple = (),
                 request_extra: dict[str, Any] | None = None,
                 hosts: AllowedHosts | None = None, body_attrs: tuple = ()) -> None:
        self.config = config
        #: ``request.allowed_hosts``, or None when the route answers for any host.
        self.hosts = hosts
        self.hooks = hooks
        #: Per point, one callable that runs its hooks, or None (``hook_runner``).
        self.run = {p: hook_runner(h, p) for p, h in hooks.items()}
        #: Per point, the priority of each hook in ``hooks`` (for ``attach``).
        self.priorities = priorities or {p: (50,) * len(h) for p, h in hooks.items()}
        #: ``_setup`` methods of tools that attach their hooks per request.
        self.setups = setups
        #: ``request.<attr>`` and ``response.<attr>`` settings, ``(attr, value)``.
        self.request_attrs = request_attrs
        #: ``request.<name>`` settings of names Request does not declare (``extra``).
        self.request_extra = request_extra or {}
        #: ``request.body.<attr>`` settings (``maxbytes``...), set on ``request.body``.
        self.body_attrs = body_attrs
        self.response_attrs = response_attrs
        self.response_headers = response_headers
        self.error_page = error_page
        #: Whether the route sets any request/response attribute or header.
        self.settings = bool(request_attrs or self.request_extra or body_attrs or response_attrs
                             or response_headers or error_page)
        self.sources = sources  # NOTE: kept so the ids in the cache key stay unique
        #: Content-Type a handler set -> (as declared, charset); see response_charset.
        self.charsets: dict[str, tuple[str, str]] = {}
        #: tools.encode's ``(on, encoding, default_encoding, add_charset, text_only)``,
        #: read once per route.
        self.encode = (bool(config.get('tools.encode.on', True)),
                       config.get('tools.encode.encoding') or None,
                       config.get('tools.encode.default_encoding') or 'utf-8',
                       bool(config.get('tools.encode.add_charset', True)),
                       bool(config.get('tools.encode.text_only', True)))
        #: Encode the handler's body before the ``before_finalize`` hooks run, so
        #: they see bytes, as in CherryPy (whose encode tool wraps the handler).
        #: Only routes with such hooks; not with one that takes the handler's
        #: value itself (json_out, ``takes_handler_value``).
        bf = hooks['before_finalize']
        self.encode_early = bool(bf) and self.encode[0] and not any(
            getattr(h[0], 'takes_handler_value', False) for h in bf)
        self._without: dict[Any, Plan] = {}

    def apply(self, request: Request, response: Response) -> None:
        """Set the route's ``request.*``, ``response.*`` and ``error_page.*`` config."""
        for attr, value in self.request_attrs:
            setattr(request, attr, value)
        if self.request_extra:
            request.extra = {**(request.extra or {}), **self.request_extra}
        if self.body_attrs:
            body = request.body
            for attr, value in self.body_attrs:
                setattr(body, attr, value)
        for attr, value in self.response_attrs:
            setattr(response, attr, value)
        for name, value in self.response_headers:
            response.headers[name] = value
        if self.error_page:
            request.error_page = self.error_page

    def without(self, fn: Callable[..., Any]) -> Plan:
        """This plan minus the ``before_handler`` hook ``fn`` (memoized).

        Routes whose trailing-slash check is known to pass use it, so that
        check costs nothing per request.
        """
        plan = self._without.get(fn)
        if plan is None:
            keep = [i for i, h in enumerate(self.hooks['before_handler']) if h[0] is not fn]
            plan = self._replace('before_handler',
                                 tuple(self.hooks['before_handler'][i] for i in keep),
                                 tuple(self.priorities['before_handler'][i] for i in keep))
            self._without[fn] = plan
        return plan

    def with_hook(self, point: str, hook: tuple, priority: Any) -> Plan:
        """A copy of this plan with ``hook`` added at ``point`` by ``priority``.

        Ties keep the order of attachment, as at plan build time.
        """
        prios = self.priorities[point]
        i = len(prios)
        for j, p in enumerate(prios):
            if p > priority:
                i = j
                break
        hooks = self.hooks[point]
        return self._replace(point, hooks[:i] + (hook,) + hooks[i:],
                             prios[:i] + (priority,) + prios[i:])

    def _replace(self, point: str, hooks: tuple, priorities: tuple) -> Plan:
        all_hooks = dict(self.hooks)
        all_hooks[point] = hooks
        all_prios = dict(self.priorities)
        all_prios[point] = priorities
        return Plan(self.config, all_hooks, self.request_attrs, self.response_attrs,
                    self.response_headers, self.error_page, self.sources, all_prios,
                    self.setups, self.request_extra, self.hosts, self.body_attrs)


_NOTHING = object()


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    return value if isinstance(value, (list, tuple)) else (value,)


def build_plan(config: dict[str, Any], toolboxes: dict[str, Toolbox],
               sources: tuple = (), defaults: Mapping[str, Any] | None = None,
               request_class: type[Request] | None = None) -> Plan:
    """Turn a route's merged config into a Plan (done once per route).

    ``request.<attr>`` settings whose value is already the default in
    ``defaults`` (attribute -> the value every new Request has) are left
    out: setting them per request would change nothing. Names that
    ``request_class`` does not declare go to the request's ``extra``.
    """
    hooks: dict[str, list] = {p: [] for p in HOOK_POINTS}
    order = 0
    tool_confs: dict[str, dict[str, dict[str, Any]]] = {}
    setups: list = []
    request_attrs = []
    request_extra = {}
    body_attrs = []
    response_attrs = []
    response_headers = []
    error_page: dict[Any, Any] = {}
    hosts = None
    for key, value in config.items():
        ns, _, rest = key.partition('.')
        if ns in toolboxes:
            name, _, arg = rest.partition('.')
            if arg:
                tool_confs.setdefault(ns, {}).setdefault(name, {})[arg] = value
        elif key == 'request.allowed_hosts':
            hosts = AllowedHosts(value) if value else None
        elif ns == 'request':
            if rest.startswith('body.'):
                body_attrs.append((rest[5:], value))  # CherryPy's request.body.<attr>
            elif request_class is not None and rest in request_class.config_read:
                pass  # NOTE: read from the route's config when used
            elif request_class is not None and not hasattr(request_class, rest):
                request_extra[rest] = value
            elif defaults is None or defaults.get(rest, _NOTHING) is not value:
                request_attrs.append((rest, value))
        elif ns == 'response':
            if rest.startswith('headers.'):
                response_headers.append((rest[8:], value))
            else:
                response_attrs.append((rest, value))
        elif ns == 'error_page':
            error_page[rest if rest == 'default' else _int_or(rest)] = value
        elif ns == 'hooks':
            if rest not in hooks:
                raise ValueError('config key %r: unknown hook point %r' % (key, rest))
            for cb in _as_list(value):
                hooks[rest].append((50, order, cb, {}, getattr(cb, 'failsafe', False)))
                order += 1
    for ns, confs in tool_confs.items():
        box = toolboxes[ns]
        check_keys((('%s.%s.%s' % (ns, n, a), None) for n, c in confs.items() for a in c),
                   'route config', box)
        for name, conf in confs.items():
            if not conf.get('on'):
                continue
            tool = box.get(name)
            assert tool is not None  # NOTE: check_keys has refused unknown tools
            if type(tool)._setup is not Tool._setup:
                # A subclass that attaches its own hooks: run its _setup per
                # request, before on_start_resource, as CherryPy does.
                setups.append(tool._setup)
                continue
            for point, prio, fn, kw in tool.route_hooks(conf):
                hooks[point].append((prio, order, fn, kw, getattr(fn, 'failsafe', False)))
                order += 1
    ordered = {p: sorted(h, key=lambda x: x[:2]) for p, h in hooks.items()}
    return Plan(config, {p: tuple((fn, kw, fs) for _, _, fn, kw, fs in h)
                         for p, h in ordered.items()},
                tuple(request_attrs), tuple(response_attrs), tuple(response_headers),
                error_page, sources, {p: tuple(x[0] for x in h) for p, h in ordered.items()},
                tuple(setups), request_extra, hosts, tuple(body_attrs))


def _int_or(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


#: The plan of a request that failed before routing (no hooks, no config).
EMPTY_PLAN = Plan({}, {p: () for p in HOOK_POINTS}, (), (), (), {}, ())
