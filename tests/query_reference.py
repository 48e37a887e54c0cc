"""The worked queries of docs/queries.md and, for each, its expected rows
computed independently: plain regexes over the lines, ``datetime.strptime``,
plain Python sums and sorts, no logmr code.

Each ``Case`` names its log (``access``: Apache combined; ``app``: a
log4j-style application log, both from ``logmr generate``), the query as the
docs write it, and ``expected(records)`` giving the rows in order. Sketch
columns (``pct``, ``count_distinct``) are listed in ``approximate`` with
their tolerance (``Case.check``): exact for small groups (a KLL sketch keeps
up to 200 values, an HLL sketch counts a few hundred almost exactly).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Record = dict[str, Any]

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_ACCESS = re.compile(
    r"(\S+) \S+ \S+ \[([^\]]+)\] " + _QUOTED + r" (\d{3}) (\d+|-) " + _QUOTED + " " + _QUOTED
)
_APP = re.compile(
    r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d+))? "
    r"(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE) \[([^\]]*)\] (\S+) - (.*)"
)


def read_access(path: Path) -> list[Record]:
    records = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.removesuffix(b"\r").decode("utf-8", "backslashreplace")
        found = _ACCESS.fullmatch(line)
        if found is None:
            continue
        client, stamp, request, status, size, referer, agent = found.groups()
        tokens = request.split()
        records.append(
            {
                "@message": line,
                "@timestamp": datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp(),
                "client": client,
                "method": tokens[0] if tokens else None,
                "path": tokens[1] if len(tokens) > 1 else None,
                "status": status,
                "bytes": 0 if size == "-" else int(size),
                "referer": referer,
                "user_agent": agent,
            }
        )
    return records


def read_app(path: Path) -> list[Record]:
    records = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.removesuffix(b"\r").decode("utf-8", "backslashreplace")
        found = _APP.fullmatch(line)
        if found is None:
            continue
        stamp, fraction, level, _, logger, message = found.groups()
        when = datetime.strptime(stamp.replace("T", " "), "%Y-%m-%d %H:%M:%S")
        epoch = when.replace(tzinfo=UTC).timestamp() + float(f"0.{fraction or 0}")
        shown = f"{stamp.replace('T', ' ')}.{(fraction or '0').ljust(3, '0')[:3]}"
        records.append(
            {
                "@timestamp": epoch,
                "time": shown,
                "level": level,
                "logger": logger,
                "message": message,
            }
        )
    return records


# -- helpers the expectations share ------------------------------------------------


def natural(value: Any, descending: bool = False) -> Any:
    """Logs Insights' sort order (its sort documentation): non-numbers before
    numbers; numbers by value; other texts by chunks, a run of digits by its
    length then its value, other characters by code point; missing values
    last whatever the direction."""
    if value is None:
        return (1,)
    text = str(value)
    try:
        key: Any = (1, float(text))
    except ValueError:
        chunks = re.findall(r"[0-9]+|[^0-9]+", text)
        key = (0, [("0", len(c), c) if c.isdigit() else (c, 0, "") for c in chunks])
    return (0, _Desc(key) if descending else key)


class _Desc:
    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


def ordered(
    rows: Iterable[Record], keys: list[tuple[str, bool]], groups: list[str]
) -> list[Record]:
    """``rows`` by ``keys`` (column, descending), then by the group columns."""
    every = keys + [(name, False) for name in groups]
    return sorted(rows, key=lambda row: [natural(row[name], desc) for name, desc in every])


def grouped(records: Iterable[Record], *fields: Callable[[Record], Any]) -> dict[Any, list[Record]]:
    """Records by the values of ``fields`` (records lacking one are in no group)."""
    out: dict[Any, list[Record]] = defaultdict(list)
    for record in records:
        values = tuple(f(record) for f in fields)
        if None not in values:
            out[values if len(values) > 1 else values[0]].append(record)
    return out


def nearest_rank(values: list[float], percent: float) -> float:
    """The smallest value with at least ``percent``% of the values at or below it."""
    ordered_values = sorted(values)
    return float(ordered_values[max(math.ceil(percent / 100 * len(values)) - 1, 0)])


#: the KLL sketch's normalized rank error (99% confidence, k = 200), as
#: docs/analytics.md states it
KLL_RANK_ERROR = 0.0133


@dataclass
class Ranked:
    """A percentile from a sketch: right when its rank among ``values`` is
    within ``KLL_RANK_ERROR`` of ``percent``."""

    values: list[float]
    percent: float

    def accepts(self, got: float) -> bool:
        data = sorted(self.values)
        below = sum(1 for x in data if x < got) / len(data)
        at_or_below = sum(1 for x in data if x <= got) / len(data)
        rank = self.percent / 100
        return below - KLL_RANK_ERROR <= rank <= at_or_below + KLL_RANK_ERROR


def bin_text(epoch: float, seconds: int) -> str:
    start = math.floor(epoch / seconds) * seconds
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S") + ".000"


def get(name: str) -> Callable[[Record], Any]:
    return lambda record: record.get(name)


# -- the worked queries --------------------------------------------------------------


@dataclass
class Case:
    name: str
    log: str
    query: str
    expected: Callable[[list[Record]], list[Record]]
    #: column -> relative tolerance of a sketch's value (0: exact)
    approximate: dict[str, float] = field(default_factory=dict)

    def check(self, rows: list[Record], want: list[Record]) -> None:
        assert [list(row) for row in rows] == [list(row) for row in want], self.name
        for got, expect in zip(rows, want, strict=True):
            for column, value in expect.items():
                if isinstance(value, Ranked):
                    assert value.accepts(got[column]), (self.name, column, got[column])
                    continue
                tolerance = self.approximate.get(column)
                if tolerance is None and isinstance(value, float):
                    tolerance = 1e-9  # float sums added in another order
                if tolerance is None or value is None:
                    assert got[column] == value, (self.name, column, got, expect)
                else:
                    assert math.isclose(got[column], value, rel_tol=tolerance), (
                        self.name,
                        column,
                        got,
                        expect,
                    )


def _requests_per_status(records: list[Record]) -> list[Record]:
    rows = [{"status": s, "count(*)": len(rs)} for s, rs in grouped(records, get("status")).items()]
    return ordered(rows, [], ["status"])


def _slow_paths(records: list[Record]) -> list[Record]:
    failing = [r for r in records if int(r["status"]) >= 500]
    rows = [
        {
            "path": p,
            "count(*)": len(rs),
            "pct(bytes, 95)": nearest_rank([r["bytes"] for r in rs], 95),
        }
        for p, rs in grouped(failing, get("path")).items()
    ]
    return ordered(rows, [("count(*)", True)], ["path"])[:20]


def _per_method(records: list[Record]) -> list[Record]:
    rows = [
        {"method": m, "requests": len(rs), "bytes": sum(r["bytes"] for r in rs)}
        for m, rs in grouped(records, get("method")).items()
    ]
    return ordered(rows, [("requests", True)], ["method"])


def _api_posts(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["method"] == "POST" and "/api/" in (r["path"] or "")]
    rows = [{"status": s, "count(*)": len(rs)} for s, rs in grouped(chosen, get("status")).items()]
    return ordered(rows, [], ["status"])


def _per_five_minutes(records: list[Record]) -> list[Record]:
    rows = [
        {"bin(5m)": b, "count(*)": len(rs)}
        for b, rs in grouped(records, lambda r: bin_text(r["@timestamp"], 300)).items()
    ]
    return ordered(rows, [("bin(5m)", False)], ["bin(5m)"])[:6]


def _misses(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["status"] in ("404", "410")]
    rows = [{"path": p, "misses": len(rs)} for p, rs in grouped(chosen, get("path")).items()]
    return ordered(rows, [("misses", True), ("path", False)], ["path"])[:10]


def _sizes_per_status(records: list[Record]) -> list[Record]:
    rows = []
    for s, rs in grouped(records, get("status")).items():
        sizes = [r["bytes"] for r in rs]
        rows.append(
            {
                "status": s,
                "avg(bytes)": sum(sizes) / len(sizes),
                "min(bytes)": min(sizes),
                "max(bytes)": max(sizes),
            }
        )
    return ordered(rows, [], ["status"])


def _clients_per_status(records: list[Record]) -> list[Record]:
    rows = [
        {"status": s, "clients": len({r["client"] for r in rs})}
        for s, rs in grouped(records, get("status")).items()
    ]
    return ordered(rows, [("clients", True)], ["status"])


def _versions(records: list[Record]) -> list[Record]:
    found = (re.search(r'"(.*?) (.*?) HTTP/(.*?)"', r["@message"]) for r in records)
    versions = [{"version": m.group(3)} for m in found if m is not None]
    rows = [
        {"version": v, "count(*)": len(rs)} for v, rs in grouped(versions, get("version")).items()
    ]
    return ordered(rows, [], ["version"])


def _bots(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if re.search(r"bot|crawler|spider", r["user_agent"], re.I)]
    rows = [
        {"user_agent": u, "hits": len(rs)} for u, rs in grouped(chosen, get("user_agent")).items()
    ]
    return ordered(rows, [("hits", True)], ["user_agent"])[:5]


def _big_responses(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["bytes"] / 1024 > 100]
    rows = [
        {"path": p, "big": len(rs), "sum(kb)": sum(r["bytes"] / 1024 for r in rs)}
        for p, rs in grouped(chosen, get("path")).items()
    ]
    return ordered(rows, [("big", True)], ["path"])[:5]


def _first_and_last(records: list[Record]) -> list[Record]:
    rows = []
    for m, rs in grouped(records, get("method")).items():
        by_time = sorted(rs, key=lambda r: (r["@timestamp"], r["path"]))
        rows.append(
            {
                "method": m,
                "first": by_time[0]["path"],
                "last": max(rs, key=lambda r: (r["@timestamp"], r["path"]))["path"],
            }
        )
    return ordered(rows, [], ["method"])


def _errors_per_hour(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if int(r["status"]) >= 400]
    rows = [
        {"bin(1h)": b, "method": m, "errors": len(rs)}
        for (b, m), rs in grouped(
            chosen, lambda r: bin_text(r["@timestamp"], 3600), get("method")
        ).items()
    ]
    return ordered(rows, [("errors", True)], ["bin(1h)", "method"])[:5]


def _spread(records: list[Record]) -> list[Record]:
    rows = []
    for m, rs in grouped(records, get("method")).items():
        sizes = [r["bytes"] for r in rs]
        mean = sum(sizes) / len(sizes)
        sd = (
            math.sqrt(sum((x - mean) ** 2 for x in sizes) / (len(sizes) - 1))
            if len(sizes) > 1
            else None
        )
        rows.append({"method": m, "sd": sd, "mean": mean})
    return ordered(rows, [], ["method"])


def _busy_statuses(records: list[Record]) -> list[Record]:
    rows = [{"status": s, "n": len(rs)} for s, rs in grouped(records, get("status")).items()]
    return ordered([row for row in rows if row["n"] > 100], [("n", True)], ["status"])


def _referrers(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["referer"] != "-"]
    rows = [
        {"referer": f, "referred": len(rs)} for f, rs in grouped(chosen, get("referer")).items()
    ]
    return ordered(rows, [("referred", True)], ["referer"])[:5]


def _lower_methods(records: list[Record]) -> list[Record]:
    rows = [
        {"m": m, "count(*)": len(rs)}
        for m, rs in grouped(
            records, lambda r: r["method"].lower() if r["method"] else None
        ).items()
    ]
    return ordered(rows, [], ["m"])


def _levels(records: list[Record]) -> list[Record]:
    rows = [{"level": v, "count(*)": len(rs)} for v, rs in grouped(records, get("level")).items()]
    return ordered(rows, [], ["level"])


def _error_loggers(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["level"] == "ERROR"]
    rows = [{"logger": g, "errors": len(rs)} for g, rs in grouped(chosen, get("logger")).items()]
    return ordered(rows, [("errors", True)], ["logger"])[:5]


def _request_times(records: list[Record]) -> list[Record]:
    times = []
    for r in records:
        found = re.search(r"Completed request in (.*?) ms", r["message"])
        if found is not None:
            times.append(int(found.group(1)))
    return [
        {
            "requests": len(times),
            "avg(ms)": sum(times) / len(times),
            "max(ms)": max(times),
            "pct(ms, 99)": Ranked([float(t) for t in times], 99),
        }
    ]


def _shown_time(record: Record) -> str:
    """The time as Logs Insights shows it: ``2020-12-01 00:05:32.078``."""
    if "time" in record:
        return str(record["time"])
    return datetime.fromtimestamp(record["@timestamp"], UTC).strftime("%Y-%m-%d %H:%M:%S.000")


def _listed(rows: list[tuple[list[Any], Record]], limit: int) -> list[Record]:
    """Rows by their sort keys, ties by the row's values as JSON text (logmr's
    rule, docs/queries.md), the first ``limit``."""
    return [
        row for _, row in sorted(rows, key=lambda kv: (kv[0], json.dumps(list(kv[1].values()))))
    ][:limit]


def _recent_errors(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if int(r["status"]) >= 500]
    rows = [
        (
            [-r["@timestamp"]],
            {"@timestamp": _shown_time(r), "status": r["status"], "path": r["path"]},
        )
        for r in chosen
    ]
    return _listed(rows, 5)


def _biggest_per_path(records: list[Record]) -> list[Record]:
    rows = [([-r["bytes"], natural(r["path"])], {"path": r["path"], "bytes": r["bytes"]})
            for r in records]  # fmt: skip
    seen: set[Any] = set()
    firsts = []
    for _, row in sorted(rows, key=lambda kv: (kv[0], json.dumps(list(kv[1].values())))):
        if row["path"] not in seen:
            seen.add(row["path"])
            firsts.append(row)
    return firsts[:4]


def _last_errors(records: list[Record]) -> list[Record]:
    chosen = [r for r in records if r["level"] == "ERROR"]
    rows = [
        (
            [-r["@timestamp"]],
            {"@timestamp": _shown_time(r), "logger": r["logger"], "message": r["message"]},
        )
        for r in chosen
    ]
    return _listed(rows, 3)


CASES = [
    Case("requests per status", "access", "stats count(*) by status", _requests_per_status),
    Case(
        "5xx paths: how many, and their 95th percentile size",
        "access",
        "filter status >= 500 | stats count(*), pct(bytes, 95) by path"
        " | sort count desc | limit 20",
        _slow_paths,
    ),
    Case(
        "requests and bytes per method",
        "access",
        "stats count(*) as requests, sum(bytes) as bytes by method | sort requests desc",
        _per_method,
    ),
    Case(
        "statuses of the API's POSTs",
        "access",
        'filter method = "POST" and path like "/api/" | stats count(*) by status',
        _api_posts,
    ),
    Case(
        "requests per 5 minutes",
        "access",
        "stats count(*) by bin(5m) | sort bin(5m) asc | limit 6",
        _per_five_minutes,
    ),
    Case(
        "the most missed paths",
        "access",
        "filter status in [404, 410] | stats count(*) as misses by path"
        " | sort misses desc, path asc | limit 10",
        _misses,
    ),
    Case(
        "response sizes per status",
        "access",
        "stats avg(bytes), min(bytes), max(bytes) by status",
        _sizes_per_status,
    ),
    Case(
        "distinct clients per status",
        "access",
        "stats count_distinct(client) as clients by status | sort clients desc",
        _clients_per_status,
        approximate={"clients": 3 * 0.016155679},
    ),
    Case(
        "HTTP versions, parsed from the line",
        "access",
        'parse @message "\\"* * HTTP/*\\"" as verb, target, version | stats count(*) by version',
        _versions,
    ),
    Case(
        "robots",
        "access",
        "filter user_agent like /bot|crawler|spider/i | stats count(*) as hits by user_agent"
        " | sort hits desc | limit 5",
        _bots,
    ),
    Case(
        "paths of big responses",
        "access",
        "fields bytes / 1024 as kb | filter kb > 100 | stats count(*) as big, sum(kb) by path"
        " | sort big desc | limit 5",
        _big_responses,
    ),
    Case(
        "first and last path per method",
        "access",
        "stats earliest(path) as first, latest(path) as last by method",
        _first_and_last,
    ),
    Case(
        "errors per hour and method",
        "access",
        "filter status >= 400 | stats count(*) as errors by bin(1h), method"
        " | sort errors desc | limit 5",
        _errors_per_hour,
    ),
    Case(
        "spread of sizes per method",
        "access",
        "stats stddev(bytes) as sd, avg(bytes) as mean by method",
        _spread,
    ),
    Case(
        "statuses seen more than 100 times",
        "access",
        "stats count(*) as n by status | filter n > 100 | sort n desc",
        _busy_statuses,
    ),
    Case(
        "top referrers",
        "access",
        'filter ispresent(referer) and referer != "-" | stats count(*) as referred by referer'
        " | sort referred desc | limit 5",
        _referrers,
    ),
    Case(
        "methods, lower-cased",
        "access",
        "stats count(*) by tolower(method) as m",
        _lower_methods,
    ),
    Case(
        "the latest server errors",
        "access",
        "filter status >= 500 | fields @timestamp, status, path | sort @timestamp desc | limit 5",
        _recent_errors,
    ),
    Case(
        "the biggest response of each path",
        "access",
        "fields path, bytes | sort bytes desc, path | dedup path | limit 4",
        _biggest_per_path,
    ),
    Case("records per level", "app", "stats count(*) by level", _levels),
    Case(
        "the last errors",
        "app",
        'filter level = "ERROR" | fields @timestamp, logger, message | limit 3',
        _last_errors,
    ),
    Case(
        "loggers of the errors",
        "app",
        'filter level = "ERROR" | stats count(*) as errors by logger | sort errors desc | limit 5',
        _error_loggers,
    ),
    Case(
        "request times from the messages",
        "app",
        'parse message "Completed request in * ms" as ms | filter ispresent(ms)'
        " | stats count(*) as requests, avg(ms), max(ms), pct(ms, 99)",
        _request_times,
    ),
]
