"""The core's shape: one-way imports, the priority table, declared request state, the tool API."""
from __future__ import annotations

import ast
import logging
import os

import pytest
from helpers import ROOT, call

import app.core as cherrypy
from app.core import hooks, priorities
from app.core._tools import build_toolbox
from app.core.request_response import REQUEST_DEFAULTS, Request, Response

CORE = os.path.join(ROOT, 'app', 'core')


def _core_modules() -> dict[str, str]:
    mods = {}
    for dirpath, _dirs, files in os.walk(CORE):
        for f in files:
            if f.endswith('.py'):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.join(ROOT)).replace(os.sep, '.')[:-3]
                mods[rel.removesuffix('.__init__')] = path
    return mods


def _imports(name: str, path: str, top_level_only: bool) -> list[tuple[str, int]]:
    """Core modules ``path`` imports: ``(module, line)``, resolved to absolute names."""
    tree = ast.parse(open(path).read())
    package = name if path.endswith('__init__.py') else name.rsplit('.', 1)[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            targets = [mod] + ['%s.%s' % (mod, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for t in targets:
            if t.startswith('app.core'):
                found.append((t, node.lineno))
    return found


def test_no_import_inside_a_function_in_the_core():
    offenders = []
    for name, path in _core_modules().items():
        tree = ast.parse(open(path).read())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                offenders += ['%s:%d' % (name, n.lineno) for n in ast.walk(fn)
                              if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert offenders == []


def test_core_imports_point_one_way():
    mods = _core_modules()
    # NOTE: the package facade (app.core's __init__) imports everything by
    # design and runs before any of its modules; edges to it are left out.
    graph = {name: {t for t, _ in _imports(name, path, True)
                    if t in mods and t not in (name, 'app.core')}
             for name, path in mods.items()}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        for nxt in graph[node]:
            visit(nxt, stack + [node])
    for name in graph:
        if name != 'app.core':
            visit(name, [])
    assert cycles == []
    lower = ['app.core.errors', 'app.core.logs', 'app.core._serving',
             'app.core.request_response', 'app.core.hooks', 'app.core.plan']

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        return a == b or any(reaches(n, b, seen | {a}) for n in graph[a] - seen)
    for low in lower:
        assert not reaches(low, 'app.core.cycle', set()), low
        assert not reaches(low, 'app.core.application', set()), low


def test_the_priority_table_covers_every_built_in_tool_and_nothing_else():
    tools = build_toolbox()  # NOTE: not cherrypy.tools, where programs add their own
    names = {key.split('.')[0] for key in priorities.PRIORITIES}
    assert names == set(tools), (names ^ set(tools))
    for key, (point, _prio) in priorities.PRIORITIES.items():
        assert point in hooks.HOOK_POINTS, key


def test_tools_hang_their_hooks_where_the_table_says():
    tools = build_toolbox()
    where = {(point, prio) for point, prio in priorities.PRIORITIES.values()}
    confs = {'sessions': [{'on': True}, {'on': True, 'locking': 'early'}],
             'caching': [{'on': True}]}
    for name in tools:
        tool = tools.get(name)
        point, prio = priorities.PRIORITIES[name]
        assert (tool._point, tool._priority) == (point, prio), name
        for conf in confs.get(name, [{'on': True}]):
            for hook in tool.route_hooks(conf):
                assert (hook.point, hook.priority) in where, (name, hook)


def test_the_documented_priority_table_is_the_one_in_code():
    doc = priorities.__doc__
    start = doc.index('.. priority-table') + len('.. priority-table')
    end = doc.index('.. end-priority-table')
    assert doc[start:end].strip() == priorities.priority_table()


def test_request_and_response_declare_their_state():
    for cls in (Request, Response):
        assert '__dict__' not in cls.__slots__
    req = Request({'PATH_INFO': '/'})
    assert not hasattr(req, '__dict__') and not hasattr(req.response, '__dict__')
    for attr, default in REQUEST_DEFAULTS.items():
        assert getattr(req, attr) is default, attr
    with pytest.raises(AttributeError):
        req.undeclared = 1
    with pytest.raises(AttributeError):
        req.undeclared  # noqa: B018


def test_a_programs_own_request_attributes_live_in_extra():
    class Root:
        @cherrypy.expose
        def index(self):
            cherrypy.request.user = 'ann'
            cherrypy.response.note = 'kept'
            req = cherrypy.serving.request
            del cherrypy.request.user
            cherrypy.request.user = 'bob'
            return '%s %s %s %s' % (cherrypy.request.user, req.extra, cherrypy.response.note,
                                    cherrypy.request.team)
    cherrypy.tree.mount(Root(), '', {'/': {'request.team': 'blue'}})
    r = call(None, '/')
    assert r.text == "bob {'team': 'blue', 'user': 'bob'} kept blue"


def test_a_tool_with_several_hooks_uses_the_public_route_hooks():
    seen = []

    class Pair(cherrypy.Tool):
        def __init__(self):
            super().__init__('on_start_resource', self.begin)

        def begin(self, label):
            seen.append(('begin', label))

        def end(self, label):
            seen.append(('end', label))

        def route_hooks(self, conf):
            label = conf.get('label', '?')
            return [cherrypy.ToolHook('on_start_resource', 10, self.begin, {'label': label}),
                    cherrypy.ToolHook('before_finalize', 90, self.end, {'label': label})]
    cherrypy.tools.pair = Pair()

    class Root:
        @cherrypy.expose
        @cherrypy.tools.pair(label='x')
        def index(self):
            seen.append(('handler', None))
            return 'ok'
    cherrypy.tree.mount(Root(), '')
    assert call(None, '/').text == 'ok'
    assert seen == [('begin', 'x'), ('handler', None), ('end', 'x')]


def test_log_and_error_page_name_this_core(caplog):
    class Root:
        pass
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/missing')
    assert r.status == 404
    assert b'Powered by app.core/' in r.body and b'CherryPy' not in r.body
    assert r.headers['Server'].startswith('app.core')
    assert logging.getLogger('cherrypy.error') is cherrypy.log.error_log


def test_charsets_remembered_per_route_stay_right_for_every_content_type():
    class Root:
        @cherrypy.expose
        def page(self, ct='', text='é'):
            if ct:
                cherrypy.response.headers['Content-Type'] = ct
            return text
    cherrypy.tree.mount(Root(), '', {'/': {'tools.encode.encoding': 'utf-8'}})
    types = ['text/x-%d' % i for i in range(40)]  # more than a plan remembers
    for _round in range(2):
        for ct in types + ['text/plain;charset=latin-1', 'application/octet-stream', '']:
            r = call(None, '/page', query='ct=' + ct.replace(';', '%3B') if ct else '')
            if ct == 'text/plain;charset=latin-1':
                assert (r.headers['Content-Type'], r.body) == (ct, 'é'.encode('latin-1'))
            elif ct == 'application/octet-stream':
                assert (r.headers['Content-Type'], r.body) == (ct, 'é'.encode())
            else:
                want = (ct or 'text/html') + ';charset=utf-8'
                assert (r.headers['Content-Type'], r.body) == (want, 'é'.encode())


def test_header_names_fold_case_however_many_there_are():
    from app.core.lib.httputil import HeaderMap
    h = HeaderMap()
    for i in range(600):  # past the cache of titled names
        h['x-name-%d' % i] = str(i)
    assert h['X-NAME-599'] == '599' and 'x-Name-0' in h and len(h) == 600
    assert list(h)[:2] == ['X-Name-0', 'X-Name-1']
