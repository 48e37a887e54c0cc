"""A job's results where they live.

Every result is in the job's part files (``layout.part_key``: one per
reducer, and Finalize's for the salted keys), Parquet tables of a ``key``
column and typed value columns, every file in key order
(``logmr.storage.parquet``): they are the source of truth, in the object store
(a folder, or S3) where no per-partition limit applies, and they are read as
streams, a row group at a time, merged in key order, so reading them costs
memory per file, not per key. DuckDB, Athena and pandas read them as they are.

The result store (SQLite, DynamoDB) keeps the job record and, of each part
file, the ``TOP_KEPT`` best results: the job's top N for any ``N <= TOP_KEPT``
is among them, which is what ``logmr results --top`` and the HTTP API query.

pyarrow is imported when a part file is written or read, not with this module
(the HTTP API and a map task import this module and never touch a part file).
"""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from logmr import layout
from logmr.jobs.base import top_n
from logmr.storage.base import JobRecord, ObjectStore, ResultStore

#: results of each part file kept in the result store, the best first: at
#: least the largest top N served from there (the HTTP API's ``?top=``)
TOP_KEPT = 1000

Pair = tuple[str, Any]


#: compact JSON, text as it is: one encoder, not one per call (``json.dumps``
#: with arguments builds a new encoder each time: a cost per result key)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_lines(values: Iterable[Any]) -> str:
    """One compact JSON line per value (the quarantine of malformed samples)."""
    return "".join(_COMPACT(value) + "\n" for value in values)


def part_file(pairs: Iterable[Pair]) -> tuple[bytes, list[Pair]]:
    """A part file's bytes, its rows in key order (a key given twice keeps its
    last value, as an upsert would), and those rows."""
    from logmr.storage import parquet

    rows = sorted(dict(pairs).items(), key=itemgetter(0))  # keys are distinct
    return parquet.encode(rows), rows


def put_part(
    objects: ObjectStore,
    key: str,
    rows: Callable[[], Iterator[Pair]],
    held: Sequence[Pair] | None = None,
) -> tuple[int, list[Pair]]:
    """Write the part file ``key`` of results in key order with distinct
    keys: ``held``, every one in memory, encoded at once (``part_file``'s
    bytes); else ``rows()``, a stream read twice (its layout and best
    results, then its row groups, written to a temporary file a row group at
    a time: the part file's bytes are held once, compressed, for the PUT).
    How many results, and the ``TOP_KEPT`` best (for ``store_best``)."""
    from logmr.storage import parquet

    if held is not None:
        objects.put(key, parquet.encode(held))
        return len(held), top_n(held, TOP_KEPT)
    scan = parquet.LayoutScan()
    best = top_n(_scanned(rows(), scan, parquet.BATCH_ROWS), TOP_KEPT)
    with tempfile.TemporaryFile() as file:
        parquet.write_stream(rows(), scan, file)
        file.seek(0)
        objects.put(key, file.read())
    return scan.rows, best


def _scanned(rows: Iterator[Pair], scan: Any, batch: int) -> Iterator[Pair]:
    """``rows``, each ``batch`` of them seen by ``scan`` (``parquet.LayoutScan``) on its way."""
    while chunk := list(islice(rows, batch)):
        scan.add(chunk)
        yield from chunk


def store_best(store: ResultStore, job_id: str, rows: list[Pair]) -> int:
    """Keep the ``TOP_KEPT`` best of a part file's ``rows`` in the result
    store (an upsert: a retried task writes the same rows); how many."""
    return store.put_results(job_id, top_n(rows, TOP_KEPT))


def _rows(objects: ObjectStore, key: str) -> Iterator[Pair]:
    """One part file's pairs, a row group at a time (ranged reads)."""
    from logmr.storage import parquet

    with objects.open(key) as file:
        yield from parquet.iter_rows(file, objects.location(key))


def part_keys(objects: ObjectStore, job_id: str) -> list[str]:
    """The job's part files (one LIST)."""
    prefix = layout.part_key(job_id, 0).rsplit("/", 1)[0] + "/"
    return sorted(objects.list_keys(prefix))


def iter_part_results(objects: ObjectStore, job_id: str) -> Iterator[Pair]:
    """Every result of the job, in key order, streamed from its part files."""
    streams = [_rows(objects, key) for key in part_keys(objects, job_id)]
    return heapq.merge(*streams, key=itemgetter(0))


class JobResults:
    """A job's record and results, wherever the job ran: every result from
    the part files in ``objects``, the top N from ``store`` (or from the part
    files past ``TOP_KEPT``)."""

    def __init__(self, objects: ObjectStore, store: ResultStore) -> None:
        self.objects = objects
        self.store = store

    def get_job(self, job_id: str) -> JobRecord:
        return self.store.get_job(job_id)

    def iter_results(self, job_id: str) -> Iterator[Pair]:
        return iter_part_results(self.objects, job_id)

    def top(self, job_id: str, n: int) -> list[Pair]:
        if n <= TOP_KEPT:
            return self.store.top(job_id, n)
        return top_n(self.iter_results(job_id), n)
