"""logmr against another checkout of itself: the same ``logmr run`` commands,
alternated round by round on the same input, medians and every answer
compared. For a change that should not move the answers (a refactoring, a
speed-up):

    git worktree add /tmp/before <old commit>
    python bench/ab.py --before /tmp/before --size 1GB --runs 5 [--shape realistic]
    python bench/ab.py --before /tmp/before --size 100MB --engine inline \\
        --questions status_codes,top_paths,access_report,access_report_windows,sessions,word_count

Each run is a subprocess timed from start to exit: its wall seconds and its
CPU seconds (user + system of the process and its children, from
``getrusage``: robust to the other processes of a shared machine). With
``--engine inline`` the job runs in that one process (``--workers 1``):
the CPU seconds are then the whole job's, plan to finalize. The other
checkout's code is imported through ``PYTHONPATH`` (its ``functions/``) with
this environment's dependencies. Answers are compared without the KLL
quantiles and sketches (datasketches' compaction is random, see golden.py).
Exit status 1 when an answer differs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_peers import QUESTIONS
from bench_status_codes import prepare_input

HERE = Path(__file__).resolve().parents[1]
#: questions beyond the peers' (``bench_peers.QUESTIONS``): job and parameters
MORE_QUESTIONS: dict[str, tuple[str, list[str]]] = {
    "access_report_windows": ("access_report", []),
    "sessions": ("sessions", []),
    "word_count": ("word_count", []),
}
ALL_QUESTIONS = {**QUESTIONS, **MORE_QUESTIONS}
#: fields of an answer that vary run to run (KLL's random compaction)
RANDOM_FIELDS = frozenset({"sketch", "p50", "p95", "p99"})


def without_random(value: Any) -> Any:
    """``value`` without KLL quantiles and sketches (a window's quantile list included)."""
    if isinstance(value, dict):
        return {k: without_random(v) for k, v in value.items() if k not in RANDOM_FIELDS}
    if isinstance(value, list):
        if len(value) == 4 and isinstance(value[3], list) and isinstance(value[0], str):
            return without_random(value[:3])  # a summary window [name, count, errors, quantiles]
        return [without_random(item) for item in value]
    return value


def command(question: str, path: Path, engine: str) -> list[str]:
    job, params = ALL_QUESTIONS[question]
    script = Path(sys.executable).with_name("logmr")
    head = [str(script)] if script.is_file() else [sys.executable, "-m", "logmr.cli"]
    workers = ["--workers", "1"] if engine == "inline" else []
    return [*head, "run", str(path), "--job", job, *params, "--json", "--engine", engine, *workers]


def run_once(
    checkout: Path, question: str, path: Path, home: str, engine: str
) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds and the answer of one run."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "functions"), "LOGMR_HOME": home}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command(question, path, engine), env=env, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    answer = json.loads(done.stdout)
    kept = {key: answer.get(key) for key in ("status", "counters", "results", "summary")}
    return seconds, cpu, without_random(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--size", default="1GB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shape", choices=("simple", "realistic"), default="simple")
    parser.add_argument(
        "--engine",
        choices=("statemachine", "inline"),
        default="statemachine",
        help="statemachine: all cores; inline: one process (--workers 1)",
    )
    parser.add_argument(
        "--questions",
        default=",".join(QUESTIONS),
        help=f"comma-separated, of: {', '.join(ALL_QUESTIONS)}",
    )
    args = parser.parse_args()
    data = prepare_input(args.size, args.shape)
    checkouts = {"before": args.before.resolve(), "after": HERE}
    report: dict[str, Any] = {
        "input": str(data.path),
        "shape": data.shape,
        "bytes": data.bytes,
        "engine": args.engine,
        "questions": {},
    }
    for question in args.questions.split(","):
        seconds: dict[str, list[float]] = {name: [] for name in checkouts}
        cpu: dict[str, list[float]] = {name: [] for name in checkouts}
        answers: dict[str, Any] = {}
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                with tempfile.TemporaryDirectory(prefix="logmr-ab-") as home:
                    took, used, answers[name] = run_once(
                        checkout, question, data.path, home, args.engine
                    )
                seconds[name].append(took)
                cpu[name].append(used)
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
        report["questions"][question] = {
            "seconds": {name: [round(v, 2) for v in values] for name, values in seconds.items()},
            "cpu_seconds": {name: [round(v, 2) for v in values] for name, values in cpu.items()},
            "median": {name: round(value, 3) for name, value in medians.items()},
            "cpu_median": {name: round(value, 3) for name, value in cpu_medians.items()},
            "after_over_before": round(medians["after"] / medians["before"], 3),
            "cpu_after_over_before": round(cpu_medians["after"] / cpu_medians["before"], 3),
            "same_answer": answers["before"] == answers["after"],
        }
        print(question, json.dumps(report["questions"][question]), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0 if all(q["same_answer"] for q in report["questions"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
