"""Logging: the error and access loggers, config-driven handlers, dictConfig routing."""
from __future__ import annotations

import logging
import logging.config
import re
import sys

import pytest

import app.core as cherrypy
from app.core.logs import LogManager

from helpers import call, http, live

ACCESS_RE = re.compile(
    r'^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\] '
    r'"GET /path\?q=1 HTTP/1\.1" 200 5 "http://ref\.example/" "agent/1\.0"$')


class Root:
    @cherrypy.expose
    def path(self, q=None):
        return 'hello'

    @cherrypy.expose
    def crash(self):
        raise RuntimeError('handler exploded')

    @cherrypy.expose
    def talk(self):
        cherrypy.log('from the handler', 'APP')
        return 'said'


def _ours(handler: logging.Handler) -> bool:
    # pytest's own capture handlers come and go per test phase; leave them be.
    return not type(handler).__module__.startswith('_pytest')


def _all_loggers() -> list[logging.Logger]:
    return [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                    if isinstance(lg, logging.Logger)]


@pytest.fixture(autouse=True)
def restore_logging():
    """Put loggers, handlers, log's own handlers and the graceful subscription back."""
    saved = {lg: ([h for h in lg.handlers if _ours(h)], lg.level, lg.propagate, lg.disabled)
             for lg in _all_loggers()}
    own = dict(cherrypy.log._own)
    graceful = list(cherrypy.engine.listeners.get('graceful', []))
    yield
    for lg in _all_loggers():
        before, level, propagate, disabled = saved.get(lg, ([], logging.NOTSET, True, False))
        for h in list(lg.handlers):
            if _ours(h) and h not in before:
                lg.removeHandler(h)
                h.close()
        for h in before:
            if h not in lg.handlers:
                lg.addHandler(h)
        lg.level, lg.propagate, lg.disabled = level, propagate, disabled
    cherrypy.log._own = own
    cherrypy.engine.listeners['graceful'] = graceful


def read(path) -> str:
    for h in logging.getLogger('cherrypy.access').handlers + \
            logging.getLogger('cherrypy.error').handlers:
        h.flush()
    return path.read_text(encoding='utf-8') if path.exists() else ''


# -- cherrypy.log ------------------------------------------------------------------

def test_log_call_goes_to_the_error_logger_with_traceback(caplog):
    caplog.set_level(logging.DEBUG, logger='cherrypy.error')
    try:
        raise ValueError('inner problem')
    except ValueError:
        cherrypy.log('something failed', 'CTX', logging.WARNING, traceback=True)
    rec = [r for r in caplog.records if r.name == 'cherrypy.error'][-1]
    assert rec.levelno == logging.WARNING
    assert re.match(r'^\[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}\] CTX something failed$',
                    rec.getMessage())
    assert rec.exc_info is not None and rec.exc_info[0] is ValueError
    assert 'Traceback' in caplog.text and 'ValueError: inner problem' in caplog.text


def test_log_defaults_and_traceback_outside_an_exception(caplog):
    caplog.set_level(logging.DEBUG, logger='cherrypy.error')
    cherrypy.log('plain message')
    cherrypy.log.error('asked for a traceback', 'CTX', logging.ERROR, traceback=True)
    plain, asked = [r for r in caplog.records if r.name == 'cherrypy.error'][-2:]
    assert plain.levelno == logging.INFO and plain.getMessage().endswith(' plain message')
    assert asked.levelno == logging.ERROR and asked.exc_info is None
    assert 'NoneType: None' not in caplog.text


def test_log_time_format():
    assert re.match(r'^\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\]$', LogManager.time())


# -- the access log ------------------------------------------------------------------

def test_access_line_format(caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.access')
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/path?q=1', headers={'Referer': 'http://ref.example/',
                                          'User-Agent': 'agent/1.0'})
    assert r.body == b'hello'
    lines = [rec.getMessage() for rec in caplog.records if rec.name == 'cherrypy.access']
    assert len(lines) == 1
    assert ACCESS_RE.match(lines[0]), lines[0]


def test_access_line_for_errors_missing_headers_and_mount_points(caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.access')
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '/app')
    call(None, '/app/nope')
    call(None, '/app/crash')
    lines = [rec.getMessage() for rec in caplog.records if rec.name == 'cherrypy.access']
    assert re.search(r'"GET /app/nope HTTP/1\.1" 404 \d+ "" ""$', lines[0]), lines[0]
    assert re.search(r'"GET /app/crash HTTP/1\.1" 500 \d+ "" ""$', lines[1]), lines[1]


