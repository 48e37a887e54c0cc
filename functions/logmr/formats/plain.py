"""Plain text: ``plain`` (aliases ``text``, ``raw``).

Every line is a record, the empty line too, and nothing is ever malformed.
The record is the line itself (``bytes``, so an empty line's record is
``b""``: test records with ``is None``, not truthiness). The only field is
``message`` = the whole line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import ClassVar

from logmr.formats.base import Format, Getter, line_text


def _identity(record: bytes) -> bytes:
    return record


class Plain(Format):
    name = "plain"
    aliases = ("text", "raw")
    description = "any text: every line is a record with one field, message"
    _getters: ClassVar[Mapping[str, Getter]] = {"message": _identity}

    def parse(self, line: bytes) -> bytes:
        return line

    def parse_many(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        return iter(lines)

    def getters(self) -> Mapping[str, Getter]:
        return self._getters

    def line_getter(self) -> Getter:
        return line_text
