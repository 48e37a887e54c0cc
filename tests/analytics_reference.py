"""An independent reading of Apache combined logs for the analytics tests:
a plain regex and ``datetime.strptime``, no logmr code."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_LINE = re.compile(
    r"(\S+) \S+ \S+ \[([^\]]+)\] " + _QUOTED + r" (\d{3}) (\d+|-) " + _QUOTED + " " + _QUOTED
)


@dataclass(frozen=True)
class Row:
    client: str
    path: str | None
    status: str
    size: int
    epoch: float | None  # UTC seconds
    local: float | None  # the written clock, read as UTC
    method: str | None = None
    referer: str = "-"
    agent: str = "-"

    @property
    def error(self) -> bool:
        return self.status[0] in "45"


def _times(stamp: str) -> tuple[float | None, float | None]:
    try:
        when = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None, None
    return when.timestamp(), when.replace(tzinfo=UTC).timestamp()


def read_access(path: Path) -> list[Row]:
    """The well-formed lines of an Apache combined log."""
    rows = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.removesuffix(b"\r").decode("utf-8", "backslashreplace")
        match = _LINE.fullmatch(line)
        if match is None:
            continue
        client, stamp, request, status, size, referer, agent = match.group(1, 2, 3, 4, 5, 6, 7)
        tokens = request.split()
        epoch, local = _times(stamp)
        rows.append(
            Row(
                client=client,
                path=tokens[1] if len(tokens) > 1 else None,
                status=status,
                size=0 if size == "-" else int(size),
                epoch=epoch,
                local=local,
                method=tokens[0] if tokens else None,
                referer=referer,
                agent=agent,
            )
        )
    return rows


def iso(start: int, utc: bool = True) -> str:
    """A window start as the jobs name it."""
    text = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + "Z" if utc else text


def rank_interval(data_sorted: list[float], value: float) -> tuple[float, float]:
    """The normalized ranks ``value`` spans in ``data_sorted``: (share below, share at or below)."""
    from bisect import bisect_left, bisect_right

    n = len(data_sorted)
    return bisect_left(data_sorted, value) / n, bisect_right(data_sorted, value) / n


#: result fields that are sketch estimates. KLL compaction is randomized (the
#: library seeds it from the clock), and an HLL estimate depends on how the
#: input was split (a sketch built from one stream uses the HIP estimator, a
#: union does not): two runs agree on these only within the stated errors
ESTIMATES = frozenset({"p50", "p90", "p95", "p99", "sketch", "distinct", "lower", "upper"})


def without_estimates(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` (or a job record) with the sketch estimates dropped from
    every object inside its values (counts, min, max and the rest stay): what
    two runs of a job must agree on. Top-level keys are kept whatever their name."""
    return {key: _drop_estimates(value) for key, value in results.items()}


def _drop_estimates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_estimates(v) for k, v in value.items() if k not in ESTIMATES}
    if isinstance(value, list):
        return [_drop_estimates(item) for item in value]
    return value


#: static files' extensions (docs/report.md), written out here again
STATIC = {
    *("css", "js", "mjs", "map", "txt", "csv", "pdf", "ico", "svg", "woff", "woff2", "png"),
    *("jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff", "ttf", "otf", "eot", "mp3"),
    *("mp4", "ogg", "webm", "mpeg", "mpg", "avi", "flv", "swf", "zip", "gz", "tgz", "rar"),
    *("tar", "exe", "iso", "doc", "docx", "xls", "xlsx", "ppt", "pptx"),
}


def is_static(path: str) -> bool:
    name = re.split(r"[?#]", path, maxsplit=1)[0].rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    return bool(stem and dot) and extension.lower() in STATIC


def access_report_rows(rows: list[Row], window: int, panels: bool = True) -> dict[str, Any]:
    """Every exact row of access_report over ``rows`` (percentiles apart),
    with its panels' rows unless ``panels`` is false."""
    want: dict[str, Any] = {}
    if panels:
        want.update(_panel_rows(rows))
    for status, count in Counter(row.status for row in rows).items():
        want[f"status:{status}"] = count
    for row in rows:
        if row.path is not None:
            entry = want.setdefault(f"path:{row.path}", {"count": 0, "bytes": 0})
            entry["count"] += 1
            entry["bytes"] += row.size
        if row.epoch is not None:
            start = int(row.epoch // window * window)
            entry = want.setdefault(f"window:{iso(start)}", {"count": 0, "errors": 0, "bytes": 0})
            entry["count"] += 1
            entry["errors"] += row.error
            entry["bytes"] += row.size
    want["total"] = {
        "count": len(rows),
        "bytes": sum(row.size for row in rows),
        "errors": sum(row.error for row in rows),
    }
    return want


def _panel_rows(rows: list[Row]) -> dict[str, Any]:
    want: dict[str, Any] = {}
    for row in rows:
        for name in (f"client:{row.client}", f"referer:{row.referer}", f"agent:{row.agent}"):
            want[name] = want.get(name, 0) + 1
        if row.method is not None:
            want[f"method:{row.method}"] = want.get(f"method:{row.method}", 0) + 1
        if row.path is None:
            continue
        if row.status == "404":
            want[f"notfound:{row.path}"] = want.get(f"notfound:{row.path}", 0) + 1
        kind = want.setdefault(
            f"kind:{'static' if is_static(row.path) else 'dynamic'}", {"count": 0, "bytes": 0}
        )
        kind["count"] += 1
        kind["bytes"] += row.size
    return want


def session_groups(rows: list[Row], gap: int) -> dict[str, list[list[float]]]:
    """Each client's request times (of the rows with one), sorted and split
    into sessions where a pause exceeds ``gap`` seconds."""
    times: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.epoch is not None:
            times[row.client].append(row.epoch)
    sessions: dict[str, list[list[float]]] = {}
    for client, stamps in times.items():
        stamps.sort()
        groups: list[list[float]] = [[stamps[0]]]
        for previous, current in pairwise(stamps):
            if current - previous > gap:
                groups.append([])
            groups[-1].append(current)
        sessions[client] = groups
    return sessions
