"""The current request: a context variable and the public proxies over it.

Core code passes request and response objects as arguments. Handlers and
tools written for CherryPy reach them through the module-level names
``request``, ``response`` and ``session``; those are proxies that resolve to
the objects of the request being served on this thread (or task), and fail
with a clear error outside a request.
"""
from __future__ import annotations

import contextvars
import operator
from typing import Any

__all__ = ['current', 'RequestProxy', 'request', 'response', 'session']

_current: contextvars.ContextVar[Any] = contextvars.ContextVar('app_core_serving', default=None)

#: ``set(request)`` makes ``request`` current; returns a token for ``reset``.
set_current = _current.set
reset_current = _current.reset
current = _current.get


class OutsideRequestError(RuntimeError):
    """Raised when a request-bound proxy is used outside a request."""


def _serving_request() -> Any:
    req = _current.get()
    if req is None:
        raise OutsideRequestError(
            'app.core.request/response/session used outside a request: '
            'they are only valid while a handler or tool is running')
    return req


class RequestProxy:
    """A stand-in for one attribute of the current request.

    ``attr`` is None for the request itself, ``'response'`` for its response
    and ``'session'`` for its session.
    """

    __slots__ = ('_attr',)

    def __init__(self, attr: str | None = None) -> None:
        object.__setattr__(self, '_attr', attr)

    def _target(self) -> Any:
        req = _current.get()
        if req is None:
            req = _serving_request()  # raises
        attr = self._attr
        if attr is None:
            return req
        obj = getattr(req, attr)
        if obj is None:
            raise OutsideRequestError(
                'no %s for this request (is tools.%ss.on set?)' % (attr, attr)
                if attr == 'session' else 'no %s for this request' % attr)
        return obj

    def __getattr__(self, name: str) -> Any:
        # NOTE: known attributes are properties (fast_attributes); this serves
        # the rest: a program's own attributes (in the target's ``extra``),
        # and the clear error outside a request.
        target = self._target()
        try:
            return getattr(target, name)
        except AttributeError:
            extra = getattr(target, 'extra', None)
            if extra and name in extra:
                return extra[name]
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        target = self._target()
        try:
            setattr(target, name, value)
        except AttributeError:
            # NOTE: a name the class does not declare (a CherryPy program's
            # own attribute) is kept in the target's ``extra`` dict.
            cls = type(target)
            if hasattr(cls, name) or not hasattr(cls, 'extra'):
                raise
            if target.extra is None:
                target.extra = {}
            target.extra[name] = value

    def __delattr__(self, name: str) -> None:
        target = self._target()
        extra = getattr(type(target), 'extra', None) and target.extra
        if extra and name in extra:
            del extra[name]
        else:
            delattr(target, name)

    # Mapping protocol, for ``session['key']``.
    def __getitem__(self, key: Any) -> Any:
        return self._target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._target()

    def __iter__(self):
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __bool__(self) -> bool:
        return _current.get() is not None

    def __repr__(self) -> str:
        req = _current.get()
        if req is None:
            return '<%s proxy outside a request>' % (self._attr or 'request')
        return repr(self._target())


def _getter(attr: str | None, name: str) -> property:
    get = _current.get
    # PERF: one C attrgetter for the dotted path, not two getattr calls.
    fetch = operator.attrgetter(name if attr is None else '%s.%s' % (attr, name))

    def fget(self: Any) -> Any:
        return fetch(get())
    fget.__name__ = name
    return property(fget)


def fast_attributes(proxy: RequestProxy, cls: type) -> None:
    """Give ``proxy`` a property per public attribute of ``cls``.

    PERF: ``__getattr__`` runs only after a failed normal lookup, which costs
    about 0.6 µs; handlers read ``response.headers`` on every request. Outside
    a request the property fails with AttributeError, and ``__getattr__``
    then raises the clear error.
    """
    names = {n for n in dir(cls) if not n.startswith('_')}
    names.update(n for n in getattr(cls, '__slots__', ()) if not n.startswith('_'))
    props: dict[str, Any] = {n: _getter(proxy._attr, n) for n in names
                             if not hasattr(RequestProxy, n)}
    props['__slots__'] = ()
    object.__setattr__(proxy, '__class__', type('RequestProxy', (RequestProxy,), props))


request = RequestProxy()
response = RequestProxy('response')
session = RequestProxy('session')
