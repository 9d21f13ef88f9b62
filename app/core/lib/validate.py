"""JSON bodies checked against a dataclass: ``tools.json_in(schema=Order)``.

``validate(schema, data)`` builds the dataclass from a parsed JSON
document, or raises ``ValidationError`` (400) listing every field that is
wrong, as ``errors: [{field, message}]`` inside an RFC 9457 problem
document. Type hints understood: ``str``, ``int`` (not ``bool``), ``float``
(ints accepted), ``bool``, ``None``, ``Any``, ``X | None`` and other
unions, ``list[X]``, ``dict[str, X]``, ``Literal[...]`` and nested
dataclasses. A field with a default may be left out; a key the dataclass
does not have is an error. No dependencies beyond the standard library.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from .. import _serving
from ..errors import HTTPError

__all__ = ['validate', 'ValidationError']


class ValidationError(HTTPError):
    """400 with ``errors``: every field error found, as ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        n = len(errors)
        super().__init__(400, 'The JSON body has %d error%s.' % (n, '' if n == 1 else 's'))

    def set_response(self, response: Any = None) -> None:
        """A problem document (``application/problem+json``) with the errors."""
        super().set_response(response)
        if response is None:
            response = _serving.current().response
        body = json.dumps({'type': 'about:blank', 'title': self.reason, 'status': self.code,
                           'detail': self.message, 'errors': self.errors}).encode('utf-8')
        response.headers['Content-Type'] = 'application/problem+json'
        response.headers['Content-Length'] = str(len(body))
        response.body = body


def validate(schema: type, data: Any) -> Any:
    """``schema(**data)`` after checking every field; ValidationError lists what is wrong."""
    errors: list[dict[str, str]] = []
    value = _build(schema, data, '', errors)
    if errors:
        raise ValidationError(errors)
    return value


def _build(schema: type, data: Any, path: str, errors: list[dict[str, str]]) -> Any:
    if not isinstance(data, dict):
        errors.append({'field': path, 'message': 'must be a JSON object'})
        return None
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    kwargs = {}
    for key in data:
        if key not in fields:
            errors.append({'field': _join(path, key), 'message': 'is not a known field'})
    for name, f in fields.items():
        where = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                errors.append({'field': where, 'message': 'is required'})
            continue
        kwargs[name] = _check(hints[name], data[name], where, errors)
    if errors:
        return None
    return schema(**kwargs)


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return '%s[%d]' % (path, name)
    return '%s.%s' % (path, name) if path else str(name)


_NAMES = {str: 'a string', int: 'an integer', float: 'a number', bool: 'true or false',
          type(None): 'null'}


def _check(hint: Any, value: Any, where: str, errors: list[dict[str, str]]) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        for option in typing.get_args(hint):
            trial: list[dict[str, str]] = []
            out = _check(option, value, where, trial)
            if not trial:
                return out
        names = ' or '.join(_describe(o) for o in typing.get_args(hint))
        errors.append({'field': where, 'message': 'must be %s' % (names,)})
        return None
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if not any(value == c and type(value) is type(c) for c in choices):
            errors.append({'field': where, 'message': 'must be one of %s'
                           % ', '.join(json.dumps(c) for c in choices)})
        return value
    if origin is list:
        if not isinstance(value, list):
            errors.append({'field': where, 'message': 'must be a list'})
            return None
        (item,) = typing.get_args(hint) or (Any,)
        return [_check(item, v, _join(where, i), errors) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            errors.append({'field': where, 'message': 'must be a JSON object'})
            return None
        _key, item = typing.get_args(hint) or (str, Any)
        return {k: _check(item, v, _join(where, k), errors) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, where, errors)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint in _NAMES:
        ok = isinstance(value, hint)
    else:
        raise TypeError('validate: unsupported type hint %r at %s' % (hint, where))
    if not ok:
        errors.append({'field': where, 'message': 'must be %s' % (_describe(hint),)})
        return None
    return float(value) if hint is float else value


def _describe(hint: Any) -> str:
    if hint in _NAMES:
        return _NAMES[hint]
    origin = typing.get_origin(hint)
    if origin is list:
        return 'a list'
    if origin is dict or dataclasses.is_dataclass(hint):
        return 'a JSON object'
    return str(hint)
