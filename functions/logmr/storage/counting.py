"""An object store that counts the requests a task makes (for the job's bill):
every ``put`` is one PUT, every ``get``/``get_range``/``size`` one GET (a
HEAD is priced as one), every
``list_keys`` one LIST (a page of up to 1,000 keys on S3), whatever the store
behind it. Thread-safe: reducers read with several threads."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from logmr import limits
from logmr.storage.base import ObjectStore


class CountingStore(ObjectStore):
    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.gets = 0
        self.puts = 0
        self.lists = 0
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)
        with self._lock:
            self.puts += 1

    def get(self, key: str) -> bytes:
        data = self.inner.get(key)
        with self._lock:
            self.gets += 1
        return data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        data = self.inner.get_range(key, start, end)
        with self._lock:
            self.gets += 1
        return data

    def size(self, key: str) -> int:
        size = self.inner.size(key)
        with self._lock:
            self.gets += 1  # a HEAD is priced as a GET
        return size

    def list_keys(self, prefix: str) -> list[str]:
        keys = self.inner.list_keys(prefix)
        with self._lock:
            self.lists += max(-(-len(keys) // limits.S3_PAGE_SIZE), 1)
        return keys

    def delete(self, keys: Iterable[str]) -> None:
        self.inner.delete(keys)

    def location(self, key: str) -> str:
        return self.inner.location(key)

    def requests(self) -> dict[str, int]:
        return {"get": self.gets, "put": self.puts, "list": self.lists}
