"""logmr against another checkout of itself: the same ``logmr run`` commands,
alternated round by round on the same input, medians and every answer
compared. For a change that should not move the benchmarks (a refactoring):

    git worktree add /tmp/before <old commit>
    python bench/ab.py --before /tmp/before --size 1GB --runs 5 [--shape realistic]

The other checkout's code is imported through ``PYTHONPATH`` (its
``functions/``) with this environment's dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_peers import QUESTIONS, logmr_command
from bench_status_codes import prepare_input

HERE = Path(__file__).resolve().parents[1]


def run_once(checkout: Path, question: str, path: Path, home: str) -> tuple[float, Any]:
    env = {**os.environ, "PYTHONPATH": str(checkout / "functions"), "LOGMR_HOME": home}
    command = logmr_command("statemachine")(question, path)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    answer = json.loads(done.stdout)
    return seconds, {key: answer.get(key) for key in ("status", "counters", "results", "summary")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--size", default="1GB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shape", choices=("simple", "realistic"), default="simple")
    args = parser.parse_args()
    data = prepare_input(args.size, args.shape)
    checkouts = {"before": args.before.resolve(), "after": HERE}
    report: dict[str, Any] = {
        "input": str(data.path),
        "shape": data.shape,
        "bytes": data.bytes,
        "questions": {},
    }
    for question in QUESTIONS:
        seconds: dict[str, list[float]] = {name: [] for name in checkouts}
        answers: dict[str, Any] = {}
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                with tempfile.TemporaryDirectory(prefix="logmr-ab-") as home:
                    took, answers[name] = run_once(checkout, question, data.path, home)
                seconds[name].append(took)
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        report["questions"][question] = {
            "seconds": {name: [round(v, 2) for v in values] for name, values in seconds.items()},
            "median": {name: round(value, 3) for name, value in medians.items()},
            "after_over_before": round(medians["after"] / medians["before"], 3),
            "same_answer": answers["before"] == answers["after"],
        }
        print(question, json.dumps(report["questions"][question]), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0 if all(q["same_answer"] for q in report["questions"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
