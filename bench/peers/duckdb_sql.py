"""DuckDB: each question as one SQL query, one scan of the file (``python
duckdb_sql.py QUESTION PATH``), written the way a DuckDB user would:

- the file as ``read_csv`` of one VARCHAR column per line (no quoting, no
  escapes, a delimiter the data does not hold);
- one ``regexp_extract`` per line with the reference regex in RE2 and a list
  of group names (a struct of the fields), only the groups the question uses
  capturing (the others ``(?:...)``: the same acceptance, less to extract);
- every part of the answer from that one scan: ``GROUPING SETS`` for
  statuses, paths and the whole (``count(*) FILTER`` for the malformed), and
  the top 20 paths chosen in SQL (``row_number()`` over requests descending,
  then path) so that only the answer leaves DuckDB;
- ``threads`` = the machine's cores, insertion order not preserved.

The path is the request's second whitespace-separated token (a second
``regexp_extract`` over the request; NULL without one), the query string
stripped with ``split_part(path, '?', 1)`` for ``top_paths``. DuckDB's text is
UTF-8: lines that are not valid UTF-8 are rejected by the reader
(``ignore_errors`` + ``store_rejects``) and counted here as lines and as
malformed, which they are in the generated input (binary garbage lines); a
well-formed line with invalid UTF-8 would be miscounted. DuckDB also treats a
lone CR as a line end; the generated input has no CR. Strings order by their
UTF-8 bytes, which is Python's order of the decoded text.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import duckdb
from common import QUESTIONS, RE2_PATH, TOP, answer, emit, re2_reference

#: the groups each question reads
GROUPS = {
    "status_codes": ("status",),
    "access_report": ("request", "status", "size"),
    "top_paths": ("request", "status", "size"),
}


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def query(question: str, path: str) -> str:
    """The one SQL query of ``question`` over the file at ``path``."""
    source = (
        f"read_csv({sql_text(path)}, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', "
        "quote = '', escape = '', header = false, auto_detect = false, "
        "strict_mode = false, ignore_errors = true, store_rejects = true)"
    )
    groups = GROUPS[question]
    names = ", ".join(sql_text(name) for name in groups)
    fields = f"regexp_extract(line, {sql_text(re2_reference(groups))}, [{names}])"
    if question == "status_codes":
        # a line the regex rejects has an empty status (a matched one has three digits)
        return f"""
            SELECT f.status AS status, count(*) AS n
            FROM (SELECT {fields} AS f FROM {source})
            GROUP BY f.status
        """
    path_of = f"NULLIF(regexp_extract(f.request, {sql_text(RE2_PATH)}, 1), '')"
    if question == "top_paths":
        path_of = f"split_part({path_of}, '?', 1)"
    # grouping: 1 per status, 2 per path, 3 the whole (top_paths: 0 per path, 1 the whole)
    report = question == "access_report"
    sets = "(status), (path), ()" if report else "(path), ()"
    grouping = "GROUPING(status, path)" if report else "GROUPING(path) + 2"
    status = "status" if report else "NULL"
    return f"""
        WITH parsed AS (
            SELECT f.status AS status,
                   CASE WHEN f.status = '' OR f.size = '-' THEN 0
                        ELSE CAST(f.size AS HUGEINT) END AS size,
                   {path_of} AS path
            FROM (SELECT {fields} AS f FROM {source})
        ),
        grouped AS (
            SELECT {grouping} AS g, {status} AS status, path, count(*) AS n, sum(size) AS bytes,
                   count(*) FILTER (WHERE status = '') AS malformed
            FROM parsed
            GROUP BY GROUPING SETS ({sets})
        )
        SELECT g, status, path, n, bytes, malformed
        FROM grouped
        WHERE g <> 2 OR path IS NOT NULL
        QUALIFY g <> 2 OR row_number() OVER (PARTITION BY g ORDER BY n DESC, path) <= {TOP}
    """


def main(question: str, path: str) -> None:
    if question not in QUESTIONS:
        raise SystemExit(f"unknown question {question!r} (known: {', '.join(QUESTIONS)})")
    cores = os.cpu_count() or 1
    con = duckdb.connect(config={"threads": cores, "preserve_insertion_order": False})
    rows = con.execute(query(question, path)).fetchall()
    rejected = con.execute("SELECT count(*) FROM reject_errors").fetchone()
    extra = int(rejected[0]) if rejected else 0
    parts: dict[str, Any] = {"status": {}, "paths": {}, "lines": 0, "malformed": 0, "bytes": 0}
    if question == "status_codes":
        for code, count in rows:
            parts["lines"] += count
            if code == "":
                parts["malformed"] = count
            else:
                parts["status"][code] = count
    else:
        for grouping, code, key, count, size, malformed in rows:
            if grouping == 3:  # the whole
                parts.update(lines=count, bytes=int(size or 0), malformed=malformed)
            elif grouping == 1 and code != "":  # per status
                parts["status"][code] = count
            elif grouping == 2:  # per path: the top ones
                parts["paths"][key] = (count, int(size or 0))
    emit(
        answer(
            question,
            lines=parts["lines"] + extra,
            malformed=parts["malformed"] + extra,
            status=parts["status"],
            total_bytes=parts["bytes"],
            paths=parts["paths"],
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
