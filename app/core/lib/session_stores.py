"""Session storage in this process (``RamSession``) and in files (``FileSession``)."""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import threading
import time
from typing import Any

from ..logs import log
from .session_base import Session, StorageUnavailable
from .session_json import unpack
from .session_serialized import SerializedSession

__all__ = ['RamSession', 'FileSession']


def _busy(id: str) -> StorageUnavailable:
    return StorageUnavailable('The session %s... is locked by another request; '
                              'try again shortly.' % (id[:8],))


class RamSession(Session):
    """Sessions in this process's memory: the default; lost on restart.

    Every process has its own store, so behind a load balancer use
    ``FileSession`` on shared storage or ``MemcachedSession``.
    """

    #: ``id -> [data, expires]``, shared by every RamSession in the process.
    cache: dict[str, list] = {}
    #: ``id -> threading.Lock``, for the sessions a request holds or waits for.
    locks: dict[str, threading.Lock] = {}
    #: ``id -> how many requests hold or wait for its lock``; at 0 the lock goes.
    _lock_users: dict[str, int] = {}
    _locks_guard = threading.Lock()

    def _exists(self) -> bool:
        rec = self.cache.get(self.id)
        return rec is not None and rec[1] > time.time()

    def _load(self) -> dict[Any, Any] | None:
        rec = self.cache.get(self.id)
        if rec is None or rec[1] <= time.time():
            return None
        # NOTE: a shallow copy, so top-level changes of a request that fails
        # (and so does not save) are not seen by others.
        return dict(rec[0])

    def _save(self, expires: float) -> None:
        self.cache[self.id] = [self._data, expires]

    def _refresh(self, expires: float) -> None:
        rec = self.cache.get(self.id)
        if rec is not None:
            rec[1] = expires

    def _delete(self) -> None:
        self.cache.pop(self.id, None)

    def acquire_lock(self) -> None:
        """Lock this session within the process (waits up to ``lock_wait`` s)."""
        if self.locked:
            return
        sid = self.id
        with self._locks_guard:
            lock = self.locks.setdefault(sid, threading.Lock())
            self._lock_users[sid] = self._lock_users.get(sid, 0) + 1
        if not lock.acquire(timeout=self.lock_wait):
            self._drop_user(sid)
            raise _busy(sid)
        self.locked = True

    def release_lock(self) -> None:
        """Release this session's lock; it is forgotten once nobody holds or waits for it."""
        if not self.locked:
            return
        self.locked = False
        lock = self.locks.get(self.id)
        if lock is not None:
            lock.release()
        self._drop_user(self.id)

    def _drop_user(self, sid: str) -> None:
        with self._locks_guard:
            n = self._lock_users.get(sid, 0) - 1
            if n > 0:
                self._lock_users[sid] = n
            else:
                # NOTE: nobody holds or waits for it: a later request makes a new one.
                self._lock_users.pop(sid, None)
                self.locks.pop(sid, None)

    def clean_up(self) -> None:
        """Drop expired sessions and any lock nobody holds or waits for."""
        now = time.time()
        for id, rec in list(self.cache.items()):
            if rec[1] <= now:
                self.cache.pop(id, None)
        with self._locks_guard:
            for id, lock in list(self.locks.items()):
                if not self._lock_users.get(id) and lock.acquire(blocking=False):
                    self.locks.pop(id, None)
                    lock.release()


_made_dirs: set[str] = set()


