"""What a report shows, read from a job's record and results and sorted by shape.

The renderer never asks which job ran: it looks at the results. Keys that are
window starts (``2026-11-22T03:00:00Z``, optionally ``window:``-prefixed) with
a count make a time series; ``p50``/``p95``/``p99`` in them make percentiles
over time; other keys with a number or a ``count`` make the top-keys chart;
HTTP status codes (keys of ``status_codes``, ``status:<code>`` keys, the
``2xx``... splits of ``requests_per_window``) and levels make the mix. The
panels of ``access_report`` (``client:``, ``referer:``, ``agent:``,
``notfound:``, ``method:``, ``kind:`` keys) and of ``level_report``
(``level:``, ``message:`` keys) make a section each. Windows with a
``distinct`` estimate (``distinct_count``) chart distinct values, not records.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from logmr.jobs import is_builtin, job_class
from logmr.jobs.base import Best
from logmr.jobs.sketches import KLL_TAG, merge_quantiles, quantiles_text
from logmr.storage.base import JobRecord
from logmr.storage.parts import JobResults

#: a window start as the window jobs name it: UTC with Z, or the log's clock without
WINDOW_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
STATUS_KEY = re.compile(r"^[1-5]\d\d$")
STATUS_CLASS = re.compile(r"^[1-5]xx$")
PERCENTILES = ("p50", "p95", "p99")
_RANKS = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
#: jobs whose integer results are levels (the mix chart names them so)
LEVEL_JOBS = frozenset({"level_counts"})
#: keys of the access_report shape, by prefix
PREFIXES = ("window:", "status:", "path:")
#: panels ranked by count (a bar chart each): key prefix -> title
RANKED = {
    "client": "Top clients",
    "referer": "Top referers",
    "agent": "Top user agents",
    "notfound": "Top 404 (not found) paths",
}
#: panels drawn as shares of one bar: key prefix -> title
SHARES = {"method": "Request methods", "kind": "Static vs dynamic requests"}
#: level_report's prefixes: records per level, and per message its levels' records
LEVEL, MESSAGE = "level", "message"
PANEL_PREFIXES = (*PREFIXES, *(f"{p}:" for p in (*RANKED, *SHARES, LEVEL, MESSAGE)))
#: the unit of a percentile's field (as the formats give it: latency in seconds)
UNITS = {"bytes": "bytes", "latency": "seconds"}
#: messages kept per level for the top messages table
MESSAGES_PER_LEVEL = 10


#: time-series points a report keeps: past twice this many windows, adjacent
#: points are merged in pairs (counts and errors added, percentiles from their
#: merged sketches), so the page and its making stay bounded whatever the windows
MAX_WINDOW_POINTS = 5_000
#: rows of the results table and bars of the top-keys chart (the first rows
#: in key order when there is no such chart)
TABLE_ROWS = 20
#: parts of a level mix (the others are added up as one)
MIX_PARTS = 40
OTHER = "other"


@dataclass
class WindowPoint:
    """One time window (or ``windows`` adjacent ones): its start as written,
    its count, and what else it has."""

    start: str
    count: float
    errors: float | None = None
    percentiles: dict[str, float] = field(default_factory=dict)
    classes: dict[str, float] = field(default_factory=dict)
    #: the windows this point stands for
    windows: int = 1
    #: the window's KLL sketch (text), kept to merge percentiles when points merge
    sketch: str | None = None


@dataclass
class ReportData:
    """Everything the page shows, in the shapes the sections draw: bounded
    whatever the job's keys (``analyse`` reads the results once, as a stream)."""

    record: JobRecord
    #: the results' first ``TABLE_ROWS`` (key, value) pairs, in key order
    first: list[tuple[str, Any]] = field(default_factory=list)
    #: how many results there are
    result_count: int = 0
    windows: list[WindowPoint] = field(default_factory=list)
    #: the windows the time series stands for (``len(windows)`` unless merged)
    window_count: int = 0
    #: (key, count, extra columns) for the top-keys chart, best first
    top: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    top_columns: list[str] = field(default_factory=list)
    #: what the top keys are: "paths" (``path:`` keys) or "keys"
    top_name: str = "keys"
    #: the status or level mix: (label, count), in display order
    mix: list[tuple[str, float]] = field(default_factory=list)
    mix_title: str = ""
    #: percentiles of the whole job (a percentiles job's "all" key)
    overall_percentiles: dict[str, float] = field(default_factory=dict)
    #: what the windows count: "records", or "distinct <field>" (distinct_count)
    measure: str = "records"
    #: the percentiles' unit ("bytes", "seconds", or the field's name)
    unit: str = ""
    #: ranked panels: prefix -> (key, count) best first, and how many keys each had
    ranked: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    ranked_distinct: dict[str, int] = field(default_factory=dict)
    #: share panels: prefix -> (label, count), largest first
    shares: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    #: level_report's top messages: (level, message, records), by level then rank
    messages: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def samples(self) -> list[dict[str, Any]]:
        return list(self.record.malformed_samples or [])


