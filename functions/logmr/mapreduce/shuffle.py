"""The shuffle codec: what a map task writes and a reducer reads.

One object per (job, map task), named deterministically so that a retried or
duplicated task overwrites its own output instead of adding to it. The object
holds every reducer's partition behind an index, so the number of objects is M
and a reducer reads one block of each (two ranged reads on S3: index, block).

Layout (integers little-endian)::

    magic   4 bytes  b"LMRS"
    version 1 byte   2
    R       4 bytes  number of partitions
    index   R x (offset u64, length u64, crc32 u32)   offsets from the object start
    icrc    4 bytes  crc32 of the index
    blocks  one per partition, empty (0 bytes) for a partition without pairs:
              codec   1 byte   1: MessagePack, 2: JSON
              body    a zstd frame (level 1, content size in its header) of
                      [keys, values]: two arrays of the same length, the
                      partition's keys and their values in the same order

Columns rather than ``[[key, value], ...]``: a reducer turns them into
``(key, value)`` tuples with ``zip``, in C, instead of a Python loop per pair
(``bench/shuffle_codecs.py`` measured the choices; ``docs/performance.md``).

**Values round trip exactly as JSON gives them** (what version 1 shipped):
ints stay ints, floats are the same 64 bits, tuples come back as lists, dict
key order is kept, text (non-ASCII, a key's ``\\xNN`` for invalid UTF-8) is
the same text. MessagePack (``ormsgpack``) carries every block whose values it
can carry with exactly that meaning; it refuses the rest with ``TypeError``,
and that block is JSON instead (codec 2, still zstd): ints outside 64 bits,
dict keys that are not ``str`` (JSON turns them into text), text with lone
surrogates, and types JSON spells its own way or refuses (enums, dataclasses,
datetimes, UUIDs, float subclasses such as numpy's: passed through to the
JSON encoder, which writes or refuses them as it did). One difference: a
``bytes`` value, which the JSON encoder refused at the map side, travels as
``bytes`` (the reducer's JSON result write refuses it there).

A wrong magic, an unknown version, a short read, a checksum mismatch, an
unknown codec or a body that does not decode into two arrays of the same
length raises ``CorruptShuffleError`` (a permanent error): never wrong counts.
Version 1 objects (zlib-compressed JSON pairs) are refused like any unknown
version: a job's shuffle objects are written by its map tasks and read by its
reducers, one deployment of the code; a job whose map tasks ran before a
deploy that changes the version and whose reducers run after it fails with
``CorruptShuffleError`` and is run again.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import ormsgpack
import zstandard

from logmr.errors import CorruptShuffleError

MAGIC = b"LMRS"
VERSION = 2
_HEAD = struct.Struct("<4sBI")
_ENTRY = struct.Struct("<QQI")
_CRC = struct.Struct("<I")

#: the codec byte that starts a non-empty block
MSGPACK = 1
JSON = 2
#: zstd level of every block: level 1 is the fastest, and measured smaller than zlib's level 1
ZSTD_LEVEL = 1
#: what ormsgpack would write in its own way (JSON writes or refuses it differently): handed
#: to ``default``, which refuses it, so that the block is JSON
_PASSTHROUGH = (
    ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_UUID
)

Pair = tuple[str, Any]

_local = threading.local()  # zstd contexts are reusable but not shareable between threads


def header_size(reducers: int) -> int:
    """Bytes before the first block: what a reader fetches to learn the index."""
    return _HEAD.size + reducers * _ENTRY.size + _CRC.size


def _compressor() -> Any:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor


def _decompressor() -> Any:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _body(value: Any) -> tuple[int, bytes]:
    """(codec, uncompressed body) of ``value``: MessagePack, or JSON where
    MessagePack would not give back what JSON gives (see the module docstring)."""
    try:
        return MSGPACK, ormsgpack.packb(value, option=_PASSTHROUGH)
    except TypeError:  # ormsgpack.MsgpackEncodeError included
        return JSON, _json(value)


def encode_block(pairs: Iterable[Pair]) -> bytes:
    """One partition's block (``b""`` for no pairs)."""
    items = pairs if isinstance(pairs, list) else list(pairs)
    if not items:
        return b""
    codec, body = _body([[key for key, _ in items], [value for _, value in items]])
    compressed: bytes = _compressor().compress(body)
    return bytes([codec]) + compressed


def encode(partitions: Sequence[Iterable[Pair]]) -> bytes:
    """Serialize one list of (key, value) pairs per partition."""
    blocks = [encode_block(pairs) for pairs in partitions]
    offset = header_size(len(blocks))
    index = bytearray()
    for block in blocks:
        index += _ENTRY.pack(offset, len(block), zlib.crc32(block))
        offset += len(block)
    head = _HEAD.pack(MAGIC, VERSION, len(blocks))
    return b"".join([head, bytes(index), _CRC.pack(zlib.crc32(index)), *blocks])


def decode_index(header: bytes, name: str = "shuffle object") -> list[tuple[int, int, int]]:
    """(offset, length, crc) per partition from the first ``header_size(R)`` bytes."""
    if len(header) < _HEAD.size:
        raise CorruptShuffleError(f"{name}: truncated header ({len(header)} bytes)")
    magic, version, reducers = _HEAD.unpack_from(header)
    if magic != MAGIC:
        raise CorruptShuffleError(f"{name}: not a shuffle object (magic {magic!r})")
    if version != VERSION:
        raise CorruptShuffleError(f"{name}: shuffle version {version}, this logmr reads {VERSION}")
    size = header_size(reducers)
    if len(header) < size:
        raise CorruptShuffleError(f"{name}: truncated index ({len(header)} of {size} bytes)")
    index = header[_HEAD.size : size - _CRC.size]
    (want,) = _CRC.unpack_from(header, size - _CRC.size)
    if zlib.crc32(index) != want:
        raise CorruptShuffleError(f"{name}: index checksum mismatch")
    return [_ENTRY.unpack_from(index, i * _ENTRY.size) for i in range(reducers)]


def decode_block(block: bytes, crc: int, length: int, name: str = "shuffle object") -> list[Pair]:
    """The (key, value) pairs of one partition block."""
    if len(block) != length:
        raise CorruptShuffleError(f"{name}: truncated block ({len(block)} of {length} bytes)")
    if zlib.crc32(block) != crc:
        raise CorruptShuffleError(f"{name}: block checksum mismatch")
    if not block:
        return []
    codec = block[0]
    if codec not in (MSGPACK, JSON):
        raise CorruptShuffleError(f"{name}: unknown block codec {codec}")
    try:
        body = _decompressor().decompress(memoryview(block)[1:])
        keys, values = ormsgpack.unpackb(body) if codec == MSGPACK else json.loads(body)
        if not isinstance(keys, list) or not isinstance(values, list):
            raise ValueError("a block body is two arrays")
        return list(zip(keys, values, strict=True))
    except (zstandard.ZstdError, ValueError, TypeError) as exc:
        raise CorruptShuffleError(f"{name}: undecodable block: {exc}") from exc


def read_partition(whole: bytes, partition: int, name: str = "shuffle object") -> list[Pair]:
    """One partition's pairs from a whole object held in memory."""
    index = decode_index(whole, name)
    if not 0 <= partition < len(index):
        raise CorruptShuffleError(f"{name}: has {len(index)} partitions, asked for {partition}")
    offset, length, crc = index[partition]
    return decode_block(whole[offset : offset + length], crc, length, name)
