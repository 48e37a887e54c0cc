"""The shuffle codec: what a map task writes and a reducer reads.

One object per (job, map task), named deterministically so that a retried or
duplicated task overwrites its own output instead of adding to it. The object
holds every reducer's partition behind an index, so the number of objects is M
and a reducer reads one block of each (two ranged reads on S3: index, block).

Layout (integers little-endian)::

    magic   4 bytes  b"LMRS"
    version 1 byte   1
    R       4 bytes  number of partitions
    index   R x (offset u64, length u64, crc32 u32)   offsets from the object start
    icrc    4 bytes  crc32 of the index
    blocks  zlib-compressed JSON: [[key, value], ...] per partition

A wrong magic, an unknown version, a short read or a checksum mismatch raises
``CorruptShuffleError`` (a permanent error): never wrong counts.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from logmr.errors import CorruptShuffleError

MAGIC = b"LMRS"
VERSION = 1
_HEAD = struct.Struct("<4sBI")
_ENTRY = struct.Struct("<QQI")
_CRC = struct.Struct("<I")

Pair = tuple[str, Any]


def header_size(reducers: int) -> int:
    """Bytes before the first block: what a reader fetches to learn the index."""
    return _HEAD.size + reducers * _ENTRY.size + _CRC.size


def encode(partitions: Sequence[Iterable[Pair]]) -> bytes:
    """Serialize one list of (key, value) pairs per partition."""
    blocks = []
    for pairs in partitions:
        items = list(pairs)
        blocks.append(
            zlib.compress(json.dumps(items, separators=(",", ":")).encode(), 1) if items else b""
        )
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
    try:
        items = json.loads(zlib.decompress(block))
    except (zlib.error, ValueError) as exc:
        raise CorruptShuffleError(f"{name}: undecodable block: {exc}") from exc
    return [(key, value) for key, value in items]


def read_partition(whole: bytes, partition: int, name: str = "shuffle object") -> list[Pair]:
    """One partition's pairs from a whole object held in memory."""
    index = decode_index(whole, name)
    if not 0 <= partition < len(index):
        raise CorruptShuffleError(f"{name}: has {len(index)} partitions, asked for {partition}")
    offset, length, crc = index[partition]
    return decode_block(whole[offset : offset + length], crc, length, name)
