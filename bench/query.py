"""Queries against the built-in job and against DuckDB, the same run (issue 16).

Run ``python bench/query.py [--size 1GB] [--runs 3] [--input PATH]`` on a
quiet machine. Over one generated Apache combined log (the cached input of
``bench_status_codes.prepare_input``, or ``--input``) it runs, alternating,
as subprocesses timed from start to exit (wall seconds, and the CPU seconds
of the process tree from ``RUSAGE_CHILDREN``):

- ``status_codes``: ``logmr run PATH --job status_codes --json`` against
  ``logmr query PATH 'stats count(*) by status' --json`` (target: the query
  within 1.2x of the job);
- ``slow_paths``: ``logmr query PATH 'filter status >= 500 | stats count(*),
  pct(bytes, 95) by path | sort count desc | limit 20' --json`` against the
  same question in DuckDB's SQL, written as ``bench/peers/duckdb_sql.py``
  reads the log (``read_csv`` of one column, ``regexp_extract`` of the
  reference regex in RE2), ``quantile_disc(size, 0.95)`` for the percentile
  (target: at most DuckDB's time).

Both logmr runs use the state machine on the local engine, all cores, a fresh
LOGMR_HOME. Answers are compared: the status counts exactly; for the slow
paths the counts exactly, and logmr's percentile (a KLL sketch) must lie
within the sketch's rank error of the 95th percentile of the path's sizes
(its rank among them checked by DuckDB, untimed). Writes JSON and Markdown to
``bench/results/query-<size>.*``. Exit status 1 when an answer differs; speed
is never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_status_codes import (
    LOGMR_OVERRIDES,
    MIB,
    ROOT,
    _median,
    prepare_input,
    read_through,
    run_measured,
    write_atomic,
)
from logmr.jobs.sketches import KLL_RANK_ERROR

PEERS = ROOT / "bench" / "peers"
RESULTS = ROOT / "bench" / "results"
STATUS_QUERY = "stats count(*) by status"
SLOW_PATHS_QUERY = (
    "filter status >= 500 | stats count(*), pct(bytes, 95) by path | sort count desc | limit 20"
)
TOP = 20


def _peers() -> Any:
    sys.path.insert(0, str(PEERS))
    import common
    import duckdb_sql

    return common, duckdb_sql


def _errors(path: str) -> tuple[str, str]:
    """The 5xx rows of the log as a DuckDB user reads them (a CTE ``errors``
    of the extracted fields ``f``), and the SQL of a row's path."""
    common, peer = _peers()
    source = (
        f"read_csv({peer.sql_text(path)}, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', "
        "quote = '', escape = '', header = false, auto_detect = false, "
        "strict_mode = false, ignore_errors = true, store_rejects = true)"
    )
    groups = ("request", "status", "size")
    names = ", ".join(peer.sql_text(name) for name in groups)
    fields = f"regexp_extract(line, {peer.sql_text(common.re2_reference(groups))}, [{names}])"
    path_of = f"NULLIF(regexp_extract(f.request, {peer.sql_text(common.RE2_PATH)}, 1), '')"
    # the rows filtered on the status first, then only theirs given a path and
    # a size: the path's regexp_extract runs over the 5xx rows alone (3x faster
    # than projecting every row first)
    cte = f"""
        WITH errors AS (
            SELECT f FROM (SELECT {fields} AS f FROM {source})
            WHERE f.status >= '500'
        )"""
    return cte, path_of


SIZE_SQL = "coalesce(TRY_CAST(f.size AS HUGEINT), 0)"


def duckdb_sql(path: str) -> str:
    """The slow-paths question in DuckDB's SQL, one scan of the file, written
    as its users write it (``_errors``)."""
    cte, path_of = _errors(path)
    return f"""{cte}
        SELECT {path_of} AS path, count(*) AS n, quantile_disc({SIZE_SQL}, 0.95) AS p95
        FROM errors
        WHERE {path_of} IS NOT NULL
        GROUP BY path
        ORDER BY n DESC, path
        LIMIT {TOP}
    """


def duckdb_main(path: str) -> None:
    import duckdb

    con = duckdb.connect(config={"threads": os.cpu_count() or 1, "preserve_insertion_order": False})
    rows = con.execute(duckdb_sql(path)).fetchall()
    print(json.dumps([[p, int(n), float(p95)] for p, n, p95 in rows]))


