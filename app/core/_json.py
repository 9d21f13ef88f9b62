"""``cherrypy._json``: JSON as CherryPy's tools use it.

``json`` is the standard library module; ``encode(value)`` yields UTF-8
bytes chunks, ``decode(text)`` parses a document.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ['json', 'encode', 'decode']

decode = json.JSONDecoder().decode
_iterencode = json.JSONEncoder().iterencode


def encode(value: Any) -> Iterator[bytes]:
    """``value`` as JSON, in UTF-8 chunks."""
    for chunk in _iterencode(value):
        yield chunk.encode('utf-8')
