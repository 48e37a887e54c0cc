"""The storage interfaces, with the logic every backend shares."""

from __future__ import annotations

import abc
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from logmr.errors import CorruptJobDataError, CorruptShuffleError, JobNotFoundError
from logmr.jobs.base import sort_value
from logmr.mapreduce import shuffle

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED")


class ObjectStore(abc.ABC):
    """Named blobs: a local folder, or an S3 bucket and prefix."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def get(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object (fewer if the object is shorter)."""

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """An object's length in bytes (a HEAD on S3)."""

    @abc.abstractmethod
    def list_keys(self, prefix: str) -> list[str]: ...

    @abc.abstractmethod
    def delete(self, keys: Iterable[str]) -> None: ...

    def location(self, key: str) -> str:
        """The name ``key`` has in the backing store (S3 adds the store's prefix)."""
        return key

    # -- shared logic ----------------------------------------------------------
    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value, separators=(",", ":")).encode())

    def get_json(self, key: str) -> Any:
        """A JSON object logmr wrote (a summary, the manifest); one that does
        not parse (cut short, overwritten) is ``CorruptJobDataError`` naming it."""
        data = self.get(key)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise CorruptJobDataError(
                f"{self.location(key)}: not the JSON a task wrote ({exc}; {len(data)} bytes)"
            ) from None

    def open(self, key: str) -> RangeReader:
        """A seekable binary file over ``key``: each read is a ranged GET."""
        return RangeReader(self, key, self.size(key))

    def read_buckets(
        self, key: str, group: range, buckets: int, *, job_id: str, task: int
    ) -> BucketGroup:
        """A reducer's contiguous group of buckets (``partition.bucket_group``)
        of one of map task ``task``'s shuffle objects, the attempt that wrote
        it and the spill objects its index counts: an index read, then one
        read of the group's blocks, which lie next to each other (none for an
        empty group). An object bound to another job or task, or of another
        bucket count, is ``CorruptShuffleError``."""
        found = self.read_bucket_blocks(key, group, buckets, job_id=job_id, task=task)
        pairs: list[shuffle.Pair] = []
        for block in found.blocks:
            pairs += block.pairs()
        return BucketGroup(found.attempt, pairs, found.spills)

    def read_bucket_blocks(
        self, key: str, group: range, buckets: int, *, job_id: str, task: int
    ) -> BlockGroup:
        """``read_buckets`` with the blocks still encoded (``Block.pairs``
        decodes and checks one): a reducer holds what it read compressed and
        decodes a block at a time."""
        name = self.location(key)
        header = self.get_range(key, 0, shuffle.header_size(buckets, job_id))
        binding, index, spills = shuffle.decode_header(header, name, job_id=job_id, task=task)
        if len(index) != buckets:
            raise CorruptShuffleError(f"{name}: has {len(index)} buckets, the job has {buckets}")
        entries = index[group.start : group.stop]
        if not entries:
            return BlockGroup(binding.attempt, [], spills)
        start = entries[0][0]
        end = entries[-1][0] + entries[-1][1]
        span = memoryview(self.get_range(key, start, end) if end > start else b"")
        blocks = [
            Block(span[offset - start : offset - start + length], crc, length, name)
            for offset, length, crc in entries
        ]
        return BlockGroup(binding.attempt, blocks, spills)


class Block(NamedTuple):
    """One bucket's block of a shuffle object, as read (``read_bucket_blocks``)."""

    data: memoryview
    crc: int
    length: int
    #: the object's name, for errors
    name: str

    def pairs(self) -> list[shuffle.Pair]:
        """Its (key, value) pairs, checked (``shuffle.decode_block``)."""
        return shuffle.decode_block(self.data, self.crc, self.length, self.name)


class BlockGroup(NamedTuple):
    """What ``ObjectStore.read_bucket_blocks`` read of one shuffle object."""

    attempt: str
    blocks: list[Block]
    spills: int


class BucketGroup(NamedTuple):
    """What ``ObjectStore.read_buckets`` read of one shuffle object."""

    #: the map task attempt that wrote the object
    attempt: str
    pairs: list[shuffle.Pair]
    #: the spill objects the map task wrote before it (``shuffle.Header.spills``)
    spills: int


class RangeReader(io.RawIOBase):
    """An object as a seekable, read-only file: one ``get_range`` per read,
    nothing buffered (the reader asks for what it needs: a Parquet reader asks
    for the footer, then for each row group's columns in one range)."""

    def __init__(self, store: ObjectStore, key: str, size: int) -> None:
        self.store, self.key, self.length, self.position = store, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self.position + len(view), self.length)
        data = self.store.get_range(self.key, self.position, end) if end > self.position else b""
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def read(self, size: int | None = -1, /) -> bytes:
        end = self.length if size is None or size < 0 else min(self.position + size, self.length)
        if end <= self.position:
            return b""
        data = self.store.get_range(self.key, self.position, end)
        self.position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)


@dataclass
class JobRecord:
    """A job's record: one per job id, in SQLite locally and DynamoDB on AWS."""

    job_id: str
    job: str
    status: str = "RUNNING"
    spec: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    created_at: str = ""
    finished_at: str | None = None
    map_tasks: int = 0
    result_keys: int = 0
    malformed_samples: list[dict[str, Any]] = field(default_factory=list)
    #: what the job used, priced (``logmr.plan.cost``; set by Finalize): Lambda
    #: requests and GB-s, transitions, S3 requests, DynamoDB WRUs, USD
    bill: dict[str, Any] | None = None
    #: the execution that claimed the id (``$$.Execution.Id``; the inline
    #: runner's own token): the only one that may write this record again
    #: (docs/security.md, "Job identity")
    execution: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        known = cls.__dataclass_fields__
        return cls(**{name: value for name, value in data.items() if name in known})


class ResultStore(abc.ABC):
    """Results (one per job id and key) and job records.

    A job record is created once, atomically (``claim_job``), by the execution
    it then belongs to, and only that execution writes it again
    (``update_job``); ``put_job`` writes unconditionally and is for tests and
    tools that set a store up."""

    @abc.abstractmethod
    def put_job(self, record: JobRecord) -> None: ...

    @abc.abstractmethod
    def claim_job(self, record: JobRecord) -> JobRecord | None:
        """Create ``record`` if its id has no record, as one atomic step (a
        conditional put; a unique insert): ``None``. Else the record that has
        the id, unchanged."""

    @abc.abstractmethod
    def update_job(self, record: JobRecord) -> bool:
        """Write ``record`` over the stored one only if that one belongs to the
        same execution (``record.execution``), atomically; whether it did."""

    @abc.abstractmethod
    def load_job(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    def write_results(self, job_id: str, rows: list[tuple[str, Any, float]]) -> None:
        """Upsert (key, value, sort value) rows; the same key twice keeps one row."""

    @abc.abstractmethod
    def top(self, job_id: str, n: int) -> list[tuple[str, Any]]:
        """The n best results: sort value descending, then key ascending."""

    @abc.abstractmethod
    def iter_results(self, job_id: str) -> Iterator[tuple[str, Any]]:
        """Every result of a job, by key."""

    # -- shared logic ----------------------------------------------------------
    def get_job(self, job_id: str) -> JobRecord:
        record = self.load_job(job_id)
        if record is None:
            raise JobNotFoundError(f"no job {job_id!r}")
        return record

    def put_results(self, job_id: str, pairs: Iterable[tuple[str, Any]]) -> int:
        rows = [(key, value, sort_value(value)) for key, value in pairs]
        self.write_results(job_id, rows)
        return len(rows)
