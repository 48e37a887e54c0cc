"""How the command line prints a job's results and records: a table on a
terminal, one JSON object with ``--json`` (streamed), JSON lines with
``--all``; every text from a log made printable first."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logmr.storage.base import JobRecord

DEFAULT_TABLE_ROWS = 20


def show(
    results: Any,
    job_id: str,
    top: int | None,
    as_json: bool,
    extra: dict[str, Any] | None = None,
    *,
    sort: str | None = None,
) -> int:
    """A job's record and results: one JSON object (``as_json``; ``extra``:
    fields it ends with), else its tables (``cli.tables``: the shape its job is
    shown as, ``sort`` as ``--sort`` says, ``top`` rows a table)."""
    record = results.get_job(job_id)
    # only a SUCCEEDED job's results are whole: a running or failed job may hold some partitions
    whole = record.status == "SUCCEEDED"
    if as_json:
        if not whole:
            rows: Iterable[tuple[str, Any]] = []
        elif top:
            rows = results.top(job_id, top)
        else:
            rows = results.iter_results(job_id)  # streamed from the part files
        head: dict[str, Any] = {
            "job_id": job_id,
            "status": record.status,
            "job": record.job,
            "format": record.spec.get("format"),
            "counters": record.counters,
        }
        tail: dict[str, Any] = {}
        if record.summary is not None:
            tail["summary"] = record.summary
        if record.error:
            tail["error"], tail["cause"] = record.error, record.cause
        tail.update(extra or {})
        print_json_results(head, rows, tail)
        return 0 if record.status == "SUCCEEDED" else 1
    from logmr.cli import tables

    out = sys.stdout
    out.write(
        f"job {job_id}: {record.status} - {printable(record.job)} over "
        f"{len(record.spec.get('inputs', []))} input(s), "
        f"format {record.spec.get('format')}, {record.timings.get('duration_s', '?')} s\n"
    )
    counters = record.counters
    out.write(
        "  " + "  ".join(f"{name} {value:,}" for name, value in sorted(counters.items())) + "\n"
    )
    shown = tables.build(results, record, top, sort) if whole else tables.Shown()
    tables.write(out, shown)
    return 0 if record.status == "SUCCEEDED" else 1


def show_lines(results: Any, job_id: str) -> int:
    """Every result of a SUCCEEDED job, a JSON line ``[key, value]`` each,
    streamed from the part files; a job not SUCCEEDED: a line on stderr, 1."""
    record = results.get_job(job_id)
    if record.status != "SUCCEEDED":
        print(f"logmr: job {job_id} is {record.status}: no results to show", file=sys.stderr)
        return 1
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    out = sys.stdout
    for pair in results.iter_results(job_id):
        out.write(encode(pair) + "\n")
    return 0


#: what a terminal would act on rather than show: C0 and C1 controls, DEL,
#: and the bidirectional embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with what a terminal would act on escaped (``\\x1b``,
    ``\\u202e``): a key or message from a log never moves the cursor,
    clears the screen, sets the title or reorders what is shown."""
    return _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], text)


def cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return printable(str(value))
    if isinstance(value, int):
        return f"{value:,}"
    # a large figure in full (a p99 of 318,912 bytes, not 3.189e+05), a small one to 4 digits
    return f"{value:,.0f}" if 1e3 <= abs(value) < 1e15 else f"{value:,.4g}"


def failed(record: JobRecord, as_json: bool) -> int:
    """A failed job: its error name and cause, on stderr or as the JSON object."""
    if as_json:
        failure = {"job_id": record.job_id, "status": "FAILED", "error": record.error}
        print_json({**failure, "cause": record.cause, "results": {}})
    else:
        print(f"logmr: error: {record.error}: {printable(record.cause or '')}", file=sys.stderr)
    return 1


#: results encoded at a time when ``--json`` streams a job's results
JSON_CHUNK = 10_000


def print_json_results(
    head: dict[str, Any], rows: Iterable[tuple[str, Any]], tail: dict[str, Any]
) -> None:
    """One JSON object, ``head``'s fields, ``"results": {key: value, ...}``
    then ``tail``'s, written as the results stream: memory per chunk of
    ``JSON_CHUNK`` results, not per key (the object ``json.dumps`` would give)."""
    out = sys.stdout
    opening = json.dumps({**head, "results": {}}, ensure_ascii=False)
    out.write(opening[: -len("{}}")] + "{")
    separator = ""
    iterator = iter(rows)
    while chunk := dict(itertools.islice(iterator, JSON_CHUNK)):
        out.write(separator + json.dumps(chunk, ensure_ascii=False)[1:-1])
        separator = ", "
    closing = json.dumps(tail, ensure_ascii=False)
    out.write("}" + (", " + closing[1:] if tail else "}") + "\n")


def print_json(value: Any) -> None:
    # dumps, not dump: json.dump encodes in Python, dumps in C (a job's every result)
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
