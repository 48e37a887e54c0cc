"""What every system of the peer benchmark computes, and the plain reference.

No logmr here: the peers and the reference share only this file, so that an
answer that agrees with logmr's is evidence, not an echo.

Questions (``QUESTIONS``):

- ``status_codes``: ``{"lines", "malformed", "status": {code: n}}``;
- ``access_report``: the same plus ``"requests"`` (well-formed lines),
  ``"bytes"`` (sum of the size field, ``-`` as 0) and ``"top_paths"``: the 20
  paths with the most requests, ``[path, requests, bytes]``, requests
  descending then path ascending;
- ``top_paths``: ``{"lines", "malformed", "top_paths"}``, the 20 paths as in
  ``access_report`` but with the query string stripped (the path up to its
  first ``?``; ``/a?x=1`` and ``/a`` are one path): logmr's ``top_paths
  --param strip_query=true``. No status counts: that job has none.

A line is what lies between LFs, one trailing CR removed; it is well formed
when ``REFERENCE`` (the project's reference regex) matches it. A path is the
second whitespace-separated token of the request (lines whose request has
fewer tokens have no path). Keys are text: bytes decoded as UTF-8 with invalid
bytes as ``\\xNN``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

QUESTIONS = ("status_codes", "access_report", "top_paths")
#: the questions whose answer has the top paths (``access_report``'s keep the query string)
PATH_QUESTIONS = ("access_report", "top_paths")
TOP = 20

#: the reference regex of the project's test data (1-based groups below)
REFERENCE = re.compile(
    rb"^(\S+) (\S+) (\S+) \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) "
    rb'([+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" '
    rb'"((?:[^"\\]|\\.)*)"$'
)
REQUEST, STATUS, SIZE = 11, 12, 13

#: the reference's fields for RE2 (DuckDB), in order: (name, pattern) or a
#: literal separator. ``\S`` and ``\d`` are spelled out as the ASCII sets
#: Python's bytes patterns use (RE2's ``\s`` lacks \v).
_RE2_NOT_SPACE = r"[^\t\n\x0b\x0c\r ]+"
_RE2_QUOTED = r'(?:[^"\\]|\\.)*'
_RE2_FIELDS: tuple[tuple[str, str] | str, ...] = (
    ("client", _RE2_NOT_SPACE), " ", ("ident", _RE2_NOT_SPACE), " ", ("user", _RE2_NOT_SPACE),
    r" \[", ("day", "[0-9]{2}"), "/", ("month", "[A-Z][a-z]{2}"), "/", ("year", "[0-9]{4}"),
    ":", ("hour", "[0-9]{2}"), ":", ("minute", "[0-9]{2}"), ":", ("second", "[0-9]{2}"),
    " ", ("zone", "[+-][0-9]{4}"), r'\] "', ("request", _RE2_QUOTED), '" ',
    ("status", "[0-9]{3}"), " ", ("size", "[0-9]+|-"), ' "', ("referer", _RE2_QUOTED), '" "',
    ("agent", _RE2_QUOTED), '"',
)  # fmt: skip
RE2_GROUPS = tuple(part[0] for part in _RE2_FIELDS if isinstance(part, tuple))


def re2_reference(capture: Iterable[str] = RE2_GROUPS) -> str:
    """The reference's acceptance in RE2 with only the groups named in
    ``capture`` capturing (in the reference's order), the others ``(?:...)``."""
    keep = set(capture)
    unknown = keep - set(RE2_GROUPS)
    if unknown:
        raise ValueError(f"no such group: {sorted(unknown)}")
    parts = [
        part if isinstance(part, str) else f"({part[1]})" if part[0] in keep else f"(?:{part[1]})"
        for part in _RE2_FIELDS
    ]
    return "^" + "".join(parts) + "$"


#: the same acceptance for RE2, every group captured
RE2_REFERENCE = re2_reference()
#: the path (second token) of a request, for RE2: Python's ``bytes.split()`` whitespace
RE2_PATH = r"^[\t\n\x0b\x0c\r ]*[^\t\n\x0b\x0c\r ]+[\t\n\x0b\x0c\r ]+([^\t\n\x0b\x0c\r ]+)"


def text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def path_of(request: bytes) -> bytes | None:
    parts = request.split(None, 2)
    return parts[1] if len(parts) > 1 else None


def without_query(path: bytes) -> bytes:
    """The path up to its first ``?`` (logmr's ``strip_query``)."""
    return path.split(b"?", 1)[0]


def size_of(size: bytes) -> int:
    return 0 if size == b"-" else int(size)


class Tally:
    """A partial answer over some lines; tallies merge (associative)."""

    def __init__(self, question: str) -> None:
        if question not in QUESTIONS:
            raise SystemExit(f"unknown question {question!r} (known: {', '.join(QUESTIONS)})")
        self.question = question
        self.lines = 0
        self.malformed = 0
        self.status: dict[bytes, int] = {}
        self.bytes = 0
        self.paths: dict[bytes, list[int]] = {}

    def add(self, lines: Iterable[bytes]) -> Tally:
        """Tally ``lines`` (without LF, one CR already removed)."""
        match = REFERENCE.match
        status = self.status
        statuses = self.question != "top_paths"
        report = self.question in PATH_QUESTIONS
        strip = self.question == "top_paths"
        paths = self.paths
        for line in lines:
            self.lines += 1
            found = match(line)
            if found is None:
                self.malformed += 1
                continue
            if statuses:
                code = found[STATUS]
                status[code] = status.get(code, 0) + 1
            if report:
                size = size_of(found[SIZE])
                self.bytes += size
                path = path_of(found[REQUEST])
                if path is not None:
                    if strip:
                        path = without_query(path)
                    entry = paths.get(path)
                    if entry is None:
                        paths[path] = [1, size]
                    else:
                        entry[0] += 1
                        entry[1] += size
        return self

    def merge(self, other: Tally) -> Tally:
        self.lines += other.lines
        self.malformed += other.malformed
        self.bytes += other.bytes
        for code, count in other.status.items():
            self.status[code] = self.status.get(code, 0) + count
        for path, (count, size) in other.paths.items():
            entry = self.paths.setdefault(path, [0, 0])
            entry[0] += count
            entry[1] += size
        return self

    def state(self) -> dict[str, Any]:
        """The tally as plain data (for systems that move results between processes)."""
        return dict(vars(self))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Tally:
        tally = cls(state["question"])
        vars(tally).update(state)
        return tally

    def answer(self) -> dict[str, Any]:
        return answer(
            self.question,
            lines=self.lines,
            malformed=self.malformed,
            status={text(code): count for code, count in self.status.items()},
            total_bytes=self.bytes,
            paths={text(path): (count, size) for path, (count, size) in self.paths.items()},
        )


def answer(
    question: str,
    *,
    lines: int,
    malformed: int,
    status: dict[str, int] | None = None,
    total_bytes: int = 0,
    paths: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The canonical answer from its parts (every system ends here)."""
    out: dict[str, Any] = {"lines": int(lines), "malformed": int(malformed)}
    if question != "top_paths":
        out["status"] = {code: int(count) for code, count in sorted((status or {}).items())}
    if question == "access_report":
        out["requests"] = int(lines) - int(malformed)
        out["bytes"] = int(total_bytes)
    if question in PATH_QUESTIONS:
        top = sorted((paths or {}).items(), key=lambda item: (-item[1][0], item[0]))[:TOP]
        out["top_paths"] = [[path, int(count), int(size)] for path, (count, size) in top]
    return out


def strip_line(raw: bytes) -> bytes:
    line = raw[:-1] if raw.endswith(b"\n") else raw
    return line[:-1] if line.endswith(b"\r") else line


def range_lines(path: str, start: int, end: int) -> Iterator[bytes]:
    """The lines that start in ``[start, end)`` of the file (each read by exactly
    one range: a range skips the line in progress at ``start``)."""
    with open(path, "rb", buffering=1 << 20) as handle:
        position = start
        if start > 0:
            handle.seek(start - 1)
            if handle.read(1) != b"\n":
                position += len(handle.readline())
        while position < end:
            raw = handle.readline()
            if not raw:
                return
            position += len(raw)
            yield strip_line(raw)


def byte_ranges(size: int, parts: int) -> list[tuple[int, int]]:
    step = max(-(-size // max(parts, 1)), 1)
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def emit(result: dict[str, Any]) -> None:
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
