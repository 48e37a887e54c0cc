"""``access_report``: the composite job behind the HTML report and the benchmark.

One pass over an access log gives status counts, requests and bytes per path,
requests/errors/bytes (and response-size percentiles) per tumbling window, and
the totals, as namespaced result keys::

    status:<code>        -> int
    path:<path>          -> {"count", "bytes"}
    window:<ISO start>   -> {"count", "errors", "bytes"} (+ "p50", "p95", "p99", "sketch")
    total                -> {"count", "bytes", "errors"}

It maps whole batches (``Job.map_batch``): per batch, each field is read with
one ``map`` over the records and counted with ``Counter``; only the bytes per
path and per window take a Python loop. Errors are 4xx/5xx statuses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import compress
from typing import Any

from logmr.formats.base import Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView, top_n
from logmr.jobs.params import Param, boolean, duration_seconds, positive_int
from logmr.jobs.timewindows import TZ_PARAM, is_error_status, time_getter, window_name
from logmr.mapreduce import key_text
from logmr.sketches import merge_quantiles, quantiles_of, quantiles_text

STATUS, PATH, WINDOW, TOTAL = "status:", "path:", "window:", "total"


def _sum_columns(values: list[list[int]], columns: int) -> list[int]:
    return [sum(value[i] for value in values) for i in range(columns)]


@register
class AccessReport(Job):
    name = "access_report"
    description = (
        "status mix, top paths, requests/errors/bytes (and response-size percentiles)"
        " per window, and totals, in one pass"
    )
    params = (
        Param("top", positive_int, "20", "how many paths the summary keeps"),
        Param("window", duration_seconds, "1h", "window size: 30s, 5m, 1h, 1d, ..."),
        TZ_PARAM,
        Param("percentiles", boolean, "true", "p50/p95/p99 of response bytes per window"),
    )

    def bind(self, fmt: Format) -> None:
        for field in ("status", "path", "bytes"):
            self.fields[field] = fmt.getter(field)
        self.fields["time"] = time_getter(fmt, self.options["tz"])
        self.time_field = "epoch" if self.options["tz"] == "utc" else "local_time"
        self.format = fmt

    # -- map side -------------------------------------------------------------
    def mapper(self, record: Any) -> Iterator[KV]:
        yield from self.map_batch([record])

    def map_batch(self, records: list[Any]) -> Iterable[KV]:
        values = self.format.values  # each distinct raw value converted once
        status_list = values("status", records)
        statuses = Counter(status_list)
        errors_by_status = {s: is_error_status(s) for s in statuses if s is not None}
        missing_status = statuses.pop(None, 0)
        if missing_status:
            self.count("no_status", missing_status)
        sizes = values("bytes", records)
        if None in sizes:
            self.count("no_bytes", sizes.count(None))
            sizes = [size or 0 for size in sizes]
        paths = values("path", records)
        window: int = self.options["window"]
        whens = values(self.time_field, records)
        start_of = {
            when: None if when is None else int(when // window) * window for when in set(whens)
        }
        starts = list(map(start_of.__getitem__, whens))
        is_error = list(map(errors_by_status.get, status_list))

        path_bytes: defaultdict[Any, int] = defaultdict(int)
        window_bytes: defaultdict[Any, int] = defaultdict(int)
        window_sizes: defaultdict[Any, list[int]] = defaultdict(list)
        if self.options["percentiles"]:
            for path, start, size in zip(paths, starts, sizes, strict=True):
                path_bytes[path] += size
                window_bytes[start] += size
                window_sizes[start].append(size)
        else:
            for path, start, size in zip(paths, starts, sizes, strict=True):
                path_bytes[path] += size
                window_bytes[start] += size

        for status, count in statuses.items():
            yield STATUS + key_text(status), count
        path_counts = Counter(paths)
        no_path = path_counts.pop(None, 0)
        if no_path:
            self.count("no_path", no_path)
        for path, count in path_counts.items():
            yield PATH + key_text(path), [count, path_bytes[path]]
        window_counts = Counter(starts)
        window_errors = Counter(compress(starts, is_error))
        no_time = window_counts.pop(None, 0)
        if no_time:
            self.count("no_time", no_time)
        for start, count in window_counts.items():
            sketch = quantiles_text(quantiles_of(window_sizes[start])) if window_sizes else None
            yield f"{WINDOW}{start}", [count, window_errors[start], window_bytes[start], sketch]
        errors = sum(count for status, count in statuses.items() if errors_by_status[status])
        yield TOTAL, [len(status_list), sum(sizes), errors]

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        if key.startswith(STATUS):
            yield key, sum(values)
        elif key.startswith(PATH):
            yield key, _sum_columns(values, 2)
        elif key.startswith(WINDOW):
            sketches = [value[3] for value in values if value[3] is not None]
            merged = quantiles_text(merge_quantiles(sketches)) if sketches else None
            yield key, [*_sum_columns(values, 3), merged]
        else:
            yield key, _sum_columns(values, 3)

    # -- reduce side ------------------------------------------------------------
    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        for out_key, value in self.combiner(key, values):
            if key.startswith(STATUS):
                yield out_key, value
            elif key.startswith(PATH):
                yield out_key, {"count": value[0], "bytes": value[1]}
            elif key.startswith(WINDOW):
                yield self._window_row(key, value)
            else:
                yield out_key, {"count": value[0], "bytes": value[1], "errors": value[2]}

    def _window_row(self, key: str, value: list[Any]) -> KV:
        start = int(key[len(WINDOW) :])
        row: dict[str, Any] = {"count": value[0], "errors": value[1], "bytes": value[2]}
        if value[3] is not None:
            sketch = merge_quantiles([value[3]])
            for name, rank in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                row[name] = sketch.get_quantile(rank, True)
            row["sketch"] = value[3]
        return WINDOW + window_name(start, self.options["tz"]), row

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        total = results.get(TOTAL) or {"count": 0, "bytes": 0, "errors": 0}
        status: dict[str, int] = {}
        paths: list[tuple[str, Any]] = []
        windows: list[list[Any]] = []
        for key, value in results:
            if key.startswith(STATUS):
                status[key[len(STATUS) :]] = value
            elif key.startswith(PATH):
                paths.append((key[len(PATH) :], value))
            elif key.startswith(WINDOW):
                quantiles = [value["p50"], value["p95"], value["p99"]] if "p50" in value else None
                windows.append([key[len(WINDOW) :], value["count"], value["errors"], quantiles])
        windows.sort()
        return {
            "requests": total["count"],
            "bytes": total["bytes"],
            "errors": total["errors"],
            "status": dict(sorted(status.items())),
            "top_paths": [
                [path, value["count"], value["bytes"]]
                for path, value in top_n(paths, self.options["top"])
            ],
            "distinct_paths": len(paths),
            "windows": windows,
        }
