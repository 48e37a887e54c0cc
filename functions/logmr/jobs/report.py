"""``access_report``: the composite job behind the HTML report and the benchmark.

One pass over an access log gives status counts, requests and bytes per path,
requests/errors/bytes (and response-size percentiles) per tumbling window, and
the totals, as namespaced result keys::

    status:<code>        -> int
    path:<path>          -> {"count", "bytes"}
    window:<ISO start>   -> {"count", "errors", "bytes"} (+ "p50", "p95", "p99", "sketch")
    total                -> {"count", "bytes", "errors"}

``windows=false`` leaves the windows out and the time field unread (the
question of status mix, top paths and bytes alone: one capture fewer per line
and no time conversions).

It maps whole batches as columns (``Job.map_columns``): per batch, each field
comes as one list (from one ``findall`` over the text for the access formats).
With windows, statuses are counted with ``Counter``, requests and times are
grouped by their raw bytes before each distinct one is turned into a path or
a window, and only the bytes per request and the sizes per time take a Python
loop. Without, the distinct raw (status, size, request) rows are counted with
``Counter`` and the loop runs over those. Errors are 4xx/5xx statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from logmr.formats.base import Column, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView, key_text, top_n
from logmr.jobs.params import Param, boolean, duration_seconds, positive_int
from logmr.jobs.sketches import merge_quantiles, quantiles_of, quantiles_text
from logmr.jobs.sums import (
    Chunks,
    KeyedSums,
    codes_of,
    converted_ints,
    counts_and_sums,
    counts_by_code,
    numpy,
    sums_by_code,
    total,
)
from logmr.jobs.timewindows import TZ_PARAM, is_error_status, window_name

STATUS, PATH, WINDOW, TOTAL = "status:", "path:", "window:", "total"


def _prefixed(prefix: str, convert: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A raw value's key: ``prefix`` and its (converted) text; ``None`` stays ``None``."""

    def key(raw: Any) -> str | None:
        value = raw if convert is None else convert(raw)
        return None if value is None else prefix + key_text(value)

    return key


def _sum_columns(values: list[list[int]], columns: int) -> list[int]:
    return [sum(value[i] for value in values) for i in range(columns)]


