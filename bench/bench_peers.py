"""logmr against its peers on the same questions and the same inputs.

Run ``python bench/bench_peers.py [--size 1GB] [--runs 3] [--shape both]
[--quick]`` (``make bench``). For each input shape (``simple``: the generated
log of few distinct keys; ``realistic``: 50,000 paths, about 380,000 request
targets per GB, 200,000 clients, a size per response) and each question
(``status_codes``, ``access_report``, ``top_paths``: see ``QUESTIONS``) it
runs, alternating, as subprocesses timed from start to exit:

- logmr: ``logmr run PATH --job J --json`` (the state machine on the local
  engine) and the same with ``--engine inline``, all cores, a fresh LOGMR_HOME;
- the plain reference (``peers/reference.py``: one process, the reference
  regex), whose answer every other answer must equal;
- each peer that is installed (the ``bench`` extra): DuckDB SQL, Lithops'
  localhost backend, a Dask bag and mrjob's local runner (``peers/*.py``).

It writes JSON and Markdown (``bench/results/peers-<size>.*``, one section
per shape; ``peers-<size>-<shape>.*`` when one shape is asked for): median
wall time, events/s, MB/s, the peak summed RSS of the process tree, and each
system's wall time relative to logmr's state machine, with the issue's
targets. Exit status 1 when an answer differs or a run fails; speed is never
asserted. The inputs are the cached generated logs of
``bench_status_codes.prepare_input``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_status_codes import (
    LOGMR_OVERRIDES,
    MB,
    MIB,
    POLL_SECONDS,
    ROOT,
    Input,
    _median,
    cpu_scaling,
    prepare_input,
    read_through,
    run_facts,
    run_measured,
    shown,
    write_atomic,
)

PEERS = ROOT / "bench" / "peers"
RESULTS = ROOT / "bench" / "results"
#: logmr's job and parameters for each question: the peers' question exactly,
#: so access_report leaves out its windows, percentiles and panels (no peer
#: computes them), and top_paths strips query strings (``peers/common.py``)
QUESTIONS = {
    "status_codes": ("status_codes", []),
    "access_report": (
        "access_report",
        ["--param", "percentiles=false", "--param", "windows=false", "--param", "panels=false"],
    ),
    "top_paths": ("top_paths", ["--param", "strip_query=true"]),
}
#: the generator's shapes (``logmr.devtools.generate.GENERATED_SHAPES``)
SHAPES = ("simple", "realistic")
#: the issue's targets: a peer's median wall time over logmr's (state machine)
TARGETS = {"duckdb": 1.0, "lithops": 3.0, "dask": 3.0, "mrjob": 20.0}
#: mrjob's local runner takes minutes per GB: it runs this many times at most
SLOW_RUNS = {"mrjob": 1}


@dataclass(frozen=True)
class System:
    key: str
    label: str
    command: Callable[[str, Path], list[str]]
    answer: Callable[[str, dict[str, Any]], dict[str, Any]]
    module: str | None = None  # the package it needs (skipped when missing)

    def available(self) -> bool:
        return self.module is None or importlib.util.find_spec(self.module) is not None


def logmr_answer(question: str, data: dict[str, Any]) -> dict[str, Any]:
    """logmr's job record in the canonical shape of ``peers/common.py``."""
    if data.get("status") != "SUCCEEDED":
        raise RuntimeError(f"logmr job did not succeed: {data}")
    counters = data["counters"]
    out: dict[str, Any] = {"lines": int(counters["lines"]), "malformed": int(counters["malformed"])}
    if question == "status_codes":
        out["status"] = {str(k): int(v) for k, v in sorted(data["results"].items())}
        return out
    summary = data["summary"]
    if question == "top_paths":
        out["top_paths"] = [[str(p), int(n), int(b)] for p, n, b in summary["top"]]
        return out
    out["status"] = {str(k): int(v) for k, v in sorted(summary["status"].items())}
    out["requests"] = int(summary["requests"])
    out["bytes"] = int(summary["bytes"])
    out["top_paths"] = [[str(p), int(n), int(b)] for p, n, b in summary["top_paths"]]
    return out


def peer_answer(question: str, data: dict[str, Any]) -> dict[str, Any]:
    return data