def gather(store: JobResults, job_id: str) -> ReportData:
    """A job's record and (when it SUCCEEDED: only then are they whole) its
    results, streamed from the part files in key order."""
    record = store.get_job(job_id)
    results = store.iter_results(job_id) if record.status == "SUCCEEDED" else iter(())
    return analyse(record, results)


def analyse(
    record: JobRecord,
    results: Mapping[str, Any] | Iterable[tuple[str, Any]],
    top_n: int = TABLE_ROWS,
) -> ReportData:
    """Sort results (a mapping, or ``(key, value)`` pairs in key order) into
    the report's shapes, in one pass that keeps what the page shows: the
    windows (``MAX_WINDOW_POINTS``), the statuses, the best keys, the first
    rows. No I/O."""
    pairs = sorted(results.items()) if isinstance(results, Mapping) else results
    data = ReportData(record=record, unit=percentile_unit(record))
    series = _Series(MAX_WINDOW_POINTS)
    seen = _Seen(top_n)
    keyed = _keyed(pairs, data, series, seen)
    best = heapq.nsmallest(max(top_n, MIX_PARTS), keyed, key=lambda row: (-row[1], row[0]))
    data.windows, data.window_count = series.points(), series.count
    data.ranked = {prefix: kept.best() for prefix, kept in seen.ranked.items()}
    data.ranked_distinct = {prefix: kept.seen for prefix, kept in seen.ranked.items()}
    data.shares = {
        prefix: sorted(parts.items(), key=lambda part: (-part[1], part[0]))
        for prefix, parts in seen.shares.items()
    }
    data.messages = [
        (level, message, count)
        for level, kept in sorted(seen.messages.items(), key=lambda item: level_rank(item[0]))
        for message, count in kept.best()
    ]
    if seen.distinct_field:
        data.measure = f"distinct {seen.distinct_field} values"
    if not seen.statuses and best and seen.status_keys is not None:
        seen.statuses = seen.status_keys
    if seen.statuses:
        data.mix = sorted(seen.statuses.items())
        data.mix_title = "HTTP status mix"
    elif seen.levels:
        data.mix = sorted(seen.levels.items(), key=lambda item: level_rank(item[0]))
        data.mix_title = "Level mix"
    elif seen.classes:
        data.mix = sorted(seen.classes.items())
        data.mix_title = "HTTP status class mix"
    elif _is_levels(record) and best:
        shown = sorted(best[:MIX_PARTS], key=lambda row: level_rank(row[0]))
        data.mix = [(key, count) for key, count, _ in shown]
        rest = seen.keyed_total - sum(count for _, count in data.mix)
        if seen.keyed > MIX_PARTS:
            data.mix.append((OTHER, rest))
        data.mix_title = "Level mix"
    if seen.keyed > 1 or (best and best[0][2]):
        data.top = best[:top_n]
        if seen.paths == seen.keyed:
            data.top_name = "paths"
        columns: list[str] = []
        for _, _, extra in data.top:
            columns += [name for name in extra if name not in columns]
        data.top_columns = columns
    return data


@dataclass
class _Seen:
    """What ``_keyed`` gathers besides the keyed rows."""

    top_n: int = TABLE_ROWS
    ranked: dict[str, Best] = field(default_factory=dict)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    messages: dict[str, Best] = field(default_factory=dict)
    distinct_field: str = ""
    #: the keyed rows that were ``path:`` keys
    paths: int = 0
    statuses: dict[str, float] = field(default_factory=dict)
    classes: dict[str, float] = field(default_factory=dict)
    #: the keyed rows while every one is a status code (``None`` after one is not)
    status_keys: dict[str, float] | None = field(default_factory=dict)
    keyed: int = 0
    keyed_total: float = 0.0