@register
class AccessReport(Job):
    name = "access_report"
    shown_as = "report"
    description = (
        "status mix, top paths, requests/errors/bytes (and response-size percentiles)"
        " per window, and totals, in one pass"
    )
    adds_up = True  # its windows' values hold a sketch (or None): those are merged as they are
    params = (
        Param("top", positive_int, "20", "how many paths the summary keeps"),
        Param("window", duration_seconds, "1h", "window size: 30s, 5m, 1h, 1d, ..."),
        TZ_PARAM,
        Param("percentiles", boolean, "true", "p50/p95/p99 of response bytes per window"),
        Param("windows", boolean, "true", "the per-window rows (false: the time is not read)"),
    )

    def bind(self, fmt: Format) -> None:
        clock = "epoch" if self.options["tz"] == "utc" else "local_time"
        self.columns = ("status", "bytes", "path", clock)
        if not self.options["windows"]:
            self.columns = self.columns[:3]
        for field in self.columns:
            self.fields[field] = fmt.getter(field)

    # -- map side -------------------------------------------------------------
    def mapper(self, record: Any) -> Iterator[KV]:
        """One record's pairs (what ``map_columns`` adds up per batch)."""
        status = self.fields["status"](record)
        size = self.fields["bytes"](record)
        path = self.fields["path"](record)
        if status is None:
            self.count("no_status")
        else:
            yield STATUS + key_text(status), 1
        if size is None:
            self.count("no_bytes")
            size = 0
        error = 1 if status is not None and is_error_status(status) else 0
        yield TOTAL, [1, size, error]
        if path is None:
            self.count("no_path")
        else:
            yield PATH + key_text(path), [1, size]
        if len(self.columns) > 3:
            when = self.fields[self.columns[3]](record)
            if when is None:
                self.count("no_time")
                return
            window: int = self.options["window"]
            start = int(when // window) * window
            sketch = quantiles_text(quantiles_of([size])) if self.options["percentiles"] else None
            yield f"{WINDOW}{start}", [1, error, size, sketch]

    def map_columns(self, columns: list[Column]) -> Chunks:
        """Per batch, in C (``jobs.sums``): records per raw status, records and
        bytes per raw request (and records, errors and bytes per raw time);
        then each distinct raw value turned into its status, path (or window)
        once and the sums of those alike added up."""
        status_column, size_column, path_column, *time_columns = columns
        sizes, bound, no_bytes = converted_ints(size_column.raw, size_column.convert)
        raw_statuses, status_codes = codes_of(status_column.raw)
        status_counts = counts_by_code(status_codes, len(raw_statuses))
        statuses = KeyedSums(raw_statuses, status_counts, len(status_codes)).rekeyed(
            status_column.value
        )
        missing_status = statuses.pop(None) or 0
        if missing_status:
            self.count("no_status", missing_status)
        if no_bytes:
            self.count("no_bytes", no_bytes)
        erring = [is_error_status(status) for status in statuses.keys]
        errors = total(statuses.sums[erring]) if any(erring) else 0
        records = len(status_codes)
        chunks: list[Iterable[KV]] = [
            statuses.rekeyed(_prefixed(STATUS)),
            [(TOTAL, [records, total(sizes), errors])],
        ]
        paths = counts_and_sums(path_column.raw, sizes, bound).rekeyed(
            _prefixed(PATH, path_column.value)
        )
        no_path = paths.pop(None)
        if no_path:
            self.count("no_path", no_path[0])
        chunks.append(paths)
        if time_columns:
            is_error = [
                status is not None and is_error_status(status)
                for status in map(status_column.value, raw_statuses)
            ]
            error_of_record = numpy().array(is_error, dtype=bool)[status_codes]
            chunks.append(self._windows(time_columns[0], sizes, error_of_record))
        return Chunks(*chunks)

    def _windows(self, column: Column, sizes: Any, is_error: Any) -> Iterator[KV]:
        """``window:`` pairs: per window (each distinct raw time turned into
        its window start once) records, errors and bytes added up in C, and
        the sizes' sketch."""
        np = numpy()
        window: int = self.options["window"]

        def start_of(raw: Any) -> int | None:
            when = column.value(raw)
            return None if when is None else int(when // window) * window

        raw_times, time_codes = codes_of(column.raw)
        starts, start_codes = codes_of(list(map(start_of, raw_times)))
        codes = start_codes[time_codes]
        counts = counts_by_code(codes, len(starts)).tolist()
        errors = counts_by_code(codes[is_error], len(starts)).tolist()
        nbytes = sums_by_code(codes, len(starts), sizes).tolist()
        percentiles = self.options["percentiles"]
        if percentiles:
            order = np.argsort(codes, kind="stable")
            cuts = np.cumsum(counts)[:-1]
            by_window = np.split(sizes[order], cuts)
        for at, start in enumerate(starts):
            if start is None:
                self.count("no_time", counts[at])
                continue
            sketch = quantiles_text(quantiles_of(by_window[at])) if percentiles else None
            yield f"{WINDOW}{start}", [counts[at], errors[at], nbytes[at], sketch]

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
        if len(values) == 1 and not key.startswith(WINDOW):  # its one value is its sum
            pairs: Iterable[KV] = [(key, values[0])]
        else:
            pairs = self.combiner(key, values)
        for out_key, value in pairs:
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
        """One pass over the results; of the paths only the top N are kept."""
        totals = [{"count": 0, "bytes": 0, "errors": 0}]
        status: dict[str, int] = {}
        windows: list[list[Any]] = []
        distinct = [0]

        def paths() -> Iterator[tuple[str, Any]]:
            for key, value in results:
                if key.startswith(PATH):
                    distinct[0] += 1
                    yield key[len(PATH) :], value
                elif key.startswith(STATUS):
                    status[key[len(STATUS) :]] = value
                elif key.startswith(WINDOW):
                    name, quantiles = key[len(WINDOW) :], _quantiles(value)
                    windows.append([name, value["count"], value["errors"], quantiles])
                elif key == TOTAL and value:
                    totals[0] = value

        top = top_n(paths(), self.options["top"])
        total = totals[0]
        windows.sort()
        return {
            "requests": total["count"],
            "bytes": total["bytes"],
            "errors": total["errors"],
            "status": dict(sorted(status.items())),
            "top_paths": [[path, value["count"], value["bytes"]] for path, value in top],
            "distinct_paths": distinct[0],
            "windows": windows,
        }


def _quantiles(value: dict[str, Any]) -> list[Any] | None:
    """A window's p50, p95 and p99, when it has them."""
    return [value["p50"], value["p95"], value["p99"]] if "p50" in value else None
