"""Where input logs come from: listing them and opening a stream at an offset.

Local paths here; S3 objects in ``logmr.aws.s3`` implement the same
``InputSource`` protocol. Compression is told by the first bytes of an object
(gzip, bzip2, zstd, xz), not by its name, so a ``.gz`` name on plain text is read
as plain text. A compressed object is one piece of a map task, never cut,
decompressed as a stream.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from logmr.errors import (
    CorruptInputError,
    EmptyInputError,
    InputChangedError,
    InputNotFoundError,
    InputUnreadableError,
    UnsupportedInputError,
)
from logmr.inputs.dated import DatedListing, Listed
from logmr.inputs.globs import local_paths

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
}
#: what an input may start with that logmr does not read, with what to do about it
#: (UTF-32 before UTF-16: their little-endian marks share a prefix)
UNSUPPORTED = {
    b"\x04\x22\x4d\x18": "an lz4 frame (decompress it first: lz4 -d)",
    b"PK\x03\x04": "a zip archive (unzip it first)",
    b"7z\xbc\xaf\x27\x1c": "a 7z archive (extract it first)",
    b"\x1f\x9d": "compress(1) data (.Z; gunzip reads it)",
    b"LZIP": "lzip data (decompress it first: lzip -d)",
    b"\xff\xfe\x00\x00": "UTF-32 text (convert it: iconv -f UTF-32 -t UTF-8)",
    b"\x00\x00\xfe\xff": "UTF-32 text (convert it: iconv -f UTF-32 -t UTF-8)",
    b"\xff\xfe": "UTF-16 text (convert it: iconv -f UTF-16 -t UTF-8)",
    b"\xfe\xff": "UTF-16 text (convert it: iconv -f UTF-16 -t UTF-8)",
}
#: the bytes an input's kind is told from
MAGIC_BYTES = 6


def compression_of(head: bytes, uri: str = "") -> str | None:
    """The compression an input's first bytes show (``None``: plain text), or
    ``UnsupportedInputError`` naming what it is when logmr does not read it."""
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    for magic, what in UNSUPPORTED.items():
        if head.startswith(magic):
            raise UnsupportedInputError(
                f"{uri or 'an input'} is {what}: logmr reads UTF-8 text, plain or in"
                f" {', '.join(MAGIC.values())}"
            )
    return None


@dataclass(frozen=True)
class InputObject:
    uri: str
    size: int
    compression: str | None = None
    #: which version of the object was listed (``""``: not known): a local
    #: file's device, inode and size; an S3 object's ETag. Map tasks carry it,
    #: and every read checks it (``InputChangedError``); not part of equality
    version: str = field(default="", compare=False)
    #: when the object was last modified, in seconds since the epoch (``None``:
    #: not known): a local file's mtime, an S3 object's LastModified. Plan
    #: takes the year of BSD syslog lines from it (``plan.formats``)
    modified: float | None = field(default=None, compare=False)


def compression_counts(objects: Iterable[InputObject]) -> dict[str, int]:
    """How many of the non-empty ``objects`` are in each compression
    (``"none"``: plain text), most first: what a job says it read."""
    counts: dict[str, int] = {}
    for obj in objects:
        if obj.size:
            kind = obj.compression or "none"
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class DecompressedSize:
    """What a compressed object's own bytes tell of its size decompressed
    (``decompressed_size``): the bytes its map task reads through."""

    #: ``None``: the format does not tell (bzip2, a zstd frame written as a stream)
    size: int | None
    #: False: ``size`` is a lower bound (docs/performance.md, "Compressed inputs", says when)
    exact: bool
    #: where the figure comes from, said with it
    how: str


class InputSource(Protocol):
    def list_inputs(
        self, uris: Iterable[str], listing: DatedListing | None = None
    ) -> list[InputObject]:
        """Every object the URIs name; with a ``listing``, only those that may
        hold records within its window (``inputs.dated``), the others noted
        in it, never read."""
        ...

    def open_at(
        self, uri: str, offset: int, length: int | None = None, version: str = ""
    ) -> BinaryIO:
        """A stream from byte ``offset``: to the end, or at least ``length``
        bytes (the caller reads no more; S3 then asks for just that range);
        ``InputChangedError`` when the object is no longer ``version``."""
        ...

    def verify(self, uri: str, version: str) -> None:
        """``InputChangedError`` when the object is no longer ``version``
        (after a read: a local file can change while it is read)."""
        ...

    def decompressed_size(self, obj: InputObject) -> DecompressedSize:
        """What a compressed object's bytes tell of its size decompressed,
        from one small read at most (``read_decompressed_size``)."""
        ...


class LocalInputSource:
    """Files and folders on this machine (a folder means every file under it,
    hidden files left out). A file or folder that cannot be read is an
    ``InputUnreadableError``: a job never counts part of a folder quietly."""

    def list_inputs(
        self, uris: Iterable[str], listing: DatedListing | None = None
    ) -> list[InputObject]:
        found: list[InputObject] = []
        for uri in (path for given in uris for path in local_paths(given)):
            path = Path(uri)
            if path.is_dir():
                skipped = listing.skipped if listing is not None else 0
                files = _files_under(path) if listing is None else _dated_files(path, listing)
                if not files and (listing is None or listing.skipped == skipped):
                    raise EmptyInputError(f"no files under {uri}")
            elif path.is_file():
                files = [path]
                if listing is not None and not listing.keeps(str(path), str(path.resolve())):
                    files = []
            else:
                raise InputNotFoundError(f"no such file or folder: {uri}")
            for file in files:
                try:
                    with file.open("rb") as handle:
                        head = handle.read(MAGIC_BYTES)
                except PermissionError as exc:
                    raise _unreadable(file, exc) from None
                kind = compression_of(head, str(file))
                stat = file.stat()
                found.append(
                    InputObject(
                        str(file.resolve()), stat.st_size, kind, _identity(stat), stat.st_mtime
                    )
                )
        return found

    def open_at(
        self, uri: str, offset: int, length: int | None = None, version: str = ""
    ) -> BinaryIO:
        try:
            handle = open(uri, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError as exc:
            raise InputNotFoundError(f"input vanished before it was read: {uri}") from exc
        try:
            _check_identity(uri, version, os.fstat(handle.fileno()))
        except InputChangedError:
            handle.close()
            raise
        handle.seek(offset)
        return handle

    def decompressed_size(self, obj: InputObject) -> DecompressedSize:
        return read_decompressed_size(self, obj)

    def verify(self, uri: str, version: str) -> None:
        try:
            stat = os.stat(uri)
        except FileNotFoundError:
            # removed after it was opened: the open file was read whole, as
            # planned (its bytes outlive the name); a later open finds it gone
            return
        _check_identity(uri, version, stat)


def _identity(stat: os.stat_result) -> str:
    """A local file's version: its device, inode and size."""
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}"


