"""The tables a job's results are shown in: one builder per shape a job is
shown as (``Job.shown_as``), written by ``write``: rich's tables on a
terminal, plain aligned columns in a pipe or a file (no colour, no box).

- ``ranked``: the top N results by value (or count);
- ``series``: one row per time window, in time order (``--sort value`` ranks
  them instead), the first N of them;
- ``report``: ``access_report``'s sections from its summary: totals, status
  mix, methods, static vs dynamic, top paths, then its panels (clients,
  referers, user agents, 404 paths) when it has them, windows;
- ``sessions``: the clients with the most sessions, then the summary's two
  histograms with their buckets named.

A sketch (base64 text) is never shown: only the estimates beside it (p50,
p95, p99; distinct with its bounds). Status-class columns come in a fixed
order (1xx to 5xx, then the others). Every text from a log is made printable.
"""

from __future__ import annotations

import heapq
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from logmr.cli.output import DEFAULT_TABLE_ROWS, cell, printable
from logmr.errors import LogmrError
from logmr.jobs.base import Shape

if TYPE_CHECKING:
    from logmr.storage.base import JobRecord

#: the widest a key column gets in plain output (longer keys end in "…")
KEY_WIDTH = 60
#: the narrowest a key column gets on a narrow terminal (a window's name; figures keep theirs)
MIN_KEY_WIDTH = 20
#: the narrowest a value column is in plain output
VALUE_WIDTH = 12
#: value fields never shown: a sketch's base64 text
HIDDEN = frozenset({"sketch"})
#: the names some value fields are shown under (a distinct count's bounds: two standard errors)
HEADINGS = {"lower": "lower bound", "upper": "upper bound"}
#: ``--sort``: ``value`` ranks by value (or count), ``key`` keeps key (time) order
SORTS = ("value", "key")

_STATUS_CLASS = re.compile(r"[1-5]xx")


@dataclass
class Table:
    """One table: ``head`` names the key column and each value column; a row
    is the key then the values; ``more`` is the line under it (what was left out)."""

    title: str
    head: list[str]
    rows: list[list[Any]]
    more: str = ""


@dataclass
class Shown:
    """What the terminal shows of a job's results: tables, then the summary's scalars."""

    tables: list[Table] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def sort_option(parser: Any) -> None:
    """``--sort``, for the commands that show results."""
    parser.add_argument(
        "--sort",
        choices=SORTS,
        default=None,
        help="value: the top N by value (or count), the default but for time series; "
        "key: the first N in key order (a time series' default: its first windows)",
    )


def shape_of(job: str) -> Shape:
    """How the job named ``job`` is shown (``ranked`` when its class cannot be loaded)."""
    from logmr.jobs import job_class

    try:
        return job_class(job).shown_as
    except LogmrError:  # a user's job whose module is gone: its results are shown all the same
        return "ranked"


def build(results: Any, record: JobRecord, top: int | None, sort: str | None) -> Shown:
    """The tables of a SUCCEEDED job's results, by the shape its job is shown as."""
    limit = top or DEFAULT_TABLE_ROWS
    shape = shape_of(record.job)
    if shape == "report":
        return _report(record, limit, sort)
    if shape == "series":
        return _series(results, record, limit, sort)
    if shape == "sessions":
        return _sessions(results, record, limit, sort)
    rows = _rows(results, record, limit, sort or "value")
    return Shown([value_table("", "key", rows, record.result_keys, "keys")], scalars(record))


def _rows(results: Any, record: JobRecord, limit: int, sort: str) -> list[tuple[str, Any]]:
    """The ``limit`` best results (``sort`` ``value``) or the first in key order (``key``)."""
    if sort == "value":
        return list(results.top(record.job_id, limit))
    # streamed: memory for ``limit`` results, whatever the job's count
    return heapq.nsmallest(limit, results.iter_results(record.job_id), key=lambda kv: kv[0])


def value_table(title: str, key: str, pairs: list[tuple[str, Any]], total: int, noun: str) -> Table:
    """Key and value pairs as a table: an object's fields as columns, or one ``value``."""
    columns = value_columns(value for _, value in pairs)
    rows = [
        [name, *([value.get(column) for column in columns] if columns else [_shown(value)])]
        for name, value in pairs
    ]
    head = [key, *(HEADINGS.get(column, column) for column in columns or ["value"])]
    return Table(title, head, rows, _more(total - len(pairs), noun))


def value_columns(values: Iterable[Any]) -> list[str]:
    """The fields of the object values, in the order they first come, ``count``
    first and the status classes 1xx to 5xx next; sketches and lists left out."""
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, dict):
            for name, each in value.items():
                if name not in HIDDEN and not isinstance(each, list | dict):
                    seen.setdefault(name)
    names = list(seen)
    classes = sorted(name for name in names if _STATUS_CLASS.fullmatch(name))
    first = ["count"] if "count" in seen else []
    return first + classes + [name for name in names if name not in first and name not in classes]


