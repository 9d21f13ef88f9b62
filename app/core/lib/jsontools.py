"""JSON in and out: ``tools.json_in`` and ``tools.json_out``."""
from __future__ import annotations

import collections.abc
import json
from collections.abc import Callable, Iterable
from typing import Any

from .. import _serving
from ..errors import HTTPError
from .validate import validate

__all__ = ['json_in', 'json_out', 'json_processor', 'json_handler', 'json_encode',
           'problem_page']


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, (collections.abc.Iterator, set, frozenset)):  # generators, map(), sets
            return list(o)
        return super().default(o)


_encoder = _Encoder()
# PERF: JSONEncoder.encode builds a C encoder on every call; this one is
# built once. It keeps no state between calls (no circular-reference
# markers: a cycle ends in RecursionError), so threads may share it.
_make = getattr(json.encoder, 'c_make_encoder', None)  # NOTE: CPython's C accelerator
_c_encode = (_make(None, _encoder.default, json.encoder.encode_basestring_ascii, None,
                   ': ', ', ', False, False, True)
             if _make is not None else None)


def json_encode(value: Any) -> bytes:
    """Encode ``value`` as UTF-8 JSON bytes (generators and sets become lists)."""
    if _c_encode is None or value.__class__ is str:
        return _encoder.encode(value).encode('utf-8')
    return ''.join(_c_encode(value, 0)).encode('utf-8')


def json_processor(entity: Any) -> None:
    """Read the body as JSON into ``request.json``; 400 with a message if malformed."""
    body = entity.read()
    if not body:
        raise HTTPError(400, 'Invalid JSON document: empty body')
    try:
        text = body.decode('utf-8')
        _serving.current().json = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as ex:
        raise HTTPError(400, 'Invalid JSON document: %s' % (ex,)) from None


def json_in(content_type: Iterable[str] | str = ('application/json', 'text/javascript'),
            force: bool = True, debug: bool = False,
            processor: Callable[[Any], None] = json_processor,
            schema: type | None = None) -> None:
    """Parse a JSON request body into ``request.json``.

    With ``force`` (the default) a body of another media type gets 415; a
    malformed document gets 400; a body over the size limit 413. A request
    with no body leaves ``request.json`` as None. With ``schema`` (a
    dataclass), ``request.json`` is an instance of it, or the request gets
    400 with every field error listed (``validate.ValidationError``); a
    POST, PUT or PATCH without a body then gets 400 (415 if its
    ``Content-Type`` is not JSON).
    """
    request = _serving.current()
    if isinstance(content_type, str):
        content_type = [content_type]
    body = request.body
    has_body = bool(body.length) or body.chunked
    if schema is not None:
        processor = _validating(processor, schema)
        if not has_body and request.method in request.methods_with_bodies:
            # NOTE: the handler counts on an instance; None would be its 500.
            sent = request.headers.get('Content-Type', '').split(';')[0].strip().lower()
            if sent and sent not in content_type:
                raise _not_json(content_type)
            raise HTTPError(400, 'The request needs a JSON body (%s).' % (schema.__name__,))
    if force:
        if has_body and body.content_type.value.lower() not in content_type:
            raise _not_json(content_type)
        body.processors.clear()
        body.default_proc = None
    for ct in content_type:
        body.processors[ct] = processor
    if request.method not in request.methods_with_bodies:
        return
    request.process_request_body = True


def _not_json(content_type: Iterable[str]) -> HTTPError:
    return HTTPError(415, 'Expected an entity of content type %s' % ', '.join(content_type))


def _validating(processor: Callable[[Any], None], schema: type) -> Callable[[Any], None]:
    def process(entity: Any) -> None:
        processor(entity)
        request = _serving.current()
        request.json = validate(schema, request.json)
    return process


def json_handler(*args: Any, **kwargs: Any) -> Any:
    """The default ``json_out`` handler: the inner handler's value, as JSON."""
    value = _serving.current()._json_inner_handler(*args, **kwargs)
    return json_encode(value)


def json_out(content_type: str | None = 'application/json', debug: bool = False,
             handler: Callable[..., Any] = json_handler) -> None:
    """Encode what the page handler returned as JSON; set ``Content-Type``.

    Runs at ``before_finalize``; the page handler itself is never wrapped.
    A custom ``handler(*args, **kwargs)`` may call
    ``request._json_inner_handler(*args, **kwargs)`` for the value, as in
    CherryPy.
    """
    request = _serving.current()
    response = request.response
    if request.stage != 'before_finalize':
        return  # the page handler did not run (an error, or a tool answered)
    value = response.body
    if handler is json_handler:
        try:
            if _c_encode is not None and value.__class__ is dict:
                response.body = ''.join(_c_encode(value, 0)).encode('utf-8')  # PERF: inline
            else:
                response.body = json_encode(value)
        except (TypeError, ValueError, RecursionError) as ex:
            raise HTTPError(500, 'The handler returned a value JSON cannot encode: %s'
                            % (ex,)) from None
    else:
        request._json_inner_handler = lambda *a, **k: value
        response.body = handler(*request.args, **request.params)
    if content_type is not None:
        dict.__setitem__(response.headers, 'Content-Type', content_type)


#: NOTE: json_out takes the handler's value as it is: the core does not encode
#: the body before the before_finalize hooks of a route that has it (plan.py).
json_out.takes_handler_value = True  # type: ignore[attr-defined]


def problem_page(status: str, message: str, traceback: str, version: str) -> bytes:
    """An ``error_page`` that answers RFC 9457 problem details, for JSON APIs.

    ``error_page.default = app.core.lib.jsontools.problem_page`` in a path's
    config makes every error under it ``application/problem+json``:
    ``{"type": "about:blank", "title", "status", "detail"}``, plus the
    ``traceback`` where ``request.show_tracebacks`` is on (development only).
    """
    code, _, reason = status.partition(' ')
    doc: dict[str, Any] = {'type': 'about:blank', 'title': reason, 'status': int(code),
                           'detail': message}
    if traceback:
        doc['traceback'] = traceback
    request = _serving.current()
    if request is not None:
        request.response.headers['Content-Type'] = 'application/problem+json'
    return json.dumps(doc).encode('utf-8')
