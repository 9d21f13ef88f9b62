"""The ``.conf`` format: values as data, files as sections, merging.

A ``.conf`` file is CherryPy's format: ``[global]``, ``[/path]`` and custom
sections; ``key: value`` or ``key = value``; each value a Python literal. A
value may also be a dotted reference to a class or callable
(``cherrypy.dispatch.MethodDispatcher()``,
``cherrypy.lib.sessions.FileSession``); it is resolved by import, and a call
takes literal arguments only. Nothing is passed to ``eval``.
"""
from __future__ import annotations

import ast
import configparser
import importlib
import os
from collections.abc import Iterable, Mapping
from typing import IO, Any

from .dispatch import Dispatcher

__all__ = ['ConfigError', 'parse_file', 'as_dict', 'unrepr', 'resolve', 'merge', 'source_name',
           'CORE_MODULES']


class ConfigError(ValueError):
    """A config key or value is wrong; the message names it."""


_REF_ALIASES = (('cherrypy.', 'app.core.'),)

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
    if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                           and node.func.id == 'dict'):
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
    return _value(node, text, allowed)


#: Operators a value may use on literals: ``%(dir)s + "/sub"``, ``6 * 3``.
_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
              ast.Mult: lambda a, b: a * b}


def _value(node: ast.AST, text: str, allowed: Iterable[str]) -> Any:
    """A value made only of literals, dotted references, ``+ - *`` on them and ``dict(...)``.

    Nothing here runs code of the file's: operators apply to strings and
    numbers only, and ``dict(k=v, **mapping)`` builds a dict.
    """
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _value(node.left, text, allowed), _value(node.right, text, allowed)
        if not (isinstance(left, (str, int, float, complex)) and
                isinstance(right, (str, int, float, complex))) or isinstance(
                    left, bool) or isinstance(right, bool):
            raise ConfigError('%r: operators apply to strings and numbers only' % (text,))
        if type(node.op) is ast.Mult and (isinstance(left, str) or isinstance(right, str)):
            raise ConfigError('%r: strings can only be joined with +' % (text,))
        try:
            return _OPERATORS[type(node.op)](left, right)
        except TypeError:
            raise ConfigError('%r: cannot combine %s and %s' % (
                text, type(left).__name__, type(right).__name__)) from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict':
        if node.args:
            raise ConfigError('%r: dict() takes keyword arguments only here' % (text,))
        out: dict[str, Any] = {}
        # NOTE: as CherryPy's config: a named argument wins over a ** mapping.
        for k in sorted(node.keywords, key=lambda k: k.arg is not None):
            v = _value(k.value, text, allowed)
            if k.arg is None:
                if not isinstance(v, Mapping):
                    raise ConfigError('%r: ** needs a mapping' % (text,))
                out.update(v)
            else:
                out[k.arg] = v
        return out
    name = _dotted_name(node)
    if name is not None and '.' in name:
        return resolve(name, allowed)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ConfigError('%r is not a Python literal (quote strings)' % (text,)) from None


def parse_file(path: str | os.PathLike | IO[str]) -> dict[str, dict[str, Any]]:
    """Read a CherryPy-style ``.conf`` file (a path or an open file) into sections.

    ``[global] config.allowed_modules`` (a list of module names) lets
    values in this file reference those modules too. Any error from a value
    names the file, the section and the key.
    """
    # NOTE: CherryPy's parser: %(name)s refers to another key of the section
    # or of [DEFAULT], and a literal % is written %%.
    parser = configparser.ConfigParser(strict=False,
                                       interpolation=configparser.BasicInterpolation())
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
        for key in parser.options(section):
            try:
                raw = parser.get(section, key)
            except configparser.InterpolationError as ex:
                raise ConfigError('%s [%s] %s: %s (write a literal %% as %%%%)'
                                  % (name, section, key, ex.message.splitlines()[0])) from None
            try:
                values[key] = unrepr(raw, allowed)
            except ConfigError as ex:
                raise ConfigError('%s [%s] %s: %s' % (name, section, key, ex)) from None
            except Exception as ex:  # NOTE: an import or a call raised; say where
                raise ConfigError('%s [%s] %s: %s: %s' % (name, section, key,
                                                        type(ex).__name__, ex)) from None
    return result


def _allowed_modules(parser: configparser.ConfigParser, name: Any) -> tuple[str, ...]:
    if not parser.has_option('global', 'config.allowed_modules'):
        return ()
    raw = parser.get('global', 'config.allowed_modules', raw=True)
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


def source_name(config: Any) -> str:
    """How an error names a ``.conf`` source: its path, or the open file's name."""
    if isinstance(config, (str, os.PathLike)):
        return str(os.fspath(config))
    return str(getattr(config, 'name', '<config>'))


def merge(base: dict[str, dict[str, Any]], config: Any) -> None:
    """Merge per-section config (dict or file) into ``base``, section by section."""
    for section, values in as_dict(config).items():
        if not isinstance(values, Mapping):
            raise ConfigError('section %r must map keys to values, got %r'
                              % (section, values))
        base.setdefault(section, {}).update(values)
