"""Helpers of column jobs (``Job.map_columns``): aggregate a batch by its raw
values, in C where possible, and convert each distinct raw value once.

A log repeats its raw values a lot (a request line, a status, a static file's
size), so a batch's rows are first counted with ``Counter(zip(...))`` over the
columns, and the Python loops run over the distinct rows only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from logmr.formats.base import Column


def counted_rows(*columns: Column) -> Counter[tuple[Any, ...]]:
    """How many records have each distinct tuple of raw values of ``columns``."""
    return Counter(zip(*(column.raw for column in columns), strict=True))


def records_and_bytes(
    rows: Mapping[tuple[Any, ...], int], key_at: int, sizes: Column, size_at: int
) -> tuple[dict[Any, list[int]], int]:
    """Per raw value at ``key_at`` of ``rows`` (``counted_rows``), its records
    and the sum of their sizes, the size being the value of ``sizes`` of the raw
    value at ``size_at`` (a missing size adds 0); and the records without a size."""
    size_of = {raw: sizes.value(raw) for raw in set(map(itemgetter(size_at), rows))}
    by_raw: dict[Any, list[int]] = {}
    no_size = 0
    for row, count in rows.items():
        size = size_of[row[size_at]]
        if size is None:
            no_size += count
            size = 0
        found = by_raw.get(row[key_at])
        if found is None:
            by_raw[row[key_at]] = [count, size * count]
        else:
            found[0] += count
            found[1] += size * count
    return by_raw, no_size


def sums_by_value(column: Column, by_raw: Mapping[Any, list[int]]) -> dict[Any, list[int]]:
    """Sums kept per raw value of ``column`` (``[records, bytes]`` per raw
    request), keyed by each raw's value instead (its path): one conversion per
    distinct raw value, the sums of raw values with the same value added up."""
    by_value: dict[Any, list[int]] = {}
    for raw, sums in by_raw.items():
        value = column.value(raw)
        found = by_value.get(value)
        if found is None:
            by_value[value] = list(sums)
        else:
            for i, amount in enumerate(sums):
                found[i] += amount
    return by_value
