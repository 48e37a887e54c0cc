"""The shuffle codec: what a map task writes and a reducer reads.

A map task's output is one object (``layout.shuffle_key``), named
deterministically so that a retried or duplicated task overwrites its own
output instead of adding to it. The object holds every bucket behind an
index, so a reducer reads its contiguous group of buckets of it with two
ranged reads (index, blocks).

**Segments and spills.** A map task whose combined pairs outgrow its memory
budget (``plan.tuning.MapBudget``) flushes them as a *segment* and goes on
with an empty table (``mapreduce.side.MapSide.drain``): each segment is one
chunk per bucket, compressed, held in memory (``Segments``). Held chunks are
written out when they pass the budget's share for them, as a *spill object*
(``layout.shuffle_key(job, task, spill)``, spill 1, 2, ...), and at the end
the last segments go into the task's object, whose index says how many spill
objects came before it. A key may so be in several segments of one task: the
reducers merge every segment's pairs as they merge different map tasks'
(a segment is like one more map task to them), in segment order.

Layout (integers little-endian)::

    magic   4 bytes  b"LMRS"
    version 1 byte   3
    B       4 bytes  number of buckets
    index   B x (offset u64, length u64, crc32 u32)   offsets from the object start
    spills  4 bytes  u32: spill objects the map task wrote before this object
                     (0 in a spill object itself, and when nothing spilled)
    icrc    4 bytes  crc32 of the index and ``spills``
    blocks  one per bucket, empty (0 bytes) for a bucket without pairs; a
            block is one chunk per segment (in this object) with pairs in the
            bucket, in segment order:
              length  u32      bytes of codec and body
              codec   1 byte   1: MessagePack, 2: JSON
              body    a zstd frame (level 1, content size in its header) of
                      [keys, values]: two arrays of the same length, the
                      bucket's keys and their values in the same order

Version 3 is version 2 plus ``spills`` in the index and the chunks' lengths
in the blocks: an object of a task that did not spill holds one chunk per
non-empty block.

Columns rather than ``[[key, value], ...]``: a reducer turns them into
``(key, value)`` tuples with ``zip``, in C, instead of a Python loop per pair
(``bench/shuffle_codecs.py`` measured the choices; ``docs/performance.md``).

**Values round trip exactly as JSON gives them** (what version 1 shipped):
ints stay ints, floats are the same 64 bits, tuples come back as lists, dict
key order is kept, text (non-ASCII, a key's ``\\xNN`` for invalid UTF-8) is
the same text. MessagePack (``ormsgpack``) carries every chunk whose values it
can carry with exactly that meaning; it refuses the rest with ``TypeError``,
and that chunk is JSON instead (codec 2, still zstd): ints outside 64 bits,
dict keys that are not ``str`` (JSON turns them into text), text with lone
surrogates, and types JSON spells its own way or refuses (enums, dataclasses,
datetimes, UUIDs, float subclasses such as numpy's: passed through to the
JSON encoder, which writes or refuses them as it did). One difference: a
``bytes`` value, which the JSON encoder refused at the map side, travels as
``bytes`` (the reducer's JSON result write refuses it there).

A wrong magic, an unknown version, a short read, a checksum mismatch, a
chunk length that overruns its block, an unknown codec or a body that does
not decode into two arrays of the same length raises ``CorruptShuffleError``
(a permanent error): never wrong counts. Objects of other versions are
refused like any unknown version: a job's shuffle objects are written by its
map tasks and read by its reducers, one deployment of the code; a job whose
map tasks ran before a deploy that changes the version and whose reducers run
after it fails with ``CorruptShuffleError`` and is run again.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ormsgpack
import zstandard

from logmr.errors import CorruptShuffleError

MAGIC = b"LMRS"
VERSION = 3
_HEAD = struct.Struct("<4sBI")
_ENTRY = struct.Struct("<QQI")
_U32 = struct.Struct("<I")
_CRC = _U32

#: the codec byte that starts a chunk's payload
MSGPACK = 1
JSON = 2
#: zstd level of every chunk: level 1 is the fastest, and measured smaller than zlib's level 1
ZSTD_LEVEL = 1
#: what ormsgpack would write in its own way (JSON writes or refuses it differently): handed
#: to ``default``, which refuses it, so that the chunk is JSON
_PASSTHROUGH = (
    ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_UUID
)

Pair = tuple[str, Any]

_local = threading.local()  # zstd contexts are reusable but not shareable between threads


def header_size(buckets: int) -> int:
    """Bytes before the first block: what a reader fetches to learn the index."""
    return _HEAD.size + buckets * _ENTRY.size + _U32.size + _CRC.size


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


def encode_chunk(keys: list[str], values: list[Any]) -> bytes:
    """One segment's pairs of one bucket, ``keys[i]`` with ``values[i]``, as a
    chunk (``b""`` for no pairs)."""
    if not keys:
        return b""
    codec, body = _body([keys, values])
    compressed: bytes = _compressor().compress(body)
    return _U32.pack(len(compressed) + 1) + bytes([codec]) + compressed


def encode_block(pairs: Iterable[Pair]) -> bytes:
    """One bucket's block of a single segment (``b""`` for no pairs)."""
    items = pairs if isinstance(pairs, list) else list(pairs)
    return encode_chunk([key for key, _ in items], [value for _, value in items])


