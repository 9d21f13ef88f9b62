"""Configuration: global config, .conf files, environment overrides, checks.

Config is data. A ``.conf`` file is CherryPy's format: ``[global]``,
``[/path]`` and custom sections; ``key: value`` or ``key = value``; each value
a Python literal. A value may also be a dotted reference to a class or
callable (``cherrypy.dispatch.MethodDispatcher()``,
``cherrypy.lib.sessions.FileSession``); it is resolved by import, and a
call takes literal arguments only. Nothing is passed to ``eval``.

Environment overrides (applied over the global config on every update):

==============================  =======================================
variable                        config key
==============================  =======================================
``PORT``                        ``server.socket_port``
``HOST``                        ``server.socket_host``
``APP_<NS>__<KEY>[__<SUB>]``    ``<ns>.<key>[.<sub>]`` (lower-cased),
                                e.g. ``APP_SERVER__THREAD_POOL=50``
==============================  =======================================

Values from the environment are read as Python literals when they parse as
one (``50``, ``True``, ``'x'``) and as plain strings otherwise.
"""
from __future__ import annotations

import ast
import configparser
import importlib
import os
import threading
from collections.abc import Iterable, Mapping
from typing import IO, Any

from .dispatch import Dispatcher

__all__ = ['Config', 'ConfigError', 'parse_file', 'as_dict', 'unrepr', 'resolve',
           'merge', 'env_overrides', 'check_keys', 'SERVER_KEYS', 'ENGINE_KEYS']


class ConfigError(ValueError):
    """A config key or value is wrong; the message names it."""


#: Keys the ``server`` namespace accepts (CherryPy's, plus our tuning keys).
SERVER_KEYS = frozenset('''
    socket_host socket_port socket_file socket_queue_size socket_timeout
    accepted_queue_size accepted_queue_timeout shutdown_timeout
    protocol_version thread_pool thread_pool_max max_request_header_size
    max_request_body_size instance httpserver bind_addr ssl_module
    ssl_certificate ssl_certificate_chain ssl_private_key ssl_context
    ssl_ciphers statistics nodelay wsgi_version peercreds peercreds_resolve
    reverse_dns keep_alive_conn_limit expiration_interval defer_accept
    reuse_port server_name head_timeout body_buffer_size probe_paths probe_threads
    stall_timeout max_connections saturation_timeout
'''.split())

#: ``engine.<plugin>.<attr>`` plugins accepted; most are CherryPy's and are
#: accepted so that programs written for it start, even where they are no-ops.
ENGINE_KEYS = frozenset('''
    autoreload timeout_monitor signal_handler signals SIGHUP SIGTERM SIGUSR1
    drain_seconds deadlock_poll_freq
'''.split())

_REF_ALIASES = (('cherrypy.', 'app.core.'),)

#: Presets selected by ``environment``.
environments: dict[str, dict[str, Any]] = {
    'production': {
        'engine.autoreload.on': False,
        'checker.on': False,
        'tools.log_headers.on': False,
        'request.show_tracebacks': False,
        'request.show_mismatched_params': False,
        'log.screen': False,
    },
    'staging': {
        'engine.autoreload.on': False,
        'checker.on': False,
        'tools.log_headers.on': False,
        'request.show_tracebacks': False,
        'request.show_mismatched_params': False,
    },
    'embedded': {
        'engine.autoreload.on': False,
        'checker.on': False,
        'tools.log_headers.on': False,
        'request.show_tracebacks': False,
        'request.show_mismatched_params': False,
        'log.screen': False,
        'engine.SIGHUP': None,
        'engine.SIGTERM': None,
    },
    'test_suite': {
        'engine.autoreload.on': False,
        'checker.on': False,
        'tools.log_headers.on': False,
        'request.show_tracebacks': True,
        'log.screen': False,
    },
}


#: What a config value may always reference; ``config.allowed_modules`` adds more.
CORE_MODULES = ('cherrypy', 'app.core')


def resolve(dotted: str, allowed: Iterable[str] = ()) -> Any:
    """Import and return what a dotted name (``cherrypy.x.y`` or ``app.core.x.y``) names.

    Names outside ``cherrypy.`` and ``app.core.`` resolve only under the
    modules in ``allowed``; nothing else is imported (importing runs code).
    """
    if not any(dotted == m or dotted.startswith(m + '.') for m in (*CORE_MODULES, *allowed)):
        raise ConfigError('%r names nothing under cherrypy.* or app.core.* (quote strings; '
                          'to reference a module of your own, list it in [global] '
                          'config.allowed_modules)' % (dotted,))
    for old, new in _REF_ALIASES:
        if dotted.startswith(old):
            dotted = new + dotted[len(old):]
    parts = dotted.split('.')
    for i in range(len(parts), 0, -1):
        modname = '.'.join(parts[:i])
        try:
            obj: Any = importlib.import_module(modname)
        except ModuleNotFoundError as ex:
            if ex.name is not None and modname.startswith(ex.name):
                continue  # NOTE: this prefix is no module; a shorter one may be
            raise
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise ConfigError('cannot resolve %r: %r has no attribute %r'
                              % (dotted, modname, attr)) from None
        return obj
    raise ConfigError('cannot resolve %r: no importable module (quote strings)'
                      % (dotted,))


