"""Query text into a ``Query`` (``logmr.query.ast``), with lark.

Every mistake is one ``QueryError`` line naming ``line:column`` and what was
expected there; nothing here knows formats or jobs (``logmr.jobs.query``
checks field names against the format and compiles the query).
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from typing import Any

from logmr.errors import QueryError
from logmr.query import ast

#: the longest query accepted, in characters
MAX_QUERY_LENGTH = 10_000

#: seconds per duration unit (``bin(5m)``); months, quarters and years have
#: no fixed length and are refused where a duration is needed
_UNIT_SECONDS = {
    "ms": 0.001,
    "msec": 0.001,
    "millisecond": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "w": 604800,
}
_DURATION = re.compile(r"([0-9]+)([a-z]+?)s?", re.IGNORECASE)

#: what a terminal is called in "expected ..." (the rest by their own text)
_SHOWN = {
    "NAME": "a field name",
    "BACKTICKED": "a `quoted` field name",
    "NUMBER": "a number",
    "INT": "a whole number",
    "STRING": "a quoted string",
    "REGEX": "a /regex/",
    "DURATION": "a duration such as 5m",
    "COMPARE": "a comparison",
    "ADD_OP": "+ or -",
    "MUL_OP": "* / % or ^",
    "STAR": "*",
    "MATCHES": "=~",
    "NOT_MATCHES": "!=~",
    "LPAR": "(",
    "RPAR": ")",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "_PIPE": "|",
    "VBAR": "|",
    "MINUS": "-",
    "$END": "the end of the query",
}
#: the commands, for "unsupported command" errors
COMMANDS = ("fields", "display", "filter", "parse", "stats", "sort", "limit", "dedup")
#: Logs Insights commands that do not compile to one MapReduce
UNSUPPORTED_COMMANDS = frozenset({"unmask", "pattern", "diff", "anomaly", "unnest", "source"})


@functools.cache
def _parser() -> Any:
    import lark

    grammar = files("logmr.query").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str) -> ast.Query:
    """The ``Query`` of ``text``, or a one-line ``QueryError``."""
    import lark

    if not isinstance(text, str) or not text.strip():
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise QueryError(_syntax_message(text, exc)) from None
    try:
        return ast.Query(text, tuple(_Build(text).transform(tree).children))
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise


def _syntax_message(text: str, exc: Any) -> str:
    import lark

    pos: int = exc.pos_in_stream or 0
    token = getattr(exc, "token", None)
    at_end = isinstance(exc, lark.exceptions.UnexpectedEOF) or (
        token is not None and token.type == "$END"
    )
    if at_end:
        lines = text.rstrip().split("\n")
        where, found, pos = f"{len(lines)}:{len(lines[-1]) + 1}", "the end of the query", len(text)
    else:
        where = f"{exc.line}:{exc.column}"
        found = repr(text[pos : pos + 1] if token is None else str(token))
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        expected = exc.allowed or set()
    else:
        expected = getattr(exc, "expected", None) or getattr(exc, "accepts", None) or set()
    word = text[pos:].split(None, 1)[0].lower() if text[pos:].strip() else ""
    if _starts_command(text, pos) and word.isidentifier():
        if word in UNSUPPORTED_COMMANDS:
            return f"{where}: command {word!r} is not supported (supported: {', '.join(COMMANDS)})"
        return f"{where}: unknown command {word!r} (expected one of: {', '.join(COMMANDS)})"
    shown = sorted({_SHOWN.get(name, name.lower()) for name in expected})
    want = ", ".join(shown) if shown else "something else"
    return f"{where}: unexpected {found}; expected {want}"


def _starts_command(text: str, pos: int) -> bool:
    before = text[:pos].rstrip()
    return not before or before.endswith("|")


class _Build:
    """The lark tree into ``ast`` nodes (a hand-rolled transformer: each rule
    a method taking the tree's ``meta`` and children)."""

    def __init__(self, text: str) -> None:
        self.text = text
        #: each expression node's source offsets (start, end), by ``id``
        self.spans: dict[int, tuple[int, int]] = {}

    def transform(self, tree: Any) -> Any:
        import lark

        if isinstance(tree, lark.Token) or tree is None:
            return tree
        children = [self.transform(child) for child in tree.children]
        method = getattr(self, f"rule_{tree.data}")
        built = method(tree.meta, children)
        if isinstance(built, ast.Node) and not tree.meta.empty:
            self.spans.setdefault(id(built), (tree.meta.start_pos, tree.meta.end_pos))
        return built

    # -- helpers ---------------------------------------------------------------
    def _span(self, meta: Any) -> tuple[str, str]:
        return self.text[meta.start_pos : meta.end_pos], f"{meta.line}:{meta.column}"

    @staticmethod
    def _at(token: Any) -> str:
        return f"{token.line}:{token.column}"

    # -- commands --------------------------------------------------------------
    def rule_start(self, meta: Any, children: list[Any]) -> Any:
        from lark import Tree

        return Tree("start", children)

    def rule_named(self, meta: Any, children: list[Any]) -> ast.Named:
        expr, _, alias = children
        return ast.Named(expr, _field_name(str(alias)) if alias is not None else None)

    def rule_fields_cmd(self, meta: Any, children: list[Any]) -> ast.Fields:
        return ast.Fields(self._span(meta)[1], tuple(children[1:]))

    rule_display_cmd = rule_fields_cmd

    def rule_filter_cmd(self, meta: Any, children: list[Any]) -> ast.Filter:
        return ast.Filter(self._span(meta)[1], children[1])

    def rule_parse_glob(self, meta: Any, children: list[Any]) -> ast.Parse:
        _, source, pattern, _, *names = children
        glob = _unquote(str(pattern))
        stars = glob.count("*")
        if stars != len(names):
            raise QueryError(
                f"{self._at(pattern)}: the pattern has {stars} '*' but {len(names)} names follow"
                " 'as' (expected one name per '*')"
            )
        return ast.Parse(self._span(meta)[1], source, tuple(map(str, names)), glob=glob)

    def rule_parse_regex(self, meta: Any, children: list[Any]) -> ast.Parse:
        _, source, token = children
        regex = _regex(token)
        names = tuple(re.findall(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>", regex.pattern))
        if not names:
            raise QueryError(
                f"{regex.at}: the regex names no group (expected (?<name>...) for each new field)"
            )
        return ast.Parse(self._span(meta)[1], source, names, regex=regex)

    def rule_stats_cmd(self, meta: Any, children: list[Any]) -> ast.Stats:
        items = children[1:]
        by = next((i for i, item in enumerate(items) if _is_token(item, "BY")), len(items))
        return ast.Stats(self._span(meta)[1], tuple(items[:by]), tuple(items[by + 1 :]))

    def rule_sort_key(self, meta: Any, children: list[Any]) -> ast.SortKey:
        expr, order = children
        return ast.SortKey(expr, order is not None and str(order).lower() == "desc")

    def rule_sort_cmd(self, meta: Any, children: list[Any]) -> ast.Sort:
        return ast.Sort(self._span(meta)[1], tuple(children[1:]))

    def rule_limit_cmd(self, meta: Any, children: list[Any]) -> ast.Limit:
        count = int(children[1])
        if count <= 0:
            raise QueryError(f"{self._at(children[1])}: limit must be at least 1")
        return ast.Limit(self._span(meta)[1], count)

    def rule_dedup_cmd(self, meta: Any, children: list[Any]) -> ast.Dedup:
        return ast.Dedup(self._span(meta)[1], tuple(children[1:]))

    # -- expressions -----------------------------------------------------------
    def _binary(self, meta: Any, children: list[Any]) -> ast.Node:
        """A left-associative chain ``a op b op c`` into nested ``Binary`` nodes."""
        node: ast.Node = children[0]
        start = meta.start_pos
        for op, right in zip(children[1::2], children[2::2], strict=True):
            end = self.spans[id(right)][1] if id(right) in self.spans else meta.end_pos
            node = ast.Binary(self.text[start:end], node.at, str(op).lower(), node, right)
            self.spans[id(node)] = (start, end)
        return node

    rule_or_expr = _binary
    rule_and_expr = _binary
    rule_sum = _binary
    rule_product = _binary

    def rule_compare(self, meta: Any, children: list[Any]) -> ast.Binary:
        left, op, right = children
        text, at = self._span(meta)
        return ast.Binary(text, at, "=" if str(op) == "==" else str(op), left, right)

    def rule_not_(self, meta: Any, children: list[Any]) -> ast.Unary:
        return ast.Unary(*self._span(meta), "not", children[1])

    def rule_negate(self, meta: Any, children: list[Any]) -> ast.Node:
        text, at = self._span(meta)
        operand = children[0]
        if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float):
            return ast.Literal(text, at, -operand.value)
        return ast.Unary(text, at, "-", operand)

    def _in(self, meta: Any, children: list[Any], negated: bool) -> ast.In:
        operand, items = children[0], children[-1]
        return ast.In(*self._span(meta), operand, items, negated)

    def rule_in_(self, meta: Any, children: list[Any]) -> ast.In:
        return self._in(meta, children, False)

    def rule_not_in(self, meta: Any, children: list[Any]) -> ast.In:
        return self._in(meta, children, True)

    def rule_list(self, meta: Any, children: list[Any]) -> tuple[ast.Node, ...]:
        return tuple(child for child in children if child is not None)

    def _like(self, meta: Any, children: list[Any], negated: bool) -> ast.Like:
        operand, token = children[0], children[-1]
        pattern: ast.Literal | ast.Regex
        if token.type == "REGEX":
            pattern = _regex(token)
        else:
            pattern = ast.Literal(str(token), self._at(token), _unquote(str(token)))
        return ast.Like(*self._span(meta), operand, pattern, negated)

    def rule_like(self, meta: Any, children: list[Any]) -> ast.Like:
        return self._like(meta, children, False)

    def rule_not_like(self, meta: Any, children: list[Any]) -> ast.Like:
        return self._like(meta, children, True)

    def rule_number(self, meta: Any, children: list[Any]) -> ast.Literal:
        token = str(children[0])
        value: int | float = int(token) if token.isdigit() else float(token)
        return ast.Literal(*self._span(meta), value)

    def rule_string(self, meta: Any, children: list[Any]) -> ast.Literal:
        return ast.Literal(*self._span(meta), _unquote(str(children[0])))

    def rule_duration(self, meta: Any, children: list[Any]) -> ast.Literal:
        text, at = self._span(meta)
        found = _DURATION.fullmatch(text)
        assert found is not None  # the grammar's DURATION
        unit = found[2].lower()
        if unit not in _UNIT_SECONDS:
            unit = unit + "s" if unit + "s" in _UNIT_SECONDS else unit
        if unit not in _UNIT_SECONDS or int(found[1]) <= 0:
            raise QueryError(
                f"{at}: duration {text!r} is not supported (expected a positive number of"
                " ms, s, m, h, d or w: months, quarters and years have no fixed length)"
            )
        return ast.Literal(text, at, int(found[1]) * _UNIT_SECONDS[unit], duration=True)

    def rule_field(self, meta: Any, children: list[Any]) -> ast.Field:
        text, at = self._span(meta)
        return ast.Field(text, at, _field_name(text))

    def rule_call(self, meta: Any, children: list[Any]) -> ast.Call:
        name, *args = children
        star = bool(args) and _is_token(args[0], "STAR")
        kept = tuple(arg for arg in args if arg is not None and not _is_token(arg, "STAR"))
        return ast.Call(*self._span(meta), str(name).lower(), kept, star)


def _is_token(item: Any, kind: str) -> bool:
    return getattr(item, "type", None) == kind


def _field_name(text: str) -> str:
    return text[1:-1] if text.startswith("`") else text


#: a Logs Insights named group ``(?<name>``, which RE2 spells ``(?P<name>``
_NAMED = re.compile(r"\(\?<(?=[A-Za-z_])")

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _unquote(token: str) -> str:
    """A quoted string's text: ``\\n``, ``\\t``, ``\\r``, ``\\\\`` and the
    quotes escaped; any other escaped character stands for itself."""
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), body)


def _regex(token: Any) -> ast.Regex:
    text = str(token)
    end = text.rindex("/")
    flags = text[end + 1 :]
    at = f"{token.line}:{token.column}"
    if set(flags) - {"i"}:
        raise QueryError(f"{at}: unknown regex flag in {flags!r} (expected i or none)")
    # Logs Insights writes a named group (?<name>...), RE2 takes that as Python's (?P<name>...)
    pattern = _NAMED.sub("(?P<", text[1:end].replace("\\/", "/"))
    return ast.Regex(text, at, pattern, ignore_case="i" in flags)
