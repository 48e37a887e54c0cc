"""Where one map task's time goes: read, parse, map, combine, serialize, write, reduce.

Run ``python bench/profile_task.py [--size 100MB] [--jobs status_codes,top_paths]``.
It takes bytes ``[0, 64 MiB)`` of the cached generated input (see
``bench_status_codes.prepare_input``) and runs the steps of ``tasks.map_task``
one by one in this process, timing each with CPU time
(``time.process_time``, robust to the other processes of a shared machine)
and wall time, ``--repeats`` times (median):

- **read**: ``lines.iter_range_texts`` over the range (a local file);
- **parse**: the format's block parser over those texts
  (``values_in_text`` for a counting job, else ``records_in_text``);
- **map**: ``MapSide.feed_text`` (parse included) minus parse;
- **combine**: ``MapSide.combine``;
- **partition**: ``MapSide.partitions`` (keys made canonical, split into the job's buckets);
- **serialize**: ``shuffle.encode``; **write**: the local object store's ``put``;
- **reduce**: every reducer's group of buckets read back from that object and
  reduced (``read_buckets`` + ``mapreduce.reduce_groups``), as one mapper's share of
  the reducers' work.

The full ``tasks.map_task`` is timed too, as a check that the steps add up.
Writes ``bench/results/profile.json`` and ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_status_codes import (
    FORMAT,
    MAP_RANGE_BYTES,
    MB,
    ROOT,
    _temporary_home,
    code_version,
    machine,
    prepare_input,
    read_through,
    shown,
    write_atomic,
)

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "profile.json"
TARGET_LINES_PER_S_PER_CORE = 700_000
STEPS = ("read", "parse", "map", "combine", "partition", "serialize", "write", "reduce")


def _timed(function: Callable[[], Any]) -> tuple[Any, float, float]:
    """``function()``, its CPU seconds and its wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _no_long_line(head: bytes, length: int) -> None:
    """The profiled logs are generated: a line over ``MAX_LINE_BYTES`` is a mistake."""
    raise ValueError(f"a line of {length:,} bytes, over the reader's longest: profile a log")


def profile_job(path: Path, size: int, job_name: str, repeats: int) -> dict[str, Any]:
    from logmr import tasks
    from logmr.config import SAMPLES_PER_TASK, Settings
    from logmr.inputs.lines import iter_range_texts
    from logmr.jobs import binding
    from logmr.mapreduce.partition import bucket_group, buckets_for
    from logmr.mapreduce.shuffle import Binding, encode
    from logmr.mapreduce.side import MapSide, reduce_groups
    from logmr.run.embedded import embedded_backends
    from logmr.spec import JobSpec, MapTask, Piece

    uri = str(path.resolve())
    end = min(MAP_RANGE_BYTES, size)
    # the local engine's choice on this machine: one reducer per core
    spec = JobSpec(
        job_id=f"profile-{job_name}",
        job=job_name,
        inputs=[uri],
        format=FORMAT,
        reducers=os.cpu_count() or 1,
        buckets=buckets_for(os.cpu_count() or 1),
    )
    task = MapTask(task=0, pieces=(Piece(uri=uri, start=0, end=end),))
    cpu: dict[str, list[float]] = {step: [] for step in (*STEPS, "map_task")}
    wall: dict[str, list[float]] = {step: [] for step in (*STEPS, "map_task")}
    lines = records = 0
    read_through(path, 0, end)  # warm the range
    with _temporary_home() as home:
        backends = embedded_backends(Settings.load(home=home))
        for _ in range(repeats):
            job, fmt = binding.prepare(spec)
            field = job.count_field

            def read() -> list[bytes]:
                with open(uri, "rb") as stream:
                    return list(iter_range_texts(stream, 0, end, on_long_line=_no_long_line))

            steps: dict[str, tuple[float, float]] = {}

            def step(name: str, function: Callable[[], Any], steps: dict[str, Any] = steps) -> Any:
                result, cpu_s, wall_s = _timed(function)
                steps[name] = (cpu_s, wall_s)
                return result

            texts = step("read", read)

            def parse(fmt: Any = fmt, field: Any = field, texts: list[bytes] = texts) -> int:
                found = 0
                for text in texts:
                    values = fmt.values_in_text(text, field) if field else None
                    if values is None:
                        values = fmt.records_in_text(text)
                    found += len(values) if values is not None else 0
                return found

            step("parse", parse)
            side = MapSide(job, fmt, SAMPLES_PER_TASK)

            def feed(side: MapSide = side, texts: list[bytes] = texts) -> None:
                for text in texts:
                    side.feed_text(text)

            step("map", feed)
            steps["map"] = tuple(  # type: ignore[assignment]
                fed - parsed for fed, parsed in zip(steps["map"], steps["parse"], strict=True)
            )
            step("combine", side.combine)
            parts = step("partition", lambda side=side: side.partitions(spec.buckets))
            bound = Binding(spec.job_id, 0, "00" * 8)
            data = step("serialize", lambda parts=parts, bound=bound: encode(parts, bound))
            key = f"profile/{job_name}/shuffle"
            step("write", lambda data=data, key=key: backends.objects.put(key, data))

            def reduce(job: Any = job, key: str = key) -> int:
                out = 0
                for partition in range(spec.reducers):
                    groups: dict[str, list[Any]] = {}
                    buckets = bucket_group(partition, spec.reducers, spec.buckets)
                    pairs = backends.objects.read_buckets(
                        key, buckets, spec.buckets, job_id=spec.job_id, task=0
                    ).pairs
                    for out_key, value in pairs:
                        groups.setdefault(out_key, []).append(value)
                    out += len(reduce_groups(job, groups))
                return out

            step("reduce", reduce)
            full = step("map_task", lambda: tasks.map_task(spec, task, backends))
            for step, (cpu_s, wall_s) in steps.items():
                cpu[step].append(cpu_s)
                wall[step].append(wall_s)
            lines, records = side.lines, side.records
            if full["counters"]["lines"] != lines:
                raise RuntimeError(f"map_task read {full['counters']} but the steps {lines}")
    map_steps = [step for step in STEPS if step != "reduce"]
    map_cpu = statistics.median(cpu["map_task"])
    rows = {
        step: {
            "cpu_s": round(statistics.median(cpu[step]), 4),
            "cpu_s_min": round(min(cpu[step]), 4),
            "wall_s": round(statistics.median(wall[step]), 4),
            "share_of_map_task_cpu": round(statistics.median(cpu[step]) / map_cpu, 3)
            if step != "map_task"
            else 1.0,
        }
        for step in (*STEPS, "map_task")
    }
    steps_cpu = sum(statistics.median(cpu[step]) for step in map_steps)
    return {
        "job": job_name,
        "range_bytes": end,
        "lines": lines,
        "records": records,
        "repeats": repeats,
        "steps": rows,
        "sum_of_map_steps_cpu_s": round(steps_cpu, 4),
        "map_task_lines_per_cpu_s": round(lines / map_cpu),
        "map_task_lines_per_cpu_s_best": round(lines / min(cpu["map_task"])),
        "target_lines_per_s_per_core": TARGET_LINES_PER_S_PER_CORE,
        "target_met": lines / map_cpu >= TARGET_LINES_PER_S_PER_CORE,
    }


