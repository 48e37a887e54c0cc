"""Many small gzip objects (an ALB or CloudFront prefix): how many map tasks
Plan makes of them, and what a map task costs grouped against one per object.

Run ``python bench/small_objects.py [--objects 50000] [--before DIR]``. It

1. writes ``--objects`` small gzip objects of different generated Apache
   combined lines (0 to 6 each, every 50th left plain) into a folder under the
   system's temporary directory (never the repository), once per count;
2. runs ``logmr plan DIR --job status_codes --json`` (as this machine would
   run it), then ``logmr run DIR --job status_codes --json`` on the state machine, all
   cores, a fresh ``LOGMR_HOME``, with ``PYTHONPATH`` on this checkout and on
   ``--before`` when given (another checkout, e.g. main): wall seconds, the
   CPU seconds of the process tree, the map tasks, the exit status, and
   whether the status codes equal a count by hand;
3. in this process (this checkout), the CPU seconds (``time.process_time``)
   of the largest planned map task, against the same objects run as one map
   task each (what a task costs when every object is its own), medians of
   ``--rounds``.

Times are reported, never asserted; the machine may be shared.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def write_objects(folder: Path, count: int, seed: int = 15) -> dict[str, int]:
    """The objects (once per folder) and the status codes they hold, by hand."""
    marker = folder / ".written"
    if not marker.exists():
        sys.path.insert(0, str(ROOT / "functions"))
        from logmr.devtools.generate import generate

        rng = random.Random(seed)
        sizes = [rng.choice((0, 1, 2, 3, 3, 4, 5, 6)) for _ in range(count)]
        out = BytesIO()
        generate(out, fmt="apache_combined", lines=sum(sizes), seed=seed)
        lines = out.getvalue().splitlines(keepends=True)
        at = 0
        for n, size in enumerate(sizes):
            data = b"".join(lines[at : at + size])
            at += size
            plain = n % 50 == 7
            path = folder / f"{n // 1000:03d}" / f"{n:06d}.log{'' if plain else '.gz'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if plain else gzip.compress(data, compresslevel=1, mtime=0))
        marker.write_text("")
    counts: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.log*")):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        for line in data.split(b"\n"):
            parts = line.split(b'"')
            fields = parts[2].split() if len(parts) == 7 else []
            if len(fields) == 2 and fields[0].isdigit():
                counts[fields[0].decode()] += 1
    return dict(counts)


def logmr(checkout: Path, home: Path, *argv: str) -> tuple[int, Any, float, float]:
    """``logmr ARGV --json`` under ``checkout``: exit status, output, wall and
    CPU seconds (the process and its children)."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "functions"), "LOGMR_HOME": str(home)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "logmr.cli", *argv, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        out = json.loads(done.stdout)
    except ValueError:
        out = {"stderr": done.stderr.strip().splitlines()[-1:]}
    return done.returncode, out, wall, cpu


def end_to_end(checkout: Path, folder: Path, expected: dict[str, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        code, plan, plan_wall, _ = logmr(
            checkout, home, "plan", str(folder), "--job", "status_codes"
        )
        row: dict[str, Any] = {"checkout": str(checkout), "plan_exit": code}
        if code == 0:
            row.update(map_tasks=plan["map_tasks"], pieces=plan.get("pieces"))
        else:
            row["plan_error"] = plan.get("stderr")
        row["plan_wall_s"] = round(plan_wall, 2)
        code, out, wall, cpu = logmr(checkout, home, "run", str(folder), "--job", "status_codes")
        row.update(run_exit=code, run_wall_s=round(wall, 2), run_cpu_s=round(cpu, 2))
        row["exact"] = code == 0 and out.get("results") == expected
        if code != 0:
            row["run_error"] = out.get("stderr")
    return row


def one_task_cpu(folder: Path, rounds: int) -> dict[str, Any]:
    """The largest planned task's CPU seconds, against its objects as a task each."""
    sys.path.insert(0, str(ROOT / "functions"))
    from logmr import layout, tasks
    from logmr.config import Settings
    from logmr.run.embedded import embedded_backends
    from logmr.spec import JobSpec, MapTask

    with tempfile.TemporaryDirectory() as tmp:
        backends = embedded_backends(Settings.load(home=Path(tmp)))
        spec = JobSpec(job_id="bench-small", job="status_codes", inputs=[str(folder)])
        planned = tasks.plan(spec, backends)
        spec = JobSpec.from_dict(planned["spec"])
        manifest = backends.objects.get_json(layout.manifest_key(spec.job_id))
        items = [MapTask.from_dict(item) for item in manifest["map_tasks"]]
        largest = max(items, key=lambda task: len(task.pieces))
        alone = [MapTask(n, (piece,)) for n, piece in enumerate(largest.pieces)]
        grouped_s, alone_s = [], []
        for _ in range(rounds):
            started = time.process_time()
            tasks.map_task(spec, largest, backends)
            grouped_s.append(time.process_time() - started)
            started = time.process_time()
            for task in alone:
                tasks.map_task(spec, task, backends)
            alone_s.append(time.process_time() - started)
    grouped, apart = statistics.median(grouped_s), statistics.median(alone_s)
    return {
        "pieces": len(largest.pieces),
        "grouped_cpu_s": round(grouped, 3),
        "one_task_each_cpu_s": round(apart, 3),
        "grouped_ms_per_object": round(1000 * grouped / len(largest.pieces), 3),
        "one_task_each_ms_per_object": round(1000 * apart / len(largest.pieces), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--before", type=Path, help="another checkout to run end to end")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir()) / f"logmr-small-objects-{args.objects}"
    folder.mkdir(exist_ok=True)
    expected = write_objects(folder, args.objects)
    rows = [end_to_end(ROOT, folder, expected)]
    if args.before:
        rows.append(end_to_end(args.before.resolve(), folder, expected))
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"one_map_task": one_task_cpu(folder, args.rounds)}))
    # a refusal (a checkout that cannot run so many objects) is a result; a wrong count is not
    return 0 if all(row["exact"] or row["run_exit"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