def _check_identity(uri: str, version: str, stat: os.stat_result) -> None:
    """The file is still the one planned (same device and inode) and holds
    every byte planned (no shorter). A file that grew (a live log appended
    to) is the same file: the job reads the bytes planned."""
    if not version:
        return
    device, inode, size = (int(part) for part in version.split(":"))
    if (stat.st_dev, stat.st_ino) != (device, inode):
        raise InputChangedError(
            f"{uri} was replaced since the job was planned (another file has its name,"
            " as after a log rotation): run the job again"
        )
    if stat.st_size < size:
        raise InputChangedError(
            f"{uri} shrank from {size:,} to {stat.st_size:,} bytes since the job was planned"
            " (truncated, as logrotate's copytruncate does): run the job again"
        )


def _files_under(folder: Path) -> list[Path]:
    """Every file under ``folder`` but hidden ones, sorted; a sub-folder it
    cannot list raises (``os.walk`` would skip it)."""

    def refuse(exc: OSError) -> None:
        raise _unreadable(Path(exc.filename or folder), exc)

    return sorted(
        Path(root) / name
        for root, _, names in os.walk(folder, onerror=refuse)
        for name in names
        if not name.startswith(".") and (Path(root) / name).is_file()
    )


def _dated_files(folder: Path, listing: DatedListing) -> list[Path]:
    """``_files_under(folder)`` within the listing's window: date folders
    outside it never walked, files outside it by their name left out."""

    def level(prefix: str) -> tuple[Listed, list[str]]:
        files: Listed = []
        folders: list[str] = []
        try:
            entries = sorted(os.scandir(prefix), key=lambda entry: entry.name)
        except OSError as exc:
            raise _unreadable(Path(prefix), exc) from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path + "/")
            elif not entry.name.startswith(".") and not entry.is_dir() and entry.is_file():
                files.append((entry.path, 0))  # as _files_under: a link to a folder is not walked
        return files, folders

    def everything(prefix: str) -> Listed:
        return [(str(path), 0) for path in _files_under(Path(prefix))]

    root = str(folder.resolve()) + "/"
    found = listing.walk(root, level, everything, location=str)
    return sorted((Path(path) for path, _ in found), key=lambda path: path.parts)