def _keyed(
    pairs: Iterable[tuple[str, Any]], data: ReportData, series: _Series, seen: _Seen
) -> Iterator[tuple[str, float, dict[str, Any]]]:
    """The rows of the top-keys chart, (key, count, extra columns); the other
    shapes into ``data``, ``series`` and ``seen`` as they pass."""
    for raw_key, value in pairs:
        key = str(raw_key)
        data.result_count += 1
        if len(data.first) < TABLE_ROWS:
            data.first.append((key, value))
        prefix, _, rest = key.partition(":")
        if f"{prefix}:" in PANEL_PREFIXES:
            key_kind, name = prefix, rest
        elif WINDOW_KEY.match(key):
            key_kind, name = "window", key
        else:
            key_kind, name = "", key
        if key_kind == MESSAGE and isinstance(value, dict):
            by_level = value.get("by_level")
            for level, number in (by_level if isinstance(by_level, dict) else {}).items():
                if _is_number(number):
                    kept = seen.messages.setdefault(str(level), Best(MESSAGES_PER_LEVEL))
                    kept.add(name, number)
            continue
        count = _count(value)
        if count is None:
            pass
        elif key_kind in RANKED:
            seen.ranked.setdefault(key_kind, Best(seen.top_n)).add(name, count)
            continue
        elif key_kind in SHARES:
            parts = seen.shares.setdefault(key_kind, {})
            parts[name] = parts.get(name, 0) + count
            continue
        elif key_kind == LEVEL:
            seen.levels[name] = seen.levels.get(name, 0) + count
            continue
        if key_kind == "window" and count is not None:
            if isinstance(value, dict) and _is_number(value.get("distinct")):
                count = float(value["distinct"])
                seen.distinct_field = _distinct_field(data.record)
            point = _window(name, count, value)
            for label, number in point.classes.items():
                seen.classes[label] = seen.classes.get(label, 0) + number
            series.add(point)
        elif key_kind == "status" and count is not None:
            seen.statuses[name] = seen.statuses.get(name, 0) + count
        elif key == "all" and isinstance(value, dict) and _percentiles(value):
            data.overall_percentiles = _percentiles(value)
        elif key == "all" and isinstance(value, dict) and _is_number(value.get("distinct")):
            seen.distinct_field = _distinct_field(data.record)
        elif count is not None and not (key == "total" and isinstance(value, dict)):
            extra = (
                {k: v for k, v in value.items() if k != "count"} if isinstance(value, dict) else {}
            )
            seen.keyed += 1
            seen.paths += key_kind == "path"
            seen.keyed_total += count
            if seen.status_keys is not None:
                if STATUS_KEY.match(name):
                    seen.status_keys[name] = count
                else:
                    seen.status_keys = None
            yield name, count, _scalars(extra)


