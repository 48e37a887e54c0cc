"""Sketch jobs: percentiles (KLL) and distinct counts (HyperLogLog) per window.

The mapper emits plain observations; the combiner folds them (and earlier
sketches) into one sketch per key in its versioned text form
(``logmr.jobs.sketches``), so a map task ships one small sketch per window.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from logmr.formats.base import CANONICAL_FIELDS, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView
from logmr.jobs.builtin import _text
from logmr.jobs.params import Param
from logmr.jobs.sketches import (
    HLL_RSE,
    KLL_RANK_ERROR,
    distinct_estimate,
    distinct_from_text,
    distinct_text,
    merge_distinct,
    merge_quantiles,
    new_distinct,
    quantiles_summary,
    quantiles_text,
)
from logmr.jobs.timewindows import TZ_PARAM, WHOLE_JOB, time_getter, window_name, window_or_whole

#: canonical fields holding numbers a percentile makes sense of
NUMERIC_FIELDS = ("bytes", "latency")


class _Windowed(Job):
    """A job keyed by window start (or one key for the whole job) whose mapper
    emits, per record, the ``field`` parameter's value made into what its
    sketch takes (``sketch_value``)."""

    shown_as = "series"

    def configure(self) -> None:
        self.window: int = self.options["window"]

    def bind(self, fmt: Format) -> None:
        self.fields["value"] = fmt.getter(self.options["field"])
        if self.window:
            self.fields["time"] = time_getter(fmt, self.options["tz"])

    def sketch_value(self, value: Any) -> Any:
        raise NotImplementedError

    def mapper(self, record: Any) -> Iterator[KV]:
        value = self.fields["value"](record)
        if value is None:
            self.count(f"no_{self.options['field']}")
            return
        key = self.window_key(record)
        if key is not None:
            yield key, self.sketch_value(value)

    def window_key(self, record: Any) -> int | str | None:
        """The window start of ``record`` (``None``: no time), or ``all``."""
        if not self.window:
            return WHOLE_JOB
        when = self.fields["time"](record)
        if when is None:
            self.count("no_time")
            return None
        return int(when // self.window) * self.window

    def window_label(self, key: Any) -> str:
        return WHOLE_JOB if key == WHOLE_JOB else window_name(int(key), self.options["tz"])


@register
class Percentiles(_Windowed):
    name = "percentiles"
    description = (
        "count, min, max, p50/p90/p95/p99 of a numeric field per window (KLL sketch,"
        f" rank error {KLL_RANK_ERROR:.2%})"
    )
    params = (
        Param(
            "field",
            str,
            "bytes",
            "the numeric field: response bytes or latency (seconds)",
            choices=NUMERIC_FIELDS,
        ),
        Param("window", window_or_whole, "5m", "window size (30s, 5m, 1h, ...) or all"),
        TZ_PARAM,
    )

    def sketch_value(self, value: Any) -> float:
        return float(value)

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, quantiles_text(merge_quantiles(values))

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        sketch = merge_quantiles(values)
        yield (
            self.window_label(key),
            {**quantiles_summary(sketch), "sketch": quantiles_text(sketch)},
        )

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        whole = merge_quantiles(value["sketch"] for _, value in results)
        return {
            "field": self.options["field"],
            "windows": len(results),
            "rank_error": KLL_RANK_ERROR,
            "overall": quantiles_summary(whole),
        }


def _merge_counted(values: list[Any]) -> tuple[int, Any]:
    """Records and one HLL sketch from raw values (text) and ``{"count", "sketch"}``."""
    records = 0
    raw = new_distinct()
    sketches = [raw]
    for value in values:
        if isinstance(value, dict):
            records += value["count"]
            sketches.append(distinct_from_text(value["sketch"]))
        else:
            records += 1
            raw.update(value)
    return records, merge_distinct(sketches)


@register
class DistinctCount(_Windowed):
    name = "distinct_count"
    description = (
        "distinct values of a field per window (HyperLogLog,"
        f" relative standard error {HLL_RSE:.2%}) and over the whole job"
    )
    params = (
        Param(
            "field",
            str,
            "client",
            "the field whose distinct values are counted",
            choices=tuple(sorted(CANONICAL_FIELDS - {"epoch", "local_time"})),
        ),
        Param("window", window_or_whole, WHOLE_JOB, "window size (30s, 5m, 1h, ...) or all"),
        TZ_PARAM,
    )

    def sketch_value(self, value: Any) -> str:
        return _text(value)

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        records, sketch = _merge_counted(values)
        yield key, {"count": records, "sketch": distinct_text(sketch)}

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        records, sketch = _merge_counted(values)
        yield (
            self.window_label(key),
            {"count": records, **distinct_estimate(sketch), "sketch": distinct_text(sketch)},
        )

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        records = [0]

        def sketches() -> Iterator[Any]:  # merged as they come: one at a time in memory
            for _, value in results:
                records[0] += value["count"]
                yield distinct_from_text(value["sketch"])

        merged = merge_distinct(sketches())
        return {
            "field": self.options["field"],
            "windows": len(results),
            "records": records[0],
            "rse": HLL_RSE,
            **distinct_estimate(merged),
        }
