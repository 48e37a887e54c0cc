"""A query's ``stats`` functions as mergeable partial aggregates.

Each aggregate keeps a fixed number of *slots* in a group's state (a flat
list of JSON values, so that states travel in the shuffle as they are):

============== ====== ========================================================
count(*)       1      records
count(f)       1      records with ``f``
sum, avg       2      values, their sum (ints: exact Python ints)
min, max       1      the smallest / largest value (``None``: none yet)
stddev         3      values, sum, sum of squares (floats)
pct(f, p)      1      a KLL sketch (text form), a value, or ``None``
count_distinct 1      an HLL sketch (text form), or ``None``
earliest       2      time and value of the earliest record with ``f``
latest         2      time and value of the latest
============== ====== ========================================================

``batch`` computes the slots of every group of a batch at once (numpy over
the batch's rows, a sketch per group updated in one C call); ``one`` the
slots of one record (the per-record path); ``merge`` folds states (the
combiner and reducer); ``final`` gives the column's value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from logmr.jobs.queryexpr import Compiled, number_of, text_of, timestamp_text
from logmr.jobs.sketches import (
    distinct_from_text,
    distinct_text,
    merge_distinct,
    merge_quantiles,
    new_distinct,
    quantiles_from_text,
    quantiles_of,
    quantiles_text,
)
from logmr.jobs.sums import int_array, magnitude, numpy, sums_by_code

WIDTH = {
    "count": 1,
    "sum": 2,
    "avg": 2,
    "min": 1,
    "max": 1,
    "stddev": 3,
    "pct": 1,
    "count_distinct": 1,
    "earliest": 2,
    "latest": 2,
}
#: aggregates whose slots add up element-wise (a batch of them is ``KeyedSums``)
ADDITIVE = frozenset({"count", "sum", "avg"})


@dataclass
class Aggregate:
    name: str
    kind: str
    arg: Compiled | None  # None: count(*)
    rank: float = 0.0  # pct: the normalized rank, 0..1
    when: Compiled | None = None  # earliest/latest: the record's time
    shows_time: bool = False  # min/max/earliest/latest of a time: shown as one

    @property
    def width(self) -> int:
        return WIDTH[self.kind]

    # -- one record ------------------------------------------------------------
    def one(self, value: Any, when: Any) -> list[Any]:
        kind = self.kind
        if kind == "count":
            return [1 if self.arg is None or value is not None else 0]
        number = number_of(value) if kind not in ("count_distinct", "earliest", "latest") else None
        if kind in ("sum", "avg"):
            return [0, 0] if number is None else [1, number]
        if kind in ("min", "max", "pct"):
            return [number]
        if kind == "stddev":
            return [0, 0.0, 0.0] if number is None else [1, float(number), float(number) ** 2]
        if kind == "count_distinct":
            if value is None:
                return [None]
            sketch = new_distinct()
            sketch.update(text_of(value))
            return [distinct_text(sketch)]
        stamp = number_of(when)
        if value is None or stamp is None:
            return [None, None]
        return [float(stamp), _shown(value)]

    # -- a batch ---------------------------------------------------------------
    def batch(
        self,
        groups: Any,
        size: int,
        values: list[Any] | None,
        codes: Any,
        times: Any = None,
    ) -> tuple[list[Any], bool, int]:
        """The slot columns (each a numpy array or list of ``size`` items) of
        the rows whose group codes are ``groups``, their argument's values
        being ``values[codes]``; whether they are int arrays that add up, and
        the bound of their magnitudes' sum (``jobs.sums``)."""
        np = numpy()
        kind = self.kind
        if kind == "count" and self.arg is None:
            return [np.bincount(groups, minlength=size).astype(np.int64)], True, len(groups)
        assert values is not None
        present_d = np.fromiter((v is not None for v in values), bool, len(values))
        if kind == "count":
            present = present_d[codes]
            counts = np.bincount(groups[present], minlength=size).astype(np.int64)
            return [counts], True, len(groups)
        if kind == "count_distinct":
            return [_distinct_per_group(groups, size, values, codes, present_d)], False, 0
        if kind in ("earliest", "latest"):
            found = _first_per_group(
                self,
                groups,
                size=size,
                values=values,
                codes=codes,
                present_d=present_d,
                times=times,
            )
            return found, False, 0
        numbers = [number_of(v) for v in values]
        present_d = np.fromiter((n is not None for n in numbers), bool, len(numbers))
        present = present_d[codes]
        g = groups[present]
        picked = codes[present]
        ints = all(type(n) is int for n in numbers if n is not None)
        if kind in ("sum", "avg"):
            counts = np.bincount(g, minlength=size).astype(np.int64)
            if ints:
                filled = [0 if n is None else int(n) for n in numbers]
                bound = magnitude(filled) * len(picked)
                sums = sums_by_code(g, size, int_array(filled, bound)[picked])
                return [counts, sums], True, bound + len(groups)
            floats = np.array([math.nan if n is None else n for n in numbers], np.float64)
            return [counts, np.bincount(g, weights=floats[picked], minlength=size)], False, 0
        floats = np.array([math.nan if n is None else float(n) for n in numbers], np.float64)
        if kind == "stddev":
            row = floats[picked]
            return (
                [
                    np.bincount(g, minlength=size),
                    np.bincount(g, weights=row, minlength=size),
                    np.bincount(g, weights=row * row, minlength=size),
                ],
                False,
                0,
            )
        if kind == "pct":
            return [_sketch_per_group(g, size, floats[picked])], False, 0
        # min / max: exact for ints (an int64 array when they fit), else floats
        counts = np.bincount(g, minlength=size)
        fits = ints and all(n is None or abs(n) < 2**62 for n in numbers)
        row = (
            np.array([0 if n is None else n for n in numbers], np.int64)[picked]
            if fits
            else floats[picked]
        )
        if kind == "min":
            out = np.full(size, np.iinfo(np.int64).max if fits else np.inf, row.dtype)
            np.minimum.at(out, g, row)
        else:
            out = np.full(size, np.iinfo(np.int64).min if fits else -np.inf, row.dtype)
            np.maximum.at(out, g, row)
        extremes = out.tolist()
        return (
            [[x if n else None for x, n in zip(extremes, counts.tolist(), strict=True)]],
            False,
            0,
        )

    # -- merging and the result ------------------------------------------------
    def merge(self, states: Sequence[list[Any]]) -> list[Any]:
        kind = self.kind
        if kind in ADDITIVE or kind == "stddev":
            return [sum(column) for column in zip(*states, strict=True)]
        if kind in ("min", "max"):
            found = [state[0] for state in states if state[0] is not None]
            return [(min if kind == "min" else max)(found) if found else None]
        if kind == "pct":
            found = [state[0] for state in states if state[0] is not None]
            return [quantiles_text(merge_quantiles(found)) if found else None]
        if kind == "count_distinct":
            texts = [state[0] for state in states if state[0] is not None]
            if len(texts) <= 1:
                return [texts[0] if texts else None]
            return [distinct_text(merge_distinct(map(distinct_from_text, texts)))]
        stamped = [state for state in states if state[0] is not None]
        if not stamped:
            return [None, None]
        order = [(state[0], _tie(state[1])) for state in stamped]
        pick = min if kind == "earliest" else max
        return list(stamped[order.index(pick(order))])

    def final(self, state: list[Any]) -> Any:
        kind = self.kind
        if kind == "count":
            return state[0]
        if kind == "sum":
            return state[1] if state[0] else None
        if kind == "avg":
            return state[1] / state[0] if state[0] else None
        if kind in ("min", "max"):
            value = state[0]
            return timestamp_text(value) if self.shows_time and value is not None else value
        if kind == "stddev":
            count, total, squares = state
            if count < 2:
                return None
            return math.sqrt(max(squares - total * total / count, 0.0) / (count - 1))
        if kind == "pct":
            if state[0] is None:
                return None
            sketch = (
                quantiles_from_text(state[0])
                if isinstance(state[0], str)
                else merge_quantiles([state[0]])
            )
            return sketch.get_quantile(self.rank, True)
        if kind == "count_distinct":
            return 0 if state[0] is None else round(distinct_from_text(state[0]).get_estimate())
        value = state[1]
        return timestamp_text(value) if self.shows_time and value is not None else value


