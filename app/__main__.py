"""``python -m app [--config conf/X.conf]``: serve the app through the engine.

SIGTERM and SIGINT stop it gracefully (readiness fails, in-flight requests
finish) and the process exits 0.
"""
from __future__ import annotations

import argparse
import sys

import app.core as cherrypy
from app.core.config import ConfigError

from . import DEFAULT_CONFIG, build


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the app, serve until a signal; return the exit code."""
    # NOTE: handlers first, so a SIGTERM during start-up is a clean stop too.
    cherrypy.engine.signal_handler.subscribe()
    parser = argparse.ArgumentParser(prog='python -m app', description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='a CherryPy-style .conf file (default: conf/dev.conf)')
    args = parser.parse_args(argv)
    try:
        build(args.config)
        cherrypy.engine.start()
    except (ConfigError, OSError) as ex:
        print('app: cannot start: %s' % (ex,), file=sys.stderr)
        cherrypy.engine.exit()
        return 2
    cherrypy.engine.block()
    return 0


if __name__ == '__main__':
    sys.exit(main())