def markdown(report: dict[str, Any]) -> str:
    info = report["machine"]
    out = [
        f"# Map task profile, {report['input']['size']} input, first "
        f"{MAP_RANGE_BYTES // (1024 * 1024)} MiB",
        "",
        f"- Machine: {info['cores']} cores, {info['implementation']} {info['python']}; "
        f"code {report['code']['commit'] or 'unknown'}"
        + (" with uncommitted changes" if report["code"]["functions_modified"] else ""),
        "- CPU seconds (`time.process_time`) and wall seconds, median of "
        f"{report['repeats']}, one process",
        "",
    ]
    for row in report["jobs"]:
        verdict = "met" if row["target_met"] else "NOT met"
        out += [
            f"## {row['job']}: {row['lines']:,} lines, {row['map_task_lines_per_cpu_s']:,} "
            f"lines per CPU second, median (best {row['map_task_lines_per_cpu_s_best']:,}; "
            f"target {row['target_lines_per_s_per_core']:,}: {verdict})",
            "",
            "| Step | CPU s (median) | CPU s (best) | Wall s (median) | Share of map task CPU |",
            "|---|---:|---:|---:|---:|",
        ]
        for step, cells in row["steps"].items():
            out.append(
                f"| {step} | {cells['cpu_s']:.3f} | {cells['cpu_s_min']:.3f} | "
                f"{cells['wall_s']:.3f} | {cells['share_of_map_task_cpu']:.0%} |"
            )
        out += [
            "",
            f"Sum of the map steps: {row['sum_of_map_steps_cpu_s']:.3f} CPU s "
            "(reduce is not part of the map task).",
            "",
        ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", default="100MB", help="input size (default 100MB)")
    parser.add_argument("--jobs", default="status_codes,top_paths", help="comma-separated jobs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--shape",
        choices=("simple", "realistic"),
        default="simple",
        help="the generated input's shape (default simple)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    from logmr.errors import LogmrError
    from logmr.jobs import job_class

    data = prepare_input(args.size, args.shape)
    jobs = []
    for name in args.jobs.split(","):
        try:
            job_class(name)
        except LogmrError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        jobs.append(profile_job(data.path, data.bytes, name, args.repeats))
    report = {
        "machine": machine(),
        "code": code_version(),
        "input": {
            "path": shown(data.path),
            "size": args.size,
            "shape": args.shape,
            "bytes": data.bytes,
        },
        "repeats": args.repeats,
        "statistic": "median",
        "range_mb": round(min(MAP_RANGE_BYTES, data.bytes) / MB, 1),
        "jobs": jobs,
    }
    output = args.output.resolve()
    table = markdown(report)
    write_atomic(output, json.dumps(report, indent=2) + "\n")
    write_atomic(output.with_suffix(".md"), table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