def _shown(value: Any) -> Any:
    """A value in one cell: an object without its sketch."""
    if isinstance(value, dict):
        return {name: each for name, each in value.items() if name not in HIDDEN}
    return value


def scalars(record: JobRecord) -> dict[str, Any]:
    """The summary's scalars (its lists and objects are shown as tables, or repeat them)."""
    return {k: v for k, v in (record.summary or {}).items() if not isinstance(v, list | dict)}


def _more(left: int, noun: str) -> str:
    return f"... {left:,} more {noun} (--top N, or --json for all)" if left > 0 else ""


def _series(results: Any, record: JobRecord, limit: int, sort: str | None) -> Shown:
    """Windows in time order, the first ``limit`` (ranked with ``--sort value``),
    and a sketch job's whole-job figures under them."""
    # window names are ISO 8601 in one zone: their text order is time order
    rows = _rows(results, record, limit, sort or "key")
    shown = Shown([value_table("", "window", rows, record.result_keys, "windows")])
    summary = dict(record.summary or {})
    overall = summary.pop("overall", None)
    if isinstance(overall, dict):  # percentiles: the whole job's, from the merged sketches
        shown.tables.append(value_table("whole job", "", [("all windows", overall)], 1, ""))
    shown.summary = {k: v for k, v in summary.items() if not isinstance(v, list | dict)}
    return shown


def _report(record: JobRecord, limit: int, sort: str | None) -> Shown:
    """``access_report``'s sections, from its summary."""
    summary = record.summary or {}
    requests = summary.get("requests", 0)

    def share(count: int) -> str:
        return f"{count / requests:.1%}" if requests else "-"

    totals = Table(
        "totals",
        ["", "value"],
        [
            ["requests", requests],
            ["bytes", summary.get("bytes", 0)],
            ["errors (4xx, 5xx)", summary.get("errors", 0)],
            ["error rate", share(summary.get("errors", 0))],
            ["distinct paths", summary.get("distinct_paths", 0)],
        ],
    )
    status = sorted(summary.get("status", {}).items())
    mix = Table(
        "status mix", ["status", "requests", "share"], [[c, n, share(n)] for c, n in status]
    )
    paths = summary.get("top_paths", [])
    top = Table(
        "top paths",
        ["path", "requests", "bytes"],
        [list(row) for row in paths[:limit]],
        _more(summary.get("distinct_paths", 0) - min(limit, len(paths)), "paths"),
    )
    panels = [_panel(summary, name, limit, noun) for name, noun in PANELS if name in summary]
    windows = list(summary.get("windows", []))
    if sort == "value":
        windows.sort(key=lambda row: (-row[1], row[0]))
    window_rows = [[name, count, errors, *(q or [None] * 3)] for name, count, errors, q in windows]
    head = ["window", "requests", "errors", "p50 bytes", "p95 bytes", "p99 bytes"]
    by_window = Table(
        "windows", head, window_rows[:limit], _more(len(window_rows) - limit, "windows")
    )
    return Shown([totals, mix, *_mix_tables(summary, share), top, *panels, by_window])


#: ``access_report``'s ranked panels (``jobs.report``): summary list, what a row is
PANELS = (
    ("top_clients", "clients"),
    ("top_referers", "referers"),
    ("top_agents", "user agents"),
    ("top_not_found", "404 paths"),
)


def _panel(summary: dict[str, Any], name: str, limit: int, noun: str) -> Table:
    """One ranked panel: its first ``limit`` rows, and how many more there are."""
    rows = [list(row) for row in summary[name][:limit]]
    distinct = summary.get("distinct_" + name.removeprefix("top_"), len(rows))
    return Table(
        f"top {noun}", [noun.rstrip("s"), "requests"], rows, _more(distinct - len(rows), noun)
    )


def _mix_tables(summary: dict[str, Any], share: Any) -> list[Table]:
    """The methods and static vs dynamic shares, when the summary has them."""
    tables = []
    if "methods" in summary:
        rows = [[method, n, share(n)] for method, n in summary["methods"].items()]
        tables.append(Table("methods", ["method", "requests", "share"], rows))
    if "static" in summary:
        rows = [
            [kind, summary[kind]["count"], share(summary[kind]["count"]), summary[kind]["bytes"]]
            for kind in ("static", "dynamic")
        ]
        tables.append(Table("static vs dynamic", ["", "requests", "share", "bytes"], rows))
    return tables


