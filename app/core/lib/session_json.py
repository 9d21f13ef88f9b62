"""The safe serializer stored sessions use: JSON with a few tags.

``dumps``/``loads`` are JSON with a small tagged extension for the types
handlers commonly store: tuples, sets, frozensets, bytes, datetimes, dates,
times, timedeltas, decimals, UUIDs, and dicts with non-string keys (or a
``'__t'`` key). Subclasses of the built-in containers and numbers come back
as their base type. Nothing is ever unpickled: reading a stored session
cannot run code.

A stored record is ``pack(expires, dumps(data))``: the expiry time in epoch
seconds on the first line, the data after it.
"""
from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ['dumps', 'loads', 'pack', 'unpack', 'version_of']

_TAG = '__t'


def _enc(o: Any) -> Any:
    t = type(o)
    if o is None or t is str or t is int or t is float or t is bool:
        return o
    if t is list:
        return [_enc(v) for v in o]
    if t is dict:
        if _TAG not in o and all(type(k) is str for k in o):
            return {k: _enc(v) for k, v in o.items()}
        return {_TAG: 'dict', 'v': [[_enc(k), _enc(v)] for k, v in o.items()]}
    if t is tuple:
        return {_TAG: 'tuple', 'v': [_enc(v) for v in o]}
    if t is set or t is frozenset:
        # NOTE: sorted, so an unchanged set serializes the same way in every
        # process (string hashing differs) and is not saved again.
        items = sorted((_enc(v) for v in o), key=lambda x: json.dumps(x, sort_keys=True))
        return {_TAG: t.__name__, 'v': items}
    if t is bytes or t is bytearray:
        return {_TAG: 'bytes', 'v': base64.b64encode(o).decode('ascii')}
    if t is datetime.datetime or t is datetime.date or t is datetime.time:
        return {_TAG: t.__name__, 'v': o.isoformat()}
    if t is datetime.timedelta:
        return {_TAG: 'timedelta', 'v': [o.days, o.seconds, o.microseconds]}
    if t is decimal.Decimal or t is uuid.UUID:
        return {_TAG: t.__name__, 'v': str(o)}
    # Subclasses (IntEnum, OrderedDict, ...) come back as their base type.
    if isinstance(o, str):
        return str.__str__(o)
    if isinstance(o, (int, float)):
        return int(o) if isinstance(o, int) else float(o)
    for base in (list, dict, tuple):
        if isinstance(o, base):
            return _enc(base(o))
    raise TypeError('cannot store a %s in a session: values must be None, bool, int, '
                    'float, str, bytes, list, tuple, dict, set, frozenset, datetime, '
                    'date, time, timedelta, Decimal or UUID' % (t.__name__,))


_DECODERS: dict[str, Callable[[Any], Any]] = {
    'dict': lambda v: {k: x for k, x in v},
    'tuple': tuple,
    'set': set,
    'frozenset': frozenset,
    'bytes': base64.b64decode,
    'datetime': datetime.datetime.fromisoformat,
    'date': datetime.date.fromisoformat,
    'time': datetime.time.fromisoformat,
    'timedelta': lambda v: datetime.timedelta(*v),
    'Decimal': decimal.Decimal,
    'UUID': uuid.UUID,
}


def _dec(d: dict[str, Any]) -> Any:
    tag = d.get(_TAG)
    if tag is None:
        return d
    try:
        return _DECODERS[tag](d['v'])
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation) as ex:
        raise ValueError('bad tagged value %r: %s' % (tag, ex)) from None


def dumps(data: Any) -> bytes:
    """Serialize session data to UTF-8 JSON bytes; TypeError for unsupported values."""
    return json.dumps(_enc(data), separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def loads(raw: bytes) -> Any:
    """Read what ``dumps`` wrote; ValueError for anything malformed."""
    try:
        return json.loads(raw, object_hook=_dec)
    except RecursionError:
        raise ValueError('session data nested too deeply') from None


def pack(expires: float, data_json: bytes, version: int = 0) -> bytes:
    """A stored record: the expiry time (epoch seconds) and version, a newline, the data.

    The version counts saves (memcached replicas keep the newest).
    """
    if version:
        return b'%.3f %d\n' % (expires, version) + data_json
    return b'%.3f\n' % expires + data_json


def unpack(raw: bytes) -> tuple[float, bytes]:
    """Split a record into ``(expires, data_json)``; ValueError if malformed."""
    head, sep, body = raw.partition(b'\n')
    if not sep:
        raise ValueError('no expiry line in the session record')
    return float(head.partition(b' ')[0]), body


def version_of(raw: bytes) -> int:
    """The version in a record's first line (0 when it has none or is malformed)."""
    head = raw[:raw.find(b'\n')]
    _, sep, version = head.partition(b' ')
    return int(version) if sep and version.isdigit() else 0
