"""A part file's table: a job's results in Parquet, read back exactly.

The table is what a DuckDB, Athena or pandas user reads naturally: a ``key``
string column, then the values in typed columns. A plain value (a number, a
string...) is in a ``value`` column; an object value is spread over one column
per field, in the order the fields are first seen (``top_paths``: ``key``,
``count``, ``bytes``). A row whose value is an object has ``value`` null; a
field an object lacks is null in its column. Each column has one kind:

========  ==================  =====================================================
kind      Parquet type        holds
========  ==================  =====================================================
int       INT64               ints (bools excepted) within 64 bits
float     DOUBLE              floats
bool      BOOLEAN             bools
str       STRING              text that UTF-8 encodes (no lone surrogate)
ints      LIST<INT64>         lists of such ints (``sessions``' ``by_length``)
floats    LIST<DOUBLE>        lists of floats
json      STRING              anything else, as compact JSON text (mixed types,
                              nested objects, ``None``, ints past 64 bits...)
========  ==================  =====================================================

A job whose objects have more than ``MAX_FIELDS`` distinct fields (a user's
job keyed by some open-ended name) gets one ``value`` column of JSON text
instead of a column per field. The schema's metadata (``logmr.parts``) maps
each column to its field and kind, so reading gives back the very values
written: ints stay ints, floats stay floats (bit for bit), absent fields stay
absent, whatever the columns are named.

Rows are in key order, in row groups of about ``ROW_GROUP_BYTES`` of Arrow
memory; a reader takes one row group at a time (``iter_rows``), so reading
costs memory per row group, not per key. Compression is zstd
(docs/performance.md, "Part files": smaller than snappy for about the same
CPU).

pyarrow is imported by this module only, and this module only where part
files are written or read (``logmr.storage.parts`` imports it lazily): a map
task never pays for it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice, repeat
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from logmr.errors import CorruptPartError

#: the schema metadata key of logmr's column map
META_KEY = b"logmr.parts"
#: the column map's version (a reader refuses others)
VERSION = 1
#: distinct object fields past which object values are JSON text in one column
MAX_FIELDS = 64
#: a row group's Arrow memory, about (a reader holds one at a time)
ROW_GROUP_BYTES = 1024 * 1024
#: the least a read of a part file in a store asks for (the footer's 64 KiB)
READ_AHEAD_BYTES = 64 * 1024
#: the codec of every column chunk
COMPRESSION = "zstd"
#: rows decoded into Python values at a time, and the first row group a
#: stream writes (``write_stream``: its rows' size sizes the next ones)
BATCH_ROWS = 8192
#: a pseudo-kind of ``_kinds``: a non-empty list of ints is among the values
NONEMPTY_INTS = "ints+"

_INT64 = (-(2**63), 2**63 - 1)
_ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "ints": pa.list_(pa.int64()),
    "floats": pa.list_(pa.float64()),
    "json": pa.string(),
}

Pair = tuple[str, Any]


class _Missing:
    """A null cell: no value (a plain row's fields, an object's absent field)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
#: a plain value's fields: none
_NO_FIELDS: dict[str, Any] = {}


# -- kinds -----------------------------------------------------------------------------
def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return type(value) is int and _INT64[0] <= value <= _INT64[1]


def _kind_of(value: Any) -> str:
    """The narrowest kind that holds ``value``."""
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int:
        return "int" if _is_int(value) else "json"
    if kind is float:
        return "float"
    if kind is str:
        return "str" if _utf8(value) else "json"
    if kind is list:
        if all(_is_int(item) for item in value):
            return "ints"  # [] too: it fits either list kind
        if all(type(item) is float for item in value):
            return "floats"
    return "json"


def _kinds(values: list[Any]) -> set[str]:
    """The kinds of a column's present values (``MISSING`` is none), and
    ``NONEMPTY_INTS`` when a list of ints with items is among them
    (``_column_kind`` makes one kind of them, however many chunks of a column
    gave them)."""
    types = set(map(type, values))
    present = [value for value in values if value is not MISSING] if _Missing in types else values
    types.discard(_Missing)
    # one type, checked in C: most columns
    if types == {int}:
        return {"int" if _INT64[0] <= min(present) and max(present) <= _INT64[1] else "json"}
    if types == {str}:
        return {"str" if _utf8("".join(present)) else "json"}
    if types in ({float}, {bool}):
        return {_kind_of(present[0])}
    kinds = {_kind_of(value) for value in present}
    if "ints" in kinds and any(value and _kind_of(value) == "ints" for value in present):
        kinds.add(NONEMPTY_INTS)
    return kinds


def _column_kind(kinds: set[str]) -> str:
    """One kind for a column whose values are of ``kinds`` (``_kinds``):
    theirs if they agree, else json. Empty lists fit either list kind: with
    float lists they are ``floats``."""
    kinds = set(kinds)
    nonempty_ints = NONEMPTY_INTS in kinds
    kinds.discard(NONEMPTY_INTS)
    if kinds == {"ints", "floats"} and not nonempty_ints:
        return "floats"
    return kinds.pop() if len(kinds) == 1 else "json"


