"""``cherrypy.lib.reprconf``: config parsing under CherryPy's module name.

``Config``, ``as_dict`` and ``unrepr`` are ``app.core.config``'s: values are
Python literals or dotted references, never passed to ``eval`` (CherryPy
evaluates them). ``Parser`` is a ``RawConfigParser`` whose ``as_dict`` and
``dict_from_file`` turn values into objects the same way. ``attributes``
and ``modules`` import what a program names explicitly.
"""
from __future__ import annotations

import configparser
import importlib
import os
from types import ModuleType
from typing import IO, Any

from ..config import Config, ConfigError, as_dict, parse_file, resolve, unrepr

__all__ = ['Config', 'Parser', 'as_dict', 'unrepr', 'attributes', 'modules']


class Parser(configparser.RawConfigParser):
    """A ``.conf`` parser: keys keep their case, values become objects."""

    def __init__(self) -> None:
        super().__init__(strict=False)
        self.optionxform = str  # type: ignore[assignment,method-assign]

    def as_dict(self, raw: bool = False, vars: Any = None) -> dict[str, dict[str, Any]]:
        """The sections read so far, values as objects (as text with ``raw``)."""
        result: dict[str, dict[str, Any]] = {}
        for section in self.sections():
            values = result[section] = {}
            for key, text in self.items(section, raw=True):
                try:
                    values[key] = text if raw else unrepr(text)
                except ConfigError as ex:
                    raise ConfigError('[%s] %s: %s' % (section, key, ex)) from None
        return result

    def dict_from_file(self, file: str | os.PathLike | IO[str]) -> dict[str, dict[str, Any]]:
        """Parse a ``.conf`` file (a path or an open file) into sections."""
        return parse_file(file)


def modules(module_path: str) -> ModuleType:
    """Import and return the module ``module_path``."""
    return importlib.import_module(module_path)


def attributes(full_attribute_name: str) -> Any:
    """Import and return what ``package.module.attr`` names.

    The program asks for this name itself, so its top-level package may be
    imported (config values can reference only ``cherrypy.*`` unless listed
    in ``config.allowed_modules``).
    """
    top = full_attribute_name.split('.', 1)[0]
    return resolve(full_attribute_name, (top,))
