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


def regex(text: str) -> re.Pattern[bytes]:
    """A user regex, compiled over bytes, with its size bounded."""
    if not text:
        raise ValueError("the pattern is empty")
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re.compile(text.encode("utf-8"))
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


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