class FileSession(SerializedSession):
    """Sessions as files in ``storage_path``, one per session.

    Writes go to a temporary file renamed over the old one, so a reader
    never sees half a session. The lock is ``fcntl.flock`` on a lock file,
    so it holds across threads and processes sharing the directory.
    """

    #: The directory (``tools.sessions.storage_path``); created if missing.
    storage_path: str | None = None
    #: File names are ``prefix + id``; lock files add ``.lock``.
    prefix = 'session-'
    #: CherryPy's names of the default prefix and of the lock files' suffix.
    SESSION_PREFIX = prefix
    LOCK_SUFFIX = '.lock'
    config_keys = SerializedSession.config_keys | {'storage_path', 'prefix'}
    #: Seconds after which an orphaned temporary file is removed by clean-up.
    tmp_max_age = 3600

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        self._lock_fd: int | None = None
        self._lock_path: str | None = None
        path = kwargs.get('storage_path', self.storage_path)
        if not path:
            raise ValueError('FileSession needs tools.sessions.storage_path')
        path = os.path.abspath(path)
        kwargs['storage_path'] = path
        if path not in _made_dirs:
            os.makedirs(path, mode=0o700, exist_ok=True)
            _made_dirs.add(path)
        super().__init__(id, **kwargs)

    def _path(self, id: str | None = None) -> str:
        return os.path.join(self.storage_path, self.prefix + (id or self.id))  # type: ignore

    def _clean_key(self) -> Any:
        return (FileSession, self.storage_path)

    def _read(self) -> bytes | None:
        try:
            with open(self._path(), 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, record: bytes) -> None:
        path = self._path()
        tmp = '%s.%s.tmp' % (path, secrets.token_hex(4))
        try:
            with open(tmp, 'wb') as f:
                f.write(record)
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise

    def _delete(self) -> None:
        _unlink(self._path())

    def acquire_lock(self) -> None:
        """Lock the session's lock file (waits up to ``lock_wait`` s, then 503)."""
        if self.locked:
            return
        path = self._path() + '.lock'
        fd = _flock(path, self.lock_wait)
        if fd is None:
            raise _busy(self.id)
        self._lock_fd, self._lock_path = fd, path
        self.locked = True
        self._lock_taken()

    def release_lock(self) -> None:
        """Remove the lock file, then unlock it."""
        if not self.locked:
            return
        self.locked = False
        fd, path = self._lock_fd, self._lock_path
        self._lock_fd = self._lock_path = None
        # NOTE: unlinked while still locked, so a waiter that opened this
        # file sees it is gone (inode check in _flock) and opens a new one.
        _unlink(path)  # type: ignore[arg-type]
        os.close(fd)  # type: ignore[arg-type]

    def clean_up(self) -> None:
        """Remove expired session files and orphaned temporary and lock files."""
        now = time.time()
        root = self.storage_path
        for name in os.listdir(root):
            if not name.startswith(self.prefix):
                continue
            path = os.path.join(root, name)  # type: ignore[arg-type]
            try:
                if name.endswith('.tmp'):
                    if os.stat(path).st_mtime < now - self.tmp_max_age:
                        _unlink(path)
                elif name.endswith('.lock'):
                    if os.stat(path).st_mtime < now - self.lock_timeout:
                        fd = _flock(path, 0)
                        if fd is not None:
                            _unlink(path)
                            os.close(fd)
                else:
                    self._sweep(path, now)
            except OSError as ex:
                log('session clean-up skipped %s: %s' % (name, ex), 'TOOLS.SESSIONS',
                    logging.WARNING)

    def _sweep(self, path: str, now: float) -> None:
        with open(path, 'rb') as f:
            head = f.read(32)
        try:
            expires = unpack(head)[0]
        except ValueError:
            expires = 0.0  # not a session record we can read: remove it
        if expires > now:
            return
        fd = _flock(path + '.lock', 0)
        if fd is None:
            return  # in use right now: leave it to the next sweep
        try:
            with open(path, 'rb') as f:
                head = f.read(32)
            try:
                expires = unpack(head)[0]
            except ValueError:
                expires = 0.0
            if expires <= now:
                _unlink(path)
        finally:
            _unlink(path + '.lock')
            os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _flock(path: str, wait: float) -> int | None:
    """Open and exclusively lock ``path``; the fd, or None after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    delay = 0.002
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as ex:
            os.close(fd)
            if ex.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
            continue
        try:
            st = os.stat(path)
            fst = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed the file as we locked it: again