def assemble(blocks: Sequence[bytes], spills: int = 0) -> bytes:
    """An object of one block per bucket (each its chunks, joined) behind the
    index; ``spills``: the spill objects the map task wrote before it."""
    offset = header_size(len(blocks))
    index = bytearray()
    for block in blocks:
        index += _ENTRY.pack(offset, len(block), zlib.crc32(block))
        offset += len(block)
    index += _U32.pack(spills)
    head = _HEAD.pack(MAGIC, VERSION, len(blocks))
    return b"".join([head, bytes(index), _CRC.pack(zlib.crc32(index)), *blocks])


def encode(partitions: Sequence[Iterable[Pair]]) -> bytes:
    """An object of one segment: one list of (key, value) pairs per bucket."""
    return assemble([encode_block(pairs) for pairs in partitions])


class Segments:
    """A map task's segments held for one object: per bucket, the chunk of
    each segment that has pairs there (compressed bytes: a few bytes a pair,
    where the combining table held a hundred or more)."""

    def __init__(self, buckets: int) -> None:
        self.chunks: list[list[bytes]] = [[] for _ in range(buckets)]
        #: bytes held
        self.size = 0

    def add(self, bucket: int, chunk: bytes) -> None:
        if chunk:
            self.chunks[bucket].append(chunk)
            self.size += len(chunk)

    def take(self, spills: int = 0) -> bytes:
        """The object of every segment held (``assemble``); none held after
        (each bucket's chunks dropped once joined: the bytes held once, and
        the object's copy)."""
        blocks = []
        for bucket, chunks in enumerate(self.chunks):
            blocks.append(b"".join(chunks))
            self.chunks[bucket] = []
        self.size = 0
        return assemble(blocks, spills)


@dataclass(frozen=True)
class Index:
    """An object's index: (offset, length, crc) per bucket, and its spills."""

    entries: list[tuple[int, int, int]]
    spills: int


def decode_index(header: bytes, name: str = "shuffle object") -> Index:
    """The index from an object's first ``header_size(B)`` bytes."""
    if len(header) < _HEAD.size:
        raise CorruptShuffleError(f"{name}: truncated header ({len(header)} bytes)")
    magic, version, buckets = _HEAD.unpack_from(header)
    if magic != MAGIC:
        raise CorruptShuffleError(f"{name}: not a shuffle object (magic {magic!r})")
    if version != VERSION:
        raise CorruptShuffleError(f"{name}: shuffle version {version}, this logmr reads {VERSION}")
    size = header_size(buckets)
    if len(header) < size:
        raise CorruptShuffleError(f"{name}: truncated index ({len(header)} of {size} bytes)")
    index = header[_HEAD.size : size - _CRC.size]
    (want,) = _CRC.unpack_from(header, size - _CRC.size)
    if zlib.crc32(index) != want:
        raise CorruptShuffleError(f"{name}: index checksum mismatch")
    entries = [_ENTRY.unpack_from(index, i * _ENTRY.size) for i in range(buckets)]
    (spills,) = _U32.unpack_from(index, buckets * _ENTRY.size)
    return Index(entries, spills)


def decode_block(block: bytes, crc: int, length: int, name: str = "shuffle object") -> list[Pair]:
    """The (key, value) pairs of one bucket's block: every chunk's, in order."""
    if len(block) != length:
        raise CorruptShuffleError(f"{name}: truncated block ({len(block)} of {length} bytes)")
    if zlib.crc32(block) != crc:
        raise CorruptShuffleError(f"{name}: block checksum mismatch")
    chunks: list[list[Pair]] = []
    view = memoryview(block)
    at = 0
    while at < length:
        if length - at < _U32.size:
            raise CorruptShuffleError(f"{name}: a chunk length cut short at byte {at}")
        (size,) = _U32.unpack_from(view, at)
        at += _U32.size
        if not 0 < size <= length - at:
            raise CorruptShuffleError(
                f"{name}: chunk of {size} bytes at byte {at} in a block of {length}"
            )
        chunks.append(_decode_chunk(view[at : at + size], name))
        at += size
    return chunks[0] if len(chunks) == 1 else [pair for chunk in chunks for pair in chunk]


def _decode_chunk(chunk: memoryview, name: str) -> list[Pair]:
    codec = chunk[0]
    if codec not in (MSGPACK, JSON):
        raise CorruptShuffleError(f"{name}: unknown block codec {codec}")
    try:
        body = _decompressor().decompress(chunk[1:])
        keys, values = ormsgpack.unpackb(body) if codec == MSGPACK else json.loads(body)
        if not isinstance(keys, list) or not isinstance(values, list):
            raise ValueError("a chunk body is two arrays")
        return list(zip(keys, values, strict=True))
    except (zstandard.ZstdError, ValueError, TypeError) as exc:
        raise CorruptShuffleError(f"{name}: undecodable block: {exc}") from exc


def read_partition(whole: bytes, partition: int, name: str = "shuffle object") -> list[Pair]:
    """One bucket's pairs from a whole object held in memory."""
    index = decode_index(whole, name).entries
    if not 0 <= partition < len(index):
        raise CorruptShuffleError(f"{name}: has {len(index)} partitions, asked for {partition}")
    offset, length, crc = index[partition]
    return decode_block(whole[offset : offset + length], crc, length, name)