def _unreadable(path: Path, exc: OSError) -> InputUnreadableError:
    return InputUnreadableError(
        f"{path} cannot be read ({exc.strerror or exc}): the job would miss what it holds;"
        " give readable inputs"
    )


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


class _Streams(io.RawIOBase):
    """Compressed streams one after another (zstd frames, bzip2 and xz
    streams), decompressed as one. Input that ends inside a stream is an error
    (``EOFError``), and so are bytes after a stream that start no new one
    (``ValueError``), as they are for gzip: Python's own readers of these
    formats end quietly there, so a cut or damaged file would read as a short
    log. The decompressor's errors become ``ValueError``, which
    ``_Decompressed`` turns into ``CorruptInputError``. ``padding``: a byte the
    format allows between streams (xz pads with NULs)."""

    #: compressed bytes read at a time
    CHUNK = 1 << 20

    def __init__(
        self,
        raw: BinaryIO,
        name: str,
        new: Callable[[], Any],
        errors: tuple[type[BaseException], ...],
        padding: bytes = b"",
    ) -> None:
        self._raw = raw
        self._name = name
        self._new = new
        self._errors = errors
        self._padding = padding
        self._stream = new()
        self._in_stream = False  # bytes of the current stream were fed
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
            if self._in_stream and not self._stream.eof:
                raise EOFError(f"the compressed input ends inside a {self._name} stream")
            return False
        parts = []
        try:
            while chunk:
                if not self._in_stream and self._padding:
                    chunk = chunk.lstrip(self._padding)
                    if not chunk:
                        break
                self._in_stream = True
                parts.append(self._stream.decompress(chunk))
                chunk = b""
                if self._stream.eof:  # the next stream starts in what is left
                    chunk = self._stream.unused_data
                    self._stream = self._new()
                    self._in_stream = False
        except self._errors as exc:
            raise ValueError(f"{self._name}: {exc}") from exc
        self._out, self._pos = b"".join(parts), 0
        return True


def _streams(raw: BinaryIO, compression: str) -> _Streams:
    """``raw``'s streams of ``compression`` (zstd, bzip2 or xz), decompressed."""
    if compression == "zstd":
        import zstandard

        decompressor = zstandard.ZstdDecompressor()
        return _Streams(raw, "zstd", decompressor.decompressobj, (zstandard.ZstdError,))
    if compression == "bzip2":
        return _Streams(raw, "bzip2", bz2.BZ2Decompressor, (OSError,))
    return _Streams(
        raw, "xz", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), (lzma.LZMAError,), b"\x00"
    )


