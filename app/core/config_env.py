"""The environment's config: which variables set which keys, and how values are read.

==============================  =======================================
variable                        sets
==============================  =======================================
``PORT``                        ``server.socket_port``
``HOST``                        ``server.socket_host``
``APP_<NS>__<KEY>[__<SUB>]``    ``<ns>.<key>[.<sub>]`` (lower-cased),
                                e.g. ``APP_SERVER__THREAD_POOL=50``
``APP_CONFIG_OVERRIDES``        ``.conf`` text of ``[/path]`` sections
                                (URL paths), e.g. ``[/api/orders]``
                                newline ``orders.max_quantity = 3``
==============================  =======================================

``APP_<NS>__<KEY>`` values are read as Python literals when they parse as
one (``50``, ``True``, ``'x'``) and as plain strings otherwise;
``APP_CONFIG_OVERRIDES`` values are ``.conf`` values (literals, quoted
strings). Where each wins is ``Config``'s and ``Application``'s business.
"""
from __future__ import annotations

import ast
import io
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from .conffile import ConfigError, parse_file

__all__ = ['Environment', 'read_env', 'env_overrides', 'env_value', 'OVERRIDES_VAR']

#: The variable holding ``.conf`` text of path sections.
OVERRIDES_VAR = 'APP_CONFIG_OVERRIDES'


class Environment(NamedTuple):
    """What the environment sets: global keys, and path sections."""

    #: ``key -> value`` of ``PORT``, ``HOST`` and ``APP_<NS>__<KEY>``.
    values: dict[str, Any]
    #: ``key -> the variable that set it``.
    names: dict[str, str]
    #: ``key -> the variable's text``.
    raw: dict[str, str]
    #: ``URL path -> {key: value}`` from ``APP_CONFIG_OVERRIDES``.
    sections: dict[str, dict[str, Any]]


#: No variables set.
NO_ENV = Environment({}, {}, {}, {})


def env_value(text: str) -> Any:
    """A variable's value: the Python literal it spells, or else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def read_env(environ: Mapping[str, str] | None = None) -> Environment:
    """Read the variables of the module doc from ``environ`` (``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    raw: dict[str, str] = {}
    for name, text in environ.items():
        if name.startswith('APP_') and '__' in name:
            parts = name[4:].split('__')
            if not all(parts):
                raise ConfigError('environment variable %s: an empty name between "__"s '
                                  '(APP_<NS>__<KEY>[__<SUB>])' % (name,))
            key = '.'.join(p.lower() for p in parts)
            values[key], names[key], raw[key] = env_value(text), name, text
    if environ.get('HOST'):
        values['server.socket_host'] = raw['server.socket_host'] = environ['HOST']
        names['server.socket_host'] = 'HOST'
    if environ.get('PORT'):
        try:
            values['server.socket_port'] = int(environ['PORT'])
        except ValueError:
            raise ConfigError('PORT=%r is not a port number' % (environ['PORT'],)) from None
        names['server.socket_port'], raw['server.socket_port'] = 'PORT', environ['PORT']
    return Environment(values, names, raw, _sections(environ.get(OVERRIDES_VAR)))


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the global keys the environment sets (``read_env(environ).values``)."""
    return read_env(environ).values


def _sections(text: str | None) -> dict[str, dict[str, Any]]:
    if not text or not text.strip():
        return {}
    f = io.StringIO(text)
    f.name = OVERRIDES_VAR  # NOTE: parse_file names it in every error
    out: dict[str, dict[str, Any]] = {}
    for section, values in parse_file(f).items():
        if not section.startswith('/'):
            raise ConfigError('%s [%s]: only [/path] sections (URL paths); set global keys '
                              'with APP_<NS>__<KEY> variables' % (OVERRIDES_VAR, section))
        out.setdefault(section.rstrip('/') or '/', {}).update(values)
    return out