def _shown(value: Any) -> Any:
    """An earliest/latest value as kept: numbers as they are, the rest as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return text_of(value)


def _tie(value: Any) -> tuple[int, Any]:
    """The order among values of one time: numbers, then texts."""
    if isinstance(value, int | float):
        return (0, value)
    return (1, "" if value is None else value)


def _sketch_per_group(groups: Any, size: int, values: Any) -> list[str | None]:
    """A KLL sketch (text) of each group's values, each filled in one C call."""
    np = numpy()
    order = np.argsort(groups, kind="stable")
    ends = np.cumsum(np.bincount(groups, minlength=size)).tolist()
    ordered = values[order]
    out: list[str | None] = []
    start = 0
    for end in ends:
        out.append(quantiles_text(quantiles_of(ordered[start:end])) if end > start else None)
        start = end
    return out


def _distinct_per_group(
    groups: Any, size: int, values: list[Any], codes: Any, present_d: Any
) -> list[str | None]:
    """An HLL sketch (text) of each group's distinct values: each distinct
    (group, value) pair of the batch entered once."""
    np = numpy()
    present = present_d[codes]
    pairs = np.unique(groups[present].astype(np.int64) * len(values) + codes[present])
    sketches: list[Any] = [None] * size
    texts = [text_of(v) for v in values]
    for group, code in zip(
        (pairs // len(values)).tolist(), (pairs % len(values)).tolist(), strict=True
    ):
        sketch = sketches[group]
        if sketch is None:
            sketch = sketches[group] = new_distinct()
        sketch.update(texts[code])
    return [None if sketch is None else distinct_text(sketch) for sketch in sketches]


def _first_per_group(
    agg: Aggregate,
    groups: Any,
    *,
    size: int,
    values: list[Any],
    codes: Any,
    present_d: Any,
    times: Any,
) -> list[list[Any]]:
    """earliest/latest: per group the (time, value) that is least (greatest)
    by time then value (``_tie``), as ``merge`` picks."""
    np = numpy()
    shown = [_shown(v) for v in values]
    ranks_d = np.empty(len(values), np.int64)
    ranks_d[sorted(range(len(values)), key=lambda i: _tie(shown[i]))] = np.arange(len(values))
    keep = present_d[codes] & ~np.isnan(times)
    g, c, t = groups[keep], codes[keep], times[keep]
    when: list[Any] = [None] * size
    what: list[Any] = [None] * size
    if len(g):
        order = np.lexsort((ranks_d[c], t, g))
        g_sorted = g[order]
        if agg.kind == "earliest":
            picks = order[np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])]
        else:
            picks = order[np.flatnonzero(np.r_[g_sorted[1:] != g_sorted[:-1], True])]
        for at in picks.tolist():
            when[int(g[at])] = float(t[at])
            what[int(g[at])] = shown[int(c[at])]
    return [when, what]
