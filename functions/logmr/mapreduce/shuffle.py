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
(a segment is like one more map task to them), in segment order. Every
object of a task attempt carries the same binding (below): a reducer reads
the spill objects of the attempt whose object it read, or fails.

Layout (integers little-endian)::

    magic   4 bytes  b"LMRS"
    version 1 byte   4
    B       4 bytes  number of buckets
    binding           whose output this is (``Binding``), the same size
                      whatever B and the blocks:
              task    4 bytes  the map task's number
              attempt 8 bytes  the map task attempt's id (random: ``tasks.summaries``)
              job     2 bytes  the job id's length, then the job id (UTF-8)
    index   B x (offset u64, length u64, crc32 u32)   offsets from the object start
    spills  4 bytes  u32: spill objects the map task wrote before this object
                     (0 in a spill object itself, and when nothing spilled)
    icrc    4 bytes  crc32 of the binding, the index and ``spills``
    blocks  one per bucket, empty (0 bytes) for a bucket without pairs; a
            block is one chunk per segment (in this object) with pairs in the
            bucket, in segment order:
              length  u32      bytes of codec and body
              codec   1 byte   1: MessagePack, 2: JSON
              body    a zstd frame (level 1, content size in its header) of
                      [keys, values]: two arrays of the same length, the
                      bucket's keys and their values in the same order

Version 4 is version 3 (the binding) with ``spills`` in the index and the
chunks' lengths in the blocks: an object of a task that did not spill holds
one chunk per non-empty block.

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

**An object is bound to its job, map task and attempt**: the header names
them, its checksum covers them, and a reader says which job and task it
expects (``decode_header(..., job_id=, task=)``). Another task's or another
job's object in a task's place, however valid, is ``CorruptShuffleError``
naming both; the attempt goes back to the reducer, which records what it
read (``tasks.summaries``), so Finalize never adds up one attempt's counters
with another attempt's pairs.

A wrong magic, an unknown version, a short read, a checksum mismatch, a
binding to another job, task or attempt, a chunk length that overruns its
block, an unknown codec or a body that does not decode into two arrays of the
same length raises ``CorruptShuffleError`` (a permanent error): never wrong
counts. Objects of earlier versions (1: zlib-compressed JSON pairs; 2: no
binding; 3: no segments) are refused like any unknown
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
from typing import Any, NamedTuple

import ormsgpack
import zstandard

from logmr.errors import CorruptShuffleError

MAGIC = b"LMRS"
VERSION = 4
_HEAD = struct.Struct("<4sBI")
#: the binding's fixed part: task, attempt, the job id's length (the id follows)
_BINDING = struct.Struct("<I8sH")
_ENTRY = struct.Struct("<QQI")
_U32 = struct.Struct("<I")
_CRC = _U32
#: bytes of an attempt id (16 hex digits)
ATTEMPT_BYTES = 8

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
#: one bucket's block: (offset, length, crc32)
Entry = tuple[int, int, int]

_local = threading.local()  # zstd contexts are reusable but not shareable between threads


class Binding(NamedTuple):
    """Whose output an object is: a job's map task, one attempt of it."""

    job_id: str
    task: int
    #: ``ATTEMPT_BYTES`` as hex, random per attempt (``tasks.summaries.new_attempt``)
    attempt: str

    def describe(self) -> str:
        return f"job {self.job_id!r} map task {self.task} (attempt {self.attempt})"


class Header(NamedTuple):
    binding: Binding
    entries: list[Entry]
    #: the spill objects the map task wrote before this object
    spills: int = 0


def header_size(buckets: int, job_id: str) -> int:
    """Bytes before the first block of an object of ``job_id`` with
    ``buckets`` buckets: what a reader fetches to learn the index."""
    binding = _BINDING.size + len(job_id.encode())
    return _HEAD.size + binding + buckets * _ENTRY.size + _U32.size + _CRC.size


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


def assemble(blocks: Sequence[bytes], binding: Binding, spills: int = 0) -> bytes:
    """An object of one block per bucket (each its chunks, joined) behind the
    index, bound to ``binding`` (the job, map task and attempt writing it);
    ``spills``: the spill objects the map task wrote before it."""
    offset = header_size(len(blocks), binding.job_id)
    job = binding.job_id.encode()
    checked = bytearray(_BINDING.pack(binding.task, bytes.fromhex(binding.attempt), len(job)))
    checked += job
    for block in blocks:
        checked += _ENTRY.pack(offset, len(block), zlib.crc32(block))
        offset += len(block)
    checked += _U32.pack(spills)
    head = _HEAD.pack(MAGIC, VERSION, len(blocks))
    return b"".join([head, bytes(checked), _CRC.pack(zlib.crc32(checked)), *blocks])