def _dotted_name(node: ast.AST) -> str | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
        return '.'.join(reversed(names))
    return None


def _may_call(target: Any) -> bool:
    # NOTE: calling is how a config file could run code (os.system('...'),
    # subprocess.Popen([...])); only the core's own classes, and dispatcher
    # subclasses, may be instantiated from config.
    if not isinstance(target, type):
        return False
    if (target.__module__ or '').startswith('app.core'):
        return True
    return issubclass(target, Dispatcher)


def unrepr(text: str, allowed: Iterable[str] = ()) -> Any:
    """Turn a config value into an object: a literal, or a dotted reference.

    ``module.attr`` imports and returns the attribute (under ``cherrypy.``,
    ``app.core.`` or a module in ``allowed``); ``module.Class(...)``
    instantiates it with literal arguments, for app.core classes and
    dispatchers only. Anything else raises ConfigError.
    """
    text = text.strip()
    if not text:
        return ''
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        node = ast.parse(text, mode='eval').body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ConfigError('%r is not a Python literal (quote strings)' % (text,)) from None
    if isinstance(node, ast.Call):
        name = _dotted_name(node.func)
        if name is None or '.' not in name:
            raise ConfigError('%r: only module.attr(...) calls are allowed' % (text,))
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            raise ConfigError('%r: call arguments must be literals' % (text,)) from None
        target = resolve(name, allowed)
        if not _may_call(target):
            raise ConfigError('%r: only app.core classes and dispatchers may be called '
                              'in config, and %r is not one' % (text, name))
        return target(*args, **kwargs)
    name = _dotted_name(node)
    if name is not None and '.' in name:
        return resolve(name, allowed)
    raise ConfigError('%r is not a Python literal (quote strings)' % (text,))


def parse_file(path: str | os.PathLike | IO[str]) -> dict[str, dict[str, Any]]:
    """Read a CherryPy-style ``.conf`` file (a path or an open file) into sections.

    ``[global] config.allowed_modules`` (a list of module names) lets
    values in this file reference those modules too. Any error from a value
    names the file, the section and the key.
    """
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    name: Any = path
    try:
        if isinstance(path, (str, os.PathLike)):
            with open(path, encoding='utf-8') as f:
                parser.read_file(f)
        else:
            name = getattr(path, 'name', '<config>')
            parser.read_file(path)
    except OSError as ex:
        raise ConfigError('cannot read config file %s: %s' % (name, ex.strerror)) from None
    except (configparser.Error, UnicodeDecodeError) as ex:
        raise ConfigError('config file %s: %s' % (name, ex)) from None
    allowed = _allowed_modules(parser, name)
    result: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        values = result[section] = {}
        for key, raw in parser.items(section):
            try:
                values[key] = unrepr(raw, allowed)
            except ConfigError as ex:
                raise ConfigError('%s [%s] %s: %s' % (name, section, key, ex)) from None
            except Exception as ex:  # NOTE: an import or a call raised; say where
                raise ConfigError('%s [%s] %s: %s: %s' % (name, section, key,
                                                        type(ex).__name__, ex)) from None
    return result


def _allowed_modules(parser: configparser.RawConfigParser, name: Any) -> tuple[str, ...]:
    if not parser.has_option('global', 'config.allowed_modules'):
        return ()
    raw = parser.get('global', 'config.allowed_modules')
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(m, str) and m.replace('.', '').replace('_', '').isalnum() for m in value):
        raise ConfigError('%s [global] config.allowed_modules: %r is not a list of module '
                          'names' % (name, raw))
    return tuple(value)


def as_dict(config: Any) -> dict[str, Any]:
    """Return a dict from a dict, a ``.conf`` path or an open file."""
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)) or hasattr(config, 'read'):
        return parse_file(config)
    if isinstance(config, Mapping):
        return dict(config)
    raise ConfigError('config must be a dict or a .conf path, not %r' % (type(config),))


def merge(base: dict[str, dict[str, Any]], config: Any) -> None:
    """Merge per-section config (dict or file) into ``base``, section by section."""
    for section, values in as_dict(config).items():
        if not isinstance(values, Mapping):
            raise ConfigError('section %r must map keys to values, got %r'
                              % (section, values))
        base.setdefault(section, {}).update(values)


