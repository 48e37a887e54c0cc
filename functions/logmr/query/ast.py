"""The parsed query: plain frozen dataclasses, no behaviour.

Every expression keeps ``text``, its source as written (a stats column with
no alias is named by it, as Logs Insights names it: ``count(*)``), and
``at``, its ``line:column`` in the query (errors found later, an unknown
field, a regex RE2 refuses, name the place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Node:
    text: str
    at: str


@dataclass(frozen=True)
class Literal(Node):
    """A number, a string, or a duration (``5m``: its seconds, ``duration`` True)."""

    value: Any
    duration: bool = False


@dataclass(frozen=True)
class Regex(Node):
    """``/pattern/flags``; ``i`` is the one flag (ASCII case folding)."""

    pattern: str
    ignore_case: bool = False


@dataclass(frozen=True)
class Field(Node):
    name: str


@dataclass(frozen=True)
class Call(Node):
    """``name(args)``; ``star`` for ``count(*)``. ``name`` is lower-cased."""

    name: str
    args: tuple[Node, ...]
    star: bool = False


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (``+ - * / % ^``), comparison (``= != < <= > >=``) or logic (``and or``)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like(Node):
    """``like "substring"``, ``like /regex/`` or ``=~ /regex/``."""

    operand: Node
    pattern: Literal | Regex
    negated: bool = False


Expr = Node


@dataclass(frozen=True)
class Named:
    """An expression and the name of its column: the alias, else its text."""

    expr: Expr
    alias: str | None = None

    @property
    def name(self) -> str:
        return self.alias or self.expr.text


@dataclass(frozen=True)
class Command:
    at: str


@dataclass(frozen=True)
class Fields(Command):
    items: tuple[Named, ...]


@dataclass(frozen=True)
class Filter(Command):
    expr: Expr


@dataclass(frozen=True)
class Parse(Command):
    """``parse field "glob * pattern" as a, b`` (``glob`` set) or
    ``parse field /(?<a>re)/`` (``regex`` set): ``names`` are the new fields."""

    source: Field
    names: tuple[str, ...]
    glob: str | None = None
    regex: Regex | None = None


@dataclass(frozen=True)
class Stats(Command):
    aggregates: tuple[Named, ...]
    groups: tuple[Named, ...]


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool


@dataclass(frozen=True)
class Sort(Command):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Limit(Command):
    count: int


@dataclass(frozen=True)
class Dedup(Command):
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Query:
    text: str
    commands: tuple[Command, ...]
