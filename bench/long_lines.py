"""Peak memory of ``logmr run`` over the inputs that used to blow a worker up:
a line with no end, a decompression bomb, many long lines (docs/bad-input.md).

Run ``python bench/long_lines.py [--before DIR] [--data DIR]``. It

1. writes the inputs once into ``--data`` (default: a folder under the system's
   temporary directory, never the repository): a 200 MB line (generated
   Apache combined text with its LFs made spaces, one LF at the end), 1 GB of
   zeros gzipped (about 1 MB), and 1,000 lines of 1 MB each (the same text);
2. runs each case as ``logmr run PATH --job J --json --top 3`` (the state
   machine on the local engine, all cores, a fresh ``LOGMR_HOME``) with
   ``PYTHONPATH`` on this checkout, and on ``--before`` when given (another
   checkout, e.g. a worktree of main), one after the other;
3. records each run's peak resident memory summed over its process tree
   (polled every 20 ms), the largest single process's (``wait4``), its exit
   status and what it counted; prints a Markdown table.

Memory is reported, never asserted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from bench_status_codes import run_watched

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
MIB = 1024 * 1024
#: (name, input, job, extra arguments)
CASES: list[tuple[str, str, str, list[str]]] = [
    ("200 MB line, word_count", "line-200MB.log", "word_count", []),
    (
        "200 MB line, status_codes",
        "line-200MB.log",
        "status_codes",
        ["--format", "apache_combined"],
    ),
    ("1 GB of zeros gzipped, word_count", "zeros-1GB.gz", "word_count", []),
    ("1,000 lines of 1 MB, word_count", "lines-1000x1MB.log", "word_count", []),
]


def text_without_lf(size: int) -> bytes:
    """``size`` bytes of generated Apache combined lines, LFs made spaces."""
    sys.path.insert(0, str(ROOT / "functions"))
    from logmr.devtools.generate import generate

    out = BytesIO()
    generate(out, fmt="apache_combined", size=size + 4096, seed=1)
    return out.getvalue().replace(b"\n", b" ")[:size]


def write_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = text_without_lf(MB)
    line = folder / "line-200MB.log"
    if not line.exists():
        with line.open("wb") as out:
            for _ in range(200):
                out.write(text)
            out.write(b"\n")
    bomb = folder / "zeros-1GB.gz"
    if not bomb.exists():
        zeros = bytes(8 * MIB)
        with gzip.open(bomb, "wb", compresslevel=9) as out:
            for _ in range(1024 // 8):
                out.write(zeros)
    lines = folder / "lines-1000x1MB.log"
    if not lines.exists():
        one = text[: MB - 1] + b"\n"
        with lines.open("wb") as out:
            for _ in range(1000):
                out.write(one)


@dataclass(frozen=True)
class Outcome:
    peak_tree_bytes: int
    largest_process_bytes: int
    seconds: float
    exit_status: int
    result: str


def run_case(checkout: Path, path: Path, job: str, extra: list[str]) -> Outcome:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGMR_")}
    env["PYTHONPATH"] = str(checkout / "functions")
    argv = [sys.executable, "-m", "logmr.cli", "run", str(path), "--job", job, *extra]
    argv += ["--json", "--top", "3"]
    with tempfile.TemporaryDirectory(prefix="logmr-long-") as home:
        env["LOGMR_HOME"] = home
        seconds, monitor, maxrss, code, stdout, stderr = run_watched(argv, env)
    return Outcome(monitor.peak_bytes, maxrss, seconds, code, _said(stdout, stderr))


def _said(stdout: str, stderr: str) -> str:
    """What a run counted, or how it failed, in one line."""
    try:
        answer: dict[str, Any] = json.loads(stdout)
    except json.JSONDecodeError:
        return (stderr.strip().splitlines() or ["(no output)"])[-1][:160]
    counters = answer.get("counters", {})
    shown = ", ".join(
        f"{name} {counters[name]:,}"
        for name in ("lines", "records", "malformed", "long_lines")
        if name in counters
    )
    top = ", ".join(f"{key}={value}" for key, value in list(answer.get("results", {}).items())[:3])
    return f"{answer.get('status')}: {shown}; top: {top or 'none'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to run first")
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "logmr-long-lines"
    )
    parser.add_argument("--cases", help="comma-separated case numbers (1-based); default all")
    args = parser.parse_args(argv)
    write_inputs(args.data)
    chosen = [int(n) - 1 for n in args.cases.split(",")] if args.cases else range(len(CASES))
    checkouts = ([("before", args.before)] if args.before else []) + [("after", ROOT)]
    rows = []
    for index in chosen:
        name, file, job, extra = CASES[index]
        for label, checkout in checkouts:
            outcome = run_case(checkout, args.data / file, job, extra)
            rows.append((name, label, outcome))
            print(
                f"{name} [{label}]: tree peak {outcome.peak_tree_bytes / MIB:,.0f} MiB, largest"
                f" process {outcome.largest_process_bytes / MIB:,.0f} MiB, exit"
                f" {outcome.exit_status}, {outcome.seconds:.1f} s: {outcome.result}",
                flush=True,
            )
    print("\n| case | run | tree peak MiB | largest process MiB | exit | wall s | result |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name, label, outcome in rows:
        print(
            f"| {name} | {label} | {outcome.peak_tree_bytes / MIB:,.0f} |"
            f" {outcome.largest_process_bytes / MIB:,.0f} | {outcome.exit_status} |"
            f" {outcome.seconds:.1f} | {outcome.result} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
