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

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import compress
from typing import Any

from logmr.formats.base import Column, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView, key_text, top_n
from logmr.jobs.grouping import counted_rows, records_and_bytes, sums_by_value
from logmr.jobs.params import Param, boolean, duration_seconds, positive_int
from logmr.jobs.sketches import merge_quantiles, quantiles_of, quantiles_text
from logmr.jobs.timewindows import TZ_PARAM, is_error_status, window_name

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
        """One record as a batch of one (the definition ``map_columns`` follows)."""
        yield from self.map_columns(
            [Column([self.fields[field](record)]) for field in self.columns]
        )

    def map_columns(self, columns: list[Column]) -> Iterable[KV]:
        """Requests (and times) grouped by their raw bytes first, each distinct
        one turned into its path (or window) once."""
        status_column, size_column, path_column, *time_columns = columns
        if time_columns:
            return self._map_with_windows(status_column, size_column, path_column, time_columns[0])
        return self._map_distinct_rows(status_column, size_column, path_column)

    def _map_distinct_rows(
        self, status_column: Column, size_column: Column, path_column: Column
    ) -> Iterator[KV]:
        """Without windows a record is its raw (status, size, request), and a
        log repeats those (a static file has one size): the distinct ones are
        counted in C, then each is converted and added once."""
        rows = counted_rows(status_column, size_column, path_column)
        requests, no_bytes = records_and_bytes(rows, 2, size_column, 1)
        total_bytes = sum(nbytes for _, nbytes in requests.values())
        raw_statuses: defaultdict[Any, int] = defaultdict(int)
        for (status, _, _), count in rows.items():
            raw_statuses[status] += count
        statuses: Counter[Any] = Counter()
        for raw, count in raw_statuses.items():
            statuses[status_column.value(raw)] += count
        yield from self._totals(statuses, total_bytes, no_bytes)
        yield from self._paths(path_column, requests)

    def _map_with_windows(
        self, status_column: Column, size_column: Column, path_column: Column, time_column: Column
    ) -> Iterator[KV]:
        """Statuses and sizes converted per record; the one Python loop adds
        the bytes per raw request and gathers the sizes per raw time."""
        status_list = status_column.values()
        statuses = Counter(status_list)
        sizes = size_column.values()
        no_bytes = 0
        if None in sizes:
            no_bytes = sizes.count(None)
            sizes = [size or 0 for size in sizes]
        request_bytes: defaultdict[Any, int] = defaultdict(int)
        time_sizes: defaultdict[Any, list[int]] = defaultdict(list)
        for request, when, size in zip(path_column.raw, time_column.raw, sizes, strict=True):
            request_bytes[request] += size
            time_sizes[when].append(size)
        errors_by_status = {s: s is not None and is_error_status(s) for s in statuses}
        yield from self._totals(statuses, sum(sizes), no_bytes)
        requests = {
            raw: [count, request_bytes[raw]] for raw, count in Counter(path_column.raw).items()
        }
        yield from self._paths(path_column, requests)
        is_error = map(errors_by_status.get, status_list)
        yield from self._windows(
            time_column, time_sizes, Counter(compress(time_column.raw, is_error))
        )

    def _totals(self, statuses: Counter[Any], total_bytes: int, no_bytes: int) -> Iterator[KV]:
        """``status:`` pairs and the ``total``; records without a status or a
        size are counted (the size as 0)."""
        missing_status = statuses.pop(None, 0)
        if missing_status:
            self.count("no_status", missing_status)
        if no_bytes:
            self.count("no_bytes", no_bytes)
        errors = 0
        for status, count in statuses.items():
            yield STATUS + key_text(status), count
            if is_error_status(status):
                errors += count
        yield TOTAL, [sum(statuses.values()) + missing_status, total_bytes, errors]

    def _paths(self, column: Column, requests: dict[Any, list[int]]) -> Iterator[KV]:
        """``path:`` pairs from the records and bytes per raw request."""
        stats = sums_by_value(column, requests)
        no_path = stats.pop(None, None)
        if no_path:
            self.count("no_path", no_path[0])
        for path, value in stats.items():
            yield PATH + key_text(path), value

    def _windows(
        self, column: Column, raw_sizes: dict[Any, list[int]], raw_errors: Counter[Any]
    ) -> Iterator[KV]:
        """``window:`` pairs from the sizes and errors per raw time."""
        window: int = self.options["window"]
        counts: dict[Any, list[int]] = {}  # start -> [records, errors, bytes]
        sizes: dict[Any, list[int]] = {}
        for raw, found in raw_sizes.items():
            when = column.value(raw)
            start = None if when is None else int(when // window) * window
            total = counts.get(start)
            if total is None:
                counts[start] = [len(found), raw_errors[raw], sum(found)]
                sizes[start] = list(found)
            else:
                total[0] += len(found)
                total[1] += raw_errors[raw]
                total[2] += sum(found)
                sizes[start].extend(found)
        no_time = counts.pop(None, None)
        if no_time:
            self.count("no_time", no_time[0])
        percentiles = self.options["percentiles"]
        for start, (count, errors, nbytes) in counts.items():
            sketch = quantiles_text(quantiles_of(sizes[start])) if percentiles else None
            yield f"{WINDOW}{start}", [count, errors, nbytes, sketch]

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