def logmr_command(engine: str) -> Callable[[str, Path], list[str]]:
    def command(question: str, path: Path) -> list[str]:
        job, params = QUESTIONS[question]
        script = Path(sys.executable).with_name("logmr")
        head = [str(script)] if script.is_file() else [sys.executable, "-m", "logmr.cli"]
        return [*head, "run", str(path), "--job", job, *params, "--json", "--engine", engine]

    return command


def peer_command(script: str) -> Callable[[str, Path], list[str]]:
    def command(question: str, path: Path) -> list[str]:
        return [sys.executable, str(PEERS / script), question, str(path)]

    return command


def systems() -> list[System]:
    cores = os.cpu_count() or 1
    return [
        System(
            "logmr",
            f"logmr run (state machine, local engine, {cores} workers)",
            logmr_command("statemachine"),
            logmr_answer,
        ),
        System(
            "logmr_inline",
            f"logmr run --engine inline ({cores} workers)",
            logmr_command("inline"),
            logmr_answer,
        ),
        System(
            "reference",
            "plain Python, 1 process, reference regex",
            peer_command("reference.py"),
            peer_answer,
        ),
        System(
            "duckdb",
            "DuckDB SQL, regexp_extract (RE2), all threads",
            peer_command("duckdb_sql.py"),
            peer_answer,
            "duckdb",
        ),
        System(
            "lithops",
            f"Lithops localhost, map_reduce over {cores} byte ranges",
            peer_command("lithops_local.py"),
            peer_answer,
            "lithops",
        ),
        System(
            "dask",
            f"Dask bag, read_text + reduction, {cores} processes",
            peer_command("dask_bag.py"),
            peer_answer,
            "dask",
        ),
        System(
            "mrjob",
            f"mrjob local runner, {cores} cores",
            peer_command("mrjob_local.py"),
            peer_answer,
            "mrjob",
        ),
    ]


def logmr_has_job(name: str) -> bool:
    from logmr.errors import LogmrError
    from logmr.jobs import job_class

    try:
        job_class(name)
    except LogmrError:
        return False
    return True


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_bytes: int
    processes: int
    answer: dict[str, Any]


def run_once(system: System, question: str, data: Input) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in LOGMR_OVERRIDES}
    with tempfile.TemporaryDirectory(prefix="logmr-bench-") as home:
        env["LOGMR_HOME"] = home
        read_through(data.path)  # warm page cache for every run
        seconds, monitor, _, stdout = run_measured(system.command(question, data.path), env)
    # the answer is the last line: some systems print progress to stdout first
    last = [line for line in stdout.splitlines() if line.strip()][-1]
    return Run(
        seconds,
        monitor.peak_bytes,
        monitor.max_processes,
        system.answer(question, json.loads(last)),
    )


def measure(question: str, chosen: list[System], data: Input, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[Run]] = {system.key: [] for system in chosen}
    failed: dict[str, str] = {}  # a failed system is reported, not retried
    for round_no in range(1, rounds + 1):
        for system in chosen:
            if system.key in failed or len(runs[system.key]) >= SLOW_RUNS.get(system.key, rounds):
                continue
            try:
                run = run_once(system, question, data)
            except (RuntimeError, ValueError, LookupError) as exc:
                if system.key in ("logmr", "reference"):
                    raise
                failed[system.key] = (str(exc).strip().splitlines() or [repr(exc)])[-1][:300]
                print(
                    f"{data.shape} {question} {system.key} failed: {failed[system.key]}",
                    file=sys.stderr,
                )
                continue
            runs[system.key].append(run)
            print(
                f"{data.shape} {question} round {round_no}/{rounds} {system.key}: "
                f"{run.seconds:.2f} s, "
                f"peak {run.peak_rss_bytes / MIB:,.0f} MiB",
                file=sys.stderr,
            )
    reference = runs["reference"][0].answer
    rows: dict[str, Any] = {}
    logmr_s = _median([run.seconds for run in runs["logmr"]])
    for system in chosen:
        done = runs[system.key]
        if system.key in failed:
            rows[system.key] = {
                "label": system.label,
                "failed": failed[system.key],
                "answer_identical": False,
            }
            continue
        median = _median([run.seconds for run in done])
        same = all(run.answer == reference for run in done)
        # the k-th run of every system is from round k: its time over logmr's of that round
        per_round = [
            run.seconds / mine.seconds for run, mine in zip(done, runs["logmr"], strict=False)
        ]
        rows[system.key] = {
            "label": system.label,
            "command": " ".join(shown(Path(part)) for part in system.command(question, data.path)),
            "runs": len(done),
            "wall_s_runs": [round(run.seconds, 3) for run in done],
            "wall_s_median": round(median, 3),
            "events_per_s": round(data.lines / median),
            "mb_per_s": round(data.bytes / MB / median, 1),
            "peak_rss_mib": round(max(run.peak_rss_bytes for run in done) / MIB, 1),
            "processes_max": max(run.processes for run in done),
            "ratio_to_logmr": round(median / logmr_s, 2),
            "ratio_to_logmr_per_round": [round(value, 2) for value in per_round],
            "answer_identical": same,
        }
        if not same:
            print(
                f"{data.shape} {question}: {system.key} disagrees with the reference",
                file=sys.stderr,
            )
            for run in done:
                print(f"  {json.dumps(run.answer)[:2000]}", file=sys.stderr)
    targets = {
        key: {
            "target_ratio": target,
            "measured_ratio": rows[key]["ratio_to_logmr"],
            # "faster than DuckDB": a ratio above 1; "3x as fast": at least 3
            "met": rows[key]["ratio_to_logmr"] > target
            if target == 1.0
            else rows[key]["ratio_to_logmr"] >= target,
        }
        for key, target in TARGETS.items()
        if key in rows and key not in failed
    }
    return {"answer": reference, "systems": rows, "targets": targets}


