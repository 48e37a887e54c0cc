"""The seed's load test: concurrent jobs on the local engine, each checked.

``make load`` submits 10 concurrent ``status_codes`` jobs of 4,000 generated
Apache combined lines each (seeds 1..10: every job has its own answer) to the
local engine (``logmr.run.engine.run_engine``: the state machine definition,
handlers in worker processes), checks each job's results and counters against
a plain-Python count of its own input (so a result landing in the wrong job is
caught), and reports each job's completion time (from the moment all jobs are
submitted to its end) and the aggregate events/s. Writes
``bench/results/load.json`` and ``load.md``. Exit status 1 when a job fails or
gives a wrong answer; the 2 s target is reported, never asserted.

Modes (``--mode``), to show what concurrency costs on one machine:

- ``shared`` (default): one process, one thread per job, every job's handlers
  in one pool of worker processes (``worker_pool``) started before the jobs are
  submitted (its start-up time is reported on its own line), as a warm engine.
- ``auto``: the same with ``run_engine``'s defaults: the concurrent calls share
  one pool, started by the first job, so its start-up counts in the times.
- ``inprocess``: one process, one thread per job, handlers called in this
  process (``workers=0``: no worker processes at all, one invocation at a time;
  the handlers' environment and log file set up as a worker's).
- ``processes``: one ``logmr run`` process per job, as ten users would (each
  starts its own workers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench_status_codes import baseline
from logmr.config import Settings
from logmr.devtools.generate import generate
from logmr.engine import worker
from logmr.run.embedded import embedded_backends
from logmr.run.engine import handler_env, run_engine, worker_pool
from logmr.workflow.names import FUNCTIONS

BENCH = Path(__file__).resolve().parent
JOB = "status_codes"
TARGET_SECONDS = 2.0


@dataclass
class JobOutcome:
    job_id: str
    seed: int
    status: str
    seconds: float
    events: int
    correct: bool
    problem: str = ""


def make_inputs(folder: Path, jobs: int, events: int) -> list[Path]:
    paths = []
    for seed in range(1, jobs + 1):
        path = folder / f"access-seed{seed}.log"
        with path.open("wb") as out:
            generate(out, fmt="apache_combined", lines=events, seed=seed)
        paths.append(path)
    return paths


def request(path: Path, seed: int, run: str) -> dict[str, Any]:
    return {
        "job_id": f"load-{run}-seed{seed}",
        "job": JOB,
        "inputs": [str(path)],
        "format": "apache_combined",
        "reducers": 2,
    }


def check(settings: Settings, job_id: str, expected: dict[str, Any]) -> str:
    """Empty when the job's record and results are its own input's answer."""
    store = embedded_backends(settings).job_results()
    record = store.get_job(job_id)
    if record.status != "SUCCEEDED":
        return f"{record.status}: {record.error}: {record.cause}"
    results = dict(store.iter_results(job_id))
    counters = record.counters
    if results != expected["status"]:
        return f"results {results} != reference {expected['status']}"
    if (counters.get("lines"), counters.get("malformed")) != (
        expected["lines"],
        expected["malformed"],
    ):
        return f"counters {counters} != reference lines/malformed {expected}"
    return ""


def run_threads(
    settings: Settings, paths: list[Path], run: str, mode: str
) -> tuple[list[tuple[str, float]], float]:
    """Every job in its own thread of this process; (job id, seconds) each and the pool start."""
    pool_started = time.perf_counter()
    pool = worker_pool(settings) if mode == "shared" else None
    workers = 0 if mode == "inprocess" else None
    pool_seconds = 0.0
    if pool is not None:
        pool.wait_ready()
        pool_seconds = time.perf_counter() - pool_started
    start = threading.Event()
    began = 0.0

    def one(seed: int, path: Path) -> tuple[str, float]:
        start.wait()
        req = request(path, seed, run)
        execution = run_engine(req, settings=settings, pool=pool, workers=workers)
        return execution.name, time.perf_counter() - began

    try:
        with ThreadPoolExecutor(max_workers=len(paths)) as threads:
            futures = [threads.submit(one, seed, p) for seed, p in enumerate(paths, 1)]
            began = time.perf_counter()
            start.set()
            timings = [future.result() for future in futures]
    finally:
        if pool is not None:
            pool.close()
    return timings, pool_seconds


def run_in_process(
    settings: Settings, paths: list[Path], run: str
) -> tuple[list[tuple[str, float]], float]:
    """``run_threads`` with the handlers in this process: their environment and
    their stdout (Powertools logs, metrics) set up as a worker's initializer does."""
    saved = sys.stdout
    try:
        logs = str(settings.home / "logs")
        worker.initialize(handler_env(settings), logs, list(FUNCTIONS.values()))
        return run_threads(settings, paths, run, "inprocess")
    finally:
        sys.stdout = saved