def encode(partitions: Sequence[Iterable[Pair]], binding: Binding) -> bytes:
    """An object of one segment: one list of (key, value) pairs per bucket,
    bound to ``binding``."""
    return assemble([encode_block(pairs) for pairs in partitions], binding)


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

    def take(self, binding: Binding, spills: int = 0) -> bytes:
        """The object of every segment held (``assemble``); none held after
        (each bucket's chunks dropped once joined: the bytes held once, and
        the object's copy)."""
        blocks = []
        for bucket, chunks in enumerate(self.chunks):
            blocks.append(b"".join(chunks))
            self.chunks[bucket] = []
        self.size = 0
        return assemble(blocks, binding, spills)


def decode_header(
    header: bytes,
    name: str = "shuffle object",
    *,
    job_id: str | None = None,
    task: int | None = None,
) -> Header:
    """The binding and the (offset, length, crc) of each partition, from the
    first ``header_size(R, job_id)`` bytes; with ``job_id`` and ``task``, an
    object bound to another job or task is ``CorruptShuffleError`` naming both
    (checked after the checksum when the header could be read whole, so that a
    damaged byte is named as damage)."""
    if len(header) < _HEAD.size + _BINDING.size:
        raise CorruptShuffleError(f"{name}: truncated header ({len(header)} bytes)")
    magic, version, reducers = _HEAD.unpack_from(header)
    if magic != MAGIC:
        raise CorruptShuffleError(f"{name}: not a shuffle object (magic {magic!r})")
    if version != VERSION:
        raise CorruptShuffleError(f"{name}: shuffle version {version}, this logmr reads {VERSION}")
    found_task, attempt, length = _BINDING.unpack_from(header, _HEAD.size)
    start = _HEAD.size + _BINDING.size
    job = header[start : start + length]
    size = start + length + reducers * _ENTRY.size + _U32.size + _CRC.size
    if len(header) < size:
        expected = None if job_id is None else job_id.encode()
        if expected is not None and (length != len(expected) or job != expected):
            # fetched for this job id's length, and the id differs: whose it is, as far as read
            found = job.decode(errors="replace") + ("..." if len(job) < length else "")
            raise CorruptShuffleError(
                f"{name}: the shuffle object of job {found!r}, not of job {job_id!r}:"
                " another job's output in its place"
            )
        raise CorruptShuffleError(f"{name}: truncated index ({len(header)} of {size} bytes)")
    checked = header[_HEAD.size : size - _CRC.size]
    (want,) = _CRC.unpack_from(header, size - _CRC.size)
    if zlib.crc32(checked) != want:
        raise CorruptShuffleError(f"{name}: index checksum mismatch")
    try:
        binding = Binding(job.decode(), found_task, attempt.hex())
    except UnicodeDecodeError:
        raise CorruptShuffleError(f"{name}: a job id that is not UTF-8: {job!r}") from None
    expected_job = binding.job_id if job_id is None else job_id
    expected_task = binding.task if task is None else task
    if (binding.job_id, binding.task) != (expected_job, expected_task):
        whose = "another task's" if binding.job_id == expected_job else "another job's"
        raise CorruptShuffleError(
            f"{name}: the shuffle object of {binding.describe()}, not of job"
            f" {expected_job!r} map task {expected_task}: {whose} output in its place"
        )
    entries = memoryview(checked)[_BINDING.size + length : -_U32.size]
    (spills,) = _U32.unpack_from(checked, len(checked) - _U32.size)
    return Header(binding, list(_ENTRY.iter_unpack(entries)), spills)


def decode_index(header: bytes, name: str = "shuffle object") -> list[Entry]:
    """(offset, length, crc) per partition (``decode_header``, whoever wrote it)."""
    return decode_header(header, name).entries


def decode_block(
    block: bytes | memoryview, crc: int, length: int, name: str = "shuffle object"
) -> list[Pair]:
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
    index = decode_index(whole, name)
    if not 0 <= partition < len(index):
        raise CorruptShuffleError(f"{name}: has {len(index)} partitions, asked for {partition}")
    offset, length, crc = index[partition]
    return decode_block(whole[offset : offset + length], crc, length, name)