def decompressing(raw: BinaryIO, compression: str | None, uri: str) -> BinaryIO:
    """``raw`` itself, or a stream of its decompressed bytes."""
    if compression is None:
        return raw
    if compression == "gzip":
        inner: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    elif compression in ("bzip2", "zstd", "xz"):
        inner = _streams(raw, compression)  # type: ignore[assignment]
    else:  # pragma: no cover - compression_of only returns the names above
        raise CorruptInputError(f"{uri}: unknown compression {compression}")
    return _Decompressed(inner, raw, uri)  # type: ignore[return-value]


#: deflate's largest ratio, about 1032:1 (a run of one byte, 258 bytes a
#: 1-bit code): a gzip member of fewer than ``2**32 / 1032`` bytes (4.16 MB)
#: holds less than 4 GiB, so its trailer's size (mod 2**32) is its size
DEFLATE_MAX_RATIO = 1032
#: the end of an xz object read for its index: 12 bytes of footer and an index
#: of a few bytes a block (``xz -T`` writes a block per 3 dictionaries, 24 MiB
#: at -6: thousands of blocks fit)
XZ_TAIL_BYTES = 64 * 1024
#: a zstd frame header's largest size: magic, descriptor, window, dictionary id, size
ZSTD_HEADER_BYTES = 18


def read_decompressed_size(source: InputSource, obj: InputObject) -> DecompressedSize:
    """What ``obj``'s own bytes tell of its size decompressed, from one small
    read (a seek locally, a ranged GET on S3):

    * gzip: the trailer's ISIZE, the last member's size mod 2**32: the size of
      a file of one member (gzip, pigz) too small to wrap (``DEFLATE_MAX_RATIO``);
      a lower bound otherwise (several members: bgzip, files joined by cat);
    * zstd: the first frame header's content size (the zstd tool writes it for
      a file, not for a stream from a pipe): the size of a file of one frame,
      a lower bound when it is too small for the object (several: pzstd);
    * xz: the index of the last stream: exact when it is the only one;
    * bzip2: nothing.
    """
    kind = obj.compression
    if kind == "gzip":
        tail = _read(source, obj, obj.size - 4, 4)
        if len(tail) < 4:
            return DecompressedSize(None, False, "gzip trailer missing")
        isize = int.from_bytes(tail, "little")
        if not _may_be_one(isize, obj.size):
            return DecompressedSize(isize, False, "gzip trailer: the last member's")
        exact = obj.size * DEFLATE_MAX_RATIO < 2**32
        return DecompressedSize(isize, exact, "gzip trailer" + ("" if exact else ", mod 2**32"))
    if kind == "zstd":
        import zstandard

        head = _read(source, obj, 0, ZSTD_HEADER_BYTES)
        try:
            size = zstandard.frame_content_size(head)
        except zstandard.ZstdError:
            size = -1
        if size < 0:
            return DecompressedSize(None, False, "the zstd frame header has no size")
        if not _may_be_one(size, obj.size):
            return DecompressedSize(size, False, "zstd frame header: the first frame's")
        return DecompressedSize(size, True, "zstd frame header")
    if kind == "xz":
        offset = max(obj.size - XZ_TAIL_BYTES, 0)
        return _xz_size(_read(source, obj, offset, obj.size - offset), obj.size)
    return DecompressedSize(None, False, f"{kind} does not tell")


def _may_be_one(told: int, size: int) -> bool:
    """Whether one gzip member or zstd frame of ``size`` bytes may decompress
    to ``told`` bytes: what they cannot compress grows by their stored
    blocks' headers only (zlib's ``deflateBound``: 0.03 % and 13 bytes; zstd's
    raw blocks: 3 bytes in 128 KiB), 0.1 % and 64 bytes here, with a member's
    header and trailer. Told less, it is the last member (the first frame)
    of several, or a gzip size wrapped past 4 GiB."""
    return told + (told >> 10) + 64 >= size


