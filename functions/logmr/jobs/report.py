"""``access_report``: the composite job behind the HTML report and the benchmark.

One pass over an access log gives status counts, requests and bytes per path,
requests/errors/bytes (and response-size percentiles) per tumbling window, and
the totals, as namespaced result keys::

    status:<code>        -> int
    path:<path>          -> {"count", "bytes"}
    window:<ISO start>   -> {"count", "errors", "bytes"} (+ "p50", "p95", "p99", "sketch")
    total                -> {"count", "bytes", "errors"}

and, with ``panels=true`` (the default), GoAccess's panels, each for the
fields the format has (``apache_common`` has no referer nor user agent)::

    client:<address>     -> int      requests per client
    referer:<referer>    -> int      requests per Referer header as written (``-``: none)
    agent:<user agent>   -> int      requests per User-Agent header
    method:<method>      -> int      requests per method
    notfound:<path>      -> int      requests answered 404, per path
    kind:static, kind:dynamic -> {"count", "bytes"}

A path is *static* when its last segment ends in one of ``STATIC_EXTENSIONS``
(compared lower-cased, the query string and fragment cut off: ``/a/app.JS?v=3``
is static, ``/products/12`` and ``/`` are dynamic). A record without a path
is neither.

``windows=false`` leaves the windows out and the time field unread (the
question of status mix, top paths and bytes alone: one capture fewer per line
and no time conversions).

It maps whole batches as columns (``Job.map_columns``): per batch, each field
comes as one list (from one ``findall`` over the text for the access formats).
With windows, statuses are counted with ``Counter``, requests and times are
grouped by their raw bytes before each distinct one is turned into a path or
a window, and only the bytes per request and the sizes per time take a Python
loop. Without, the distinct raw (status, size, request) rows are counted with
``Counter`` and the loop runs over those. Errors are 4xx/5xx statuses. The
panels are counted per distinct raw value alike (the methods from the distinct
requests already grouped for the paths, static or dynamic per distinct path).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import compress
from typing import Any

from logmr.formats.base import Column, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Best, Job, ResultsView, key_text, top_n
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
    regrouped,
    sums_by_code,
    total,
)
from logmr.jobs.timewindows import TZ_PARAM, is_error_status, window_name

STATUS, PATH, WINDOW, TOTAL = "status:", "path:", "window:", "total"
CLIENT, REFERER, AGENT, METHOD, NOT_FOUND, KIND = (
    "client:",
    "referer:",
    "agent:",
    "method:",
    "notfound:",
    "kind:",
)
#: the panels' fields and their keys' prefixes (each counted when the format has it)
PANEL_FIELDS = {"client": CLIENT, "referer": REFERER, "user_agent": AGENT, "method": METHOD}
#: prefixes whose values are counts (the combiner adds them up)
COUNTED = (STATUS, CLIENT, REFERER, AGENT, METHOD, NOT_FOUND)
#: the extensions of a static file, compared lower-cased (GoAccess's default
#: ``--static-file`` list, with today's web fonts, images and ``.mjs``/``.map``)
STATIC_EXTENSIONS = frozenset(
    {
        *("css", "js", "mjs", "map", "txt", "csv", "pdf", "ico", "svg", "woff", "woff2"),
        *("png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff"),
        *("ttf", "otf", "eot", "mp3", "mp4", "ogg", "webm", "mpeg", "mpg", "avi", "flv"),
        *("swf", "zip", "gz", "tgz", "rar", "tar", "exe", "iso"),
        *("doc", "docx", "xls", "xlsx", "ppt", "pptx"),
    }
)
#: the summary's top lists of the panels: result key prefix -> summary name
TOP_PANELS = {
    CLIENT: "top_clients",
    REFERER: "top_referers",
    AGENT: "top_agents",
    NOT_FOUND: "top_not_found",
}


def _static_pattern(prefix: str) -> re.Pattern[str]:
    """A key ``prefix`` + path whose path is static: up to its query string or
    fragment, a last segment of a stem and one of ``STATIC_EXTENSIONS``
    (ASCII case-insensitive)."""
    extensions = "|".join(sorted(STATIC_EXTENSIONS, key=lambda e: (-len(e), e)))
    return re.compile(
        re.escape(prefix) + rf"(?:[^?#]*/)?[^/?#]+\.(?:{extensions})(?=[?#]|\Z)",
        re.IGNORECASE | re.ASCII,
    )


STATIC_PATH, STATIC_PATH_KEY = _static_pattern(""), _static_pattern(PATH)


def is_static(path: str) -> bool:
    """Whether ``path`` names a static file (its extension in ``STATIC_EXTENSIONS``)."""
    return STATIC_PATH.match(path) is not None


def _kind(path: str) -> str:
    return KIND + ("static" if is_static(path) else "dynamic")


def _is_not_found(status: Any) -> bool:
    return status is not None and key_text(status) == "404"


def _prefixed(prefix: str, convert: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A raw value's key: ``prefix`` and its (converted) text; ``None`` stays ``None``."""

    def key(raw: Any) -> str | None:
        value = raw if convert is None else convert(raw)
        return None if value is None else prefix + key_text(value)

    return key