def ranks_in_duckdb(path: str, values: dict[str, float]) -> dict[str, tuple[float, float]]:
    """For each path, the normalized ranks ``values[path]`` spans among the
    sizes of its 5xx requests: (share below, share at or below). Untimed."""
    import duckdb

    con = duckdb.connect()
    cte, path_of = _errors(path)
    con.execute("CREATE TEMP TABLE wanted (path VARCHAR, v DOUBLE)")
    con.executemany("INSERT INTO wanted VALUES (?, ?)", list(values.items()))
    rows = con.execute(
        f"""{cte}, parsed AS (SELECT {path_of} AS path, {SIZE_SQL} AS size FROM errors)
        SELECT w.path, avg(CASE WHEN p.size < w.v THEN 1 ELSE 0 END),
               avg(CASE WHEN p.size <= w.v THEN 1 ELSE 0 END)
        FROM parsed p JOIN wanted w ON p.path = w.path
        GROUP BY w.path
        """
    ).fetchall()
    return {p: (float(below), float(at)) for p, below, at in rows}


def logmr_argv(path: Path, *tail: str) -> list[str]:
    script = Path(sys.executable).with_name("logmr")
    head = [str(script)] if script.is_file() else [sys.executable, "-m", "logmr.cli"]
    return [*head, *tail[:1], str(path), *tail[1:]]


def commands(path: Path) -> dict[str, list[str]]:
    return {
        "status_codes job": logmr_argv(path, "run", "--job", "status_codes", "--json"),
        "status_codes query": logmr_argv(path, "query", STATUS_QUERY, "--json"),
        "slow_paths query": logmr_argv(path, "query", SLOW_PATHS_QUERY, "--json"),
        "slow_paths duckdb": [sys.executable, str(Path(__file__).resolve()), "--duckdb", str(path)],
    }


