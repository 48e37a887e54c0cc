"""A golden record of what every built-in job answers: results and job records.

Runs every built-in job over every input (a generated Apache log and the real
samples in ``../shared/data``), on both local engines, through the CLI as a
user would (``logmr run ... --json`` then ``logmr status ... --json``), with
fixed job ids, and writes one JSON file of the answers with the fields that
vary run to run (timestamps, timings, measured seconds and what they price)
left out. A refactoring that changes no behaviour leaves the file identical:

    python bench/golden.py --out /tmp/before.json   # on the old commit
    python bench/golden.py --out /tmp/after.json    # on the new one
    cmp /tmp/before.json /tmp/after.json

A job that fails on an input (say ``level_counts`` on an access log) is
recorded with its error: failures are behaviour too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from logmr.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
#: parameters the jobs that require some are given
PARAMS: dict[str, list[str]] = {
    "field_count": ["field=status"],
    "pattern_count": [r"pattern=(?P<key>[A-Z]+)"],
    "query": ["query=stats count(*) as records"],
}
#: fields of a job record that vary from run to run
VARYING = ("created_at", "finished_at", "timings", "execution")
#: parts of the bill priced from measured seconds
VARYING_BILL = ("lambda_gb_s", "usd", "seconds")
#: jobs whose answers hold KLL quantiles: datasketches' KLL compaction takes a
#: random bit, so their quantiles (floats) and sketches differ run to run and
#: are masked here (their error bounds are tested against the references);
#: every count and total of theirs is compared
RANDOMISED = ("percentiles", "access_report")


def job_names() -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["jobs"])
    return sorted(line.split(":")[0] for line in out.getvalue().splitlines() if line[:1].isalpha())


def inputs(workdir: Path) -> list[Path]:
    generated = workdir / "generated.log"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["generate", "--lines", "20000", "--seed", "7", "--output", str(generated)])
    shared = sorted(
        p for p in SHARED.glob("*") if p.is_file() and not p.name.endswith((".json", ".md"))
    )
    return [generated, *shared]


def run_cli(argv: list[str]) -> tuple[int, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    text = out.getvalue().strip()
    try:
        return code, json.loads(text) if text else {"stderr": err.getvalue().strip()}
    except ValueError:
        return code, {"stdout": text, "stderr": err.getvalue().strip()}


def normalised(record: dict[str, Any]) -> dict[str, Any]:
    record = {key: value for key, value in record.items() if key not in VARYING}
    if record.get("bill"):
        record["bill"] = {k: v for k, v in record["bill"].items() if k not in VARYING_BILL}
    return record


def masked(value: Any) -> Any:
    """``value`` with its floats and sketches masked (``RANDOMISED``)."""
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str) and value.startswith("kll1:"):
        return "<kll sketch>"
    return value


def golden(home: Path, paths: list[Path], engines: list[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for path in paths:
        for job in job_names():
            for engine in engines:
                job_id = f"golden-{engine}-{job}-{path.name}".replace(".", "_")
                argv = ["run", str(path), "--job", job, "--job-id", job_id, "--json"]
                argv += ["--home", str(home), "--engine", engine, "--workers", "2"]
                for param in PARAMS.get(job, []):
                    argv += ["--param", param]
                code, printed = run_cli(argv)
                _, record = run_cli(["status", job_id, "--json", "--home", str(home)])
                answer = {
                    "exit": code,
                    "printed": printed,
                    "record": normalised(record) if "job_id" in record else record,
                }
                answers[job_id] = masked(answer) if job in RANDOMISED else answer
                print(f"{job_id}: exit {code}", file=sys.stderr)
    return answers


def main_golden() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--engines", default="inline,statemachine")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # the inputs sit at the same path in every run: the records name them
        fixed = Path(tempfile.gettempdir()) / "logmr-golden-inputs"
        fixed.mkdir(exist_ok=True)
        paths = inputs(fixed)
        answers = golden(work / "home", paths, args.engines.split(","))
    Path(args.out).write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
    print(f"{len(answers)} runs written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_golden())