def _read(source: InputSource, obj: InputObject, offset: int, length: int) -> bytes:
    with source.open_at(obj.uri, max(offset, 0), length) as stream:
        return stream.read(length)


def _xz_size(tail: bytes, size: int) -> DecompressedSize:
    """The size the last xz stream's index in ``tail`` (the object's last
    bytes, ``size`` in all) tells: its blocks' uncompressed sizes summed;
    exact when the stream is the whole object."""
    unknown = DecompressedSize(None, False, "no xz index in the last 64 KiB")
    body = tail.rstrip(b"\x00")  # stream padding (a footer ends in "YZ")
    padding = len(tail) - len(body)
    if len(body) < 12 or body[-2:] != b"YZ":
        return unknown
    index_size = (int.from_bytes(body[-8:-4], "little") + 1) * 4
    index = body[-12 - index_size : -12]
    if len(index) != index_size or not index or index[0] != 0:
        return unknown
    pos, records = _varint(index, 1)
    total = blocks = 0
    for _ in range(records):
        pos, unpadded = _varint(index, pos)
        pos, uncompressed = _varint(index, pos)
        if pos < 0:
            return unknown
        total += uncompressed
        blocks += unpadded + (-unpadded) % 4
    whole = 12 + blocks + index_size + 12 + padding == size
    return DecompressedSize(total, whole, "xz index" + ("" if whole else " of the last stream"))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """xz's multibyte integer at ``pos``: the position after it and its
    value; position -1 when ``data`` ends inside it."""
    value = shift = 0
    while 0 <= pos < len(data) and shift < 63:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return pos, value
        shift += 7
    return -1, 0


def read_head(source: InputSource, obj: InputObject, size: int) -> bytes:
    """The first ``size`` bytes of an input, decompressed (for format detection)."""
    length = None if obj.compression is not None else size
    with decompressing(source.open_at(obj.uri, 0, length), obj.compression, obj.uri) as stream:
        return stream.read(size)


def read_spread(
    source: InputSource, objects: list[InputObject], head: bytes, size: int, slices: int
) -> tuple[bytes, int]:
    """The pieces of ``read_spread_parts`` joined, and the reads they took."""
    parts, reads = read_spread_parts(source, objects, head, size, slices)
    return b"".join(data for _, data in parts), reads


def read_spread_parts(
    source: InputSource, objects: list[InputObject], head: bytes, size: int, slices: int
) -> tuple[list[tuple[str, bytes]], int]:
    """About ``size`` bytes of whole lines taken in ``slices`` equal pieces at
    places spread evenly over the inputs (their sizes end to end), the first
    piece the start of ``head`` (already read from the first non-empty
    object); and how many reads that took. A log is often in time order, so a
    sample of its start alone sees only its first minutes (one time window,
    the keys of that hour). A piece that starts inside a line drops that
    partial line, and every piece ends at its last LF. A compressed object can
    only be read from its start: a piece falling in one is its start, once.
    Each piece comes with the URI of the object it is of (read in that
    object's format: ``plan.formats``)."""
    piece = max(size // slices, 1)
    sized = [obj for obj in objects if obj.size]
    parts = [(sized[0].uri, _whole_lines(head[:piece]))]
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
        # objects that read alike (``logmr plan --assume-bytes``) count once
        if all(data != known for _, known in parts):
            parts.append((obj.uri, data))
    return parts, reads


def _whole_lines(data: bytes) -> bytes:
    return data[: data.rfind(b"\n") + 1]


def _locate(objects: list[InputObject], at: int) -> tuple[InputObject, int]:
    """The object holding byte ``at`` of the inputs laid end to end, and the offset in it."""
    for obj in objects:
        if at < obj.size:
            return obj, at
        at -= obj.size
    return objects[-1], max(objects[-1].size - 1, 0)
