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

Inputs of several formats (``plan.formats``): a task's pieces share one
format. Each format's pieces are grouped apart (objects of two formats
listed in turn fill two groups, not a task each), in the order listed, and
a task read in another format than the spec's carries it (``MapTask.format``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from logmr.inputs.source import DecompressedSize, InputObject
from logmr.spec import MAX_TASK_JSON_BYTES, MapTask, Piece, json_size

#: how an object is read: a format and its options (``plan.formats``)
ReadAs = tuple[str, tuple[tuple[str, str], ...]]

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
        #: the groups being filled, one per format (``None``: the spec's)
        self.groups: dict[ReadAs | None, _Group] = {}

    def alone(self, piece: Piece, read_as: ReadAs | None, repeat: int = 1) -> None:
        """``piece`` as a task of its own (``repeat`` times: the whole
        chunks of a plain object, counted without building them), after
        the group of its format (the tasks of a format keep their order)."""
        self.close(read_as)
        if self.build:
            self.tasks.append(_task(self.count, (piece,), read_as))
        self.count += repeat

    def add(self, piece: Piece, nbytes: int, read_as: ReadAs | None) -> None:
        """``piece`` into the group of its format, after closing that group
        when it would pass the chunk size or the JSON bound. Each format
        has a group of its own: objects of two formats listed in turn
        (``host1/access.log``, ``host1/syslog``, ``host2/...``) fill two."""
        size = json_size(piece.to_dict()) + 1  # and its comma
        group = self.groups.get(read_as)
        if group is not None and (
            group.nbytes + nbytes > self.chunk_size or group.json + size > MAX_TASK_JSON_BYTES
        ):
            self.close(read_as)
            group = None
        if group is None:
            extra = 0 if read_as is None else _format_json_size(read_as)
            group = self.groups[read_as] = _Group(json=_TASK_JSON_BYTES + extra)
        group.pieces.append(piece)
        group.nbytes += nbytes
        group.json += size

    def close(self, read_as: ReadAs | None) -> None:
        """The group of ``read_as``'s format as a task."""
        group = self.groups.pop(read_as, None)
        if group is None:
            return
        if self.build:
            self.tasks.append(_task(self.count, tuple(group.pieces), read_as))
        self.count += 1

    def close_all(self) -> None:
        for read_as in list(self.groups):
            self.close(read_as)


@dataclass
class _Group:
    """Pieces of one format being grouped: the bytes they read through, their JSON."""

    json: int
    pieces: list[Piece] = field(default_factory=list)
    nbytes: int = 0


def _task(number: int, pieces: tuple[Piece, ...], read_as: ReadAs | None) -> MapTask:
    if read_as is None:
        return MapTask(number, pieces)
    return MapTask(number, pieces, read_as[0], read_as[1])


def _format_json_size(read_as: ReadAs) -> int:
    """The bytes a task's format adds to its JSON."""
    name, options = read_as
    return json_size({"format": name, "format_options": dict(options)}) - 1  # its braces, a comma


def _cut(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize],
    build: bool,
    read_as: Mapping[str, ReadAs],
) -> _Tasks:
    cutter = _Tasks(chunk_size, build)
    for obj in objects:
        if obj.size == 0:
            continue
        how = read_as.get(obj.uri)
        if obj.compression is not None:
            piece = Piece(obj.uri, 0, None, obj.compression, obj.version)
            nbytes = read_through(obj, decompressed.get(obj.uri))
            if nbytes is None or nbytes >= chunk_size:
                cutter.alone(piece, how)
            else:
                cutter.add(piece, nbytes, how)
            continue
        whole = obj.size // chunk_size
        if whole:
            if build:
                for k in range(whole):
                    start = k * chunk_size
                    piece = Piece(obj.uri, start, start + chunk_size, None, obj.version)
                    cutter.alone(piece, how)
            else:
                cutter.alone(Piece(obj.uri, 0, chunk_size, None, obj.version), how, whole)
        tail = obj.size - whole * chunk_size
        if tail:
            cutter.add(Piece(obj.uri, obj.size - tail, obj.size, None, obj.version), tail, how)
    cutter.close_all()
    return cutter


def cut(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize] | None = None,
    read_as: Mapping[str, ReadAs] | None = None,
) -> list[MapTask]:
    """The map tasks of ``objects`` for ``chunk_size`` (module docstring);
    ``decompressed``: the compressed objects' sizes decompressed by URI
    (``Plan.decompressed``; a compressed object not in it is a task of its own);
    ``read_as``: the objects read in another format than the spec's, by URI."""
    return _cut(objects, chunk_size, decompressed or {}, True, read_as or {}).tasks


def count_tasks(
    objects: Iterable[InputObject],
    chunk_size: int,
    decompressed: Mapping[str, DecompressedSize] | None = None,
    read_as: Mapping[str, ReadAs] | None = None,
) -> int:
    """``len(cut(objects, chunk_size, decompressed, read_as))`` without
    building the tasks: a plain object's whole chunks are counted, not cut (a
    chunk size of a few bytes over a large object builds nothing)."""
    return _cut(objects, chunk_size, decompressed or {}, False, read_as or {}).count
