"""The ``query`` job: a CloudWatch Logs Insights query compiled to one MapReduce.

The query (``logmr.query``) is compiled once, in ``configure``, into:

* the record side: ``fields ... as``, ``parse`` and ``filter`` before
  ``stats``, in their order (``logmr.jobs.queryexpr``);
* the group key (the ``by`` expressions) and the aggregates
  (``logmr.jobs.queryagg``): mergeable slots per group;
* the row side, run by ``finalize`` on the stats rows: ``filter``,
  ``sort``, ``dedup``, ``limit`` and ``fields`` after ``stats``.

A query without ``stats`` is a *listing*: the records the filters keep, as
rows of its ``fields``; each batch, combiner and the reducer keep the first
``limit`` in the ``sort`` order (after ``dedup``), and the reducer writes
each row under its rank.

The map side runs in one of three ways, chosen in ``bind`` once the format is
known:

* **counting**: ``stats count(*) by F`` with nothing before it, ``F`` a field
  of the format: the job is a counting job (``count_field``), counted in C as
  ``status_codes`` is;
* **columns**: every field the query reads is a column of the format
  (``Format.columns_in_text``): per batch, each expression is evaluated once
  per distinct combination of the raw values it reads (statuses, methods,
  requests and times repeat a great deal), filters become a boolean mask,
  group keys codes, and the aggregates numpy sums, minima and sketches per
  group; additive aggregates leave as ``KeyedSums``;
* **records**: a field no column gives (``@message`` of a format that only
  has the line in its record): the mapper evaluates each record.

Group keys are the ``by`` values as text (a status is ``"404"``; ``bin(5m)``
a time as Logs Insights shows it, ``2024-03-01 10:05:00.000``), a JSON list
of them for several ``by`` expressions. A record lacking a ``by`` value is
in no group and counted in ``no_<name>`` (as the built-in jobs count it).
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, compress
from typing import Any

from logmr.errors import FormatMismatchError, QueryError
from logmr.formats.base import Column, Format, Getter, RegexFormat
from logmr.formats.plain import Plain
from logmr.jobs import register
from logmr.jobs.base import KV, Job, ResultsView
from logmr.jobs.params import Param
from logmr.jobs.queryagg import Aggregate
from logmr.jobs.queryexpr import (
    AGGREGATES,
    MESSAGE,
    TIMESTAMP,
    Compiled,
    Env,
    Scope,
    compile_expr,
    compile_parse,
    number_of,
    text_of,
    timestamp_text,
    truth,
)
from logmr.jobs.sums import KeyedSums, codes_of, numpy, stacked
from logmr.query import ast, parse
from logmr.spec import QUERY_JOB

#: rows a query's summary holds when it names no ``limit`` (Logs Insights
#: shows 1,000 by default; every group stays in the results either way)
DEFAULT_LIMIT = 1000
#: the summary's rows stop before their JSON passes this many bytes (the job
#: record lives in a DynamoDB item of at most 400 KB)
SUMMARY_BYTES = 200_000
#: the key of the one group of a ``stats`` without ``by``
WHOLE = "*"
#: the key a listing's map side ships its entries under, and the digits of
#: the rank its reducer keys each row by
LISTED = "rows"
RANK_DIGITS = 6


def query_param(text: str) -> ast.Query:
    """The ``query`` parameter: parsed, or a ``QueryError`` (which
    ``parse_params`` lets through as it is: it names the place)."""
    return parse(text)


def field_source(fmt: Format, name: str) -> tuple[str | None, Getter] | None:
    """Where a query's field ``name`` comes from in ``fmt``: the format's own
    field of that name first (``fmt.getter``), then ``@timestamp`` (the
    record's time, ``epoch``) and ``@message`` (the raw line). The format
    field's name (``None``: no column gives it) and the getter of a record;
    ``None``: the format has no such field."""
    try:
        return name, fmt.getter(name)
    except FormatMismatchError:
        pass
    if name == TIMESTAMP and "epoch" in fmt.fields:
        return "epoch", fmt.getter("epoch")
    if name == MESSAGE:
        if isinstance(fmt, Plain):  # the record is the line, its one field
            return "message", fmt.getter("message")
        if isinstance(fmt, RegexFormat):  # the record is the line's match
            return None, _matched_line
    return None


def _matched_line(record: Any) -> bytes:
    line: bytes = record[0]
    return line[:-1] if line.endswith(b"\r") else line


@dataclass
class _Group:
    name: str
    expr: Compiled


@dataclass
class _RowSort:
    column: str
    descending: bool


class _Batch:
    """A batch's columns, and expressions evaluated once per distinct
    combination of the raw values they read."""

    def __init__(self, columns: dict[str, Column], size: int) -> None:
        self.columns = columns
        self.size = size
        self.codes: dict[tuple[str, ...], tuple[list[Any], Any]] = {}

    def combos(self, deps: tuple[str, ...]) -> tuple[list[Any], Any]:
        """The distinct combinations of ``deps``' raw values and each row's code."""
        found = self.codes.get(deps)
        if found is None:
            if len(deps) == 1:
                found = codes_of(self.columns[deps[0]].raw)
            else:
                found = codes_of(list(zip(*(self.columns[dep].raw for dep in deps), strict=True)))
            self.codes[deps] = found
        return found

    def values(self, compiled: Compiled) -> tuple[list[Any], Any]:
        """``compiled`` of each distinct combination, and each row's code."""
        np = numpy()
        deps = tuple(sorted(compiled.deps))
        if not deps:
            return [compiled.fn({})], np.zeros(self.size, np.intp)
        distinct, codes = self.combos(deps)
        columns = [self.columns[dep] for dep in deps]
        fn = compiled.fn
        if len(deps) == 1:
            (name,), (column,) = deps, columns
            return [fn({name: column.value(raw)}) for raw in distinct], codes
        out = []
        for combo in distinct:
            env = {
                dep: column.value(raw)
                for dep, column, raw in zip(deps, columns, combo, strict=True)
            }
            out.append(fn(env))
        return out, codes


@register
class Query(Job):
    name = QUERY_JOB
    description = (
        "a CloudWatch Logs Insights query (stats, filter, parse, sort, limit; docs/queries.md)"
    )
    params = (Param("query", query_param, None, "the query, in the Logs Insights language"),)

    # -- compiling -------------------------------------------------------------
    def configure(self) -> None:
        query: ast.Query = self.options["query"]
        self.text = query.text
        #: base fields the query reads, and where each is first named
        self.base: dict[str, str] = {}
        scope = Scope(known=self._note_base)
        self.filters: list[Compiled] = []
        self.groups: list[_Group] = []
        self.aggregates: list[Aggregate] = []
        self.row_filters: list[Compiled] = []
        self.row_sort: list[_RowSort] = []
        self.dedup: list[str] = []
        self.limit: int | None = None
        self.shown: list[str] | None = None
        self.counting = False
        #: a query without stats lists records (``_listing``)
        self.listing = not any(isinstance(command, ast.Stats) for command in query.commands)
        if self.listing:
            self._listing(query.commands, scope)
            return
        stats: ast.Stats | None = None
        for command in query.commands:
            if stats is None:
                stats = self._before_stats(command, scope)
            else:
                self._after_stats(command)

    def _listing(self, commands: tuple[ast.Command, ...], scope: Scope) -> None:
        """A query without ``stats``: the records it keeps, as rows of its
        ``fields`` (default ``@timestamp``, ``@message``), in its ``sort``
        order (default ``@timestamp`` descending), the first ``limit``."""
        self.shown_exprs: list[tuple[str, Compiled]] = []
        self.list_sort: list[tuple[Compiled, bool]] | None = None
        self.list_dedup: list[Compiled] = []
        for command in commands:
            shown = self._record_command(command, scope)
            if shown is not None:
                self.shown_exprs += shown  # a fields command's; none for filter, parse
            elif isinstance(command, ast.Sort):
                keys = [(compile_expr(key.expr, scope), key.descending) for key in command.keys]
                self.list_sort = [*(self.list_sort or []), *keys]
            elif isinstance(command, ast.Limit):
                self.limit = command.count if self.limit is None else min(self.limit, command.count)
            elif isinstance(command, ast.Dedup):
                self.list_dedup = [compile_expr(field, scope) for field in command.fields]
        self.scope = scope

    def _listing_defaults(self, fmt: Format) -> None:
        """The default columns and order, of the fields ``fmt`` has."""
        at = "1:1"
        here = [name for name in (TIMESTAMP, MESSAGE) if field_source(fmt, name) is not None]
        if not self.shown_exprs:
            if not here:
                raise QueryError(
                    f"{at}: format {fmt.name} has no @timestamp or @message to list"
                    " (expected fields f1, f2, ...)"
                )
            self.shown_exprs = [
                (name, compile_expr(ast.Field(name, at, name), self.scope)) for name in here
            ]
        if self.list_sort is None:
            self.list_sort = (
                [(compile_expr(ast.Field(TIMESTAMP, at, TIMESTAMP), self.scope), True)]
                if TIMESTAMP in here
                else []
            )
        self.columns_out = [name for name, _ in self.shown_exprs]

    def _note_base(self, name: str, at: str) -> None:
        self.base.setdefault(name, at)

    def _record_command(
        self, command: ast.Command, scope: Scope
    ) -> list[tuple[str, Compiled]] | None:
        """A command over the records (``filter``, ``parse``, ``fields``)
        compiled into ``scope`` (a field's alias named there): the fields it
        shows, ``[]`` for a filter or parse, ``None`` for another command."""
        if isinstance(command, ast.Filter):
            # each conjunct apart: it reads fewer fields, so fewer distinct values
            self.filters += [compile_expr(part, scope) for part in _conjuncts(command.expr)]
        elif isinstance(command, ast.Parse):
            compile_parse(command, scope)
        elif isinstance(command, ast.Fields):
            shown = []
            for item in command.items:
                compiled = compile_expr(item.expr, scope)
                if item.alias is not None:
                    scope.derived[item.alias] = compiled
                shown.append((item.name, compiled))
            return shown
        else:
            return None
        return []

    def _before_stats(self, command: ast.Command, scope: Scope) -> ast.Stats | None:
        if self._record_command(command, scope) is not None:
            pass
        elif isinstance(command, ast.Stats):
            self._stats(command, scope)
            return command
        else:
            what = type(command).__name__.lower()
            raise QueryError(
                f"{command.at}: {what} before stats is not supported (a query compiles to one"
                f" MapReduce: {what} applies to the stats rows, after stats)"
            )
        return None

    def _stats(self, command: ast.Stats, scope: Scope) -> None:
        names: list[str] = []
        for item in command.groups:
            if _aggregate_in(item.expr):
                raise QueryError(f"{item.expr.at}: an aggregate function cannot be a group")
            self.groups.append(_Group(item.name, compile_expr(item.expr, scope)))
            names.append(item.name)
        for item in command.aggregates:
            self.aggregates.append(self._aggregate(item, scope))
            names.append(item.name)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise QueryError(
                f"{command.at}: column {repeated[0]!r} is named twice (expected an alias: as NAME)"
            )
        self.columns_out = names

    def _aggregate(self, item: ast.Named, scope: Scope) -> Aggregate:
        expr = item.expr
        if not isinstance(expr, ast.Call) or expr.name not in AGGREGATES:
            raise QueryError(
                f"{expr.at}: stats takes aggregate functions ({', '.join(sorted(AGGREGATES))});"
                f" got {expr.text!r}"
            )
        kind, args = expr.name, expr.args
        if expr.star:
            if kind != "count":
                raise QueryError(f"{expr.at}: only count takes * (got {expr.text!r})")
            return Aggregate(item.name, kind, None)
        wanted = 2 if kind == "pct" else 1
        if len(args) != wanted:
            shape = "a field and a percentile, pct(f, 95)" if kind == "pct" else "one argument"
            raise QueryError(f"{expr.at}: {kind}() takes {shape}")
        for node in args:
            if _aggregate_in(node):
                raise QueryError(f"{node.at}: aggregate functions do not nest")
        arg = compile_expr(args[0], scope)
        if kind == "pct":
            rank = args[1]
            if not isinstance(rank, ast.Literal) or number_of(rank.value) is None:
                raise QueryError(f"{rank.at}: pct() takes a percentile 0-100 (got {rank.text!r})")
            if not 0 <= float(rank.value) <= 100:
                raise QueryError(f"{rank.at}: the percentile must be between 0 and 100")
            return Aggregate(item.name, kind, arg, rank=float(rank.value) / 100)
        when = None
        if kind in ("earliest", "latest"):
            when = compile_expr(ast.Field(TIMESTAMP, expr.at, TIMESTAMP), scope)
        shows_time = arg.is_time and kind in ("min", "max", "earliest", "latest")
        return Aggregate(item.name, kind, arg, when=when, shows_time=shows_time)

    def _after_stats(self, command: ast.Command) -> None:
        if isinstance(command, ast.Sort):
            self.row_sort += [
                _RowSort(self._column(key.expr), key.descending) for key in command.keys
            ]
        elif isinstance(command, ast.Limit):
            self.limit = command.count if self.limit is None else min(self.limit, command.count)
        elif isinstance(command, ast.Dedup):
            self.dedup = [self._column(field) for field in command.fields]
        elif isinstance(command, ast.Filter):
            self.row_filters.append(compile_expr(command.expr, Scope(known=self._known_column)))
        elif isinstance(command, ast.Fields):
            self.shown = [self._column(item.expr) for item in command.items]
        else:
            what = type(command).__name__.lower()
            raise QueryError(
                f"{command.at}: {what} after stats is not supported (one stats per query)"
            )

    def _known_column(self, name: str, at: str) -> None:
        if name not in self.columns_out:
            self._column(ast.Field(name, at, name))

    def _column(self, expr: ast.Node) -> str:
        """The stats column ``expr`` names: by name or text (``count(*)``), or
        a function's bare name when one unaliased column is that function
        (``count`` for ``count(*)``)."""
        name = expr.name if isinstance(expr, ast.Field) else expr.text
        if name in self.columns_out:
            return name
        alike = [column for column in self.columns_out if column.split("(", 1)[0] == name]
        if len(alike) == 1 and "(" in alike[0]:
            return alike[0]
        raise QueryError(
            f"{expr.at}: no stats column {name!r} (the columns are: {', '.join(self.columns_out)})"
        )

    # -- binding to the format ---------------------------------------------------
    def bind(self, fmt: Format) -> None:
        if self.listing:
            self._listing_defaults(fmt)
        self.sources: dict[str, tuple[str | None, Getter]] = {}
        for name, at in self.base.items():
            found = field_source(fmt, name)
            if found is None:
                have = ", ".join(
                    sorted({*fmt.fields, TIMESTAMP} if "epoch" in fmt.fields else fmt.fields)
                )
                raise QueryError(
                    f"{at}: unknown field {name!r} (format {fmt.name} has: {have})"
                ) from None
            self.sources[name] = found
        self.fields = {name: getter for name, (_, getter) in self.sources.items()}
        names = sorted(self.base)
        self.column_names = names
        if all(column is not None for column, _ in self.sources.values()):
            self.columns = tuple(dict.fromkeys(str(self.sources[name][0]) for name in names))
        else:
            self.columns = ()
        self._scan = self._scan_test()
        group = self.groups[0] if len(self.groups) == 1 else None
        only_count = len(self.aggregates) == 1 and self.aggregates[0].kind == "count"
        if (
            group is not None
            and only_count
            and self.aggregates[0].arg is None
            and not self.filters
            and not group.expr.is_time
            and len(group.expr.deps) == 1
            and group.name in self.sources
            and self.sources[group.name][0] == group.name
        ):
            self.count_field = group.name
            self.counting = True
            self.columns = ()

    # -- the map side ---------------------------------------------------------
    def scan_filter(self) -> tuple[str, Callable[[Any], bool]] | None:
        return self._scan

    def _scan_test(self) -> tuple[str, Callable[[Any], bool]] | None:
        """The first filter that reads one field of the format, as the test
        of that field's value (``Job.scan_filter``): a record it refuses is
        one ``map_columns`` drops first thing."""
        if not self.columns:
            return None
        for compiled in self.filters:
            if len(compiled.deps) != 1:
                continue
            (name,) = compiled.deps
            field = self.sources[name][0] if name in self.sources else None
            if field is not None:
                return str(field), _test(compiled, name)
        return None

    def mapper(self, record: Any) -> Iterator[KV]:
        if self.counting:
            value = self.fields[self.count_field](record)  # type: ignore[index]
            if value is None:
                self.count(f"no_{self.count_field}")
                return
            yield value, 1
            return
        env: Env = {name: getter(record) for name, getter in self.fields.items()}
        for compiled in self.filters:
            if not truth(compiled.fn(env)):
                return
        if self.listing:
            yield LISTED, [self._entry(env)]
            return
        key = self._key(env)
        if key is None:
            return
        state: list[Any] = []
        for agg in self.aggregates:
            value = None if agg.arg is None else agg.arg.fn(env)
            when = None if agg.when is None else agg.when.fn(env)
            state += agg.one(value, when)
        yield key, state

    def _key(self, env: Env) -> str | None:
        if not self.groups:
            return WHOLE
        texts = []
        for group in self.groups:
            value = group.expr.fn(env)
            if value is None:
                self.count(f"no_{group.name}")
                return None
            texts.append(timestamp_text(value) if group.expr.is_time else text_of(value))
        return texts[0] if len(texts) == 1 else json.dumps(texts, ensure_ascii=False)

    def map_columns(self, columns: list[Column]) -> Iterable[KV]:
        np = numpy()
        by_field = dict(zip(self.columns, columns, strict=True))
        named = {name: by_field[str(self.sources[name][0])] for name in self.column_names}
        size = len(columns[0].raw) if columns else 0
        batch = _Batch(named, size)
        keep = np.ones(size, bool)
        for compiled in self.filters:
            verdicts, codes = batch.values(compiled)
            keep = np.fromiter(map(truth, verdicts), bool, len(verdicts))[codes]
            if not keep.all():  # the next steps over the records kept only
                kept = keep.tolist()
                named = {
                    name: Column(list(compress(column.raw, kept)), column.convert)
                    for name, column in named.items()
                }
                batch = _Batch(named, int(keep.sum()))
                keep = np.ones(batch.size, bool)
        if self.listing:
            return [(LISTED, self._top(self._entries(batch)))] if batch.size else ()
        keys, groups = self._batch_groups(batch, keep)
        rows = np.flatnonzero(keep)
        group_of_row = groups[rows]
        used, group_of_row = np.unique(group_of_row, return_inverse=True)
        keys = [keys[i] for i in used.tolist()]
        count = len(keys)
        slots: list[Any] = []
        adds_up = True
        bound = 0
        for agg in self.aggregates:
            values: list[Any] | None = None
            codes = None
            times = None
            if agg.arg is not None:
                values, all_codes = batch.values(agg.arg)
                codes = all_codes[rows]
            if agg.when is not None:
                stamps, stamp_codes = batch.values(agg.when)
                floats = np.array([_float(number_of(s)) for s in stamps], np.float64)
                times = floats[stamp_codes[rows]]
            columns_of, ints, their_bound = agg.batch(group_of_row, count, values, codes, times)
            slots += columns_of
            adds_up = adds_up and ints
            bound += their_bound
        if not count:
            return ()
        if adds_up:
            return KeyedSums(keys, stacked(slots), bound)
        lists = [slot.tolist() if hasattr(slot, "tolist") else slot for slot in slots]
        return zip(keys, map(list, zip(*lists, strict=True)), strict=True)

    def _batch_groups(self, batch: _Batch, keep: Any) -> tuple[list[Any], Any]:
        """Each group's key and each row's group; rows in no group are taken
        out of ``keep`` (and counted in ``no_<name>``)."""
        np = numpy()
        if not self.groups:
            return [WHOLE], np.zeros(batch.size, np.intp)
        deps = frozenset().union(*(group.expr.deps for group in self.groups))
        missing: dict[str, int] = {}

        def key(env: Env) -> Any:
            texts = []
            for group in self.groups:
                value = group.expr.fn(env)
                if value is None:
                    return (group.name,)  # in no group: a tuple, never a key
                texts.append(timestamp_text(value) if group.expr.is_time else text_of(value))
            return texts[0] if len(texts) == 1 else json.dumps(texts, ensure_ascii=False)

        per_combo, codes = batch.values(Compiled(key, deps))
        keys, key_codes = codes_of(per_combo)
        groups = key_codes[codes]
        lacking = [i for i, found in enumerate(keys) if isinstance(found, tuple)]
        for i in lacking:
            rows = keep & (groups == i)
            missing[keys[i][0]] = missing.get(keys[i][0], 0) + int(rows.sum())
            keep &= groups != i
        for name, amount in missing.items():
            if amount:
                self.count(f"no_{name}", amount)
        return keys, groups

    # -- combining and reducing --------------------------------------------------
    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        if self.listing:
            yield key, self._top(list(chain.from_iterable(values)))
            return
        if self.counting:
            yield key, sum(values)
            return
        yield key, self._merge(values)

    def _merge(self, states: list[Any]) -> list[Any]:
        if len(states) == 1:
            return list(states[0])
        merged: list[Any] = []
        at = 0
        for agg in self.aggregates:
            width = agg.width
            merged += agg.merge([state[at : at + width] for state in states])
            at += width
        return merged

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        if self.listing:  # the rows, each under its rank: the results in the rows' order
            entries = self._top(list(chain.from_iterable(values)))
            for rank, (_, shown, _) in enumerate(entries, 1):
                yield f"{rank:0{RANK_DIGITS}d}", dict(zip(self.columns_out, shown, strict=True))
            return
        row: dict[str, Any] = {}
        if self.groups:
            texts = [key] if len(self.groups) == 1 else json.loads(key)
            row.update(zip((group.name for group in self.groups), texts, strict=True))
        if self.counting:
            row[self.aggregates[0].name] = sum(values)
        else:
            state = self._merge(values)
            at = 0
            for agg in self.aggregates:
                row[agg.name] = agg.final(state[at : at + agg.width])
                at += agg.width
        yield key, row

    # -- a listing's rows ------------------------------------------------------------
    def _entry(self, env: Env) -> list[Any]:
        """A record's ``[sort values, row values]`` (a listing's)."""
        assert self.list_sort is not None
        return [
            [_kept(compiled.fn(env)) for compiled, _ in self.list_sort],
            [_shown(compiled, compiled.fn(env)) for _, compiled in self.shown_exprs],
            [_kept(compiled.fn(env)) for compiled in self.list_dedup],
        ]

    def _entries(self, batch: _Batch) -> list[list[Any]]:
        """``_entry`` of every record of ``batch``, each expression evaluated
        once per distinct combination of the values it reads."""
        assert self.list_sort is not None

        def per_row(compiled: Compiled, show: bool) -> list[Any]:
            values, codes = batch.values(compiled)
            made = [_shown(compiled, v) if show else _kept(v) for v in values]
            return list(map(made.__getitem__, codes.tolist()))

        sorts = [per_row(compiled, False) for compiled, _ in self.list_sort]
        shown = [per_row(compiled, True) for _, compiled in self.shown_exprs]
        marks = [per_row(compiled, False) for compiled in self.list_dedup]
        return [
            [list(s), list(r), list(d)]
            for s, r, d in zip(
                zip(*sorts, strict=True) if sorts else [()] * batch.size,
                zip(*shown, strict=True),
                zip(*marks, strict=True) if marks else [()] * batch.size,
                strict=True,
            )
        ]

    def _top(self, entries: list[list[Any]]) -> list[list[Any]]:
        """The first ``limit`` entries in the query's order (ties: by the
        row's values), the later ones of a ``dedup`` combination left out."""
        assert self.list_sort is not None
        descending = [desc for _, desc in self.list_sort]

        def order(entry: list[Any]) -> tuple[Any, ...]:
            keys = (natural_key(v, d) for v, d in zip(entry[0], descending, strict=True))
            return (*keys, json.dumps(entry[1], ensure_ascii=False))

        limit = self.limit or DEFAULT_LIMIT
        if not self.list_dedup:
            return heapq.nsmallest(limit, entries, key=order)
        kept: list[list[Any]] = []
        seen: set[str] = set()
        for entry in sorted(entries, key=order):
            mark = json.dumps(entry[2])
            if mark not in seen:
                seen.add(mark)
                kept.append(entry)
                if len(kept) == limit:
                    break
        return kept

    # -- the rows ------------------------------------------------------------------
    def finalize(self, results: ResultsView) -> dict[str, Any]:
        rows: Iterable[dict[str, Any]] = (row for _, row in results)
        for compiled in self.row_filters:
            rows = (row for row in rows if truth(compiled.fn(row)))
        ordered = list(rows) if self.listing else sorted(rows, key=self._row_order())
        if self.dedup:
            seen: set[tuple[Any, ...]] = set()
            kept = []
            for row in ordered:
                mark = tuple(json.dumps(row.get(name)) for name in self.dedup)
                if mark not in seen:
                    seen.add(mark)
                    kept.append(row)
            ordered = kept
        total = len(ordered)
        limit = self.limit or DEFAULT_LIMIT
        shown = self.shown or self.columns_out
        out: list[dict[str, Any]] = []
        size = 0
        for row in ordered[:limit]:
            one = {name: row.get(name) for name in shown}
            size += len(json.dumps(one))
            if size > SUMMARY_BYTES:
                break
            out.append(one)
        return {
            "query": self.text,
            "columns": shown,
            "rows": out,
            "matched_rows": total,
            "truncated": len(out) < min(total, limit),
        }

    def _row_order(self) -> Callable[[dict[str, Any]], Any]:
        sorts = [*self.row_sort]
        sorts += [_RowSort(name, False) for name in self.columns_out]

        def order(row: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(natural_key(row.get(s.column), s.descending) for s in sorts)

        return order


def _test(compiled: Compiled, name: str) -> Callable[[Any], bool]:
    """Whether ``compiled``, a filter reading the field ``name`` alone,
    keeps a record of that value."""
    fn = compiled.fn
    return lambda value: truth(fn({name: value}))


def _float(number: int | float | None) -> float:
    return float("nan") if number is None else float(number)


def _kept(value: Any) -> Any:
    """A value as a listing ships it: JSON (bytes as text)."""
    return text_of(value) if isinstance(value, bytes) else value


def _shown(compiled: Compiled, value: Any) -> Any:
    """A listed value as a row shows it: a time as Logs Insights shows one."""
    if compiled.is_time and value is not None:
        number = number_of(value)
        return value if number is None else timestamp_text(float(number))
    return _kept(value)


def _conjuncts(node: ast.Node) -> list[ast.Node]:
    """``a and b and c`` as ``[a, b, c]`` (a filter keeps a record when every
    one is true: the same as the whole, each evaluated over its own fields)."""
    if isinstance(node, ast.Binary) and node.op == "and":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def _aggregate_in(node: ast.Node) -> bool:
    if isinstance(node, ast.Call) and node.name in AGGREGATES:
        return True
    children: list[Any] = []
    for name in ("operand", "left", "right"):
        if hasattr(node, name):
            children.append(getattr(node, name))
    children += list(getattr(node, "args", ())) + list(getattr(node, "items", ()))
    return any(isinstance(child, ast.Node) and _aggregate_in(child) for child in children)


_CHUNK = re.compile(r"[0-9]+|[^0-9]+")


class _Reversed:
    """An order key reversed (a descending sort of keys that are not numbers)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def natural_key(value: Any, descending: bool = False) -> Any:
    """Logs Insights' sort order: values that are numbers (numbers, and texts
    that are one) after all others, by value; the others in natural order
    (runs of digits by length, then value; the rest by code point). A
    missing value comes last either way."""
    if value is None:
        return (1,)
    number = number_of(value) if not isinstance(value, bool) else int(value)
    if number is not None:
        key: Any = (1, float(number))
    else:
        chunks = tuple(
            ("0", len(chunk), chunk) if chunk.isdigit() else (chunk, 0, "")
            for chunk in _CHUNK.findall(text_of(value) or "")
        )
        key = (0, chunks)
    return (0, _Reversed(key) if descending else key)
