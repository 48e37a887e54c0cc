"""Results to files other tools load: CSV, JSON lines, Parquet.

``write_results(path, rows)`` chooses the format by the file's extension
(``EXTENSIONS``); ``write_text(out, rows, kind)`` writes CSV or JSON lines to
a stream (``logmr results JOB --format csv``). Every format has the same
columns: ``key``, then ``value``, or each field of an object value (in the
order first seen; a field a row lacks is empty). In CSV and Parquet a nested
list or object is its JSON text; JSON lines keep it as it is. Parquet types a
column by what it holds: whole numbers int64, numbers float64, true/false
bool, anything else (mixed) its text, as in CSV.

Rows stream: a CSV or Parquet file's columns are known only after the last
row, so the rows go to a temporary file of JSON lines first (memory per row,
not per job), then to the file, written beside it and renamed into place.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from logmr.errors import InvalidParameterError
from logmr.storage.disk import writing

#: extension -> format
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
#: the formats a stream takes (Parquet is a file with a footer)
TEXT_FORMATS = ("csv", "jsonl")
#: rows written to Parquet at a time (a row group)
PARQUET_BATCH = 65_536
_INT64 = range(-(2**63), 2**63)


def export_format(path: str | Path) -> str:
    """The format of ``path``, by its extension (before any work is done)."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise InvalidParameterError(
            f"--output {path}: unknown file type {suffix or '(no extension)'!r} (known: {known})"
        )
    return EXTENSIONS[suffix]


def write_results(path: str | Path, rows: Iterable[tuple[str, Any]]) -> int:
    """``rows`` ((key, value) pairs) written to ``path`` in the format its
    extension names; the number of rows."""
    kind = export_format(path)
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with writing(target):
        try:
            if kind == "parquet":
                written = _write_parquet(temp, rows)
            else:
                with temp.open("w", encoding="utf-8", newline="") as out:
                    written = write_text(out, rows, kind)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
    return written


def write_text(out: TextIO, rows: Iterable[tuple[str, Any]], kind: str) -> int:
    """``rows`` written to ``out`` as CSV or JSON lines; the number of rows."""
    if kind == "jsonl":
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        written = 0
        for record in flat_rows(rows):
            out.write(encode(record) + "\n")
            written += 1
        return written
    if kind != "csv":
        raise InvalidParameterError(f"cannot write {kind} as text (known: csv, jsonl)")
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        columns, _, written = _spool(rows, spool)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for record in _read_spool(spool):
            writer.writerow([_text(record.get(name)) for name in columns])
    return written


def flat_rows(rows: Iterable[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each (key, value) as one flat row: ``key`` and ``value``, or ``key``
    and an object value's fields (its own ``key`` field named ``value_key``)."""
    for key, value in rows:
        if isinstance(value, dict):
            # a field named key is the value's: kept as value_key beside the row's key
            yield {"key": key, **{_field(name): each for name, each in value.items()}}
        else:
            yield {"key": key, "value": value}


def _field(name: str) -> str:
    return "value_key" if name == "key" else name


def _spool(
    rows: Iterable[tuple[str, Any]], spool: IO[str]
) -> tuple[list[str], dict[str, set[str]], int]:
    """The flat rows as JSON lines into ``spool``: the columns in the order
    first seen, the kinds of value each holds, the number of rows."""
    columns: dict[str, set[str]] = {"key": set()}
    written = 0
    for record in flat_rows(rows):
        for name, value in record.items():
            columns.setdefault(name, set()).add(_kind(value))
        spool.write(json.dumps(record, ensure_ascii=False) + "\n")
        written += 1
    spool.seek(0)
    return list(columns), columns, written


def _read_spool(spool: IO[str]) -> Iterator[dict[str, Any]]:
    for line in spool:
        yield json.loads(line)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if value in _INT64 else "text"
    if isinstance(value, float):
        return "float"
    return "text"


def _text(value: Any) -> str:
    """A CSV cell: a nested value as its JSON text, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_parquet(path: Path, rows: Iterable[tuple[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        columns, kinds, written = _spool(rows, spool)
        types = {name: _arrow_type(pa, kinds[name] - {"null"}) for name in columns}
        schema = pa.schema([(name, types[name]) for name in columns])
        with pq.ParquetWriter(str(path), schema) as writer:
            batch: list[dict[str, Any]] = []
            for record in _read_spool(spool):
                batch.append(record)
                if len(batch) == PARQUET_BATCH:
                    writer.write_table(_table(pa, schema, types, batch))
                    batch = []
            if batch or not written:
                writer.write_table(_table(pa, schema, types, batch))
    return written


def _arrow_type(pa: Any, kinds: set[str]) -> Any:
    if kinds <= {"int"} and kinds:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    if kinds == {"bool"}:
        return pa.bool_()
    return pa.string()


def _table(pa: Any, schema: Any, types: dict[str, Any], batch: list[dict[str, Any]]) -> Any:
    arrays = []
    for name in schema.names:
        values = [record.get(name) for record in batch]
        if types[name] == pa.string():
            values = [None if value is None else _text(value) for value in values]
        arrays.append(pa.array(values, type=types[name]))
    return pa.Table.from_arrays(arrays, schema=schema)
