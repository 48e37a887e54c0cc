"""A folder as the object store. A full or read-only disk is a named error
(``storage.disk``), and a write it cut short leaves no file behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from logmr.errors import InputNotFoundError, InvalidParameterError
from logmr.storage.base import ObjectStore
from logmr.storage.disk import writing


def _write(path: Path, data: bytes) -> None:
    """``data`` into a new file at ``path``."""
    with path.open("wb") as out:
        out.write(data)


class FolderObjectStore(ObjectStore):
    def __init__(self, root: Path | str) -> None:
        # resolved once: keys are paths under it, whatever the working folder
        # (a relative --home) and its symbolic links
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidParameterError(f"object key {key!r} leaves the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        # Write then rename: a reader never sees half an object, a retry overwrites.
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with writing(path):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _write(temp, data)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):  # what a full disk left, freed
                    temp.unlink(missing_ok=True)
                raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise InputNotFoundError(f"no object {key!r} in {self.root}") from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(max(end - start, 0))
        except FileNotFoundError:
            raise InputNotFoundError(f"no object {key!r} in {self.root}") from None

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise InputNotFoundError(f"no object {key!r} in {self.root}") from None

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        folder = base if prefix.endswith("/") or not prefix else base.parent
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Every object under the folder ``prefix`` (ending with ``/``)
        deleted, and the folders it leaves empty under it; how many objects.
        Hidden files (a write in progress) are left, and with them their folder."""
        folder = self._path(prefix)
        if not prefix.endswith("/") or not folder.is_dir():
            return 0
        keys = self.list_keys(prefix)
        self.delete(keys)
        for path in sorted(folder.rglob("*"), key=lambda each: len(each.parts), reverse=True):
            if path.is_dir():
                with contextlib.suppress(OSError):  # not empty: kept
                    path.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()
        return len(keys)
