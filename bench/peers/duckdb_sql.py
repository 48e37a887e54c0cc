"""DuckDB: the question as one SQL query over the file (``python duckdb_sql.py
QUESTION PATH``), with the reference regex in RE2 (``regexp_extract``), all
cores (DuckDB's default threads).

Lines come from ``read_csv`` with one VARCHAR column (no quoting, no escapes,
a delimiter the data does not hold). DuckDB's text is UTF-8: lines that are not
valid UTF-8 are rejected by the reader (``ignore_errors`` + ``store_rejects``)
and counted here as lines and as malformed, which they are in the generated
input (binary garbage lines); a well-formed line with invalid UTF-8 would be
miscounted. DuckDB also treats a lone CR as a line end; the generated input
has no CR.
"""

from __future__ import annotations

import sys

import duckdb
from common import RE2_PATH, RE2_REFERENCE, answer, emit

#: the reference's groups up to the size (request, status and size are used)
GROUP_NAMES = (
    "client", "ident", "user", "day", "month", "year", "hour", "minute", "second", "zone",
    "request", "status", "size",
)  # fmt: skip


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def main(question: str, path: str) -> None:
    con = duckdb.connect()
    source = (
        f"read_csv({sql_text(path)}, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', "
        "quote = '', escape = '', header = false, auto_detect = false, "
        "strict_mode = false, ignore_errors = true, store_rejects = true)"
    )
    # regexp_extract with a list of names: a struct of the first groups, in order
    names = ", ".join(f"'{name}'" for name in GROUP_NAMES)
    report = question == "access_report"
    path = f"regexp_extract(f.request, {sql_text(RE2_PATH)}, 1)" if report else "NULL"
    # one scan: per status, (per path,) and the whole (GROUPING SETS); a line
    # the regex rejects has an empty status (a matched one has three digits)
    rows = con.execute(
        f"""
        WITH parsed AS (
            SELECT f.status AS status,
                   CASE WHEN f.status = '' OR f.size = '-' THEN 0
                        ELSE CAST(f.size AS HUGEINT) END AS size,
                   {path} AS path
            FROM (SELECT regexp_extract(line, {sql_text(RE2_REFERENCE)}, [{names}]) AS f
                  FROM {source})
        )
        SELECT {
            "GROUPING(status, path), status, path"
            if report
            else "GROUPING(status) * 2 + 1, status, NULL"
        }, count(*), sum(size)
        FROM parsed
        GROUP BY GROUPING SETS ((status), {"(path), " if report else ""}())
        """
    ).fetchall()
    rejected = con.execute("SELECT count(*) FROM reject_errors").fetchone()
    extra = int(rejected[0]) if rejected else 0
    status: dict[str, int] = {}
    paths: dict[str, tuple[int, int]] = {}
    lines = malformed = total_bytes = 0
    for grouping, code, key, count, size in rows:
        if grouping == 3:  # the whole
            lines, total_bytes = count, int(size or 0)
        elif grouping == 1:  # per status
            if code == "":
                malformed = count
            else:
                status[code] = count
        elif key:  # per path; '' is no path, or a malformed line
            paths[key] = (count, int(size or 0))
    emit(
        answer(
            question,
            lines=lines + extra,
            malformed=malformed + extra,
            status=status,
            total_bytes=total_bytes,
            paths=paths,
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
