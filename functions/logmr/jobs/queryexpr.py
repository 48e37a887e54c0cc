"""A query's expressions compiled into Python closures over an environment.

``compile_expr`` turns an ``ast`` expression into ``Compiled``: a function of
an *environment* (a dict: a base field's name -> its value in one record, or
one row of a stats result) and the base fields it reads (``deps``). The map
side calls it once per distinct combination of those fields' raw values in a
batch (``logmr.jobs.query``), not once per record: a log's statuses, methods,
requests and times repeat a great deal.

Values are what formats give (``bytes``, ``str``, ``int``, ``float``) or
``None`` (the record lacks the field). The rules follow Logs Insights:

* a comparison with a number compares numbers, the other side read as a
  number (``status >= 500`` on the status ``b"503"``); a value that is no
  number makes the comparison false; else texts are compared;
* anything with a missing operand is missing (``None``), and a filter keeps
  a record only when its expression is true;
* ``like "text"`` is a substring test, ``like /re/`` and ``=~ /re/`` a regex
  search (RE2, ``logmr.jobs.params.UserRegex``), on the value's bytes.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from logmr.errors import QueryError
from logmr.jobs.params import MAX_PATTERN_LENGTH, UserRegex
from logmr.query import ast

Env = dict[str, Any]
Fn = Callable[[Env], Any]

_NUMBER = re.compile(rb"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")

AGGREGATES = frozenset(
    {"count", "sum", "avg", "min", "max", "stddev", "pct", "count_distinct", "earliest", "latest"}
)


def text_of(value: Any) -> str | None:
    """A value as text: bytes decoded (invalid UTF-8 as ``\\xNN``), numbers as written."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def bytes_of(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    text = text_of(value)
    return None if text is None else text.encode("utf-8")


def number_of(value: Any) -> int | float | None:
    """A value as a number: numbers as they are, texts of a number read (an
    integer as ``int``), anything else ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
    if not _NUMBER.fullmatch(raw):
        return None
    raw = raw.strip()
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def truth(value: Any) -> bool:
    """Whether a filter keeps a record whose expression gave ``value``."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return len(value) > 0


