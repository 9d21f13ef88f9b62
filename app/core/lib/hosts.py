"""Host names: which ``Host`` values are valid, and which the service answers for.

RFC 9112 section 3.2: a request whose Host is not a valid host gets 400.
``request.allowed_hosts`` (Django's ``ALLOWED_HOSTS``) lists the names a
route answers for; a request for any other gets 400 too, so that no
redirect or absolute URL is ever built from a host the deployment did not
name. An empty list answers for any host (development).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ['AllowedHosts', 'valid_host', 'host_name', 'VALID_HOSTS']

# NOTE: stricter than RFC 3986's reg-name (no sub-delims, no %-escapes):
# names that DNS can hold, IP addresses, bracketed IPv6 literals, a port.
_HOST = re.compile(r'(?:[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])'
                   r'(?::[0-9]{0,5})?')
_CACHE_MAX = 1024

#: Host values found valid so far (PERF: the cycle checks here first).
VALID_HOSTS: dict[str, bool] = {}


def valid_host(value: str) -> bool:
    """Whether ``value`` is a Host header value this server accepts."""
    ok = _HOST.fullmatch(value) is not None
    if ok and len(VALID_HOSTS) < _CACHE_MAX:
        VALID_HOSTS[value] = True
    return ok


def host_name(value: str) -> str:
    """The name part of a Host value, lower-cased, without port or final dot."""
    if value.startswith('['):
        return value[:value.find(']') + 1].lower()
    return value.rpartition(':')[0].lower().rstrip('.') if ':' in value \
        else value.lower().rstrip('.')


class AllowedHosts:
    """The host names a route answers for.

    ``example.com`` matches that name, ``.example.com`` it and every
    subdomain, ``*`` any host. Ports are not compared.
    """

    __slots__ = ('patterns', '_exact', '_suffixes', '_any', '_seen')

    def __init__(self, patterns: Iterable[str]) -> None:
        if isinstance(patterns, str):
            patterns = [p for p in patterns.replace(',', ' ').split()]
        self.patterns = tuple(str(p).strip().lower().rstrip('.') for p in patterns)
        self._any = '*' in self.patterns
        self._exact = frozenset(p for p in self.patterns if not p.startswith('.'))
        self._suffixes = tuple(p for p in self.patterns if p.startswith('.'))
        self._seen: dict[str, bool] = {}

    def __call__(self, host: str) -> bool:
        """Whether a request whose (valid) Host is ``host`` may be served."""
        ok = self._seen.get(host)
        if ok is None:
            name = host_name(host)
            ok = self._any or name in self._exact or any(
                name.endswith(s) or name == s[1:] for s in self._suffixes)
            if len(self._seen) < _CACHE_MAX:
                self._seen[host] = ok
        return ok

    def __repr__(self) -> str:
        return 'AllowedHosts(%r)' % (list(self.patterns),)
