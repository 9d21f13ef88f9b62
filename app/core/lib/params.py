"""``tools.params``: request parameters converted by the handler's annotations.

``def page(self, limit: int = 10)`` gets ``limit`` as an int; a value the
annotation rejects with ``exception`` (ValueError by default) is an HTTP
``error`` (400 by default) naming the problem.
"""
from __future__ import annotations

import typing
from typing import Any

from .. import _serving
from ..errors import HTTPError

__all__ = ['convert_params']


def _annotations(handler: Any) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(handler)
    except Exception:  # NOTE: an annotation that does not resolve: use them as written
        hints = dict(getattr(handler, '__annotations__', {}))
    hints.pop('return', None)
    return {k: v for k, v in hints.items() if callable(v)}


def convert_params(exception: type[BaseException] = ValueError, error: int = 400) -> None:
    """Convert ``request.params`` named in the handler's annotations."""
    request = _serving.current()
    if request.handler is None:
        return
    types = _annotations(request.handler)
    if not types:
        return
    params = request.params
    for key in types.keys() & params.keys():
        try:
            params[key] = types[key](params[key])
        except exception as ex:
            raise HTTPError(error, str(ex)) from None
