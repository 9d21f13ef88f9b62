"""The global config: presets, key checks, environment overrides, declared namespaces.

The ``.conf`` format (values, files, merging) is in ``conffile.py``; which
environment variables set which keys in ``config_env.py``; declared
namespaces and CherryPy's namespace handlers in ``namespaces.py``. Here:
``Config`` (``cherrypy.config``), the presets ``environment`` selects, and
``check_keys``, which refuses a misspelled ``server.*``, ``engine.*``,
``tools.*`` or declared key.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .conffile import (
    CORE_MODULES,
    ConfigError,
    as_dict,
    merge,
    parse_file,
    resolve,
    source_name,
    unrepr,
)
from .config_env import NO_ENV, OVERRIDES_VAR, Environment, env_overrides, read_env
from .namespaces import Namespace, NamespaceSet, check_declared, did_you_mean

__all__ = ['Config', 'ConfigError', 'parse_file', 'as_dict', 'unrepr', 'resolve',
           'merge', 'env_overrides', 'check_keys', 'SERVER_KEYS', 'ENGINE_KEYS',
           'CORE_MODULES', 'Namespace', 'NamespaceSet']



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




def check_keys(items: Iterable[tuple[str, Any]], where: str, toolbox: Any = None,
               declared: Mapping[str, Namespace] | None = None) -> dict[str, Any]:
    """Fail on a typo in a ``server.*``, ``engine.*``, ``tools.*`` or declared key.

    ``toolbox`` is the registry of tools; a ``tools.X.arg`` key must name a
    registered tool X and, unless X takes ``**kwargs``, one of its arguments.
    ``declared`` maps namespace names to their ``Namespace``; their keys must
    be declared, and their values are coerced to the declared type. Returns
    ``dict(items)`` with those values.
    """
    out = {}
    for key, value in items:
        if not isinstance(key, str):
            raise ConfigError('%s: config key %r is not a string' % (where, key))
        ns, _, rest = key.partition('.')
        if ns == 'server':
            # NOTE: ``server.<name>.<key>`` configures an extra server (CherryPy's).
            if '.' in rest:
                rest = rest.partition('.')[2]
            if rest not in SERVER_KEYS:
                raise ConfigError('%s: unknown config key %r%s (known server keys: %s)'
                                  % (where, key, did_you_mean(rest, SERVER_KEYS, 'server.'),
                                     ', '.join(sorted(SERVER_KEYS))))
        elif ns == 'engine':
            plugin = rest.partition('.')[0]
            if plugin not in ENGINE_KEYS:
                raise ConfigError('%s: unknown config key %r%s' % (
                    where, key, did_you_mean(plugin, ENGINE_KEYS, 'engine.')))
        elif ns == 'tools' and toolbox is not None:
            name, _, arg = rest.partition('.')
            tool = toolbox.get(name)
            if tool is None:
                raise ConfigError('%s: unknown config key %r: no tool named %r%s'
                                  % (where, key, name, did_you_mean(name, toolbox)))
            if arg and not tool.accepts(arg):
                raise ConfigError('%s: unknown config key %r: tool %r takes no '
                                  'argument %r' % (where, key, name, arg))
        out[key] = value
    return check_declared(out.items(), where, declared) if declared else out


class Config(dict):
    """The global config: ``config.update(dict_or_path)`` sets server keys.

    It is a dict of ``key: value``; a ``.conf`` file's ``[global]`` section
    is what ``update`` takes from a file. ``environment`` keys pull in a
    preset; the environment variables (``config_env.py``) win over all.
    ``generation`` counts changes, so per-route plans know when to rebuild.

    ``namespaces`` is CherryPy's: ``config.namespaces['myns'] = handler``
    has ``handler(key, value)`` called for each ``myns.key`` an update sets.
    ``declare('orders', max_quantity=10)`` declares an application's own
    namespace (see ``namespaces.Namespace``).
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
        #: CherryPy's namespace handlers, called on every update.
        self.namespaces = NamespaceSet()
        #: The core's own handlers, called the same way before those
        #: (``server``: each key copied onto ``cherrypy.server`` at once).
        self.core_namespaces = NamespaceSet()
        #: Declared namespaces, by name (``declare``); ``reset`` keeps them.
        self.declared: dict[str, Namespace] = {}
        #: What the environment set, checked (``config_env.read_env``).
        self.env: Environment = NO_ENV
        self.env_error: ConfigError | None = None
        self.generation = 0
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Return to the defaults (and the environment's overrides)."""
        with self._lock:
            dict.clear(self)
            dict.update(self, self.defaults)
            try:
                self.env = self._read_env()
                self.env_error = None
            except ConfigError as ex:
                # NOTE: importing the core must not fail on a bad variable;
                # update() and engine start-up report it.
                self.env, self.env_error = NO_ENV, ex
            dict.update(self, self.env.values)
            self.generation += 1
        self._notify()

    def update(self, config: Any = None, **kw: Any) -> None:  # type: ignore[override]
        """Merge a dict, or a ``.conf`` file's ``[global]`` section, into global config."""
        where = 'global config'
        if isinstance(config, (str, os.PathLike)) or hasattr(config, 'read'):
            sections = as_dict(config)
            # NOTE: as CherryPy: a file without [global] puts each section in
            # as a key holding a dict (config['my']['my.dir']).
            values = dict(sections['global']) if 'global' in sections else dict(sections)
            where = '%s [global]' % (source_name(config),)
        else:
            values = dict(config or {})
            # A dict given as {'global': {...}} or {'/': {...}} is flattened,
            # as CherryPy does for per-app-looking dicts passed here.
            for section in ('global',):
                if isinstance(values.get(section), Mapping):
                    values.update(values.pop(section))
        values.update(kw)
        values = check_keys(values.items(), where, declared=self.declared)
        with self._lock:
            env = self._read_env()
            preset: dict[str, Any] = {}
            name = values.get('environment')
            if name is not None:
                if name not in self.environments:
                    raise ConfigError('environment %r is not one of %s'
                                      % (name, ', '.join(sorted(self.environments))))
                preset = self.environments[name]
            dict.update(self, preset)
            dict.update(self, values)
            dict.update(self, env.values)
            self.env, self.env_error = env, None
            self.generation += 1
            changed = {k: self[k] for k in (*preset, *values, *env.values)}
        self._notify()
        self.core_namespaces(changed)
        self.namespaces(changed)

    def __setitem__(self, key: str, value: Any) -> None:
        value = check_keys([(key, value)], 'global config', declared=self.declared)[key]
        with self._lock:
            if key not in self.env.values:  # NOTE: the environment wins, as in update
                dict.__setitem__(self, key, value)
                self.generation += 1
            value = self[key]
        self._notify()
        self.core_namespaces({key: value})
        self.namespaces({key: value})

    def declare(self, name: str, **keys: Any) -> Namespace:
        """Declare an application's own namespace: its keys and their defaults.

        ``orders = config.declare('orders', max_quantity=10)`` makes
        ``orders.max_quantity`` a known key (an int); any other
        ``orders.*`` key in global config, a ``.conf`` file, app config or the
        environment is a ConfigError naming it, at ``update``, ``mount`` or
        engine start. Read the value with ``orders.max_quantity`` (see
        ``Namespace``). Declaring a name again replaces its declaration.
        Values already set in the namespace are checked now.
        """
        ns = Namespace(name, keys, self)
        with self._lock:
            declared = {**self.declared, name: ns}
            prefix = name + '.'
            mine = {k: v for k, v in self.items() if k.startswith(prefix)
                    and k not in self.env.values}
            mine = check_keys(mine.items(), 'global config', declared={name: ns})
            env = self._read_env(declared)
            self.declared = declared
            dict.update(self, mine)
            dict.update(self, env.values)
            self.env, self.env_error = env, None
            self.generation += 1
        self._notify()
        return ns

    def final_env(self) -> dict[str, Any]:
        """The environment's values of declared namespaces: they win at every path."""
        declared = self.declared
        return {k: v for k, v in self.env.values.items() if k.partition('.')[0] in declared}

    def check_env(self, toolbox: Any = None) -> None:
        """Check the environment's keys again, tools too (engine start-up)."""
        if self.env_error is not None:
            raise self.env_error
        for key, value in self.env.values.items():
            check_keys([(key, value)], 'environment variable %s' % self.env.names[key], toolbox)
        for section, values in self.env.sections.items():
            check_keys(values.items(), '%s [%s]' % (OVERRIDES_VAR, section), toolbox)

    def _read_env(self, declared: Mapping[str, Namespace] | None = None) -> Environment:
        """The environment, checked: names the variable of a bad key or value."""
        declared = self.declared if declared is None else declared
        env = read_env()
        values = {}
        for key, value in env.values.items():
            ns = declared.get(key.partition('.')[0])
            if ns is not None and isinstance(ns.defaults().get(key.partition('.')[2]), str):
                value = env.raw[key]  # NOTE: '42' for a string key is the string
            where = 'environment variable %s' % env.names[key]
            values.update(check_keys([(key, value)], where, declared=declared))
        sections = {s: check_keys(v.items(), '%s [%s]' % (OVERRIDES_VAR, s), declared=declared)
                    for s, v in env.sections.items()}
        return env._replace(values=values, sections=sections)

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
