"""Window jobs: tumbling/sliding window counts, and session windows per client."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import Any

from logmr.errors import InvalidParameterError
from logmr.formats.base import CANONICAL_FIELDS, Format
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView
from logmr.jobs.params import Param, duration_seconds
from logmr.jobs.timewindows import TZ_PARAM, error_classifier, time_getter, window_name

#: the most windows one record may fall in (window / slide)
MAX_WINDOWS_PER_RECORD = 1440


def _slide(text: str) -> int:
    """A slide in seconds; ``window`` (0 here) means the window size (tumbling)."""
    return 0 if text.strip().lower() == "window" else duration_seconds(text)


@register
class WindowCounts(Job):
    """Records and errors per tumbling or sliding window.

    A window of ``window`` seconds starts at every multiple of ``slide`` (on the
    clock ``tz`` picks, see ``logmr.jobs.timewindows``) and holds the records
    with ``start <= time < start + window``; with ``slide == window`` (the
    default) each record is in one window, otherwise in ``window / slide``.
    ``errors`` counts 4xx/5xx statuses, or ERROR-ish levels in level logs; it
    is absent when the format has neither field.
    """

    name = "window_counts"
    shown_as = "series"
    description = "records and errors per tumbling or sliding time window"
    adds_up = True
    params = (
        Param("window", duration_seconds, "1h", "window size: 30s, 5m, 1h, 1d, ..."),
        Param(
            "slide",
            _slide,
            "window",
            "step between window starts; must divide the window (window: tumbling)",
        ),
        TZ_PARAM,
    )

    def configure(self) -> None:
        window: int = self.options["window"]
        slide: int = self.options["slide"] or window
        if slide > window or window % slide:
            raise InvalidParameterError(
                f"job {self.name}: parameter slide={slide}s must divide window={window}s"
            )
        if window // slide > MAX_WINDOWS_PER_RECORD:
            raise InvalidParameterError(
                f"job {self.name}: window/slide = {window // slide} windows per record"
                f" (at most {MAX_WINDOWS_PER_RECORD})"
            )
        self.window, self.slide = window, slide
        self.errors_of: Callable[[Any], int] | None = None

    def bind(self, fmt: Format) -> None:
        self.fields["time"] = time_getter(fmt, self.options["tz"])
        self.errors_of = error_classifier(fmt)

    def mapper(self, record: Any) -> Iterator[KV]:
        when = self.fields["time"](record)
        if when is None:
            self.count("no_time")
            return
        slide = self.slide
        last = int(when // slide) * slide  # the latest window start at or before the record
        value = [1, self.errors_of(record) if self.errors_of is not None else 0]
        for start in range(last - self.window + slide, last + slide, slide):
            yield start, value

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, [sum(v[0] for v in values), sum(v[1] for v in values)]

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        count, errors = sum(v[0] for v in values), sum(v[1] for v in values)
        result = {"count": count}
        if self.errors_of is not None:
            result["errors"] = errors
        yield window_name(int(key), self.options["tz"]), result

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        busiest = results.top(1)
        summary: dict[str, Any] = {
            "window_s": self.window,
            "slide_s": self.slide,
            "windows": len(results),
            "busiest": [busiest[0][0], busiest[0][1]["count"]] if busiest else None,
        }
        if self.slide == self.window:  # tumbling: each record counted once
            summary["records"] = sum(value["count"] for _, value in results)
            if self.errors_of is not None:
                summary["errors"] = sum(value["errors"] for _, value in results)
        return summary


#: session length buckets: (label, upper bound in seconds, exclusive); 0s = one instant
LENGTH_BUCKETS: tuple[tuple[str, float], ...] = (
    ("0s", 0.0),
    ("<1m", 60.0),
    ("<5m", 300.0),
    ("<30m", 1800.0),
    ("<1h", 3600.0),
    ("<1d", 86400.0),
    (">=1d", float("inf")),
)
#: requests-per-session buckets: (label, largest count in it)
REQUEST_BUCKETS: tuple[tuple[str, float], ...] = (
    ("1", 1),
    ("2-5", 5),
    ("6-10", 10),
    ("11-50", 50),
    ("51-100", 100),
    (">100", float("inf")),
)
_LENGTH_EDGES = [0.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0]
_REQUEST_EDGES = [1, 5, 10, 50, 100]


def length_bucket(seconds: float) -> int:
    """Index in ``LENGTH_BUCKETS``: 0 for 0s, then ``<1m`` up to ``>=1d``."""
    if seconds <= 0:
        return 0
    return bisect_right(_LENGTH_EDGES, seconds)


def requests_bucket(requests: int) -> int:
    """Index in ``REQUEST_BUCKETS``."""
    return bisect_right(_REQUEST_EDGES, requests - 1)


Session = list[float]  # [first request time, last request time, requests]


def merge_sessions(values: list[Any], gap: float) -> list[Session]:
    """The sessions of ``values`` - request times (numbers) and partial sessions
    (lists of ``[first, last, requests]``) - split where the time between one
    request and the next is more than ``gap``.

    Exact whatever the grouping: a partial session holds requests no more than
    ``gap`` apart, so adding requests can only join sessions, never split
    them; sorted by first time, a partial session joins the running one when it
    starts no more than ``gap`` after the running one's last request (an
    overlap included), and nothing else can lie in between."""
    parts: list[Session] = []
    for value in values:
        if isinstance(value, list):
            parts.extend(value)
        else:
            parts.append([value, value, 1])
    parts.sort()
    merged: list[Session] = []
    for first, last, requests in parts:
        if merged and first - merged[-1][1] <= gap:
            current = merged[-1]
            current[1] = max(current[1], last)
            current[2] += requests
        else:
            merged.append([first, last, requests])
    return merged


@register
class Sessions(Job):
    """Session windows per client: a client's session ends when it has made no
    request for more than ``gap``. The combiner already folds request times
    into partial sessions (exact, see ``merge_sessions``), so a busy client
    costs one ``[first, last, requests]`` per session, not one time per request.
    """

    name = "sessions"
    shown_as = "sessions"
    description = "sessions per client (inactivity gap), session length and requests per session"
    params = (
        Param("gap", duration_seconds, "30m", "inactivity that ends a session: 30s, 30m, 1h, ..."),
        Param(
            "key",
            str,
            "client",
            "the field whose values are the clients",
            choices=tuple(sorted(CANONICAL_FIELDS - {"epoch", "local_time"})),
        ),
    )

    def bind(self, fmt: Format) -> None:
        self.fields["time"] = fmt.getter("epoch")
        self.fields["key"] = fmt.getter(self.options["key"])

    def mapper(self, record: Any) -> Iterator[KV]:
        client = self.fields["key"](record)
        if client is None:
            self.count(f"no_{self.options['key']}")
            return
        when = self.fields["time"](record)
        if when is None:
            self.count("no_time")
            return
        yield client, when

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, merge_sessions(values, self.options["gap"])

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        sessions = merge_sessions(values, self.options["gap"])
        lengths = [last - first for first, last, _ in sessions]
        by_length = [0] * len(LENGTH_BUCKETS)
        by_requests = [0] * len(REQUEST_BUCKETS)
        for (_, _, requests), length in zip(sessions, lengths, strict=True):
            by_length[length_bucket(length)] += 1
            by_requests[requests_bucket(int(requests))] += 1
        yield (
            key,
            {
                "count": len(sessions),
                "requests": int(sum(requests for _, _, requests in sessions)),
                "total_s": sum(lengths),
                "longest_s": max(lengths),
                "by_length": by_length,
                "by_requests": by_requests,
            },
        )

    def finalize(self, results: ResultsView) -> dict[str, Any]:
        clients = sessions = requests = 0
        total_s = longest_s = 0.0
        by_length = [0] * len(LENGTH_BUCKETS)
        by_requests = [0] * len(REQUEST_BUCKETS)
        for _, value in results:
            clients += 1
            sessions += value["count"]
            requests += value["requests"]
            total_s += value["total_s"]
            longest_s = max(longest_s, value["longest_s"])
            by_length = [a + b for a, b in zip(by_length, value["by_length"], strict=True)]
            by_requests = [a + b for a, b in zip(by_requests, value["by_requests"], strict=True)]
        return {
            "gap_s": self.options["gap"],
            "clients": clients,
            "sessions": sessions,
            "requests": requests,
            "mean_session_s": total_s / sessions if sessions else 0.0,
            "mean_requests_per_session": requests / sessions if sessions else 0.0,
            "longest_s": longest_s,
            "session_length": dict(
                zip([label for label, _ in LENGTH_BUCKETS], by_length, strict=True)
            ),
            "requests_per_session": dict(
                zip([label for label, _ in REQUEST_BUCKETS], by_requests, strict=True)
            ),
        }