def timed(argv: list[str]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of the process tree, and the parsed stdout."""
    env = {k: v for k, v in os.environ.items() if k not in LOGMR_OVERRIDES}
    with tempfile.TemporaryDirectory(prefix="logmr-bench-") as home:
        env["LOGMR_HOME"] = home
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, _, _, stdout = run_measured(argv, env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, json.loads(stdout)


def check(answers: dict[str, Any], path: Path) -> list[str]:
    """What differs between the answers (empty: they agree)."""
    problems = []
    job = answers["status_codes job"]["results"]
    query = {row["status"]: row["count(*)"] for row in answers["status_codes query"]["rows"]}
    if job != query:
        problems.append(f"status counts differ: job {job} query {query}")
    mine = answers["slow_paths query"]["rows"]
    theirs = answers["slow_paths duckdb"]
    counts_mine = [row["count(*)"] for row in mine]
    counts_theirs = [n for _, n, _ in theirs]
    if counts_mine != counts_theirs:
        problems.append(f"slow path counts differ: {counts_mine} vs {counts_theirs}")
    by_path = {p: n for p, n, _ in theirs}
    last = counts_theirs[-1] if counts_theirs else 0
    for row in mine:  # a path tied with the last one may be another of the ties
        if row["count(*)"] > last and by_path.get(row["path"]) != row["count(*)"]:
            problems.append(
                f"path {row['path']!r}: {row['count(*)']} vs {by_path.get(row['path'])}"
            )
    ranks = ranks_in_duckdb(str(path), {row["path"]: row["pct(bytes, 95)"] for row in mine})
    for row in mine:
        below, at = ranks[row["path"]]
        if not below - KLL_RANK_ERROR <= 0.95 <= at + KLL_RANK_ERROR:
            problems.append(
                f"pct(bytes, 95) of {row['path']!r}: {row['pct(bytes, 95)']} spans ranks"
                f" {below:.4f}-{at:.4f}, not within {KLL_RANK_ERROR:.4f} of 0.95"
            )
    return problems


def benchmark(data_path: Path, label: str, runs: int, output: Path) -> int:
    argvs = commands(data_path)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in argvs}
    answers: dict[str, Any] = {}
    read_through(data_path)
    for _ in range(runs):
        for name, argv in argvs.items():  # alternating: a slow moment hurts every system alike
            seconds, cpu, answers[name] = timed(argv)
            times[name].append((seconds, cpu))
            print(f"{name}: {seconds:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
    problems = check(answers, data_path)
    medians = {
        name: {"wall_s": _median([w for w, _ in got]), "cpu_s": _median([c for _, c in got])}
        for name, got in times.items()
    }
    ratio_status = medians["status_codes query"]["wall_s"] / medians["status_codes job"]["wall_s"]
    ratio_duck = medians["slow_paths query"]["wall_s"] / medians["slow_paths duckdb"]["wall_s"]
    report = {
        "input": {"path": str(data_path), "bytes": data_path.stat().st_size, "label": label},
        "runs": runs,
        "cores": os.cpu_count(),
        "load_before": os.getloadavg(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "medians": medians,
        "query_over_status_codes": ratio_status,
        "query_over_duckdb": ratio_duck,
        "targets": {"query_over_status_codes": 1.2, "query_over_duckdb": 1.0},
        "answers_agree": not problems,
        "problems": problems,
    }
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / f"query-{label}.json", json.dumps(report, indent=2) + "\n")
    write_atomic(output / f"query-{label}.md", markdown(report))
    print(markdown(report))
    return 1 if problems else 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Queries against status_codes and DuckDB ({report['input']['label']},"
        f" {report['input']['bytes']:,} bytes, median of {report['runs']})",
        "",
        "| run | wall s | CPU s |",
        "|---|---:|---:|",
    ]
    for name, figures in report["medians"].items():
        lines.append(f"| {name} | {figures['wall_s']:.2f} | {figures['cpu_s']:.2f} |")
    lines += [
        "",
        f"- `{STATUS_QUERY}` / `status_codes`: {report['query_over_status_codes']:.2f}x"
        " (target at most 1.2x)",
        f"- slow paths query / DuckDB: {report['query_over_duckdb']:.2f}x (target at most 1x)",
        f"- answers agree: {report['answers_agree']}",
        *(f"  - {problem}" for problem in report["problems"]),
        f"- {report['cores']} cores, load before {report['load_before']}",
        "",
    ]
    return "\n".join(lines)


#: the CPU comparison's jobs and queries: (label, job, params)
CPU_RUNS = (
    ("status_codes job", "status_codes", {}),
    ("status_codes query", "query", {"query": STATUS_QUERY}),
    ("slow_paths query", "query", {"query": SLOW_PATHS_QUERY}),
)


def cpu_comparison(path: Path, size: int, repeats: int = 3) -> dict[str, float]:
    """CPU seconds (``time.process_time``, best of ``repeats``) in this one
    process, robust to a shared machine: logmr's map side (``MapSide.feed_text``
    in 4 MiB texts, then its combined pairs) over the first ``size`` bytes of
    ``path`` (whole lines, in memory), against DuckDB's SQL with one thread
    over a file of the same lines (reading it included)."""
    import duckdb

    from logmr import formats
    from logmr.jobs import load_job
    from logmr.mapreduce.side import MapSide

    with path.open("rb") as source:
        text = source.read(size)
    text = text[: text.rindex(b"\n") + 1]
    fmt = formats.get_format("apache_combined")
    out: dict[str, float] = {}
    for label, job_name, params in CPU_RUNS:
        job = load_job(job_name, params)
        job.bind(fmt)
        best = float("inf")
        for _ in range(repeats):
            side = MapSide(job, fmt, 10)
            started = time.process_time()
            start = 0
            while start < len(text):  # 4 MiB texts of whole lines, as a map task reads
                end = text.find(b"\n", min(start + 4 * MIB, len(text)) - 1) + 1
                side.feed_text(text[start:end])
                start = end
            list(side.combined())
            best = min(best, time.process_time() - started)
        out[label] = best
    with tempfile.NamedTemporaryFile(suffix=".log") as copy:
        copy.write(text)
        copy.flush()
        best = float("inf")
        for _ in range(repeats):
            con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": False})
            started = time.process_time()
            con.execute(duckdb_sql(copy.name)).fetchall()
            best = min(best, time.process_time() - started)
        out["slow_paths duckdb (1 thread)"] = best
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GB", help="the generated input's size (1GB)")
    parser.add_argument("--input", default=None, help="an Apache combined log to use instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument(
        "--cpu",
        metavar="SIZE",
        help="instead: CPU seconds in one process over the input's first SIZE (e.g. 32MB)",
    )
    parser.add_argument("--duckdb", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.duckdb:
        duckdb_main(args.duckdb)
        return 0
    if args.input:
        path, label = Path(args.input), Path(args.input).stem
    else:
        path, label = prepare_input(args.size).path, args.size
    if args.cpu:
        from logmr.units import parse_size

        for name, seconds in cpu_comparison(path, parse_size(args.cpu)).items():
            print(f"{name}: {seconds:.3f} s CPU over the first {args.cpu}")
        return 0
    return benchmark(path, label, args.runs, Path(args.output))


if __name__ == "__main__":
    raise SystemExit(main())
