"""Integer sums per key, in columns: what column jobs and the map and reduce
sides add up in C (numpy) instead of in a Python loop per record or per key.

A batch of a log holds many records per distinct key (a path, a status, a
window). Each column of raw values becomes *codes*: the distinct values, and
for each record the position of its value among them (``codes_of``:
``dict.fromkeys`` and a ``map`` of the index's ``__getitem__``, all in C).
Counts per code are ``numpy.bincount``, integer sums per code
``numpy.add.at``, and a second grouping (raw requests into paths) is the
same again on the distinct values.

**Exact, whatever the sizes.** Sums are exact Python ints in the end:

* int64 arithmetic is used only when it cannot overflow: every ``KeyedSums``
  carries ``bound``, at least the sum of the magnitudes of everything added
  into it, and int64 is chosen only while that stays at most ``INT64_MAX``
  (then no partial sum can overflow); past it the same arrays hold Python
  ints (numpy's ``object`` dtype, added by Python: slow, exact);
* float weights (``numpy.bincount``'s) are never used for sums: float64 is
  exact only below 2**53;
* ``tolist()`` turns int64 and object arrays back into Python ints.

numpy (a dependency of datasketches, in the Lambda layer already) is imported
on first use: a job that adds nothing up (``status_codes``, ``word_count``)
and every cold start that runs one never pay its import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from types import ModuleType
from typing import Any

#: the largest int64: sums whose bound stays at most this are added in int64
INT64_MAX = 2**63 - 1

KV = tuple[Any, Any]


@functools.cache
def numpy() -> ModuleType:
    """``numpy``, imported on first use."""
    import numpy

    return numpy


def codes_of(raw: Sequence[Any]) -> tuple[list[Any], Any]:
    """The distinct values of ``raw`` in first-seen order, and for each item
    of ``raw`` its value's position among them (an ``intp`` array)."""
    np = numpy()
    distinct = list(dict.fromkeys(raw))
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    codes = np.fromiter(map(index.__getitem__, raw), dtype=np.intp, count=len(raw))
    return distinct, codes


def magnitude(numbers: Iterable[int]) -> int:
    """The largest ``abs`` of ``numbers`` (0 for none)."""
    return max(map(abs, numbers), default=0)


def int_array(numbers: Sequence[int], bound: int) -> Any:
    """``numbers`` (Python ints) as an int64 array when ``bound`` (at least the
    sum of the magnitudes the array will take part in) fits int64, else as an
    array of the Python ints themselves."""
    np = numpy()
    if bound <= INT64_MAX:
        return np.fromiter(numbers, dtype=np.int64, count=len(numbers))
    return np.array(numbers, dtype=object)


def widened(array: Any) -> Any:
    """``array`` with Python ints instead of int64 (a copy), for sums past int64."""
    return array if array.dtype == object else array.astype(object)


def sums_by_code(codes: Any, size: int, weights: Any) -> Any:
    """Per code ``0..size-1``, the sum of the ``weights`` (rows, for a 2-d
    array) of the items with that code, in ``weights``' dtype (int64 or
    Python ints: exact; the caller keeps int64 within its bound)."""
    np = numpy()
    out = np.zeros((size, *weights.shape[1:]), dtype=weights.dtype)  # object: int 0s
    np.add.at(out, codes, weights)
    return out


def counts_by_code(codes: Any, size: int) -> Any:
    """Per code ``0..size-1``, how many items have it (int64: exact)."""
    return numpy().bincount(codes, minlength=size).astype(numpy().int64, copy=False)


