"""Typed, validated job parameters.

Each job declares its parameters as ``Param`` objects; ``parse_params`` turns
the strings a user typed (``--param K=V``) or the values of a JSON execution
input into typed values, and every mistake is one line naming the job, the
parameter and what was expected, raised before any work starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from logmr.errors import InvalidParameterError

#: the longest user regex accepted, in characters
MAX_PATTERN_LENGTH = 1000

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """``"30s" -> 30``, ``"5m" -> 300``, ``"1h" -> 3600``, ``"1d" -> 86400``."""
    match = _DURATION.match(text.strip())
    if not match or int(match[1]) <= 0:
        raise ValueError("expected a positive duration such as 30s, 5m, 1h or 1d")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a positive integer")
    return value


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


#: constructs RE2 refuses that Python's re has, told by name (a one-line error)
_BACKREFERENCE = re.compile(r"\\[1-9]|\\g<|\\k<|\(\?P=")
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_ATOMIC = re.compile(r"\(\?>|[*+?}]\+")


class UserRegex:
    """A user's pattern, compiled with RE2: matching takes time linear in the
    line's length whatever the pattern (no backtracking, so no catastrophic
    backtracking), at the price of the constructs RE2 lacks (backreferences,
    lookarounds, atomic groups and possessive quantifiers), which are refused.

    Semantics are those of a Python ``re`` bytes pattern: the pattern is the
    UTF-8 of the text and is matched byte by byte (RE2's Latin-1 mode), ``\\w``,
    ``\\d`` and ``\\s`` are ASCII, ``ignore_case`` folds ASCII letters only.
    """

    __slots__ = (
        "_anywhere",
        "_match",
        "_regexp",
        "groupindex",
        "groups",
        "ignore_case",
        "pattern",
        "text",
    )

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        import re2

        self.text = text
        self.ignore_case = ignore_case
        self.pattern = text.encode("utf-8")
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1  # bytes, as Python's bytes patterns
        options.log_errors = False  # RE2 would print the error on stderr as well
        options.case_sensitive = not ignore_case
        try:
            self._regexp = re2.compile(self.pattern, options)
        except re2.error as exc:
            raise ValueError(_re2_refusal(text, exc)) from None
        self.groups: int = self._regexp.groups
        self.groupindex: dict[str, int] = {
            name.decode("utf-8", "backslashreplace"): index
            for name, index in self._regexp.groupindex.items()
        }
        # the bound matcher of the compiled program: one C call per match,
        # skipping the module's pure-Python match objects (hot loop below)
        self._match = self._regexp._regexp.Match
        self._anywhere = re2._Anchor.UNANCHORED

    def __repr__(self) -> str:
        return f"UserRegex({self.text!r}, ignore_case={self.ignore_case})"

    def __reduce__(self) -> tuple[type[UserRegex], tuple[str, bool]]:
        return UserRegex, (self.text, self.ignore_case)

    def matches_empty(self) -> bool:
        return self._regexp.search(b"") is not None

    def keys(self, line: bytes, group: int = 0) -> list[bytes | None]:
        """Group ``group`` of each non-overlapping match in ``line``, left to
        right (None where that group took no part in the match). A match of
        zero bytes gives no key (``x*`` is refused up front; ``\\b`` or ``^``
        alone find nothing to count)."""
        match, anywhere = self._match, self._anywhere
        end = len(line)
        pos = 0
        found: list[bytes | None] = []
        while pos <= end:
            spans = match(anywhere, line, pos, end)
            start, stop = spans[0]
            if start < 0:
                break
            if stop == start:  # a zero-width match (\\b, ^...) is no key: step on
                pos = stop + 1
                continue
            first, last = spans[group]
            found.append(line[first:last] if first >= 0 else None)
            pos = stop
        return found


def _re2_refusal(text: str, exc: Exception) -> str:
    """One line saying why RE2 refused ``text``."""
    arg = exc.args[0] if exc.args else exc
    detail = arg.decode("utf-8", "backslashreplace") if isinstance(arg, bytes) else str(arg)
    detail = detail.replace("\r", "\\r").replace("\n", "\\n")  # one line, always
    engine = "patterns run on RE2, a linear-time engine without"
    if _BACKREFERENCE.search(text):
        return f"backreferences are not supported ({engine} backtracking): {detail}"
    if _LOOKAROUND.search(text):
        return f"lookarounds are not supported ({engine} backtracking): {detail}"
    if _ATOMIC.search(text):
        return (
            f"atomic groups and possessive quantifiers are not supported ({engine}"
            f" backtracking): {detail}"
        )
    if "\\Z" in text:
        return f"invalid regular expression: {detail} (RE2 spells the end of text \\z)"
    return f"invalid regular expression: {detail}"


def regex(text: str) -> UserRegex:
    """A user regex over a line's bytes, compiled with RE2, its size bounded."""
    if not text:
        raise ValueError("the pattern is empty")
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    return UserRegex(text)


@dataclass(frozen=True)
class Param:
    name: str
    convert: Callable[[str], Any]
    default: str | None
    help: str
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None

    def describe(self) -> str:
        shown = f"one of {'|'.join(self.choices)}" if self.choices else self.help
        if self.choices and self.help:
            shown = f"{self.help} ({'|'.join(self.choices)})"
        default = "required" if self.required else f"default {self.default}"
        return f"{self.name}: {shown}; {default}"


def parse_params(
    job_name: str, declared: tuple[Param, ...], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Typed values for every declared parameter, from strings (or JSON scalars)."""
    by_name = {param.name: param for param in declared}
    for name in given:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise InvalidParameterError(
                f"job {job_name}: unknown parameter {name!r} (known: {known})"
            )
    values: dict[str, Any] = {}
    for param in declared:
        raw = given.get(param.name, param.default)
        if raw is None:
            raise InvalidParameterError(
                f"job {job_name}: parameter {param.name!r} is required ({param.help})"
            )
        text = raw if isinstance(raw, str) else _scalar_text(job_name, param.name, raw)
        if param.choices and text not in param.choices:
            raise InvalidParameterError(
                f"job {job_name}: parameter {param.name}={text!r} "
                f"must be one of {', '.join(param.choices)}"
            )
        try:
            values[param.name] = param.convert(text)
        except ValueError as exc:
            raise InvalidParameterError(
                f"job {job_name}: parameter {param.name}={text!r}: {exc}"
            ) from None
    return values


def _scalar_text(job_name: str, name: str, raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    raise InvalidParameterError(f"job {job_name}: parameter {name!r} must be a string or a number")


def parse_assignments(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["k=v", ...]`` from the command line into a dict; a pair without ``=`` is an error."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidParameterError(f"expected NAME=VALUE, got {pair!r}")
        result[name.strip()] = value
    return result