def _env_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the global keys set by the environment (see the module doc)."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if name.startswith('APP_') and '__' in name:
            key = '.'.join(p.lower() for p in name[4:].split('__'))
            out[key] = _env_value(value)
    if environ.get('HOST'):
        out['server.socket_host'] = environ['HOST']
    if environ.get('PORT'):
        try:
            out['server.socket_port'] = int(environ['PORT'])
        except ValueError:
            raise ConfigError('PORT=%r is not a port number' % (environ['PORT'],)) from None
    return out


def check_keys(items: Iterable[tuple[str, Any]], where: str, toolbox: Any = None) -> None:
    """Fail on a typo in a ``server.*``, ``engine.*`` or ``tools.*`` key.

    ``toolbox`` is the registry of tools; a ``tools.X.arg`` key must name a
    registered tool X and, unless X takes ``**kwargs``, one of its arguments.
    """
    for key, _value in items:
        if not isinstance(key, str):
            raise ConfigError('%s: config key %r is not a string' % (where, key))
        ns, _, rest = key.partition('.')
        if ns == 'server':
            if rest not in SERVER_KEYS:
                raise ConfigError('%s: unknown config key %r (known server keys: %s)'
                                  % (where, key, ', '.join(sorted(SERVER_KEYS))))
        elif ns == 'engine':
            plugin = rest.partition('.')[0]
            if plugin not in ENGINE_KEYS:
                raise ConfigError('%s: unknown config key %r' % (where, key))
        elif ns == 'tools' and toolbox is not None:
            name, _, arg = rest.partition('.')
            tool = toolbox.get(name)
            if tool is None:
                raise ConfigError('%s: unknown config key %r: no tool named %r'
                                  % (where, key, name))
            if arg and not tool.accepts(arg):
                raise ConfigError('%s: unknown config key %r: tool %r takes no '
                                  'argument %r' % (where, key, name, arg))


class Config(dict):
    """The global config: ``config.update(dict_or_path)`` sets server keys.

    It is a dict of ``key: value``; a ``.conf`` file's ``[global]`` section
    is what ``update`` takes from a file. ``environment`` keys pull in a
    preset; the environment variables in the module doc win over all.
    ``generation`` counts changes, so per-route plans know when to rebuild.
    """

    defaults: dict[str, Any] = {
        'tools.trailing_slash.on': True,
        'tools.encode.on': True,
        'log.screen': True,
        'request.show_tracebacks': True,
        'request.show_mismatched_params': True,
    }
    environments = environments

    def __init__(self) -> None:
        super().__init__()
        #: Called as ``watcher(config)`` after every change (logs use it).
        self.watchers: list = []
        self.generation = 0
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Return to the defaults (and the environment's overrides)."""
        with self._lock:
            dict.clear(self)
            dict.update(self, self.defaults)
            try:
                dict.update(self, env_overrides())
                self.env_error: ConfigError | None = None
            except ConfigError as ex:
                # NOTE: importing the core must not fail on a bad variable;
                # update() and engine start-up report it.
                self.env_error = ex
            self.generation += 1
        self._notify()

    def update(self, config: Any = None, **kw: Any) -> None:  # type: ignore[override]
        """Merge a dict, or a ``.conf`` file's ``[global]`` section, into global config."""
        if isinstance(config, (str, os.PathLike)) or hasattr(config, 'read'):
            sections = as_dict(config)
            values = dict(sections.get('global', {}))
        else:
            values = dict(config or {})
            # A dict given as {'global': {...}} or {'/': {...}} is flattened,
            # as CherryPy does for per-app-looking dicts passed here.
            for section in ('global',):
                if isinstance(values.get(section), Mapping):
                    values.update(values.pop(section))
        values.update(kw)
        check_keys(values.items(), 'global config')
        with self._lock:
            env = values.get('environment')
            if env is not None:
                if env not in self.environments:
                    raise ConfigError('environment %r is not one of %s'
                                      % (env, ', '.join(sorted(self.environments))))
                dict.update(self, self.environments[env])
            dict.update(self, values)
            dict.update(self, env_overrides())
            self.generation += 1
        self._notify()

    def __setitem__(self, key: str, value: Any) -> None:
        check_keys([(key, value)], 'global config')
        with self._lock:
            dict.__setitem__(self, key, value)
            self.generation += 1
        self._notify()

    def _notify(self) -> None:
        for watcher in self.watchers:
            watcher(self)

    def __call__(self, **kwargs: Any):
        """Decorator: ``@config(**{'tools.gzip.on': True})`` sets ``_cp_config``."""
        def tag(f: Any) -> Any:
            if not hasattr(f, '_cp_config'):
                f._cp_config = {}
            f._cp_config.update(kwargs)
            return f
        return tag

    def namespace(self, ns: str) -> dict[str, Any]:
        """Return ``{rest: value}`` for all keys in namespace ``ns``."""
        prefix = ns + '.'
        return {k[len(prefix):]: v for k, v in self.items() if k.startswith(prefix)}
