"""A full or read-only disk under ``LOGMR_HOME``, as a named error.

The folder store and the SQLite store write there; when the disk (or the
user's quota) is full, or the file system is read-only, a write fails with
``OSError`` (``ENOSPC``, ``EDQUOT``, ``EROFS``) or SQLite's ``SQLITE_FULL`` /
``SQLITE_READONLY``. Those become ``StorageFullError`` (full) or
``LocalStoreError`` (read-only): permanent errors, which the state machine
does not retry (the disk is as full a few seconds later) and which MarkFailed
records on the job, in one line that names the path and what to do. Any
other error passes as it is.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from logmr.errors import LocalStoreError, StorageFullError

#: the errors of a full disk, and of a user's quota spent
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
READ_ONLY = frozenset({errno.EROFS})
#: SQLite's primary result codes for the same (extended codes keep them in the low byte)
SQLITE_FULL = 13
SQLITE_READONLY = 8

_FREE = (
    "the disk under LOGMR_HOME is full: free space there, or give another folder"
    " with --home or LOGMR_HOME, and run the job again"
)
_WRITABLE = "give a writable folder with --home or LOGMR_HOME"


def disk_error(exc: BaseException, path: Path | str) -> LocalStoreError | None:
    """The named error for ``exc`` met writing ``path``, or None when it is
    not a full or read-only disk."""
    if isinstance(exc, OSError):
        if exc.errno in FULL:
            return StorageFullError(f"{path}: {exc.strerror}: {_FREE}")
        if exc.errno in READ_ONLY:
            return LocalStoreError(f"{path}: {exc.strerror}: {_WRITABLE}")
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == SQLITE_FULL:
            return StorageFullError(f"{path}: {exc}: {_FREE}")
        if code == SQLITE_READONLY:
            return LocalStoreError(f"{path}: {exc}: {_WRITABLE}")
    return None


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Writes to ``path`` inside: a full or read-only disk raises its named
    error (``disk_error``), without the chain of the ``OSError`` behind it."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        error = disk_error(exc, path)
        if error is None:
            raise
        raise error from None