def run_processes(
    settings: Settings, paths: list[Path], run: str
) -> tuple[list[tuple[str, float]], float]:
    """One ``logmr run`` process per job, all started at once."""
    env = {**os.environ, "LOGMR_HOME": str(settings.home)}
    logmr = str(Path(sys.executable).with_name("logmr"))
    began = time.perf_counter()
    running = []
    for seed, path in enumerate(paths, 1):
        req = request(path, seed, run)
        argv = [logmr, "run", str(path), "--job", JOB, "--job-id", req["job_id"]]
        argv += ["--format", "apache_combined", "--reducers", "2", "--json"]
        running.append((req["job_id"], subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)))
    timings = []
    for job_id, process in running:
        process.wait()
        timings.append((job_id, time.perf_counter() - began))
    return timings, 0.0


def load_test(mode: str, jobs: int, events: int) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="logmr-load-") as temp:
        folder = Path(temp)
        paths = make_inputs(folder, jobs, events)
        expected = {seed: baseline(str(path)) for seed, path in enumerate(paths, 1)}
        answers = {json.dumps(e["status"], sort_keys=True) for e in expected.values()}
        settings = Settings.load(home=folder / "home")
        run = f"{mode}-{int(time.time())}"
        wall = time.perf_counter()
        if mode == "processes":
            timings, pool_seconds = run_processes(settings, paths, run)
        elif mode == "inprocess":
            timings, pool_seconds = run_in_process(settings, paths, run)
        else:
            timings, pool_seconds = run_threads(settings, paths, run, mode)
        wall = time.perf_counter() - wall
        outcomes = []
        for seed, (job_id, seconds) in enumerate(timings, 1):
            problem = check(settings, job_id, expected[seed])
            outcomes.append(
                JobOutcome(
                    job_id=job_id,
                    seed=seed,
                    status="SUCCEEDED"
                    if not problem.startswith(("FAILED", "RUNNING"))
                    else "FAILED",
                    seconds=round(seconds, 3),
                    events=expected[seed]["lines"],
                    correct=not problem,
                    problem=problem,
                )
            )
    slowest = max(outcome.seconds for outcome in outcomes)
    total_events = sum(outcome.events for outcome in outcomes)
    return {
        "mode": mode,
        "jobs": jobs,
        "events_per_job": events,
        "job": JOB,
        "workers": settings.workers,
        "distinct_answers": len(answers),
        "pool_start_s": round(pool_seconds, 3),
        "slowest_job_s": slowest,
        "slowest_job_with_pool_start_s": round(slowest + pool_seconds, 3),
        "wall_s": round(wall, 3),
        "aggregate_events_per_s": round(total_events / slowest),
        "target_s": TARGET_SECONDS,
        "all_within_target": slowest <= TARGET_SECONDS,
        "failed": sum(outcome.status != "SUCCEEDED" for outcome in outcomes),
        "wrong": sum(not outcome.correct for outcome in outcomes),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_1m_before": load_before,
        },
        "outcomes": [asdict(outcome) for outcome in outcomes],
    }


def markdown(reports: list[dict[str, Any]]) -> str:
    lines = ["# Load test (`make load`)", ""]
    for report in reports:
        lines += [
            f"## mode `{report['mode']}`: {report['jobs']} concurrent `{report['job']}` jobs "
            f"of {report['events_per_job']:,} events, {report['workers']} workers, "
            f"{report['machine']['cpus']} CPUs "
            f"(load average {report['machine']['load_average_1m_before']} before the run)",
            "",
            f"- slowest job: **{report['slowest_job_s']:.3f} s** from submission "
            f"(target {report['target_s']} s: "
            f"{'met' if report['all_within_target'] else 'NOT met'}); "
            f"failed {report['failed']}, wrong answers {report['wrong']} "
            f"({report['distinct_answers']} distinct reference answers)",
            f"- aggregate: **{report['aggregate_events_per_s']:,} events/s** "
            "(all events / slowest job's time)",
        ]
        if report["pool_start_s"]:
            lines.append(
                f"- shared worker pool started in {report['pool_start_s']:.3f} s "
                "before the jobs were submitted (slowest job with it: "
                f"{report['slowest_job_with_pool_start_s']:.3f} s)"
            )
        lines += [
            "",
            "| job | seed | status | seconds | events | correct |",
            "|---|---|---|---|---|---|",
        ]
        for outcome in report["outcomes"]:
            lines.append(
                f"| {outcome['job_id']} | {outcome['seed']} | {outcome['status']} | "
                f"{outcome['seconds']:.3f} | {outcome['events']:,} | "
                f"{'yes' if outcome['correct'] else 'NO: ' + outcome['problem'][:80]} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode",
        action="append",
        choices=("shared", "auto", "inprocess", "processes"),
        default=None,
    )
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "load.json")
    args = parser.parse_args(argv)
    reports = [load_test(mode, args.jobs, args.events) for mode in args.mode or ["shared"]]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(reports, indent=2) + "\n")
    text = markdown(reports)
    args.output.with_suffix(".md").write_text(text)
    print(text)
    return 1 if any(report["failed"] or report["wrong"] for report in reports) else 0


if __name__ == "__main__":
    raise SystemExit(main())
