"""The built-in catalogue."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from logmr.formats.base import CANONICAL_FIELDS, Column, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView
from logmr.jobs.params import (
    Param,
    UserRegex,
    boolean,
    duration_seconds,
    positive_int,
    regex,
)
from logmr.jobs.sums import KeyedSums, converted_ints, counts_and_sums

#: a word: a maximal run of ASCII [A-Za-z0-9_], matched after ASCII lowercasing
WORD = re.compile(rb"[a-z0-9_]+")

#: levels (compared upper-cased) that count as errors in level logs; syslog
#: severities 0-3 (emerg, alert, crit, err) included
ERROR_LEVELS = frozenset(
    {"ERROR", "FATAL", "CRITICAL", "SEVERE", "EMERG", "EMERGENCY", "ALERT", "CRIT", "ERR"}
)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


@register
class WordCount(Job):
    name = "word_count"
    description = "words (maximal runs of ASCII [A-Za-z0-9_], lowercased) over every raw line"
    raw_lines = True

    def mapper(self, record: bytes) -> Iterator[KV]:
        for word in WORD.findall(record.lower()):
            yield word, 1

    def map_keys(self, lines: list[bytes]) -> Iterable[Any]:
        return WORD.findall(b"\n".join(lines).lower())


@register
class PatternCount(Job):
    """Matches of a user regex, run on RE2 (linear time: no catastrophic
    backtracking, see ``logmr.jobs.params.UserRegex`` and docs/bad-input.md)."""

    name = "pattern_count"
    description = "matches of a regex over every raw line; key = the group 'key' or the whole match"
    raw_lines = True
    params = (
        Param(
            "pattern",
            regex,
            None,
            "a regex over the line's bytes (RE2 syntax: Python's without backreferences"
            " or lookarounds)",
        ),
        Param("ignore_case", boolean, "false", "match without regard to ASCII case"),
    )

    def configure(self) -> None:
        pattern: UserRegex = self.options["pattern"]
        if self.options["ignore_case"]:
            pattern = UserRegex(pattern.text, ignore_case=True)
        if pattern.matches_empty():
            from logmr.errors import InvalidParameterError

            raise InvalidParameterError(
                f"job {self.name}: parameter pattern={pattern.text!r} matches the empty string"
            )
        self.pattern = pattern
        self.group = pattern.groupindex.get("key", 0)

    def map_keys(self, lines: list[bytes]) -> Iterable[Any] | None:
        if self.pattern.groups:  # keys may be None (a group that took no part): use the mapper
            return None
        return chain.from_iterable(map(self.pattern.keys, lines))

    def mapper(self, record: bytes) -> Iterator[KV]:
        for key in self.pattern.keys(record, self.group):
            if key is None:
                self.count("no_key_group")
                continue
            yield key, 1


def _field_param(default: str) -> Param:
    """The ``field`` parameter of a counting job: which field it counts."""
    return Param(
        "field",
        str,
        default,
        "the field counted: a canonical field, @message, a custom format's or a"
        " JSON key's name (s, log.level, t.$date)",
    )


class _FieldCounting(Job):
    """A counting job over the field its ``field`` parameter names
    (``count_field``: the engine may count in C); subclasses declare it."""

    def bind(self, fmt: Format) -> None:
        field = self.options["field"]
        self.fields["value"] = fmt.getter(field)
        self.count_field = field
        self.missing = f"no_{field}"

    def mapper(self, record: Any) -> Iterator[KV]:
        value = self.fields["value"](record)
        if value is None:
            self.count(self.missing)
            return
        yield value, 1


@register
class StatusCodes(_FieldCounting):
    name = "status_codes"
    description = "requests per HTTP status code"
    params = (_field_param("status"),)


@register
class TopPaths(Job):
    name = "top_paths"
    description = "requests and response bytes per path; the summary holds the top N by requests"
    needs = ("path", "bytes")
    adds_up = True
    params = (
        Param("top", positive_int, "20", "how many paths the summary keeps"),
        Param("strip_query", boolean, "false", "drop the query string (?...) from paths"),
    )

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.columns = ("path", "bytes")

    def mapper(self, record: Any) -> Iterator[KV]:
        path, size = self.fields["path"](record), self.fields["bytes"](record)
        if size is None:
            self.count("no_bytes")
        if path is None:
            self.count("no_path")
            return
        if self.options["strip_query"]:
            path = _without_query(path)
        yield path, [1, size or 0]

    def map_columns(self, columns: list[Column]) -> KeyedSums:
        """Records and bytes per raw request added up in C (``jobs.sums``), then
        each distinct raw request turned into its path once and the sums of
        requests with the same path added up (the same pairs as ``mapper``,
        pre-combined)."""
        path_column, size_column = columns
        sizes, bound, no_size = converted_ints(size_column.raw, size_column.convert)
        if no_size:
            self.count("no_bytes", no_size)
        requests = counts_and_sums(path_column.raw, sizes, bound)
        convert = _strip_query_of(path_column) if self.options["strip_query"] else path_column.value
        paths = requests.rekeyed(convert)
        no_path = paths.pop(None)
        if no_path:
            self.count("no_path", no_path[0])
        return paths

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, [sum(v[0] for v in values), sum(v[1] for v in values)]

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        count, nbytes = values[0] if len(values) == 1 else next(self.combiner(key, values))[1]
        yield key, {"count": count, "bytes": nbytes}

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        top = results.top(self.options["top"])
        return {"top": [[key, value["count"], value["bytes"]] for key, value in top]}


def _without_query(path: Any) -> Any:
    return path.split(b"?" if isinstance(path, bytes) else "?", 1)[0]


def _strip_query_of(column: Column) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        path = column.value(raw)
        return None if path is None else _without_query(path)

    return convert


@register
class BytesTotal(Job):
    name = "bytes_total"
    description = "total response bytes and responses"
    needs = ("bytes",)

    def mapper(self, record: Any) -> Iterator[KV]:
        size = self.fields["bytes"](record)
        if size is None:
            self.count("no_bytes")
            return
        yield "bytes", size
        yield "responses", 1

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        total, responses = results.get("bytes", 0), results.get("responses", 0)
        return {
            "bytes": total,
            "responses": responses,
            "mean_bytes": total / responses if responses else 0.0,
        }


@register
class ErrorRate(Job):
    name = "error_rate"
    description = (
        "share of errors: 4xx/5xx statuses in access logs, ERROR/FATAL levels in level logs"
    )
    needs_any = ("status", "level")

    def configure(self) -> None:
        self.by_status = True

    def bind(self, fmt: Any) -> None:
        super().bind(fmt)
        self.by_status = "status" in self.fields

    def mapper(self, record: Any) -> Iterator[KV]:
        value = self.fields["_any"](record)
        if value is None:
            self.count("no_status" if self.by_status else "no_level")
            return
        text = _text(value)
        error = text[:1] in ("4", "5") if self.by_status else text.upper() in ERROR_LEVELS
        yield "total", 1
        yield "errors", 1 if error else 0

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        total, errors = results.get("total", 0), results.get("errors", 0)
        summary: dict[str, Any] = {
            "basis": "status 4xx/5xx" if self.by_status else "level ERROR/FATAL",
            "total": total,
            "errors": errors,
            "error_rate": errors / total if total else None,
        }
        if not total:  # no record had a status (or level): no share to give, not 0
            field = "status" if self.by_status else "level"
            summary["unmeasured"] = f"cannot be measured: no record has a {field}"
        return summary


@register
class LevelCounts(_FieldCounting):
    name = "level_counts"
    description = "records per level (case as written)"
    params = (_field_param("level"),)


@register
class RequestsPerWindow(Job):
    name = "requests_per_window"
    shown_as = "series"
    description = "requests per tumbling time window, split by status class (2xx, 4xx, ...)"
    params = (
        Param("window", duration_seconds, "1h", "window size: 30s, 5m, 1h, 1d, ..."),
        Param(
            "tz",
            str,
            "utc",
            "utc: windows in UTC; local: in the log's own clock as written",
            choices=("utc", "local"),
        ),
    )

    def bind(self, fmt: Any) -> None:
        self.fields["time"] = fmt.getter("epoch" if self.options["tz"] == "utc" else "local_time")
        self.fields["status"] = fmt.getters().get("status")  # optional

    def mapper(self, record: Any) -> Iterator[KV]:
        when = self.fields["time"](record)
        if when is None:
            self.count("no_time")
            return
        window: int = self.options["window"]
        start = int(when // window * window)
        status_of = self.fields["status"]
        value = {"count": 1}
        if status_of is not None:
            status = status_of(record)
            value[f"{_text(status)[:1]}xx" if status else "no_status"] = 1
        yield start, value

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        merged: dict[str, int] = {}
        for value in values:
            for name, count in value.items():
                merged[name] = merged.get(name, 0) + count
        yield key, merged

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        for start, merged in self.combiner(key, values):
            yield self.window_name(int(start)), merged

    def window_name(self, start: int) -> str:
        stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return stamp + "Z" if self.options["tz"] == "utc" else stamp


@register
class FieldCount(_FieldCounting):
    name = "field_count"
    description = "records per value of any field the format has (client, program, method, ...)"
    params = (
        Param(
            "field",
            str,
            None,
            f"a canonical field ({', '.join(sorted(CANONICAL_FIELDS))}), @message, a custom"
            " format's or a JSON key's name",
        ),
    )