def _sessions(results: Any, record: JobRecord, limit: int, sort: str | None) -> Shown:
    """The clients with the most sessions, then the histograms, buckets named."""
    pairs = _rows(results, record, limit, sort or "value")
    clients = value_table(
        "clients with the most sessions", "client", pairs, record.result_keys, "clients"
    )
    clients.head = ["sessions" if name == "count" else name for name in clients.head]
    shown = Shown([clients], scalars(record))
    sessions = (record.summary or {}).get("sessions", 0)
    for name, title, unit in (
        ("session_length", "session length", "length"),
        ("requests_per_session", "requests per session", "requests"),
    ):
        buckets = (record.summary or {}).get(name)
        if isinstance(buckets, dict):
            rows = [
                [bucket, count, f"{count / sessions:.1%}" if sessions else "-"]
                for bucket, count in buckets.items()
            ]
            shown.tables.append(Table(title, [unit, "sessions", "share"], rows))
    return shown


# -- writing ----------------------------------------------------------------------


def write(out: TextIO, shown: Shown, *, terminal: bool | None = None) -> None:
    """``shown`` on ``out``: rich's tables on a terminal (``terminal``: whether
    ``out`` is one), plain columns elsewhere."""
    if terminal is None:
        terminal = out.isatty()
    if terminal and has_rich():
        _write_rich(out, shown)
    else:
        _write_plain(out, shown)


def has_rich() -> bool:
    """Whether rich is installed (the ``cli`` extra): without it, plain tables and no bar."""
    return importlib.util.find_spec("rich") is not None


def _write_plain(out: TextIO, shown: Shown) -> None:
    if not any(table.rows for table in shown.tables):
        out.write("  (no results)\n")
    for table in shown.tables:
        if not table.rows:
            continue
        if table.title:
            out.write(f"{table.title}:\n")
        keys = [printable(str(row[0])) for row in table.rows]
        width = min(max(len(key) for key in [*keys, table.head[0]]), KEY_WIDTH)
        widths = [max(VALUE_WIDTH, len(name)) for name in table.head[1:]]
        heads = "  ".join(f"{name:>{w}}" for name, w in zip(table.head[1:], widths, strict=True))
        out.write(f"  {table.head[0]:<{width}}  {heads}\n")
        for key, row in zip(keys, table.rows, strict=True):
            shortened = key if len(key) <= width else key[: width - 1] + "…"
            cells = "  ".join(
                f"{_text(value):>{w}}" for value, w in zip(row[1:], widths, strict=True)
            )
            out.write(f"  {shortened:<{width}}  {cells}\n")
        if table.more:
            out.write(f"  {table.more}\n")
    _write_summary(out, shown.summary)


def _write_rich(out: TextIO, shown: Shown) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    # Text, never markup: a key from a log may hold "[bold]" and the like
    console = Console(file=out, force_terminal=True, highlight=False, soft_wrap=False)
    if not any(table.rows for table in shown.tables):
        console.print(Text("(no results)"))
    for table in shown.tables:
        if not table.rows:
            continue
        keys = [printable(str(row[0])) for row in table.rows]
        cells = [[_text(value) for value in row[1:]] for row in table.rows]
        # a figure is never cut: its column is as wide as its widest cell; the key shrinks
        widths = [
            max(len(name), *(len(row[at]) for row in cells))
            for at, name in enumerate(table.head[1:])
        ]
        key_width = min(max(len(key) for key in [*keys, table.head[0]]), KEY_WIDTH)
        grid = RichTable(
            title=Text(table.title, style="bold") if table.title else None,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            collapse_padding=True,
        )
        grid.add_column(
            Text(table.head[0]),
            min_width=min(key_width, MIN_KEY_WIDTH),
            max_width=KEY_WIDTH,
            overflow="ellipsis",
            no_wrap=True,
        )
        for name, width in zip(table.head[1:], widths, strict=True):
            grid.add_column(Text(name), justify="right", no_wrap=True, min_width=width)
        for key, row in zip(keys, cells, strict=True):
            grid.add_row(Text(key), *map(Text, row))
        # past the terminal's width (lines wrap) rather than a figure cut
        needed = min(key_width, MIN_KEY_WIDTH) + sum(widths) + 2 * len(widths)
        console.print(grid, width=max(console.width, needed), crop=False)
        if table.more:  # under the table, not its caption: a caption wraps to the table's width
            console.print(Text(table.more, style="dim"))
        console.print()
    if shown.summary:
        summary = RichTable(
            title=Text("summary", style="bold"),
            title_justify="left",
            box=None,
            pad_edge=False,
            collapse_padding=True,
            show_header=False,
        )
        summary.add_column(no_wrap=True)
        summary.add_column(justify="right", no_wrap=True)
        for name, value in shown.summary.items():
            summary.add_row(Text(printable(name)), Text(cell(value)))
        console.print(summary)


def _write_summary(out: TextIO, summary: dict[str, Any]) -> None:
    if summary:
        out.write("summary:\n")
        for name, value in summary.items():
            out.write(f"  {printable(name)}: {cell(value)}\n")


def _text(value: Any) -> str:
    """A cell's text: ``-`` for a figure a window does not have."""
    return "-" if value is None else cell(value)
