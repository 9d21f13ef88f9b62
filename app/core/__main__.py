"""``python -m cherrypy`` (``python -m app.core``): CherryPy's ``cherryd`` runner.

    python -m app.core [-c CONF]... [-i MODULE]... [-e ENV] [-p PIDFILE] [-d] [-P PATH]...

Imports each ``-i`` module (which mounts its apps), applies each ``-c``
config file (global, and merged into the app when exactly one is mounted),
optionally daemonizes (``-d``) and writes a pid file (``-p``), then starts
the engine with its signal handlers and blocks until it exits. FastCGI,
SCGI and CGI (``-f``, ``-s``, ``-x``) are not carried: a clear error.
"""
from __future__ import annotations

import argparse
import importlib
import sys

import app.core as cherrypy
from app.core.application import Application
from app.core.config import ConfigError
from app.core.process import plugins


def run(argv: list[str] | None = None) -> int:
    """Parse cherryd's options, start the engine, block; the exit code."""
    p = argparse.ArgumentParser(prog='python -m cherrypy', description=__doc__.splitlines()[0])
    p.add_argument('-c', '--config', action='append', default=[], help='a .conf file')
    p.add_argument('-d', action='store_true', dest='daemonize', help='run as a daemon')
    p.add_argument('-e', '--environment', help='apply the given config environment')
    p.add_argument('-i', '--import', action='append', default=[], dest='imports',
                   help='a module to import (it mounts the apps)')
    p.add_argument('-p', '--pidfile', help='write the process id to this file')
    p.add_argument('-P', '--Path', action='append', default=[], dest='paths',
                   help='add this directory to sys.path')
    for flag in ('-f', '-s', '-x'):
        p.add_argument(flag, action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.f or a.s or a.x:
        p.error('FastCGI, SCGI and CGI are not supported: serve HTTP and put a proxy in front')
    sys.path[:0] = a.paths
    try:
        for name in a.imports:
            importlib.import_module(name)
        for path in a.config:
            cherrypy.config.update(path)
            apps = [x for x in cherrypy.tree.apps.values() if isinstance(x, Application)]
            if len(apps) == 1:
                apps[0].merge(path)
        if a.environment:
            cherrypy.config.update({'environment': a.environment})
    except (ConfigError, ImportError, OSError) as ex:
        print('cherryd: cannot start: %s' % (ex,), file=sys.stderr)
        return 2
    engine = cherrypy.engine
    if a.daemonize:
        cherrypy.config.update({'log.screen': False})
        plugins.Daemonizer(engine).subscribe()
    if a.pidfile:
        plugins.PIDFile(engine, a.pidfile).subscribe()
    engine.signal_handler.subscribe()
    try:
        engine.start()
    except Exception:
        return 1
    engine.block()
    return 0


if __name__ == '__main__':
    sys.exit(run())
