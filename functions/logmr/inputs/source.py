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

    def open_at(self, uri: str, offset: int, length: int | None = None) -> BinaryIO:
        """A stream from byte ``offset``: to the end, or at least ``length``
        bytes (the caller reads no more; S3 then asks for just that range)."""
        ...


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

    def open_at(self, uri: str, offset: int, length: int | None = None) -> BinaryIO:
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


class _ZstdFrames(io.RawIOBase):
    """zstd frames one after another, decompressed as a stream. Input that
    ends inside a frame is an error (``EOFError``), as it is for gzip and
    bzip2: zstandard's own ``stream_reader`` ends such a stream quietly, so a
    cut ``.zst`` would read as a short log. zstandard's errors become
    ``ValueError``, which ``_Decompressed`` turns into ``CorruptInputError``."""

    #: compressed bytes read at a time
    CHUNK = 1 << 20

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._raw = raw
        self._error = zstandard.ZstdError
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._in_frame = False  # bytes of the current frame were fed
        self._out = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        while self._pos >= len(self._out):
            if not self._fill():
                return 0
        count = min(len(view), len(self._out) - self._pos)
        view[:count] = self._out[self._pos : self._pos + count]
        self._pos += count
        return count

    def _fill(self) -> bool:
        """Decompress the next chunk of input; False at its clean end."""
        chunk = self._raw.read(self.CHUNK)
        if not chunk:
            if self._in_frame and not self._frame.eof:
                raise EOFError("the compressed input ends inside a zstd frame")
            return False
        parts = []
        try:
            while chunk:
                self._in_frame = True
                parts.append(self._frame.decompress(chunk))
                chunk = b""
                if self._frame.eof:  # the next frame starts in what is left
                    chunk = self._frame.unused_data
                    self._frame = self._decompressor.decompressobj()
                    self._in_frame = False
        except self._error as exc:
            raise ValueError(f"zstd: {exc}") from exc
        self._out, self._pos = b"".join(parts), 0
        return True


def decompressing(raw: BinaryIO, compression: str | None, uri: str) -> BinaryIO:
    """``raw`` itself, or a stream of its decompressed bytes."""
    if compression is None:
        return raw
    if compression == "gzip":
        inner: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    elif compression == "bzip2":
        inner = bz2.BZ2File(raw, mode="rb")  # type: ignore[assignment]
    elif compression == "zstd":
        inner = _ZstdFrames(raw)  # type: ignore[assignment]
    else:  # pragma: no cover - compression_of only returns the names above
        raise CorruptInputError(f"{uri}: unknown compression {compression}")
    return _Decompressed(inner, raw, uri)  # type: ignore[return-value]


def read_head(source: InputSource, obj: InputObject, size: int) -> bytes:
    """The first ``size`` bytes of an input, decompressed (for format detection)."""
    length = None if obj.compression is not None else size
    with decompressing(source.open_at(obj.uri, 0, length), obj.compression, obj.uri) as stream:
        return stream.read(size)


def read_spread(
    source: InputSource, objects: list[InputObject], head: bytes, size: int, slices: int
) -> tuple[bytes, int]:
    """About ``size`` bytes of whole lines taken in ``slices`` equal pieces at
    places spread evenly over the inputs (their sizes end to end), the first
    piece the start of ``head`` (already read from the first non-empty
    object); and how many reads that took. A log is often in time order, so a
    sample of its start alone sees only its first minutes (one time window,
    the keys of that hour). A piece that starts inside a line drops that
    partial line, and every piece ends at its last LF. A compressed object can
    only be read from its start: a piece falling in one is its start, once."""
    piece = max(size // slices, 1)
    parts = [_whole_lines(head[:piece])]
    sized = [obj for obj in objects if obj.size]
    total = sum(obj.size for obj in sized)
    taken = {(sized[0].uri, 0)}
    reads = 0
    for k in range(1, slices):
        obj, offset = _locate(sized, k * total // slices)
        if obj.compression is not None:
            offset = 0
        if (obj.uri, offset) in taken:
            continue
        taken.add((obj.uri, offset))
        # a compressed object is read from its start until ``piece`` bytes decompress
        length = None if obj.compression is not None else piece
        opened = source.open_at(obj.uri, offset, length)
        with decompressing(opened, obj.compression, obj.uri) as stream:
            data = stream.read(piece)
        reads += 1
        if offset:
            data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
        data = _whole_lines(data)
        if data not in parts:  # objects that read alike (``logmr plan --assume-bytes``) count once
            parts.append(data)
    return b"".join(parts), reads


def _whole_lines(data: bytes) -> bytes:
    return data[: data.rfind(b"\n") + 1]


def _locate(objects: list[InputObject], at: int) -> tuple[InputObject, int]:
    """The object holding byte ``at`` of the inputs laid end to end, and the offset in it."""
    for obj in objects:
        if at < obj.size:
            return obj, at
        at -= obj.size
    return objects[-1], max(objects[-1].size - 1, 0)
