"""Where input logs come from: listing them and opening a stream at an offset.

Local paths here; S3 objects in ``logmr.aws.s3`` implement the same
``InputSource`` protocol. Compression is told by the first bytes of an object
(gzip, bzip2, zstd), not by its name, so a ``.gz`` name on plain text is read
as plain text. A compressed object is one map task, decompressed as a stream.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from logmr.errors import CorruptInputError, EmptyInputError, InputNotFoundError

MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}
MAGIC_BYTES = 4


def compression_of(head: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


@dataclass(frozen=True)
class InputObject:
    uri: str
    size: int
    compression: str | None = None


class InputSource(Protocol):
    def list_inputs(self, uris: Iterable[str]) -> list[InputObject]: ...

    def open_at(self, uri: str, offset: int) -> BinaryIO: ...


class LocalInputSource:
    """Files and folders on this machine (a folder means every file under it)."""

    def list_inputs(self, uris: Iterable[str]) -> list[InputObject]:
        found: list[InputObject] = []
        for uri in uris:
            path = Path(uri)
            if path.is_dir():
                files = sorted(
                    p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                )
                if not files:
                    raise EmptyInputError(f"no files under {uri}")
            elif path.is_file():
                files = [path]
            else:
                raise InputNotFoundError(f"no such file or folder: {uri}")
            for file in files:
                with file.open("rb") as handle:
                    head = handle.read(MAGIC_BYTES)
                found.append(
                    InputObject(str(file.resolve()), file.stat().st_size, compression_of(head))
                )
        return found

    def open_at(self, uri: str, offset: int) -> BinaryIO:
        try:
            handle = open(uri, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError as exc:
            raise InputNotFoundError(f"input vanished before it was read: {uri}") from exc
        handle.seek(offset)
        return handle


class _Decompressed(io.RawIOBase):
    """A readable stream that turns decompression faults into CorruptInputError."""

    def __init__(self, inner: BinaryIO, raw: BinaryIO, uri: str) -> None:
        self._inner = inner
        self._raw = raw
        self._uri = uri

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read(size)
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            raise CorruptInputError(f"{self._uri}: cannot decompress: {exc}") from exc

    def readinto(self, buffer: Any, /) -> int:
        try:
            return int(self._inner.readinto(buffer))  # type: ignore[attr-defined]
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            raise CorruptInputError(f"{self._uri}: cannot decompress: {exc}") from exc

    def close(self) -> None:
        self._inner.close()
        self._raw.close()  # gzip and bz2 leave the file they were given open
        super().close()


def decompressing(raw: BinaryIO, compression: str | None, uri: str) -> BinaryIO:
    """``raw`` itself, or a stream of its decompressed bytes."""
    if compression is None:
        return raw
    if compression == "gzip":
        inner: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    elif compression == "bzip2":
        inner = bz2.BZ2File(raw, mode="rb")  # type: ignore[assignment]
    elif compression == "zstd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    else:  # pragma: no cover - compression_of only returns the names above
        raise CorruptInputError(f"{uri}: unknown compression {compression}")
    return _Decompressed(inner, raw, uri)  # type: ignore[return-value]


def read_head(source: InputSource, obj: InputObject, size: int) -> bytes:
    """The first ``size`` bytes of an input, decompressed (for format detection)."""
    with decompressing(source.open_at(obj.uri, 0), obj.compression, obj.uri) as stream:
        return stream.read(size)