class _Series:
    """Window points in key order, at most twice ``most``: past that,
    adjacent points merge in pairs, and each later point holds as many
    windows (``WindowPoint.windows``)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.width = 1
        self.count = 0
        self.kept: list[WindowPoint] = []

    def add(self, point: WindowPoint) -> None:
        self.count += 1
        last = self.kept[-1] if self.kept else None
        if last is not None and last.windows < self.width:
            self.kept[-1] = _merged(last, point)
            return
        self.kept.append(point)
        if len(self.kept) >= 2 * self.most:
            self.width *= 2
            pairs = zip(self.kept[::2], self.kept[1::2], strict=True)
            self.kept = [_merged(first, second) for first, second in pairs]

    def points(self) -> list[WindowPoint]:
        """The points, by start (a mapping's windows came in key order)."""
        return sorted(self.kept, key=lambda point: point.start)


def _merged(first: WindowPoint, second: WindowPoint) -> WindowPoint:
    """One point for two adjacent ones: counts, errors and classes added; the
    percentiles of the merged sketches, when both had one."""
    errors = None
    if first.errors is not None or second.errors is not None:
        errors = (first.errors or 0) + (second.errors or 0)
    classes = dict(first.classes)
    for label, number in second.classes.items():
        classes[label] = classes.get(label, 0) + number
    sketch, percentiles = None, {}
    if first.sketch is not None and second.sketch is not None:
        merged = merge_quantiles([first.sketch, second.sketch])
        sketch = quantiles_text(merged)
        percentiles = {name: merged.get_quantile(rank, True) for name, rank in _RANKS}
    return WindowPoint(
        start=first.start,
        count=first.count + second.count,
        errors=errors,
        percentiles=percentiles,
        classes=classes,
        windows=first.windows + second.windows,
        sketch=sketch,
    )


def facts(record: JobRecord) -> list[tuple[str, str]]:
    """The header: what ran over what, how much, how long, what it cost."""
    spec, counters = record.spec or {}, record.counters or {}
    inputs = [str(uri) for uri in spec.get("inputs", [])]
    shown = ", ".join(inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
    rows = [
        ("job", f"{record.job} ({record.job_id})"),
        ("status", record.status + (f": {record.error}: {record.cause}" if record.error else "")),
        ("input", shown or "?"),
        ("format", str(spec.get("format", "?"))),
    ]
    params = spec.get("params") or {}
    if params:
        rows.append(("parameters", ", ".join(f"{k}={v}" for k, v in sorted(params.items()))))
    lines = counters.get("lines")
    records, malformed = counters.get("records"), counters.get("malformed", 0)
    if records is not None:
        rows.append(("records", f"{records:,}"))
    denominator = lines if lines else (records or 0) + malformed
    if denominator:
        rows.append(
            (
                "malformed",
                f"{malformed:,} of {denominator:,} lines ({_share(malformed, denominator)})",
            )
        )
    duration = (record.timings or {}).get("duration_s")
    if duration is not None:
        rows.append(("duration", f"{duration:,.3f} s"))
    cost = cost_of(record)
    if cost is not None:
        rows.append(("cost", cost))
    if record.created_at:
        rows.append(("started", record.created_at))
    rows.append(("result keys", f"{record.result_keys:,}"))
    return rows


def cost_of(record: JobRecord) -> str | None:
    """The record's ``cost`` or ``bill`` (a number in USD, or named parts), if it has one."""
    if record.bill:
        from logmr.plan.cost import describe_bill

        return "on AWS " + describe_bill(record.bill)
    for name in ("cost", "bill"):
        value = getattr(record, name, None)
        if value is None and isinstance(record.summary, dict):
            value = record.summary.get(name)
        if value is None:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"${value:,.6f}"
        if isinstance(value, dict):
            parts = ", ".join(f"{k} {_money(v)}" for k, v in value.items())
            return parts or None
        return str(value)
    return None


def summary_scalars(record: JobRecord) -> list[tuple[str, str]]:
    """The summary's single values (its lists and objects are charts already)."""
    summary = record.summary or {}
    return [
        (str(name), _format(value))
        for name, value in summary.items()
        if not isinstance(value, list | dict) and name not in ("cost", "bill")
    ]


def counters(record: JobRecord) -> list[tuple[str, str]]:
    return [(name, f"{value:,}") for name, value in sorted((record.counters or {}).items())]


def _window(name: str, count: float, value: Any) -> WindowPoint:
    point = WindowPoint(start=name, count=count)
    if isinstance(value, dict):
        sketch = value.get("sketch")
        point.sketch = sketch if isinstance(sketch, str) and sketch.startswith(KLL_TAG) else None
        errors: Any = value.get("errors")
        point.classes = {
            k: float(v) for k, v in value.items() if STATUS_CLASS.match(k) and _is_number(v)
        }
        if _is_number(errors):
            point.errors = float(errors)
        elif point.classes:
            point.errors = point.classes.get("4xx", 0) + point.classes.get("5xx", 0)
        point.percentiles = _percentiles(value)
    return point


def _percentiles(value: dict[str, Any]) -> dict[str, float]:
    return {name: float(value[name]) for name in PERCENTILES if _is_number(value.get(name))}


def _count(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, dict) and _is_number(value.get("count")):
        return float(value["count"])
    return None


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if _is_number(v) or isinstance(v, str)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_levels(record: JobRecord) -> bool:
    params = (record.spec or {}).get("params") or {}
    return record.job in LEVEL_JOBS or (
        record.job == "field_count" and params.get("field") == "level"
    )


#: levels in their order of severity (most severe first), upper-cased
LEVEL_ORDER = (
    *("EMERG", "EMERGENCY", "ALERT", "FATAL", "CRITICAL", "CRIT", "SEVERE", "ERROR", "ERR"),
    *("WARNING", "WARN", "NOTICE", "INFO", "INFORMATIONAL", "CONFIG", "DEBUG", "FINE", "TRACE"),
)


def level_rank(level: str) -> tuple[int, str]:
    """A level's place in ``LEVEL_ORDER`` (unknown levels last, by name)."""
    upper = level.upper()
    return (LEVEL_ORDER.index(upper) if upper in LEVEL_ORDER else len(LEVEL_ORDER), level)


def percentile_unit(record: JobRecord) -> str:
    """The unit of a job's percentiles: access_report's are response bytes;
    a percentiles job's those of its ``field``."""
    if record.job == "access_report":
        return UNITS["bytes"]
    field_name = _param(record, "field") or "value"
    return UNITS.get(field_name, field_name)


def _distinct_field(record: JobRecord) -> str:
    return _param(record, "field") or "values"


def _param(record: JobRecord, name: str) -> str | None:
    """A parameter of the job as it ran: as given, else a built-in job's default."""
    params = (record.spec or {}).get("params") or {}
    if name in params:
        return str(params[name])
    if is_builtin(record.job):
        for param in job_class(record.job).params:
            if param.name == name:
                return param.default
    return None


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "0%"


def _money(value: Any) -> str:
    return f"${value:,.6f}" if _is_number(value) else str(value)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