@functools.lru_cache(maxsize=4096)
def timestamp_text(epoch: float) -> str:
    """Logs Insights' way of showing a time: ``2024-03-01 10:05:00.000`` (UTC);
    remembered, as a batch's window starts repeat."""
    seconds, millis = divmod(round(epoch * 1000), 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{millis:03d}"


@dataclass
class Compiled:
    """A compiled expression: ``fn(env)`` and the base fields it reads."""

    fn: Fn
    deps: frozenset[str]
    #: it is ``@timestamp`` or ``bin(...)``: its values are times
    is_time: bool = False


@dataclass
class Scope:
    """What names mean at a point of the query: derived fields (``fields x as
    y``, ``parse``) by name; any other name is a base field, which ``known``
    (when set) must accept (``known(name, at)`` raises the ``QueryError``)."""

    derived: dict[str, Compiled] = field(default_factory=dict)
    known: Callable[[str, str], None] | None = None

    def copy(self) -> Scope:
        return Scope(dict(self.derived), self.known)


#: the name of the record's time and its raw line
TIMESTAMP = "@timestamp"
MESSAGE = "@message"


def compile_expr(node: ast.Node, scope: Scope) -> Compiled:
    """``node`` as a ``Compiled``; aggregate functions are refused here (the
    stats compiler takes them apart first)."""
    if isinstance(node, ast.Literal):
        value = node.value
        return Compiled(lambda env: value, frozenset())
    if isinstance(node, ast.Field):
        return _field(node, scope)
    if isinstance(node, ast.Unary):
        operand = compile_expr(node.operand, scope)
        inner = operand.fn
        if node.op == "not":
            return Compiled(lambda env: _not(inner(env)), operand.deps)
        return Compiled(lambda env: _negate(inner(env)), operand.deps)
    if isinstance(node, ast.Binary):
        return _binary(node, scope)
    if isinstance(node, ast.In):
        return _in(node, scope)
    if isinstance(node, ast.Like):
        return _like(node, scope)
    if isinstance(node, ast.Call):
        return _call(node, scope)
    if isinstance(node, ast.Regex):
        raise QueryError(f"{node.at}: a /regex/ stands only after like, =~ or parse")
    raise QueryError(f"{node.at}: unexpected {node.text!r}")


def _field(node: ast.Field, scope: Scope) -> Compiled:
    name = node.name
    derived = scope.derived.get(name)
    if derived is not None:
        return derived
    if scope.known is not None:
        scope.known(name, node.at)
    return Compiled(lambda env: env.get(name), frozenset({name}), is_time=name == TIMESTAMP)


def _not(value: Any) -> bool | None:
    return None if value is None else not truth(value)


def _negate(value: Any) -> int | float | None:
    number = number_of(value)
    return None if number is None else -number


def compare(op: str, left: Any, right: Any) -> bool | None:
    """``left op right`` by the module's rules (``None``: an operand is missing)."""
    if left is None or right is None:
        return None
    if _is_number(left) or _is_number(right):
        a, b = number_of(left), number_of(right)
        if a is None or b is None:
            return False
        return _COMPARE[op](a, b)
    return _COMPARE[op](text_of(left), text_of(right))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _arith(op: str, left: Any, right: Any) -> int | float | None:
    a, b = number_of(left), number_of(right)
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return a % b
        result = a**b
        return result if isinstance(result, int | float) else None
    except (ZeroDivisionError, OverflowError):
        return None


def _binary(node: ast.Binary, scope: Scope) -> Compiled:
    left, right = compile_expr(node.left, scope), compile_expr(node.right, scope)
    lf, rf, op = left.fn, right.fn, node.op
    deps = left.deps | right.deps
    if op == "and":
        return Compiled(lambda env: truth(lf(env)) and truth(rf(env)), deps)
    if op == "or":
        return Compiled(lambda env: truth(lf(env)) or truth(rf(env)), deps)
    if op in _COMPARE:
        return Compiled(lambda env: compare(op, lf(env), rf(env)), deps)
    return Compiled(lambda env: _arith(op, lf(env), rf(env)), deps)


def _in(node: ast.In, scope: Scope) -> Compiled:
    operand = compile_expr(node.operand, scope)
    items = [compile_expr(item, scope) for item in node.items]
    fn, negated = operand.fn, node.negated
    deps = operand.deps.union(*(item.deps for item in items))
    fns = [item.fn for item in items]

    def member(env: Env) -> bool | None:
        value = fn(env)
        if value is None:
            return None
        found = any(compare("=", value, item(env)) for item in fns)
        return found != negated

    return Compiled(member, deps)


def user_regex(node: ast.Regex) -> UserRegex:
    """The RE2 program of a ``/regex/``, or a ``QueryError`` at its place."""
    if len(node.pattern) > MAX_PATTERN_LENGTH:
        raise QueryError(f"{node.at}: the regex is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return UserRegex(node.pattern, ignore_case=node.ignore_case)
    except ValueError as exc:
        raise QueryError(f"{node.at}: {exc}") from None


def _like(node: ast.Like, scope: Scope) -> Compiled:
    operand = compile_expr(node.operand, scope)
    fn, negated = operand.fn, node.negated
    if isinstance(node.pattern, ast.Regex):
        search = user_regex(node.pattern)._regexp.search

        def matches(env: Env) -> bool | None:
            value = bytes_of(fn(env))
            return None if value is None else (search(value) is not None) != negated

        return Compiled(matches, operand.deps)
    needle = str(node.pattern.value).encode("utf-8")

    def contains(env: Env) -> bool | None:
        value = bytes_of(fn(env))
        return None if value is None else (needle in value) != negated

    return Compiled(contains, operand.deps)


# -- functions -------------------------------------------------------------------


def _texts(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A string function: missing in, missing out; arguments as text."""

    def apply(*values: Any) -> Any:
        if values and values[0] is None:
            return None
        return fn(*(text_of(value) for value in values))

    return apply


def _numbers(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A numeric function: arguments as numbers; missing or no number: missing."""

    def apply(*values: Any) -> Any:
        numbers = [number_of(value) for value in values]
        if any(number is None for number in numbers):
            return None
        try:
            return fn(*numbers)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None

    return apply


def _substr(text: str, start: Any, length: Any = None) -> str | None:
    begin = number_of(start)
    if begin is None:
        return None
    begin = max(int(begin), 0)
    if length is None:
        return text[begin:]
    size = number_of(length)
    return None if size is None else text[begin : begin + max(int(size), 0)]


def _present(value: Any) -> bool:
    return value is not None


def _empty(value: Any) -> bool:
    return value is None or (not _is_number(value) and len(value) == 0)


def _blank(value: Any) -> bool:
    return value is None or (not _is_number(value) and not text_of(value).strip())  # type: ignore[union-attr]


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        numbers = [n for n in map(number_of, values) if n is not None]
        return pick(numbers) if numbers else None

    return apply


def _floor_to(period: float) -> Callable[[Any], float | None]:
    def apply(when: Any) -> float | None:
        number = number_of(when)
        return None if number is None else math.floor(number / period) * period

    return apply


#: the non-aggregate functions: name -> (fewest, most arguments, function of the values)
FUNCTIONS: Mapping[str, tuple[int, int, Callable[..., Any]]] = {
    # strings
    "strlen": (1, 1, _texts(len)),
    "toupper": (1, 1, _texts(str.upper)),
    "tolower": (1, 1, _texts(str.lower)),
    "trim": (1, 2, _texts(lambda s, chars=None: s.strip(chars))),
    "ltrim": (1, 2, _texts(lambda s, chars=None: s.lstrip(chars))),
    "rtrim": (1, 2, _texts(lambda s, chars=None: s.rstrip(chars))),
    "concat": (1, 64, lambda *v: "".join(text_of(x) or "" for x in v)),
    "substr": (2, 3, lambda s, *rest: None if s is None else _substr(text_of(s) or "", *rest)),
    "replace": (3, 3, _texts(lambda s, old, new: s.replace(old, new))),
    "strcontains": (2, 2, _texts(lambda s, sub: sub in s)),
    "isempty": (1, 1, _empty),
    "isblank": (1, 1, _blank),
    "ispresent": (1, 1, _present),
    "coalesce": (1, 64, _coalesce),
    # numbers
    "abs": (1, 1, _numbers(abs)),
    "ceil": (1, 1, _numbers(math.ceil)),
    "floor": (1, 1, _numbers(math.floor)),
    "log": (1, 1, _numbers(math.log)),
    "sqrt": (1, 1, _numbers(math.sqrt)),
    "greatest": (1, 64, _extreme(max)),
    "least": (1, 64, _extreme(min)),
    # times
    "frommillis": (1, 1, _numbers(lambda ms: ms / 1000)),
    "tomillis": (1, 1, _numbers(lambda s: int(s * 1000))),
}
#: time functions with a duration argument
_TIME_FUNCTIONS = ("bin", "datefloor", "dateceil")


def _call(node: ast.Call, scope: Scope) -> Compiled:
    name = node.name
    if name in AGGREGATES:
        raise QueryError(f"{node.at}: {name}() is an aggregate function: it stands only in stats")
    if name in _TIME_FUNCTIONS:
        return _time_function(node, scope)
    if name not in FUNCTIONS:
        known = ", ".join(sorted([*FUNCTIONS, *_TIME_FUNCTIONS]))
        raise QueryError(f"{node.at}: unknown function {name!r} (known: {known})")
    fewest, most, apply = FUNCTIONS[name]
    if node.star or not fewest <= len(node.args) <= most:
        count = f"{fewest}" if fewest == most else f"{fewest} to {most}"
        raise QueryError(f"{node.at}: {name}() takes {count} argument(s)")
    args = [compile_expr(arg, scope) for arg in node.args]
    fns = [arg.fn for arg in args]
    deps = frozenset().union(*(arg.deps for arg in args))
    if len(fns) == 1:
        only = fns[0]
        return Compiled(lambda env: apply(only(env)), deps)
    return Compiled(lambda env: apply(*(fn(env) for fn in fns)), deps)


def duration_of(node: ast.Node, what: str) -> float:
    if not isinstance(node, ast.Literal) or not node.duration:
        raise QueryError(f"{node.at}: {what} takes a duration such as 5m (got {node.text!r})")
    return float(node.value)


def _time_function(node: ast.Call, scope: Scope) -> Compiled:
    """``bin(period)`` (the record's time), ``datefloor(t, period)``,
    ``dateceil(t, period)``: window starts (ends) in epoch seconds."""
    if node.name == "bin":
        if len(node.args) != 1:
            raise QueryError(f"{node.at}: bin() takes one duration, such as bin(5m)")
        period = duration_of(node.args[0], "bin()")
        when = _field(ast.Field(TIMESTAMP, node.at, TIMESTAMP), scope)
    else:
        if len(node.args) != 2:
            raise QueryError(f"{node.at}: {node.name}() takes a time and a duration")
        period = duration_of(node.args[1], f"{node.name}()")
        when = compile_expr(node.args[0], scope)
    floor, of = _floor_to(period), when.fn
    if node.name == "dateceil":
        return Compiled(
            lambda env: None if (t := floor(of(env))) is None else t + period, when.deps, True
        )
    return Compiled(lambda env: floor(of(env)), when.deps, is_time=True)


# -- parse -----------------------------------------------------------------------


def glob_regex(glob: str) -> str:
    """A ``parse`` glob as a regex: the rest literal, each ``*`` a capture
    of as few bytes as the match allows, but a final ``*`` (the glob ends
    with it), which takes the rest of the value."""
    parts = [re.escape(part) for part in glob.split("*")]
    if len(parts) > 1 and not parts[-1]:
        return "(.*?)".join(parts[:-1]) + "(.*)"
    return "(.*?)".join(parts)


def compile_parse(command: ast.Parse, scope: Scope) -> None:
    """Define the fields ``command`` extracts in ``scope``: each a function of
    the source field (the match of the whole pattern, searched once per
    distinct source value)."""
    source = compile_expr(command.source, scope)
    if command.regex is not None:
        program = user_regex(command.regex)
        groups = [program.groupindex.get(name) for name in command.names]
    else:
        assert command.glob is not None
        text = glob_regex(command.glob)
        where = ast.Regex(command.glob, command.at, text)
        program = user_regex(where)
        groups = list(range(1, len(command.names) + 1))
    match, anywhere = program._match, program._anywhere
    of = source.fn
    key = f"parse@{command.at}"

    def spans(env: Env) -> Any:
        if key in env:
            return env[key]
        value = bytes_of(of(env))
        found = None
        if value is not None:
            found_spans = match(anywhere, value, 0, len(value))
            if found_spans[0][0] >= 0:
                found = [value[a:b] if a >= 0 else None for a, b in found_spans]
        env[key] = found
        return found

    for name, group in zip(command.names, groups, strict=True):
        scope.derived[name] = Compiled(_group_of(spans, group), source.deps)


def _group_of(spans: Fn, group: int | None) -> Fn:
    def value(env: Env) -> Any:
        found = spans(env)
        return None if found is None or group is None else found[group]

    return value