def _prefixed_all(prefix: str, column: Column, raws: list[Any]) -> list[Any]:
    """The keys of ``raws`` (distinct raw values of ``column``), as
    ``_prefixed``'s: each converted, then decoded at once when every value
    is bytes with no line feed (a path, client, referer or user agent of a
    text log), else one by one."""
    values = raws if column.convert is None else list(map(column.convert, raws))
    if values and set(map(type, values)) == {bytes}:
        joined = b"\n".join(values)
        if joined.count(b"\n") == len(values) - 1:
            text = key_text(joined)
            return (prefix + text.replace("\n", "\n" + prefix)).split("\n")
    return [None if value is None else prefix + key_text(value) for value in values]


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
        Param(
            "panels",
            boolean,
            "true",
            "top clients, referers, user agents and 404 paths, methods, static vs dynamic"
            " (false: status, paths, windows and totals only)",
        ),
        Param(
            "clients",
            boolean,
            "true",
            "the top clients panel (one result key per client: most of the panels' cost"
            " where clients are many)",
        ),
    )

    def configure(self) -> None:
        #: the panels' fields the format has (``bind``), read after the other columns
        self.panels: tuple[str, ...] = ()
        #: the fields of ``map_columns``'s columns, in order (``bind``; else ``columns``)
        self.column_fields: tuple[str, ...] = ()

    def bind(self, fmt: Format) -> None:
        clock = "epoch" if self.options["tz"] == "utc" else "local_time"
        self.columns = ("status", "bytes", "path")
        if self.options["windows"]:
            self.columns += (clock,)
        if self.options["panels"]:
            self.panels = tuple(
                field
                for field in PANEL_FIELDS
                if field in fmt.fields and (field != "client" or self.options["clients"])
            )
            self.columns += self.panels
        for field in self.columns:
            self.fields[field] = fmt.getter(field)
        self.column_fields = self.columns

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
        if self.panels:
            yield from self._panel_pairs(record, status, size, path)
        if self.options["windows"]:
            when = self.fields[self.columns[3]](record)
            if when is None:
                self.count("no_time")
                return
            window: int = self.options["window"]
            start = int(when // window) * window
            sketch = quantiles_text(quantiles_of([size])) if self.options["percentiles"] else None
            yield f"{WINDOW}{start}", [1, error, size, sketch]

    def _panel_pairs(self, record: Any, status: Any, size: int, path: Any) -> Iterator[KV]:
        for field in self.panels:
            value = self.fields[field](record)
            if value is None:
                self.count(f"no_{field}")
            else:
                yield PANEL_FIELDS[field] + key_text(value), 1
        if path is not None:
            text = key_text(path)
            if _is_not_found(status):
                yield NOT_FOUND + text, 1
            yield _kind(text), [1, size]

    def map_columns(self, columns: list[Column]) -> Chunks:
        """Per batch, in C (``jobs.sums``): records per raw status, records and
        bytes per raw request (and records, errors and bytes per raw time);
        then each distinct raw value turned into its status, path (or window)
        once and the sums of those alike added up."""
        named = dict(zip(self.column_fields or self.columns, columns, strict=True))
        status_column, size_column, path_column = columns[:3]
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
        requests = counts_and_sums(path_column.raw, sizes, bound)
        path_keys = _prefixed_all(PATH, path_column, requests.keys)
        paths = regrouped(path_keys, requests.sums, requests.bound)
        no_path = paths.pop(None)
        if no_path:
            self.count("no_path", no_path[0])
        chunks.append(paths)
        if self.panels:
            chunks += self._panels(named, requests, paths)
            not_found = [_is_not_found(status_column.value(raw)) for raw in raw_statuses]
            if any(not_found):
                found = numpy().array(not_found, dtype=bool)[status_codes]
                not_found_paths = self._counted(NOT_FOUND, path_column, found)
                not_found_paths.pop(None)  # counted as no_path already
                chunks.append(not_found_paths)
        if self.options["windows"]:
            is_error = [
                status is not None and is_error_status(status)
                for status in map(status_column.value, raw_statuses)
            ]
            error_of_record = numpy().array(is_error, dtype=bool)[status_codes]
            chunks.append(self._windows(columns[3], sizes, error_of_record))
        return Chunks(*chunks)

    def _panels(
        self, named: dict[str, Column], requests: KeyedSums, paths: KeyedSums
    ) -> list[Iterable[KV]]:
        """Per batch: requests per client, referer, user agent and method
        (the methods from the distinct raw requests when their raw column is
        the path's), and records and bytes of static and dynamic paths."""
        chunks: list[Iterable[KV]] = []
        for field in self.panels:
            column = named[field]
            # the same raw values (one group of the format, cut alike to a time
            # range): each distinct request's method from the paths' grouping
            if field == "method" and column.raw == named["path"].raw:
                keys = _prefixed_all(METHOD, column, requests.keys)
                counted = regrouped(keys, requests.sums[:, 0], requests.bound)
                missing = counted.pop(None)
                if missing:
                    self.count("no_method", missing)
                chunks.append(counted)
            else:
                counted = self._counted(PANEL_FIELDS[field], column)
                missing = counted.pop(None)
                if missing:
                    self.count(f"no_{field}", missing)
                chunks.append(counted)
        static, dynamic = KIND + "static", KIND + "dynamic"
        kinds = [static if found else dynamic for found in map(STATIC_PATH_KEY.match, paths.keys)]
        chunks.append(regrouped(kinds, paths.sums, paths.bound))
        return chunks

    @staticmethod
    def _counted(prefix: str, column: Column, only: Any = None) -> KeyedSums:
        """Records per distinct value of ``column`` (of the records ``only``
        marks, when given), keyed ``prefix`` + value (``None``: no value)."""
        raw = column.raw if only is None else list(compress(column.raw, only.tolist()))
        distinct, codes = codes_of(raw)
        counts = counts_by_code(codes, len(distinct))
        return regrouped(_prefixed_all(prefix, column, distinct), counts, len(raw))

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
        if key.startswith(COUNTED):
            yield key, sum(values)
        elif key.startswith((PATH, KIND)):
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
            if key.startswith(COUNTED):
                yield out_key, value
            elif key.startswith((PATH, KIND)):
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
        panels = _Panels(self.options["top"])

        def paths() -> Iterator[tuple[str, Any]]:
            for key, value in results:
                if key.startswith(PATH):
                    distinct[0] += 1
                    yield key[len(PATH) :], value
                elif panels.add(key, value):
                    continue
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
        summary = {
            "requests": total["count"],
            "bytes": total["bytes"],
            "errors": total["errors"],
            "status": dict(sorted(status.items())),
            "top_paths": [[path, value["count"], value["bytes"]] for path, value in top],
            "distinct_paths": distinct[0],
            "windows": windows,
        }
        if self.options["panels"]:
            summary.update(panels.summary())
            if not self.options["clients"]:
                del summary["top_clients"], summary["distinct_clients"]
        return summary


class _Panels:
    """The panels' part of ``access_report``'s summary, gathered from its
    results in one pass: a bounded list of the best keys per panel."""

    def __init__(self, top: int) -> None:
        self.best = {prefix: Best(top) for prefix in TOP_PANELS}
        self.methods: dict[str, int] = {}
        self.kinds: dict[str, Any] = {}

    def add(self, key: str, value: Any) -> bool:
        """Take ``key`` if it is a panel's (``False``: it is not)."""
        prefix, _, name = key.partition(":")
        prefix += ":"
        if prefix in self.best:
            self.best[prefix].add(name, value)
        elif prefix == METHOD:
            self.methods[name] = value
        elif prefix == KIND:
            self.kinds[name] = value
        else:
            return False
        return True

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for prefix, name in TOP_PANELS.items():
            found[name] = [list(pair) for pair in self.best[prefix].best()]
            found["distinct_" + name.removeprefix("top_")] = self.best[prefix].seen
        found["methods"] = dict(sorted(self.methods.items(), key=lambda item: (-item[1], item[0])))
        empty = {"count": 0, "bytes": 0}
        found["static"] = self.kinds.get("static", empty)
        found["dynamic"] = self.kinds.get("dynamic", empty)
        return found


def _quantiles(value: dict[str, Any]) -> list[Any] | None:
    """A window's p50, p95 and p99, when it has them."""
    return [value["p50"], value["p95"], value["p99"]] if "p50" in value else None


LEVEL, MESSAGE = "level:", "message:"
#: what ``mask=true`` replaces in a message: each run of digits (ids, counts,
#: durations, addresses) becomes ``#``, so "took 35 ms" and "took 12 ms" are one
DIGITS = re.compile(r"\d+")


@register
class LevelReport(Job):
    """``level_report``: records per level and the messages of each level,
    for the report's level mix and its top messages by level::

        level:<level>        -> {"count"}                  records of the level (as written)
        message:<message>    -> {"count", "by_level": {level: records}}

    ``level_counts`` keys its results by level alone: it has no room for the
    messages, hence this job. With ``mask=true`` (the default) runs of digits
    in a message are one ``#``."""

    name = "level_report"
    description = "records per level and the top messages of each level (digits masked)"
    needs = ("level", "message")
    params = (
        Param("top", positive_int, "10", "how many messages per level the summary keeps"),
        Param("mask", boolean, "true", "runs of digits in a message as one #"),
    )

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.columns = ("level", "message")

    def mapper(self, record: Any) -> Iterator[KV]:
        return self._pairs({(self.fields["level"](record), self.fields["message"](record)): 1})

    def map_columns(self, columns: list[Column]) -> Iterator[KV]:
        """Records per distinct raw (level, message) pair, counted in C, each
        pair converted once."""
        levels, messages = columns
        values: Counter[tuple[Any, Any]] = Counter()
        for (level, message), count in Counter(zip(levels.raw, messages.raw, strict=True)).items():
            values[levels.value(level), messages.value(message)] += count
        return self._pairs(values)

    def _pairs(self, counted: Mapping[tuple[Any, Any], int]) -> Iterator[KV]:
        for (level, message), count in counted.items():
            if level is None:
                self.count("no_level", count)
                continue
            name = key_text(level)
            yield LEVEL + name, {"count": count}
            if message is None:
                self.count("no_message", count)
                continue
            text = key_text(message)
            key = MESSAGE + (DIGITS.sub("#", text) if self.options["mask"] else text)
            yield key, {"count": count, "by_level": {name: count}}

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        total = sum(value["count"] for value in values)
        if key.startswith(LEVEL):
            yield key, {"count": total}
            return
        merged: dict[str, int] = {}
        for value in values:
            for level, count in value["by_level"].items():
                merged[level] = merged.get(level, 0) + count
        yield key, {"count": total, "by_level": merged}

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        return self.combiner(key, values)

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        """The levels and, per level, its top messages (records descending,
        then message), in one pass keeping at most a few times ``top`` per level."""
        levels: dict[str, int] = {}
        best: dict[str, Best] = {}
        for key, value in results:
            if key.startswith(LEVEL):
                levels[key[len(LEVEL) :]] = value["count"]
                continue
            for level, count in value["by_level"].items():
                best.setdefault(level, Best(self.options["top"])).add(key[len(MESSAGE) :], count)
        return {
            "levels": dict(sorted(levels.items(), key=lambda item: (-item[1], item[0]))),
            "top_messages": {
                level: [list(pair) for pair in kept.best()] for level, kept in sorted(best.items())
            },
        }
