"""Reduce planned after Map: the number of reducers from the distinct keys the
map tasks measured, not from Plan's sample.

Every map task partitions its output into the job's ``buckets`` hash buckets
(``JobSpec.buckets``) and reports its keys in its summary (``TaskKeys``):
the keys themselves when they are few (``LISTED_KEYS_CHARS``), else a
HyperLogLog of them. PlanReduce (``tasks.reduce_planning``) merges them
(``measured_keys``): the job's distinct keys, exactly when every task
listed its keys, else within about 3% (two standard errors,
``jobs.sketches.HLL_RSE``), however the keys repeat across map tasks, and
chooses the reducers with the planner's own rule (``tuning.choose_reducers``:
``KEYS_PER_REDUCER`` keys each on Lambda, at most ``MAX_REDUCERS``; one per
worker on one machine). Reducer ``p`` reads the contiguous group
``partition.bucket_group(p, R, buckets)``: groups of equal bucket counts hold
about equal key counts, since murmur3 spreads distinct keys evenly; a key
whose combined values make one bucket heavy is what salting is for
(``sample.choose_salted_keys``).

What the request gave wins: its ``reducers`` and ``max_concurrency``. When
Plan salted keys, the reducers stay at least Plan's figure: the salted keys
were chosen to spread over that many.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from logmr.errors import CorruptJobDataError
from logmr.jobs.sketches import (
    distinct_estimate,
    distinct_from_text,
    distinct_text,
    merge_distinct,
    new_distinct,
)
from logmr.plan.tuning import Limits, choose_concurrency, choose_reducers

#: a map task lists its keys when their characters (and one a key) add up to
#: at most this, about the size of a sketch's text (2.8 KB); a job with few
#: keys (status codes, levels) then never loads the sketch library (numpy
#: with it: about 0.1 s a process) and is counted exactly
LISTED_KEYS_CHARS = 4096


@dataclass(frozen=True)
class ReducePlan:
    """What PlanReduce decides."""

    reducers: int
    max_concurrency: int
    #: the job's distinct keys, measured: the merged sketch's estimate and its
    #: bounds at two standard deviations
    keys: int
    keys_lower: int
    keys_upper: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "reducers": self.reducers,
            "max_concurrency": self.max_concurrency,
            "keys": self.keys,
            "keys_lower": self.keys_lower,
            "keys_upper": self.keys_upper,
            "reason": self.reason,
        }


class TaskKeys:
    """A map task's keys as its segments give them (``add``, a key maybe in
    several), for its summary (``report``): listed while their characters
    stay within ``LISTED_KEYS_CHARS``, then sketched (a key's repeats count
    once either way), in the order they came."""

    def __init__(self) -> None:
        self.listed: dict[str, None] | None = {}
        self.chars = 0
        self.sketch: Any = None

    def add(self, keys: list[str]) -> None:
        listed = self.listed
        if listed is not None:
            for key in keys:
                if key not in listed:
                    listed[key] = None
                    self.chars += len(key) + 1
                    if self.chars > LISTED_KEYS_CHARS:
                        break
            else:
                return
            self.listed, self.sketch = None, new_distinct()
            self._sketched(listed)
        self._sketched(keys)

    def _sketched(self, keys: Iterable[str]) -> None:
        update = self.sketch.update
        for key in keys:
            update(key)

    def report(self) -> list[str] | str:
        return sorted(self.listed) if self.listed is not None else distinct_text(self.sketch)


def measured_keys(reports: Iterable[Any]) -> dict[str, int]:
    """The distinct keys of the map tasks' key reports (``TaskKeys.report``),
    merged: ``distinct``, ``lower`` and ``upper`` (two standard deviations;
    all three the exact count when every task listed its keys). The reports
    are taken one at a time (a sketch merged as it comes)."""
    listed: set[str] = set()

    def sketches() -> Iterator[Any]:
        for report in reports:
            if isinstance(report, str):
                yield distinct_from_text(report)
            elif isinstance(report, list) and all(isinstance(key, str) for key in report):
                listed.update(report)
            else:
                raise CorruptJobDataError(
                    f"a map task's keys are neither listed nor a sketch: {type(report).__name__}"
                )

    found = sketches()
    first = next(found, None)
    if first is None:  # every task listed its keys: no sketch library loaded
        return {"distinct": len(listed), "lower": len(listed), "upper": len(listed)}
    merged = merge_distinct(chain([first], found))
    for key in listed:
        merged.update(key)
    return distinct_estimate(merged)


def plan_reducers(
    keys: dict[str, int],
    *,
    map_tasks: int,
    buckets: int,
    limits: Limits,
    planned: int,
    salted: bool,
    requested_reducers: int = 0,
    requested_concurrency: int = 0,
) -> ReducePlan:
    """The reducers and the Map states' concurrency for ``keys``
    (``measured_keys``). ``planned``: Plan's figure from the sample;
    ``salted``: Plan salted keys for it; ``requested_*``: the request's
    figures (0: none), which win."""
    if requested_reducers:
        reducers, reason = requested_reducers, "given"
    else:
        reducers, reason = choose_reducers(keys["distinct"], limits)
        reason = f"{reason} (measured after Map)"
        if salted and reducers < planned:
            reducers, reason = planned, f"{reason}; kept at Plan's {planned}: keys are salted"
        if reducers > buckets:
            reducers, reason = buckets, f"{reason}; at most the {buckets} buckets"
    concurrency = requested_concurrency or choose_concurrency(map_tasks, reducers, limits)
    return ReducePlan(
        reducers=reducers,
        max_concurrency=concurrency,
        keys=keys["distinct"],
        keys_lower=keys["lower"],
        keys_upper=keys["upper"],
        reason=reason,
    )
