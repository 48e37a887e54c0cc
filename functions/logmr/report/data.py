"""What a report shows, read from a job's record and results and sorted by shape.

The renderer never asks which job ran: it looks at the results. Keys that are
window starts (``2026-11-22T03:00:00Z``, optionally ``window:``-prefixed) with
a count make a time series; ``p50``/``p95``/``p99`` in them make percentiles
over time; other keys with a number or a ``count`` make the top-keys chart;
HTTP status codes (keys of ``status_codes``, ``status:<code>`` keys, the
``2xx``... splits of ``requests_per_window``) and levels make the mix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logmr.storage.base import JobRecord
from logmr.storage.parts import JobResults

#: a window start as the window jobs name it: UTC with Z, or the log's clock without
WINDOW_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
STATUS_KEY = re.compile(r"^[1-5]\d\d$")
STATUS_CLASS = re.compile(r"^[1-5]xx$")
PERCENTILES = ("p50", "p95", "p99")
#: jobs whose integer results are levels (the mix chart names them so)
LEVEL_JOBS = frozenset({"level_counts"})
#: keys of the access_report shape, by prefix
PREFIXES = ("window:", "status:", "path:")


@dataclass
class WindowPoint:
    """One time window: its start as written, its count, and what else it has."""

    start: str
    count: float
    errors: float | None = None
    percentiles: dict[str, float] = field(default_factory=dict)
    classes: dict[str, float] = field(default_factory=dict)


@dataclass
class ReportData:
    """Everything the page shows, in the shapes the sections draw."""

    record: JobRecord
    results: dict[str, Any]
    windows: list[WindowPoint] = field(default_factory=list)
    #: (key, count, extra columns) for the top-keys chart, best first
    top: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    top_columns: list[str] = field(default_factory=list)
    #: the status or level mix: (label, count), in display order
    mix: list[tuple[str, float]] = field(default_factory=list)
    mix_title: str = ""
    #: percentiles of the whole job (a percentiles job's "all" key)
    overall_percentiles: dict[str, float] = field(default_factory=dict)

    @property
    def samples(self) -> list[dict[str, Any]]:
        return list(self.record.malformed_samples or [])


def gather(store: JobResults, job_id: str) -> ReportData:
    """A job's record and (when it SUCCEEDED: only then are they whole) its results."""
    record = store.get_job(job_id)
    results = dict(store.iter_results(job_id)) if record.status == "SUCCEEDED" else {}
    return analyse(record, results)


def analyse(record: JobRecord, results: Mapping[str, Any], top_n: int = 20) -> ReportData:
    """Sort results into the report's shapes (pure: no I/O)."""
    data = ReportData(record=record, results=dict(results))
    windows: dict[str, WindowPoint] = {}
    statuses: dict[str, float] = {}
    classes: dict[str, float] = {}
    keyed: list[tuple[str, float, dict[str, Any]]] = []
    for raw_key, value in results.items():
        key = str(raw_key)
        prefix, _, rest = key.partition(":")
        if f"{prefix}:" in PREFIXES:
            key_kind, name = prefix, rest
        elif WINDOW_KEY.match(key):
            key_kind, name = "window", key
        else:
            key_kind, name = "", key
        count = _count(value)
        if key_kind == "window" and count is not None:
            point = _window(name, count, value)
            windows[name] = point
            for label, number in point.classes.items():
                classes[label] = classes.get(label, 0) + number
        elif key_kind == "status" and count is not None:
            statuses[name] = statuses.get(name, 0) + count
        elif key == "all" and isinstance(value, dict) and _percentiles(value):
            data.overall_percentiles = _percentiles(value)
        elif count is not None and not (key == "total" and isinstance(value, dict)):
            extra = (
                {k: v for k, v in value.items() if k != "count"} if isinstance(value, dict) else {}
            )
            keyed.append((name, count, _scalars(extra)))
    data.windows = sorted(windows.values(), key=lambda point: point.start)
    keyed.sort(key=lambda row: (-row[1], row[0]))
    if not statuses and keyed and all(STATUS_KEY.match(key) for key, _, _ in keyed):
        statuses = {key: count for key, count, _ in keyed}
    if statuses:
        data.mix = sorted(statuses.items())
        data.mix_title = "HTTP status mix"
    elif classes:
        data.mix = sorted(classes.items())
        data.mix_title = "HTTP status class mix"
    elif _is_levels(record) and keyed:
        data.mix = [(key, count) for key, count, _ in keyed]
        data.mix_title = "Level mix"
    if len(keyed) > 1 or (keyed and keyed[0][2]):
        data.top = keyed[:top_n]
        columns: list[str] = []
        for _, _, extra in data.top:
            columns += [name for name in extra if name not in columns]
        data.top_columns = columns
    return data


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