def shape_input(data: Input, size: str) -> dict[str, Any]:
    return {
        "path": shown(data.path),
        "shape": data.shape,
        "size": size,
        "bytes": data.bytes,
        "lines": data.lines,
        "generated_in_s": None if data.generated_in_s is None else round(data.generated_in_s, 1),
    }


#: what each shape is, for the report
SHAPE_NOTES = {
    "simple": "500 request targets (425 paths once query strings are stripped), "
    "2,000 clients, a few sizes per path",
    "realistic": "50,000 paths carrying ids (about 380,000 request targets per GB with "
    "their query strings), 200,000 clients, a size drawn per response",
}


def question_table(question: str, result: dict[str, Any]) -> list[str]:
    answer = result["answer"]
    out = [
        f"### {question}",
        "",
        "| System | Wall s (median) | Runs (s) | Events/s | MB/s | Peak RSS MiB "
        "| Ratio to logmr | Ratio per round | Same answer |",
        "|---|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for row in result["systems"].values():
        if "failed" in row:
            out.append(f"| {row['label']} | failed: {row['failed']} | | | | | | | NO |")
            continue
        runs = ", ".join(f"{value:.2f}" for value in row["wall_s_runs"])
        ratios = row.get("ratio_to_logmr_per_round") or []
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else ""
        out.append(
            f"| {row['label']} | {row['wall_s_median']:.2f} | {runs} | "
            f"{row['events_per_s']:,} | {row['mb_per_s']:,.1f} | {row['peak_rss_mib']:,.1f} "
            f"| {row['ratio_to_logmr']:.2f} | {spread} "
            f"| {'yes' if row['answer_identical'] else 'NO'} |"
        )
    goals = "; ".join(
        f"{key} >= {goal['target_ratio']:g}x: {goal['measured_ratio']:.2f}x "
        f"({'met' if goal['met'] else 'NOT met'})"
        for key, goal in result["targets"].items()
    )
    facts = [f"{answer['lines']:,} lines", f"{answer['malformed']:,} malformed"]
    if "status" in answer:
        facts.append(f"{len(answer['status'])} status codes")
    if "bytes" in answer:
        facts.append(f"{answer['bytes']:,} bytes")
    if answer.get("top_paths"):
        top = answer["top_paths"][0]
        facts.append(f"top path `{top[0]}` ({top[1]:,} requests)")
    out += [
        "",
        f"Answer: {', '.join(facts)}. Targets (peer time over logmr's): "
        f"{goals or 'no peer installed'}.",
        "",
    ]
    return out


def markdown(report: dict[str, Any]) -> str:
    info, load = report["machine"], report["load_average"]
    scaling = info["cpu_scaling"]
    out = [
        f"# logmr and its peers, {report['size']} input",
        "",
        f"- Machine: {info['cores']} cores (`os.cpu_count()`; {scaling['effective_cores']:.2f} "
        f"effective: {scaling['processes']} CPU-bound processes against one), "
        f"{info['implementation']} {info['python']}, {info['platform']}; load average (1 min) "
        f"{load['before'][0]:.2f} before, {load['after'][0]:.2f} after",
        f"- Code: {report['code']['commit'] or 'unknown'}"
        + (
            " with uncommitted changes under functions/"
            if report["code"]["functions_modified"]
            else ""
        ),
        f"- Wall time of the whole subprocess, median of {report['runs']} runs alternating "
        f"the systems (mrjob: {SLOW_RUNS['mrjob']} run); peak RSS summed over the process "
        f"tree, polled every {POLL_SECONDS * 1000:.0f} ms; ratio = the system's time over "
        "logmr's (state machine): above 1, logmr is faster; ratio per round: the lowest "
        "and highest of the system's time over logmr's in the same round",
        "",
    ]
    for shape, part in report["shapes"].items():
        data = part["input"]
        generated = (
            f", generated in {data['generated_in_s']:.1f} s"
            if data.get("generated_in_s") is not None
            else ""
        )
        out += [
            f"## {shape} shape",
            "",
            f"Input: `{data['path']}`, {data['bytes']:,} bytes, {data['lines']:,} lines "
            f"(apache_combined, seed 1, shape {shape}: {SHAPE_NOTES.get(shape, shape)}"
            f"{generated}), warm page cache (read before every run).",
            "",
        ]
        for question, result in part["questions"].items():
            out += question_table(question, result)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", default="1GB", help="input size (default 1GB)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="100MB, 1 run (development)")
    parser.add_argument(
        "--shape",
        choices=[*SHAPES, "both"],
        default="both",
        help="the generated input's shape (default both, one after the other)",
    )
    parser.add_argument(
        "--questions", default=",".join(QUESTIONS), help="comma-separated (default: all)"
    )
    parser.add_argument("--systems", default="", help="comma-separated keys (default: all)")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON report (default results/peers-SIZE.json, peers-SIZE-SHAPE.json for one shape)",
    )
    args = parser.parse_args(argv)
    size, rounds = ("100MB", 1) if args.quick else (args.size, args.runs)
    if rounds < 1:
        parser.error("--runs must be at least 1")
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    wanted = {key for key in args.systems.split(",") if key} | {"logmr", "reference"}
    chosen = [s for s in systems() if (not args.systems or s.key in wanted) and s.available()]
    skipped = [s.key for s in systems() if not s.available()]
    if skipped:
        print(f"not installed (pip install -e '.[bench]'): {', '.join(skipped)}", file=sys.stderr)
    questions = [q for q in args.questions.split(",") if q]
    for question in questions:
        if question not in QUESTIONS:
            parser.error(f"unknown question {question!r} (known: {', '.join(QUESTIONS)})")
    load_before = os.getloadavg()
    inputs = {shape: prepare_input(size, shape) for shape in shapes}
    ready = [q for q in questions if logmr_has_job(QUESTIONS[q][0])]
    for question in sorted(set(questions) - set(ready)):
        print(f"skipping {question}: logmr has no job {QUESTIONS[question][0]!r}", file=sys.stderr)
    print("CPU scaling probe ...", file=sys.stderr)
    scaling = cpu_scaling(os.cpu_count() or 1)
    parts = {
        shape: {
            "input": shape_input(data, size),
            "questions": {question: measure(question, chosen, data, rounds) for question in ready},
        }
        for shape, data in inputs.items()
    }
    report = {
        "benchmark": "peers",
        **run_facts(scaling, load_before),
        "size": size,
        "regime": "warm page cache",
        "runs": rounds,
        "statistic": "median",
        "events": "input lines, malformed included",
        "skipped": {"systems": skipped, "questions": sorted(set(questions) - set(ready))},
        "shapes": parts,
    }
    name = f"peers-{size}" if len(shapes) > 1 else f"peers-{size}-{shapes[0]}"
    output = (args.output or RESULTS / f"{name}.json").resolve()
    table = markdown(report)
    write_atomic(output, json.dumps(report, indent=2) + "\n")
    write_atomic(output.with_suffix(".md"), table)
    print(table)
    print(f"wrote {shown(output)} and {shown(output.with_suffix('.md'))}", file=sys.stderr)
    agree = all(
        row["answer_identical"]
        for part in parts.values()
        for result in part["questions"].values()
        for row in result["systems"].values()
    )
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