class KeyedSums:
    """Pairs as columns: ``keys`` (distinct) and ``sums`` (one row per key:
    an int when ``sums`` is 1-d, a list of ints when 2-d), for keys whose
    combiner adds values up element-wise. ``bound`` is at least the sum of the
    magnitudes of every number in ``sums`` (see the module docstring).
    Iterating gives the pairs, Python ints, as a mapper would yield them
    (``dict(iter(sums))``: ``dict(sums)`` would take ``keys`` for a mapping's)."""

    __slots__ = ("bound", "keys", "sums")

    def __init__(self, keys: list[Any], sums: Any, bound: int) -> None:
        if len(keys) != len(sums):
            raise ValueError(f"{len(keys)} keys but {len(sums)} rows of sums")
        self.keys = keys
        self.sums = sums
        self.bound = bound

    @property
    def shape(self) -> tuple[int, ...]:
        """What one key's value is: ``()`` an int, ``(n,)`` a list of n ints."""
        return tuple(self.sums.shape[1:])

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[KV]:
        return zip(self.keys, self.sums.tolist(), strict=True)

    def rekeyed(self, convert: Callable[[Any], Any]) -> KeyedSums:
        """The sums by ``convert(key)`` instead (each key converted once), the
        rows of keys that convert alike added up."""
        return regrouped(list(map(convert, self.keys)), self.sums, self.bound)

    def pop(self, key: Any) -> Any:
        """Remove ``key`` and give its row (``None`` if absent)."""
        if key not in self.keys:
            return None
        at = self.keys.index(key)
        row = self.sums[at].tolist()
        keep = numpy().ones(len(self.keys), dtype=bool)
        keep[at] = False
        del self.keys[at]
        self.sums = self.sums[keep]
        return row


def regrouped(keys: list[Any], sums: Any, bound: int) -> KeyedSums:
    """``KeyedSums`` of ``keys`` (maybe repeated) and their rows of ``sums``:
    the rows of equal keys added up."""
    distinct, codes = codes_of(keys)
    if len(distinct) == len(keys):
        return KeyedSums(keys, sums, bound)
    return KeyedSums(distinct, sums_by_code(codes, len(distinct), sums), bound)


def stacked(columns: Sequence[Any]) -> Any:
    """1-d arrays of one length side by side as a 2-d array (Python ints if
    any column has them)."""
    np = numpy()
    if any(column.dtype == object for column in columns):
        columns = [widened(column) for column in columns]
    return np.column_stack(columns) if columns else np.zeros((0, 0), dtype=np.int64)


# -- a batch's columns -------------------------------------------------------------


def converted_ints(
    raw: Sequence[Any], convert: Callable[[Any], int | None] | None
) -> tuple[Any, int, int]:
    """Every record's number from a raw column (``convert`` of each distinct
    raw value once, a missing number as 0): the array (int64 when the numbers'
    magnitudes add up to at most ``INT64_MAX``, else Python ints), that sum's
    bound, and how many records had none."""
    distinct, codes = codes_of(raw)
    numbers: list[Any] = list(distinct) if convert is None else list(map(convert, distinct))
    missing = 0
    if None in numbers:
        absent = [number is None for number in numbers]
        missing = int(counts_by_code(codes, len(distinct))[absent].sum())
        numbers = [0 if number is None else number for number in numbers]
    bound = magnitude(numbers) * len(raw)
    return int_array(numbers, bound)[codes], bound, missing


def counts_and_sums(keys: Sequence[Any], weights: Any, bound: int) -> KeyedSums:
    """Per distinct key of ``keys`` (one per record), ``[records, sum of the
    records' weights]``; ``bound`` bounds the weights' magnitudes' sum."""
    distinct, codes = codes_of(keys)
    counts = counts_by_code(codes, len(distinct))
    totals = sums_by_code(codes, len(distinct), weights)
    return KeyedSums(distinct, stacked([counts, totals]), bound + len(keys))


def total(array: Any) -> int:
    """The sum of a 1-d array as a Python int (exact in int64 within its bound)."""
    return int(array.sum()) if array.dtype != object else sum(array.tolist())


class Chunks:
    """A batch's pairs in parts, some of them ``KeyedSums``: iterating gives
    every pair (what ``map_columns`` promises); the map side takes the
    ``KeyedSums`` as they are (``MapSide``)."""

    __slots__ = ("chunks",)

    def __init__(self, *chunks: Iterable[KV]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[KV]:
        return chain.from_iterable(self.chunks)
