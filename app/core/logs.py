"""Access and error logs through the standard ``logging`` module.

Two loggers, named as CherryPy names them so a ``logging.config.dictConfig``
written for CherryPy routes them unchanged: ``cherrypy.access`` (one line a
request, Apache combined format) and ``cherrypy.error`` (everything else).
``log.screen``, ``log.access_file`` and ``log.error_file`` in the global
config add or remove this module's own handlers; handlers that others add
are left alone.

``log.json = True`` (on in production) makes those handlers write one JSON
object per line: ``time``, ``level``, ``logger``, ``message`` (and
``context``, ``traceback``); access lines add ``method``, ``path``,
``status``, ``bytes``, ``duration_ms``, ``client`` (the address the proxy
tool resolved), ``user_agent`` and ``request_id`` (``request.unique_id``,
also echoed as the response's ``X-Request-ID``).
"""
from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .request_response import Request, Response

__all__ = ['LogManager', 'LazyRfc3339UtcTime', 'log']


class _ScreenHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at the time of the write."""

    def __init__(self, which: str) -> None:
        self._which = which
        super().__init__()

    @property
    def stream(self):
        return sys.stderr if self._which == 'error' else sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass  # NOTE: the stream is looked up per write, so redirections apply


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for a cluster's log indexer."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            'time': datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            'level': record.levelname,
            'logger': record.name,
            'message': getattr(record, 'plain', None) or record.getMessage(),
        }
        context = getattr(record, 'context', None)
        if context:
            out['context'] = context
        fields = getattr(record, 'access', None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out['traceback'] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(',', ':'), default=str)


def _escape(value: str) -> str:
    r"""An access-log field as CherryPy writes it, so no client value forges a line (CWE-117).

    Bytes beyond printable ASCII (of the UTF-8) become ``\xhh``, control
    characters ``\n`` and the like, ``"`` becomes ``\"``; a backslash stays
    as it is (as in CherryPy's access log).
    """
    if value.isascii() and value.isprintable() and '"' not in value:
        return value  # PERF: the usual case
    out = repr(value.encode('utf-8', 'backslashreplace'))[2:-1]
    return out.replace('\\\\', '\\').replace("\\'", "'").replace('"', '\\"')


class LazyRfc3339UtcTime:
    """The current UTC time as RFC 3339 (``2019-12-31T17:23:45Z``), made when printed."""

    def __str__(self) -> str:
        now = datetime.datetime.now(datetime.UTC)
        return now.strftime('%Y-%m-%dT%H:%M:%S') + 'Z'

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _LazyId:
    """``request.unique_id``, made only if the access format prints it (``{i}``)."""

    __slots__ = ('request',)

    def __init__(self, request: Request) -> None:
        self.request = request

    def __format__(self, spec: str) -> str:
        return format(self.request.unique_id, spec)


class LogManager:
    """``cherrypy.log``: call it to write to the error log.

    ``log(msg, context='', severity=logging.INFO, traceback=False)``.
    ``access_log_format`` (CherryPy's fields): ``{h}`` client, ``{l}`` -,
    ``{u}`` login, ``{t}`` time, ``{r}`` request line, ``{s}`` status,
    ``{b}`` bytes, ``{f}`` referer, ``{a}`` user agent, ``{o}`` Host,
    ``{i}`` request id, ``{z}`` UTC time (RFC 3339). Text fields are escaped.
    """

    access_log_format = ('{h} {l} {u} {t} "{r}" {s} {b} "{f}" "{a}"')

    def __init__(self) -> None:
        self.error_log = logging.getLogger('cherrypy.error')
        self.access_log = logging.getLogger('cherrypy.access')
        self.error_log.setLevel(logging.INFO)
        self.access_log.setLevel(logging.INFO)
        self._own: dict[tuple[str, str], logging.Handler] = {}
        self._wanted: tuple | None = None
        #: ``log.json``: JSON lines, and request ids echoed on responses.
        self.json = False

    @staticmethod
    def time() -> str:
        """The time as the logs show it: ``[22/Nov/2026:03:57:12]``."""
        return datetime.datetime.now().strftime('[%d/%b/%Y:%H:%M:%S]')

    def error(self, msg: str = '', context: str = '', severity: int = logging.ERROR,
              traceback: bool = False) -> None:
        """Write ``msg`` to the error log (at ERROR unless told), with the traceback if asked."""
        exc_info = sys.exc_info() if traceback else None
        if traceback and exc_info[0] is None:  # type: ignore[index]
            exc_info = None
        self.error_log.log(severity, ' '.join((self.time(), context, msg)), exc_info=exc_info,
                           extra={'plain': msg, 'context': context})

    def __call__(self, msg: str = '', context: str = '', severity: int = logging.INFO,
                 traceback: bool = False) -> None:
        """``log(msg)``: write ``msg`` to the error log, at INFO unless told (as CherryPy)."""
        self.error(msg, context, severity, traceback)

    def access(self, request: Request, response: Response, nbytes: int | None) -> None:
        """Write one access line for a finished request (only if anyone listens)."""
        lg = self.access_log
        # PERF: formatting costs more than the rest of logging; skip it when
        # no handler would see the line.
        if not lg.isEnabledFor(logging.INFO) or not lg.hasHandlers():
            return
        env = request.environ
        status = response.output_status or str(response.status)
        remote = request.remote
        # NOTE: the request's headers as the handler left them, once they were
        # built (a handler may rewrite one, as in CherryPy); else the environ.
        headers = request._headers
        if headers is not None:
            referer, agent = headers.get('Referer', ''), headers.get('User-Agent', '')
            host = headers.get('Host', '-')
        else:
            referer, agent = env.get('HTTP_REFERER', ''), env.get('HTTP_USER_AGENT', '')
            host = env.get('HTTP_HOST', '-')
        line = self.access_log_format.format(
            h=_escape(remote.name or remote.ip if remote else env.get('REMOTE_ADDR', '-')),
            l='-',
            u=_escape(request.login or '-'),
            t=self.time(),
            r=_escape(request.request_line),
            s=status.split(' ', 1)[0],
            b='-' if nbytes is None else nbytes,
            f=_escape(referer),
            a=_escape(agent),
            o=_escape(host),
            i=_LazyId(request),
            z=LazyRfc3339UtcTime(),
        )
        extra = None
        if self.json:
            extra = {'plain': request.request_line, 'access': {
                'method': request.method,
                'path': request.script_name + request.path_info,
                'status': int(status.split(' ', 1)[0]),
                'bytes': nbytes,
                'duration_ms': round((time.perf_counter() - request.started) * 1000, 3),
                'client': request.remote.ip if request.remote else env.get('REMOTE_ADDR'),
                'user_agent': agent,
                'request_id': request.unique_id,
            }}
        try:
            lg.log(logging.INFO, line, extra=extra)
        except Exception as ex:  # NOTE: logging must never fail a request
            self.error('access log failed: %r' % (ex,), 'LOG', logging.WARNING)

    # -- handlers driven by config ---------------------------------------
    def _set(self, which: str, kind: str, target: Any) -> None:
        logger = self.error_log if which == 'error' else self.access_log
        old = self._own.pop((which, kind), None)
        if old is not None:
            logger.removeHandler(old)
            old.close()
        if not target:
            return
        if kind == 'screen':
            h: logging.Handler = _ScreenHandler(which)
        else:
            h = logging.FileHandler(target, encoding='utf-8')
        h.setFormatter(JsonFormatter() if self.json else logging.Formatter('%(message)s'))
        logger.addHandler(h)
        self._own[(which, kind)] = h

    def configure(self, config: dict[str, Any]) -> None:
        """Apply ``log.screen``, ``log.access_file`` and ``log.error_file``."""
        screen = config.get('log.screen', True)
        wanted = (bool(screen), config.get('log.error_file'), config.get('log.access_file'),
                  bool(config.get('log.json', False)))
        if wanted == self._wanted:
            return
        self._wanted = wanted
        self.json = wanted[3]
        self._set('error', 'screen', screen)
        self._set('access', 'screen', screen)
        self._set('error', 'file', config.get('log.error_file'))
        self._set('access', 'file', config.get('log.access_file'))

    def reopen_files(self) -> None:
        """Close and reopen the log files (for log rotation)."""
        for (which, kind), h in list(self._own.items()):
            if isinstance(h, logging.FileHandler):
                self._set(which, kind, h.baseFilename)
        self._wanted = None

    @property
    def screen(self) -> bool:
        """True when this manager writes to the console."""
        return ('error', 'screen') in self._own


log = LogManager()
