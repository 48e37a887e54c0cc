"""Cutting inputs into map tasks.

A plain object of ``size`` bytes is cut into pieces ``[k*chunk, min((k+1)*chunk, size))``;
the line-exact rule of ``logmr.inputs.lines`` makes each line belong to exactly one
piece. A compressed object is one piece (``end`` None), decompressed as a stream.
Empty objects get no piece.

A piece of a whole chunk is a map task of its own. Smaller pieces (small
objects, the last piece of a plain object) are grouped: consecutive ones
share a map task while the bytes it reads through stay within the chunk size
and its JSON within ``spec.MAX_TASK_JSON_BYTES``, so 50,000 small ``.gz``
objects become a few hundred tasks, not 50,000. A compressed piece counts at
its size decompressed, which Plan reads from the object's own bytes
(``inputs.source.DecompressedSize``); one whose size decompressed is not told
exactly (bzip2, a zstd stream, a gzip of several members) is a task of its own:
grouped on a lower bound, a task could read many times the chunk. Pieces keep
the order of the objects listed, and the tasks are numbered in that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from logmr.inputs.source import DecompressedSize, InputObject
from logmr.spec import MAX_TASK_JSON_BYTES, MapTask, Piece, json_size

#: a task's JSON around its pieces (``MapTask.to_dict``), a task number of ten digits
_TASK_JSON_BYTES = json_size({"task": 10**9, "pieces": []})


def read_through(obj: InputObject, told: DecompressedSize | None) -> int | None:
    """The bytes a map task reads through for ``obj``: a plain object's
    size, a compressed object's size decompressed when its bytes tell it
    exactly (``told``); ``None`` when they do not."""
    if obj.compression is None:
        return obj.size
    if told is None or told.size is None or not told.exact:
        return None
    return told.size


class _Tasks:
    """Map tasks as they are cut: counted, and built unless only counted."""

    def __init__(self, chunk_size: int, build: bool) -> None:
        self.chunk_size = chunk_size
        self.build = build
        self.tasks: list[MapTask] = []
        self.count = 0
        #: the group being filled: its pieces, the bytes they read through, their JSON
        self.group: list[Piece] = []
        self.group_bytes = 0
        self.group_json = _TASK_JSON_BYTES

    def alone(self, piece: Piece, repeat: int = 1) -> None:
        """``piece`` as a task of its own (``repeat`` times: the whole
        chunks of a plain object, counted without building them)."""
        self.close()
        if self.build:
            self.tasks.append(MapTask(self.count, (piece,)))
        self.count += repeat

    def add(self, piece: Piece, nbytes: int) -> None:
        """``piece`` into the group, after closing the group when it would
        pass the chunk size or the JSON bound."""
        size = json_size(piece.to_dict()) + 1  # and its comma
        if self.group and (
            self.group_bytes + nbytes > self.chunk_size
            or self.group_json + size > MAX_TASK_JSON_BYTES
        ):
            self.close()
        self.group.append(piece)
        self.group_bytes += nbytes
        self.group_json += size

    def close(self) -> None:
        if not self.group:
            return
        if self.build:
            self.tasks.append(MapTask(self.count, tuple(self.group)))
        self.count += 1
        self.group, self.group_bytes, self.group_json = [], 0, _TASK_JSON_BYTES


def _cut(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize],
    build: bool,
) -> _Tasks:
    cutter = _Tasks(chunk_size, build)
    for obj in objects:
        if obj.size == 0:
            continue
        if obj.compression is not None:
            piece = Piece(obj.uri, 0, None, obj.compression, obj.version)
            nbytes = read_through(obj, decompressed.get(obj.uri))
            if nbytes is None or nbytes >= chunk_size:
                cutter.alone(piece)
            else:
                cutter.add(piece, nbytes)
            continue
        whole = obj.size // chunk_size
        if whole:
            if build:
                for k in range(whole):
                    start = k * chunk_size
                    cutter.alone(Piece(obj.uri, start, start + chunk_size, None, obj.version))
            else:
                cutter.alone(Piece(obj.uri, 0, chunk_size, None, obj.version), whole)
        tail = obj.size - whole * chunk_size
        if tail:
            cutter.add(Piece(obj.uri, obj.size - tail, obj.size, None, obj.version), tail)
    cutter.close()
    return cutter


def cut(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize] | None = None,
) -> list[MapTask]:
    """The map tasks of ``objects`` for ``chunk_size`` (module docstring);
    ``decompressed``: the compressed objects' sizes decompressed by URI
    (``Plan.decompressed``; a compressed object not in it is a task of its own)."""
    return _cut(objects, chunk_size, decompressed or {}, build=True).tasks


def count_tasks(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize] | None = None,
) -> int:
    """``len(cut(objects, chunk_size, decompressed))`` without building the
    tasks: a plain object's whole chunks are counted, not cut (a chunk size
    of a few bytes over a large object builds nothing)."""
    return _cut(objects, chunk_size, decompressed or {}, build=False).count
