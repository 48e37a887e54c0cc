"""Which bucket owns a key: murmur3 (mmh3) over the key's UTF-8 bytes, unsigned,
modulo the number of buckets. Stable across processes, machines and Python
versions, unlike ``hash()``.

A map task partitions its output into a job's fixed number of buckets
(``JobSpec.buckets``, ``config.SHUFFLE_BUCKETS``); Reduce, planned after Map,
gives reducer ``p`` of ``R`` the contiguous group ``bucket_group(p, R, B)``.
"""

from __future__ import annotations

import mmh3

from logmr.config import SHUFFLE_BUCKETS

#: the murmur3 seed; changing it moves every key to another bucket
PARTITION_SEED = 0
#: the golden ratio's fractional part: the offsets ``frac(task * GOLDEN)`` of
#: tasks 0, 1, 2, ... spread evenly over [0, 1) whatever the number of tasks
#: (the three-gap theorem)
GOLDEN = 0.6180339887498949


def partition_of(key: str, buckets: int) -> int:
    """The bucket (0..buckets-1) that owns ``key``."""
    hashed = mmh3.hash(key.encode("utf-8", "surrogatepass"), PARTITION_SEED, signed=False)
    return int(hashed) % buckets


def salted_bucket(bucket: int, task: int, buckets: int) -> int:
    """Where map task ``task`` sends a salted key whose bucket is ``bucket``:
    moved by ``frac(task * GOLDEN)`` of the buckets, so that over M map tasks
    the key's M pairs land evenly spaced around the buckets and every
    contiguous group of them (a reducer's) gets its share, however many
    reducers Reduce is planned with."""
    return (bucket + int((task * GOLDEN) % 1.0 * buckets)) % buckets


def bucket_group(partition: int, reducers: int, buckets: int) -> range:
    """The buckets reducer ``partition`` of ``reducers`` reads: a contiguous
    group, the groups of all reducers covering 0..buckets-1 once, their sizes
    at most one apart (``reducers <= buckets``)."""
    return range(partition * buckets // reducers, (partition + 1) * buckets // reducers)


def reducer_of(bucket: int, reducers: int, buckets: int) -> int:
    """The reducer whose ``bucket_group`` holds ``bucket``."""
    return ((bucket + 1) * reducers - 1) // buckets


def buckets_for(reducers: int) -> int:
    """A job's bucket count: ``SHUFFLE_BUCKETS``, or a request's larger
    reducer count (each reducer reads at least one bucket)."""
    return max(SHUFFLE_BUCKETS, reducers)


def owner(key: str, reducers: int, buckets: int) -> int:
    """The reducer of ``reducers`` that reads ``key`` (unsalted) from ``buckets`` buckets."""
    return reducer_of(partition_of(key, buckets), reducers, buckets)
