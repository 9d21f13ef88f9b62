"""Config namespaces: CherryPy's handler sets, and an application's declared keys.

Two things share the name, as in CherryPy:

- ``NamespaceSet`` (``cherrypy.config.namespaces``, ``app.namespaces``,
  ``Request.namespaces``): ``name -> handler``, where a handler is called as
  ``handler(key, value)`` for each ``name.key`` entry of a config update, or is
  a context manager whose ``__enter__`` returns that callable (once per update).
- ``Namespace`` (``cherrypy.config.declare('orders', max_quantity=10)``): an
  application's own namespace, with its keys, their defaults and so their
  types. A key the namespace does not declare is a ConfigError naming it and
  its close matches; a value is checked (and coerced) against the default's type.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from . import _serving
from .conffile import ConfigError

__all__ = ['NamespaceSet', 'Namespace', 'check_declared', 'did_you_mean', 'CORE_NAMESPACES']

#: Namespaces the core reads itself; an application cannot declare them.
CORE_NAMESPACES = frozenset('''
    server engine tools request response hooks error_page log checker wsgi tree
    environment config
'''.split())


class NamespaceSet(dict):
    """``name -> handler``; calling it with a flat config runs each handler on its keys.

    As CherryPy's ``reprconf.NamespaceSet``: every handler runs on every call,
    a context-manager handler is entered and exited even when the config has
    no key of its namespace, and an exception its ``__exit__`` returns true
    for is swallowed.
    """

    def __call__(self, config: Mapping[str, Any]) -> None:
        """Pass each ``ns.rest`` entry of ``config`` to the handler of ``ns``: ``(rest, value)``."""
        buckets: dict[str, dict[str, Any]] = {}
        for key, value in config.items():
            if isinstance(key, str) and '.' in key:
                ns, _, rest = key.partition('.')
                buckets.setdefault(ns, {})[rest] = value
        for ns, handler in list(self.items()):
            entries = buckets.get(ns, {})
            if getattr(handler, '__exit__', None) is None:
                for key, value in entries.items():
                    handler(key, value)
                continue
            with handler as each:
                for key, value in entries.items():
                    each(key, value)

    def __repr__(self) -> str:
        return '%s.%s(%s)' % (self.__module__, type(self).__name__, dict.__repr__(self))

    def copy(self) -> NamespaceSet:
        """A NamespaceSet with the same handlers."""
        return type(self)(self)

    __copy__ = copy


def did_you_mean(word: str, known: Iterable[str], prefix: str = '') -> str:
    """`` (did you mean 'x'?)`` for the close matches of ``word`` in ``known``, or ''."""
    matches = difflib.get_close_matches(word, list(known), n=3, cutoff=0.6)
    if not matches:
        return ''
    return ' (did you mean %s?)' % ' or '.join(repr(prefix + m) for m in matches)


_BOOLS = {'true': True, 'yes': True, 'on': True, '1': True,
          'false': False, 'no': False, 'off': False, '0': False}
_MISSING = object()


def _coerce(default: Any, value: Any) -> Any:
    """``value`` as the type of ``default``; raise ValueError when it is not one."""
    kind = type(default)
    if default is None or isinstance(value, kind) and not (
            kind is int and isinstance(value, bool)):
        return value
    if kind is bool:
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _BOOLS:
            return _BOOLS[value.strip().lower()]
    elif kind in (int, float):
        if isinstance(value, bool):
            raise ValueError
        if kind is float and isinstance(value, int):
            return float(value)
        if isinstance(value, str):
            return kind(value.strip())
    elif kind in (list, tuple) and isinstance(value, (list, tuple)):
        return kind(value)
    raise ValueError


class Namespace:
    """An application's own config namespace: ``config.declare(name, key=default, ...)``.

    Read a value with ``ns.key`` or ``ns['key']``: in a request, the route's
    config (``request.config``: path sections, ``_cp_config``, the
    environment); outside one, the global config; the declared default when
    neither sets it. A default of None accepts any value; any other default
    gives the key its type (``10``: an int; ``1.5``: a float, ints accepted;
    ``True``: a bool, also ``'true'``/``'false'``/``'yes'``/``'no'``/``'on'``/
    ``'off'``/``1``/``0``; ``[]``: a list, tuples accepted).
    """

    def __init__(self, name: str, defaults: Mapping[str, Any],
                 config: Mapping[str, Any] | None = None) -> None:
        if not name or '.' in name or not name.replace('_', '').isalnum():
            raise ConfigError('config namespace %r: a name is letters, digits and _' % (name,))
        if name in CORE_NAMESPACES:
            raise ConfigError('config namespace %r is the core\'s own; declare another name'
                              % (name,))
        for key in defaults:
            if not isinstance(key, str) or not key or key.strip('.') != key:
                raise ConfigError('config namespace %r: %r is not a key name' % (name, key))
            if hasattr(type(self), key):
                raise ConfigError('config namespace %r: key %r clashes with Namespace.%s'
                                  % (name, key, key))
        self._name = name
        self._defaults = dict(defaults)
        self._config = config

    def __repr__(self) -> str:
        return 'Namespace(%r, %s)' % (self._name, ', '.join(
            '%s=%r' % kv for kv in self._defaults.items()))

    def defaults(self) -> dict[str, Any]:
        """``{key: default}`` as declared."""
        return dict(self._defaults)

    def check(self, rest: str, value: Any, where: str) -> Any:
        """Return ``value`` for key ``<name>.<rest>``, coerced; ConfigError naming the key."""
        key = '%s.%s' % (self._name, rest)
        default = self._defaults.get(rest, _MISSING)
        if default is _MISSING:
            raise ConfigError('%s: unknown config key %r%s; namespace %r declares: %s'
                              % (where, key, did_you_mean(rest, self._defaults, self._name + '.'),
                                 self._name, ', '.join(sorted(self._defaults))))
        try:
            return _coerce(default, value)
        except (ValueError, TypeError):
            raise ConfigError('%s: config key %r is %r, not a %s (its declared default is %r)'
                              % (where, key, value, type(default).__name__, default)) from None

    def __getitem__(self, rest: str) -> Any:
        default = self._defaults.get(rest, _MISSING)
        if default is _MISSING:
            raise KeyError('config namespace %r declares no key %r%s'
                           % (self._name, rest, did_you_mean(rest, self._defaults)))
        key = '%s.%s' % (self._name, rest)
        request = _serving.current()
        if request is not None:
            value = request.config.get(key, _MISSING)
            if value is not _MISSING:
                return value
        if self._config is not None:
            return self._config.get(key, default)
        return default

    def __getattr__(self, rest: str) -> Any:
        if rest.startswith('_'):
            raise AttributeError(rest)
        try:
            return self[rest]
        except KeyError as ex:
            raise AttributeError(ex.args[0]) from None


def check_declared(items: Iterable[tuple[str, Any]], where: str,
                   declared: Mapping[str, Namespace]) -> dict[str, Any]:
    """``dict(items)``, with the keys of declared namespaces checked and their values coerced."""
    out = {}
    for key, value in items:
        if isinstance(key, str) and declared:
            ns, _, rest = key.partition('.')
            namespace = declared.get(ns)
            if namespace is not None:
                value = namespace.check(rest, value, where)
        out[key] = value
    return out