def test_access_line_live_and_streamed(caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.access')

    class R:
        @cherrypy.expose
        def path(self, q=None):
            return 'hello'

        @cherrypy.expose
        def gen(self):
            cherrypy.response.stream = True
            return iter(['a', 'b'])
    cherrypy.tree.mount(R(), '')
    with live(cherrypy.tree) as server:
        assert http(server, '/path?q=1', headers={'Referer': 'http://ref.example/',
                                                  'User-Agent': 'agent/1.0'})[2] == b'hello'
        assert http(server, '/gen')[2] == b'ab'
    lines = [rec.getMessage() for rec in caplog.records if rec.name == 'cherrypy.access']
    assert ACCESS_RE.match(lines[0]), lines[0]
    # A streamed body has no known length: "-" as in CherryPy.
    assert re.search(r'"GET /gen HTTP/1\.1" 200 - "" ""$', lines[1]), lines[1]


def test_no_access_formatting_when_nobody_listens(monkeypatch):
    cherrypy.tree.mount(Root(), '')
    access = logging.getLogger('cherrypy.access')
    monkeypatch.setattr(access, 'propagate', False)
    monkeypatch.setattr(access, 'handlers', [])
    called = []
    monkeypatch.setattr(cherrypy.log, 'time', lambda: called.append(1) or '[t]')
    assert call(None, '/path').body == b'hello'
    assert called == []


def test_a_failing_access_log_never_fails_the_request(caplog):
    caplog.set_level(logging.INFO)
    cherrypy.tree.mount(Root(), '')
    access = logging.getLogger('cherrypy.access')

    def bad_filter(record):
        raise RuntimeError('filter broke')
    access.addFilter(bad_filter)
    try:
        r = call(None, '/path')
    finally:
        access.removeFilter(bad_filter)
    assert (r.status, r.body) == (200, b'hello')
    assert 'access log failed' in caplog.text and 'filter broke' in caplog.text


# -- log.screen, log.access_file, log.error_file ---------------------------------------

def test_log_screen_writes_to_the_console(capsys):
    cherrypy.config.update({'log.screen': True})
    cherrypy.log.configure(cherrypy.config)
    assert cherrypy.log.screen is True
    cherrypy.tree.mount(Root(), '')
    call(None, '/path?q=1')
    cherrypy.log('to the screen', 'SCREEN')
    out, err = capsys.readouterr()
    assert '"GET /path?q=1 HTTP/1.1" 200 5' in out
    assert 'SCREEN to the screen' in err

    cherrypy.config.update({'log.screen': False})
    cherrypy.log.configure(cherrypy.config)
    assert cherrypy.log.screen is False
    call(None, '/path')
    cherrypy.log('silent now', 'SCREEN')
    out, err = capsys.readouterr()
    assert 'GET /path' not in out and 'silent now' not in err


def test_log_files_from_config(tmp_path):
    access, error = tmp_path / 'access.log', tmp_path / 'error.log'
    cherrypy.config.update({'log.screen': False, 'log.access_file': str(access),
                            'log.error_file': str(error)})
    cherrypy.log.configure(cherrypy.config)
    cherrypy.tree.mount(Root(), '')
    call(None, '/path?q=1', headers={'Referer': 'http://ref.example/',
                                      'User-Agent': 'agent/1.0'})
    call(None, '/talk')
    access_lines = read(access).splitlines()
    assert ACCESS_RE.match(access_lines[0]), access_lines
    assert '"GET /talk HTTP/1.1" 200 4' in access_lines[1]
    err = read(error)
    assert 'APP from the handler' in err
    assert 'GET /path' not in err and 'from the handler' not in read(access)

    # Switching a file off removes only that handler.
    cherrypy.config.update({'log.access_file': ''})
    cherrypy.log.configure(cherrypy.config)
    before = read(access)
    call(None, '/path')
    cherrypy.log('still here', 'APP')
    assert read(access) == before
    assert 'still here' in read(error)


def test_reopen_files_follows_rotation(tmp_path):
    access = tmp_path / 'access.log'
    cherrypy.config.update({'log.screen': False, 'log.access_file': str(access)})
    cherrypy.log.configure(cherrypy.config)
    cherrypy.tree.mount(Root(), '')
    call(None, '/path')
    rotated = tmp_path / 'access.log.1'
    access.rename(rotated)
    cherrypy.engine.publish('graceful')  # log.reopen_files is subscribed to graceful
    call(None, '/talk')
    assert 'GET /path' in read(rotated) and 'GET /talk' not in read(rotated)
    assert 'GET /talk' in read(access)


def test_engine_unsubscribe_graceful_reopen_files(tmp_path):
    access = tmp_path / 'access.log'
    cherrypy.config.update({'log.screen': False, 'log.access_file': str(access)})
    cherrypy.log.configure(cherrypy.config)
    subscribed = [cb for _p, cb in cherrypy.engine.listeners['graceful']]
    assert cherrypy.log.reopen_files in subscribed
    cherrypy.engine.unsubscribe('graceful', cherrypy.log.reopen_files)
    assert cherrypy.log.reopen_files not in [cb for _p, cb in
                                             cherrypy.engine.listeners['graceful']]
    handler = [h for h in logging.getLogger('cherrypy.access').handlers
               if getattr(h, 'baseFilename', None) == str(access)]
    assert len(handler) == 1
    cherrypy.engine.publish('graceful')
    after = [h for h in logging.getLogger('cherrypy.access').handlers
             if getattr(h, 'baseFilename', None) == str(access)]
    assert after == handler  # not reopened
    cherrypy.engine.subscribe('graceful', cherrypy.log.reopen_files)
    cherrypy.engine.publish('graceful')
    again = [h for h in logging.getLogger('cherrypy.access').handlers
             if getattr(h, 'baseFilename', None) == str(access)]
    assert len(again) == 1 and again[0] is not handler[0]  # reopened


# -- dictConfig routing: cherrypy.access and cherrypy.error to their own files ---------

def log_conf(tmp_path) -> dict:
    def rotating(name):
        return {'level': 'INFO', 'class': 'logging.handlers.RotatingFileHandler',
                'formatter': 'void', 'filename': str(tmp_path / name),
                'maxBytes': 10485760, 'backupCount': 20, 'encoding': 'utf8'}
    return {
        'version': 1,
        'formatters': {
            'void': {'format': ''},
            'standard': {'format': '%(asctime)s [%(levelname)s] %(name)s: %(message)s'},
        },
        'handlers': {
            'default': dict(rotating('default.log'), formatter='standard'),
            'cherrypy_console': rotating('console.log'),
            'cherrypy_access': rotating('access.log'),
            'cherrypy_error': rotating('errors.log'),
        },
        'loggers': {
            '': {'handlers': ['default'], 'level': 'INFO'},
            'db': {'handlers': ['default'], 'level': 'INFO', 'propagate': False},
            'cherrypy.access': {'handlers': ['cherrypy_access'], 'level': 'INFO',
                                'propagate': False},
            'cherrypy.error': {'handlers': ['cherrypy_console', 'cherrypy_error'],
                               'level': 'INFO', 'propagate': False},
        },
    }


def test_dictconfig_routes_access_and_error_loggers(tmp_path):
    class Blog:
        @cherrypy.expose
        def index(self):
            logging.getLogger().info('boom')
            logging.getLogger('db').info('bam')
            cherrypy.log('bang')
            return 'hello world'

    cherrypy.config.update({'log.screen': False, 'log.access_file': '', 'log.error_file': ''})
    cherrypy.engine.unsubscribe('graceful', cherrypy.log.reopen_files)
    logging.config.dictConfig(log_conf(tmp_path))
    cherrypy.log.configure(cherrypy.config)  # what engine start does; must keep dictConfig's
    cherrypy.tree.mount(Blog(), '/blog')
    r = call(None, '/blog/', headers={'User-Agent': 'agent/1.0'})
    assert r.body == b'hello world'

    def content(name):
        for lg in ('', 'db', 'cherrypy.access', 'cherrypy.error'):
            for h in logging.getLogger(lg or None).handlers:
                h.flush()
        return (tmp_path / name).read_text(encoding='utf-8')

    access = content('access.log').splitlines()
    assert len(access) == 1
    assert re.match(r'^127\.0\.0\.1 - - \[.+\] "GET /blog/ HTTP/1\.1" 200 11 "" "agent/1\.0"$',
                    access[0]), access
    errors = content('errors.log')
    assert errors.rstrip().endswith('bang') and content('console.log') == errors
    default = content('default.log')
    assert 'root: boom' in default and 'db: bam' in default
    # propagate False: the cherrypy lines stay out of the root handler.
    assert 'bang' not in default and 'GET /blog/' not in default
    assert 'boom' not in errors and 'GET /blog/' not in errors


# -- errors in handlers ----------------------------------------------------------------

def test_handler_exception_is_500_and_logged_with_traceback(caplog):
    caplog.set_level(logging.INFO, logger='cherrypy.error')
    cherrypy.tree.mount(Root(), '/app')
    r = call(None, '/app/crash')
    assert r.status == 500
    recs = [rec for rec in caplog.records
            if rec.name == 'cherrypy.error' and rec.levelno == logging.ERROR]
    assert len(recs) == 1
    rec = recs[0]
    assert 'GET /app/crash' in rec.getMessage()
    assert rec.exc_info is not None and rec.exc_info[0] is RuntimeError
    text = logging.Formatter().format(rec)
    assert 'Traceback (most recent call last)' in text
    assert 'RuntimeError: handler exploded' in text and 'in crash' in text


def test_handler_exception_reaches_a_configured_error_file(tmp_path):
    error = tmp_path / 'error.log'
    cherrypy.config.update({'log.screen': False, 'log.error_file': str(error),
                            'environment': 'production'})
    cherrypy.log.configure(cherrypy.config)
    cherrypy.tree.mount(Root(), '')
    r = call(None, '/crash')
    assert r.status == 500 and b'handler exploded' not in r.body
    text = read(error)
    assert 'GET /crash' in text and 'RuntimeError: handler exploded' in text
    assert 'Traceback (most recent call last)' in text


def test_loggers_are_the_cherrypy_names():
    assert cherrypy.log.error_log is logging.getLogger('cherrypy.error')
    assert cherrypy.log.access_log is logging.getLogger('cherrypy.access')
    assert cherrypy.log.error_log.level == logging.INFO
    assert callable(cherrypy.log)
    assert sys.modules['app.core.logs'].log is cherrypy.log


def test_log_error_defaults_to_error_and_log_to_info(caplog):
    with caplog.at_level(logging.DEBUG, logger='cherrypy.error'):
        cherrypy.log.error('disk full', 'TEST')
        cherrypy.log('started', 'TEST')
        cherrypy.log.error('just a note', 'TEST', logging.INFO)
    levels = {r.getMessage().split(' ', 1)[1]: r.levelno for r in caplog.records}
    assert levels == {'TEST disk full': logging.ERROR, 'TEST started': logging.INFO,
                      'TEST just a note': logging.INFO}


def test_a_file_body_writes_one_access_line(tmp_path, caplog):
    page = tmp_path / 'page.txt'
    page.write_bytes(b'x' * 5000)
    caplog.set_level(logging.INFO, logger='cherrypy.access')

    class Root:
        pass
    cherrypy.tree.mount(Root(), '', {'/page.txt': {'tools.staticfile.on': True,
                                                   'tools.staticfile.filename': str(page)}})
    r = call(None, '/page.txt')
    assert r.status == 200 and len(r.body) == 5000
    lines = [rec.getMessage() for rec in caplog.records if rec.name == 'cherrypy.access']
    assert len(lines) == 1 and '"GET /page.txt HTTP/1.1" 200 5000' in lines[0]


def test_access_line_shows_request_headers_as_the_handler_left_them(caplog):
    class Root:
        @cherrypy.expose
        def index(self):
            cherrypy.request.headers['User-Agent'] = 'Rewritten (1.0\r\n\t.3)'
            return 'x'

        @cherrypy.expose
        def untouched(self):
            return 'y'
    cherrypy.tree.mount(Root(), '')
    with caplog.at_level(logging.INFO, logger='cherrypy.access'):
        call(None, '/', headers={'User-Agent': 'Original'})
        call(None, '/untouched', headers={'User-Agent': 'Original', 'Referer': 'http://r/'})
    first, second = [r.getMessage() for r in caplog.records if r.name == 'cherrypy.access']
    # NOTE: a header value set in a handler loses CR and LF, as every header does.
    assert first.endswith('"" "Rewritten (1.0\\t.3)"')
    assert second.endswith('"http://r/" "Original"')