def _json_text(value: Any) -> str:
    """Compact JSON, text as it is when it UTF-8 encodes, else escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if _utf8(text) else json.dumps(value, separators=(",", ":"))


def _arrow(values: list[Any], kind: str) -> pa.Array:
    if kind == "json":
        return pa.array(
            [None if value is MISSING else _json_text(value) for value in values], pa.string()
        )
    if MISSING in values:
        values = [None if value is MISSING else value for value in values]
    return pa.array(values, _ARROW_TYPES[kind])


def _python(column: pa.Array | pa.ChunkedArray, kind: str) -> list[Any]:
    """A column's cells as Python values, ``MISSING`` for nulls."""
    if kind in ("int", "float", "bool") and column.null_count == 0:
        # exact, and far faster than to_pylist
        values: list[Any] = column.to_numpy(zero_copy_only=False).tolist()
        return values
    cells: list[Any] = column.to_pylist()
    if kind == "json":
        return [MISSING if text is None else json.loads(text) for text in cells]
    if column.null_count == 0:
        return cells
    return [MISSING if value is None else value for value in cells]


# -- the column map --------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """How a part file's columns hold its keys and values."""

    key_kind: str
    #: the kind of the ``value`` column (plain values, or every value as JSON), or None
    value_kind: str | None
    #: (field, column name, kind) of each object field's column
    fields: tuple[tuple[str, str, str], ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": VERSION,
                "key": self.key_kind,
                "value": self.value_kind,
                "fields": [list(field) for field in self.fields],
            }
        ).encode()

    @classmethod
    def from_metadata(cls, metadata: dict[bytes, bytes] | None, name: str) -> Layout:
        raw = (metadata or {}).get(META_KEY)
        if raw is None:
            raise CorruptPartError(f"{name}: a Parquet file without logmr's column map")
        try:
            data = json.loads(raw)
            if data["version"] != VERSION:
                raise CorruptPartError(f"{name}: column map version {data['version']!r}")
            return cls(data["key"], data["value"], tuple((f, c, k) for f, c, k in data["fields"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptPartError(f"{name}: unreadable column map ({exc})") from None


def _name(field: str, taken: set[str]) -> str:
    """A column name for ``field`` that no other column has."""
    name = field or "field"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


class LayoutScan:
    """The layout of rows seen a chunk at a time (``add``), in key order:
    the same as of all of them at once."""

    def __init__(self) -> None:
        self.rows = 0
        self.utf8_keys = True
        #: every object field, in the order first seen
        self.order: dict[Any, None] = {}
        #: the kinds of the plain values (``_kinds``), and of each field's
        self.plain: set[str] = set()
        self.has_plain = False
        self.fields: dict[Any, set[str]] = {}

    def add(self, rows: Sequence[Pair]) -> LayoutScan:
        self.rows += len(rows)
        self.utf8_keys = self.utf8_keys and _utf8("".join(key for key, _ in rows))
        objects = [value for _, value in rows if type(value) is dict]
        for value in objects:
            self.order.update(dict.fromkeys(value))
        if len(self.order) > MAX_FIELDS:  # every value as JSON text: no kinds to find
            return self
        if len(objects) < len(rows):
            plain = [MISSING if type(value) is dict else value for _, value in rows]
            self.has_plain = self.has_plain or any(value is not MISSING for value in plain)
            self.plain |= _kinds(plain)
        if objects:
            cells = [value if type(value) is dict else _NO_FIELDS for _, value in rows]
            for field in self.order:
                found = self.fields.setdefault(field, set())
                found |= _kinds(list(map(dict.get, cells, repeat(field), repeat(MISSING))))
        return self

    def layout(self) -> Layout:
        key_kind = "str" if self.utf8_keys else "json"
        if self.json_only:  # every value, objects too, as JSON text in one column
            return Layout(key_kind, "json", ())
        taken = {"key", "value"} if self.has_plain else {"key"}
        fields = tuple(
            (field, _name(field, taken), _column_kind(self.fields[field])) for field in self.order
        )
        value_kind = _column_kind(self.plain) if self.has_plain else None
        return Layout(key_kind, value_kind, fields)

    @property
    def json_only(self) -> bool:
        """Too many fields, or a field no text: every value in one JSON column."""
        order = self.order
        return len(order) > MAX_FIELDS or not all(type(f) is str and _utf8(f) for f in order)


def _layout(rows: Sequence[Pair]) -> tuple[Layout, list[list[Any]]]:
    """The layout of rows and its value columns' cells (``MISSING`` for nulls)."""
    scan = LayoutScan().add(rows)
    layout = scan.layout()
    return layout, _cells(rows, layout, json_only=scan.json_only)


def _cells(rows: Sequence[Pair], layout: Layout, *, json_only: bool) -> list[list[Any]]:
    """The value columns' cells of ``rows`` in ``layout`` (``MISSING`` for nulls)."""
    if json_only:
        return [[value for _, value in rows]]
    columns: list[list[Any]] = []
    if layout.value_kind is not None:
        columns.append([MISSING if type(value) is dict else value for _, value in rows])
    objects = [value if type(value) is dict else _NO_FIELDS for _, value in rows]
    for field, _, _ in layout.fields:
        columns.append(list(map(dict.get, objects, repeat(field), repeat(MISSING))))
    return columns


# -- write and read --------------------------------------------------------------------
def encode(rows: Sequence[Pair]) -> bytes:
    """A part file of ``rows`` (key-ordered pairs with distinct string keys)."""
    layout, cells = _layout(rows)
    table = _table(rows, layout, cells)
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=_group_rows(table), **_writer_options(table.schema))
    return sink.getvalue()


def write_stream(rows: Iterable[Pair], scan: LayoutScan, sink: Any) -> None:
    """A part file of ``rows`` (key-ordered pairs with distinct string keys,
    the rows ``scan`` saw) written to the file ``sink`` a row group at a time:
    the same table as ``encode``'s, holding one row group's rows at a time."""
    layout, json_only = scan.layout(), scan.json_only
    rows = iter(rows)
    chunk = list(islice(rows, BATCH_ROWS))
    if not chunk:
        sink.write(encode([]))
        return
    table = _table(chunk, layout, _cells(chunk, layout, json_only=json_only))
    group = _group_rows(table)  # the first rows' size sizes every group
    with pq.ParquetWriter(sink, table.schema, **_writer_options(table.schema)) as writer:
        while chunk:
            writer.write_table(table, row_group_size=group)
            chunk = list(islice(rows, group))
            if chunk:
                table = _table(chunk, layout, _cells(chunk, layout, json_only=json_only))


def _table(rows: Sequence[Pair], layout: Layout, cells: list[list[Any]]) -> pa.Table:
    names = ["key"]
    arrays = [_arrow([key for key, _ in rows], layout.key_kind)]
    kinds = ([layout.value_kind] if layout.value_kind else []) + [k for _, _, k in layout.fields]
    names += (["value"] if layout.value_kind else []) + [name for _, name, _ in layout.fields]
    arrays += [_arrow(column, kind) for column, kind in zip(cells, kinds, strict=True)]
    table = pa.Table.from_arrays(arrays, names=names)
    return table.replace_schema_metadata({META_KEY: layout.to_json()})


def _group_rows(table: pa.Table) -> int:
    """Rows a row group of about ``ROW_GROUP_BYTES`` holds, at ``table``'s size a row."""
    per_row = max(int(table.nbytes) // max(int(table.num_rows), 1), 1)
    return max(ROW_GROUP_BYTES // per_row, 1)


def _writer_options(schema: pa.Schema) -> dict[str, Any]:
    # the keys are distinct: a dictionary of them is waste
    return {"compression": COMPRESSION, "use_dictionary": schema.names[1:]}


def iter_rows(source: Any, name: str) -> Iterator[Pair]:
    """The pairs of a part file (a file object, or anything ``pq.ParquetFile``
    opens), in the file's order, one row group at a time."""
    if isinstance(source, io.RawIOBase):  # a store's ranged reads: a row group a GET
        source = io.BufferedReader(source, buffer_size=max(ROW_GROUP_BYTES, READ_AHEAD_BYTES))
    try:
        # no pre-buffering and no pool threads: Arrow's threads calling into a
        # Python file, or alive when the process exits, abort it ("terminate
        # called without an active exception", apache/arrow#34314, #45017)
        parquet = pq.ParquetFile(source, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptPartError(f"{name}: not a Parquet part file ({exc})") from None
    layout = Layout.from_metadata(parquet.schema_arrow.metadata, name)
    for group in range(parquet.num_row_groups):
        for batch in parquet.read_row_group(group, use_threads=False).to_batches(BATCH_ROWS):
            yield from _pairs(batch, layout)


def decode(data: bytes, name: str = "part file") -> list[Pair]:
    """Every pair of a part file's bytes."""
    return list(iter_rows(pa.BufferReader(data), name))


def _pairs(batch: pa.RecordBatch, layout: Layout) -> Iterator[Pair]:
    keys = _python(batch.column(0), layout.key_kind)
    at = 1
    plain: list[Any] | None = None
    if layout.value_kind is not None:
        plain, at = _python(batch.column(1), layout.value_kind), 2
    fields = [field for field, _, _ in layout.fields]
    columns = [_python(batch.column(at + i), kind) for i, (_, _, kind) in enumerate(layout.fields)]
    if not columns:  # plain values only, or only objects without fields
        empty = plain or [MISSING] * len(keys)
        yield from zip(keys, [{} if value is MISSING else value for value in empty], strict=True)
        return
    if plain is None and not any(MISSING in column for column in columns):
        # every value an object with every field: the common case, built in C
        objects = (dict(zip(fields, cells, strict=True)) for cells in zip(*columns, strict=True))
        yield from zip(keys, objects, strict=True)
        return
    for row, key in enumerate(keys):
        if plain is not None and plain[row] is not MISSING:
            yield key, plain[row]
        else:
            cells = (column[row] for column in columns)
            yield key, {f: c for f, c in zip(fields, cells, strict=True) if c is not MISSING}
