"""Run one compat program, unchanged, under app.core or the real CherryPy.

    bench/.venv/bin/python bench/compat_serve.py --framework core|cherrypy PROGRAM.py

The program is executed as ``__main__`` (``runpy``), so its own
``quickstart`` or ``tree.mount`` + ``engine.start`` + ``engine.block`` runs.
For ``core``, ``cherrypy`` and its submodules are first aliased to
``app.core`` in ``sys.modules``: ``import cherrypy``, ``from cherrypy.lib
import static`` and ``cherrypy.dispatch.MethodDispatcher`` then resolve to
the project's core. For ``cherrypy`` nothing is aliased and the real CherryPy
18.10 of the bench venv is imported.

Before the program runs, global config gets ``log.screen: False``,
``engine.autoreload.on: False`` and ``checker.on: False`` (CherryPy's
``test_suite`` environment without changing request defaults). The engine's
``start`` is wrapped so that, whatever the program set, the server binds
127.0.0.1 on a free port; once listening, the runner prints
``READY <port> <framework version>``. SIGTERM stops it gracefully.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import runpy
import socket
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if _ROOT not in sys.path:
    sys.path.insert(1, _ROOT)


def alias_core() -> None:
    """Make ``cherrypy``, ``cherrypy.lib.*`` and ``cherrypy.dispatch`` name app.core's."""
    import app.core
    import app.core.lib
    sys.modules['cherrypy'] = app.core
    sys.modules['cherrypy.lib'] = app.core.lib
    sys.modules['cherrypy.dispatch'] = app.core.dispatch
    for info in pkgutil.iter_modules(app.core.lib.__path__):
        mod = importlib.import_module('app.core.lib.' + info.name)
        sys.modules['cherrypy.lib.' + info.name] = mod


def free_port() -> int:
    """A port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def prepare(framework: str) -> None:
    """Import the framework as ``cherrypy`` and hook its engine start."""
    if framework == 'core':
        alias_core()
    import cherrypy
    if framework == 'core':
        assert cherrypy.__name__ == 'app.core', cherrypy.__name__
    else:
        assert 'app.core' not in sys.modules and cherrypy.__name__ == 'cherrypy'
    cherrypy.config.update({'log.screen': False, 'engine.autoreload.on': False,
                            'checker.on': False})
    port = free_port()
    engine = cherrypy.engine
    original_start = engine.start

    def start() -> None:
        cherrypy.config.update({'server.socket_host': '127.0.0.1', 'server.socket_port': port})
        # NOTE: programs that call engine.start/block themselves (not quickstart)
        # get SIGTERM handled too, so both frameworks exit cleanly.
        engine.signal_handler.subscribe()
        original_start()
        print('READY %d %s/%s' % (port, framework, cherrypy.__version__), flush=True)

    engine.start = start


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, prepare the framework and run the program."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--framework', required=True, choices=['core', 'cherrypy'])
    p.add_argument('program', help='path of the CherryPy program to run')
    args = p.parse_args(argv)
    program = os.path.abspath(args.program)
    os.chdir(os.path.dirname(program))  # programs open "app.conf" and the like
    prepare(args.framework)
    runpy.run_path(program, run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main())
