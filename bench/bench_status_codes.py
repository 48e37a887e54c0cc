"""The status_codes benchmark: logmr's inline runner against plain Python.

Run ``python bench/bench_status_codes.py [--size 1GB] [--runs 3] [--output PATH]``
(``make bench``). It

1. generates ``bench/data/access-<size>-seed1.log`` (apache_combined, seed 1)
   once and reuses it;
2. reads the whole input before each timed run, so every figure is for a warm
   page cache (the read rate of each warm-up is recorded as evidence);
3. times, alternating A I B C A I B C for ``--runs`` rounds, as subprocesses:
   A ``logmr run PATH --job status_codes --json`` (the state machine on the
   local engine, all cores, a fresh ``LOGMR_HOME``); I the same with
   ``--engine inline`` (no state machine); B a plain single-process Python script with the reference
   regex (``--baseline PATH`` of this file); C the same script with logmr's
   parser (``--parser logmr``), which separates the regex from the rest; and
   checks that all give the same answer;
4. times ``logmr.tasks.map_task`` in this process on one 64 MiB range, with a
   breakdown (read lines, + parse, + map/combine, full task);
5. records the peak resident memory of each subprocess tree, and how much
   CPU-bound work all cores do together relative to one;
6. writes JSON and a Markdown table (same basename) and prints the table.

Speed is reported, never asserted: the exit status is non-zero only when the
systems disagree or a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# logmr is imported inside the functions that use it, so that the baseline
# subprocess (``--baseline``) starts as a plain script that never imports it.

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "status_codes.json"

FORMAT = "apache_combined"
JOB = "status_codes"
SEED = 1
REGIME = "warm page cache"
#: the map task measured in-process: one range of the default chunk size
MAP_RANGE_BYTES = 64 * 1024 * 1024
MAP_REPEATS = 3
#: the map task target of issue 6 (DESIGN.md and config.py size chunks for 500,000)
TARGET_MAP_LINES_PER_S_PER_CORE = 700_000
POLL_SECONDS = 0.02
READ_BLOCK = 8 * 1024 * 1024
MIB = 1024 * 1024
MB = 1_000_000
#: settings that would override ``logmr run``'s defaults; removed from its environment
LOGMR_OVERRIDES = ("LOGMR_WORKERS", "LOGMR_CHUNK_SIZE", "LOGMR_REDUCERS")

#: the reference regex of the project's test data (group 12 is the status)
REFERENCE = re.compile(
    rb"^(\S+) (\S+) (\S+) \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) "
    rb'([+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" '
    rb'"((?:[^"\\]|\\.)*)"$'
)
STATUS_GROUP = 12


# -- the baselines ------------------------------------------------------------------
Matcher = Callable[[bytes], Any]


def reference_parser() -> tuple[Matcher, Callable[[Any], bytes]]:
    """The reference regex; the status is group 12."""
    return REFERENCE.match, lambda found: bytes(found.group(STATUS_GROUP))


def logmr_parser() -> tuple[Matcher, Callable[[Any], bytes]]:
    """logmr's own ``apache_combined`` parser and status getter (same acceptance)."""
    from logmr.formats import get_format

    fmt = get_format(FORMAT)
    return fmt.parse, fmt.getter("status")


PARSERS: dict[str, Callable[[], tuple[Matcher, Callable[[Any], bytes]]]] = {
    "reference": reference_parser,
    "logmr": logmr_parser,
}


def baseline(path: str, parser: str = "reference") -> dict[str, Any]:
    """Status counts the straightforward way: one process, line by line, one regex."""
    match, status_of = PARSERS[parser]()
    counts: dict[bytes, int] = {}
    lines = 0
    malformed = 0
    with open(path, "rb") as handle:
        for raw in handle:
            lines += 1
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line.endswith(b"\r"):
                line = line[:-1]
            found = match(line)
            if found is None:
                malformed += 1
                continue
            status = status_of(found)
            counts[status] = counts.get(status, 0) + 1
    return {
        "lines": lines,
        "malformed": malformed,
        "status": {key.decode(): value for key, value in sorted(counts.items())},
    }


# -- the answer both systems must agree on ----------------------------------------
@dataclass(frozen=True)
class Answer:
    lines: int
    malformed: int
    status: dict[str, int]

    @classmethod
    def from_baseline(cls, data: dict[str, Any]) -> Answer:
        return cls(int(data["lines"]), int(data["malformed"]), dict(sorted(data["status"].items())))

    @classmethod
    def from_logmr(cls, data: dict[str, Any]) -> Answer:
        if data.get("status") != "SUCCEEDED":
            raise RuntimeError(f"logmr job did not succeed: {data}")
        counters = data["counters"]
        return cls(
            int(counters["lines"]),
            int(counters["malformed"]),
            {str(key): int(value) for key, value in sorted(data["results"].items())},
        )


# -- input --------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    path: Path
    bytes: int
    lines: int
    generate_s: float | None  # None: reused from the cache
    shape: str = "simple"
    #: how long it took to generate, in this run or when it was cached (None: not recorded)
    generated_in_s: float | None = None


def input_path(size_text: str, shape: str = "simple") -> Path:
    """Where the generated input of ``size_text`` and ``shape`` is cached: the
    simple shape keeps its old name, ``access-<size>-seed1.log``; another shape
    is named in it, ``access-<shape>-<size>-seed1.log``."""
    kind = "" if shape == "simple" else f"{shape}-"
    return DATA_DIR / f"access-{kind}{size_text.strip()}-seed{SEED}.log"


def prepare_input(size_text: str, shape: str = "simple") -> Input:
    """The cached generated input, made (deterministically) when missing or stale.

    ``shape`` is the generator's (``simple``: few distinct keys; ``realistic``:
    50,000 paths, about 380,000 request targets per GB, 200,000 clients).
    ``generate(size=N)`` writes at most N bytes of whole lines, so the expected
    size is not N itself: a sidecar ``.json`` keeps what was written.
    """
    from logmr.devtools.generate import REVISION, generate
    from logmr.units import parse_size

    size = parse_size(size_text)
    path = input_path(size_text, shape)
    name = path.name
    sidecar = path.with_name(name + ".json")
    if path.is_file() and sidecar.is_file():
        meta = json.loads(sidecar.read_text())
        if (
            meta.get("requested_bytes") == size
            and meta.get("format") == FORMAT
            and meta.get("shape", "simple") == shape
            and meta.get("seed") == SEED
            and meta.get("revision", 1) == REVISION
            and path.stat().st_size == meta.get("bytes")
        ):
            generated = meta.get("generate_s")
            return Input(
                path,
                int(meta["bytes"]),
                int(meta["lines"]),
                None,
                shape,
                None if generated is None else float(generated),
            )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    print(f"generating {path.relative_to(ROOT)} ({size_text}, {shape}) ...", file=sys.stderr)
    started = time.perf_counter()
    partial = path.with_name(name + ".partial")
    with partial.open("wb") as out:
        stats = generate(out, fmt=FORMAT, size=size, seed=SEED, shape=shape)
    partial.replace(path)
    elapsed = time.perf_counter() - started
    meta = {
        "format": FORMAT,
        "shape": shape,
        "seed": SEED,
        "revision": REVISION,
        "requested_bytes": size,
        "bytes": stats.bytes,
        "lines": stats.lines,
        "generate_s": round(elapsed, 2),
    }
    sidecar.write_text(json.dumps(meta, indent=2) + "\n")
    return Input(path, stats.bytes, stats.lines, elapsed, shape, elapsed)


def read_through(path: Path, start: int = 0, length: int | None = None) -> float:
    """Read ``length`` bytes (default: all) from ``start``; the seconds it took."""
    buffer = bytearray(READ_BLOCK)
    view = memoryview(buffer)
    left = length
    started = time.perf_counter()
    with path.open("rb", buffering=0) as handle:
        handle.seek(start)
        while left is None or left > 0:
            want = READ_BLOCK if left is None else min(READ_BLOCK, left)
            got = handle.readinto(view[:want])
            if not got:
                break
            if left is not None:
                left -= got
    return time.perf_counter() - started


# -- memory of a process tree ------------------------------------------------------
def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # gone since listed
        # The command name in parentheses may hold spaces: split after the last ')'.
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0  # gone, or a zombie (no VmRSS line)


def tree_rss_bytes(root: int) -> tuple[int, int]:
    """The summed VmRSS of ``root`` and all its descendants, and how many there are."""
    children = _children_by_parent()
    total = 0
    count = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        total += _rss_bytes(pid)
        count += 1
        todo.extend(children.get(pid, ()))
    return total, count


class TreeMemory(threading.Thread):
    """Polls a process tree's summed VmRSS every ``interval`` seconds; keeps the max."""

    def __init__(self, root: int, interval: float = POLL_SECONDS) -> None:
        super().__init__(name=f"rss-{root}", daemon=True)
        self.root = root
        self.interval = interval
        self.peak_bytes = 0
        self.max_processes = 0
        self.samples = 0
        self._finished = threading.Event()

    def run(self) -> None:
        while True:
            total, count = tree_rss_bytes(self.root)
            self.peak_bytes = max(self.peak_bytes, total)
            self.max_processes = max(self.max_processes, count)
            self.samples += 1
            if self._finished.wait(self.interval):
                return

    def finish(self) -> None:
        self._finished.set()
        self.join()


# -- timed subprocess runs ----------------------------------------------------------
@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_bytes: int  # polled: summed over the process tree
    largest_maxrss_bytes: int  # wait4: the largest single process of the tree
    children_maxrss_bytes: int  # getrusage(RUSAGE_CHILDREN) after the run (running max)
    #: this process's VmRSS at the spawn: a floor of both rusage figures, since
    #: Linux carries the parent's high-water RSS into a vfork-ed child across exec
    own_rss_bytes: int
    processes: int  # most processes seen in the tree at once
    samples: int
    warmup_mb_per_s: float  # the read of the whole input just before the run
    answer: Answer


def run_watched(
    argv: Sequence[str], env: dict[str, str]
) -> tuple[float, TreeMemory, int, int, str, str]:
    """Run ``argv``; its wall seconds, memory monitor, wait4 maxrss (bytes),
    exit code, stdout and stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        monitor = TreeMemory(process.pid)
        monitor.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen is told
        monitor.finish()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(status)
    return seconds, monitor, usage.ru_maxrss * 1024, code, stdout, stderr


def run_measured(argv: Sequence[str], env: dict[str, str]) -> tuple[float, TreeMemory, int, str]:
    """Run ``argv``; its wall seconds, memory monitor, wait4 maxrss (bytes) and
    stdout; a non-zero exit is an error."""
    seconds, monitor, maxrss, code, stdout, stderr = run_watched(argv, env)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {code}:\n{stderr}\n{stdout}")
    return seconds, monitor, maxrss, stdout


@dataclass(frozen=True)
class System:
    letter: str
    key: str
    label: str
    cores: int
    command: Callable[[Path], list[str]]
    answer: Callable[[dict[str, Any]], Answer]
    uses_logmr_home: bool

    def run(self, data: Input) -> Run:
        env = {k: v for k, v in os.environ.items() if k not in LOGMR_OVERRIDES}
        with tempfile.TemporaryDirectory(prefix="logmr-bench-") as home:
            if self.uses_logmr_home:
                env["LOGMR_HOME"] = home
            warm = read_through(data.path)
            own = _rss_bytes(os.getpid())
            seconds, monitor, largest, stdout = run_measured(self.command(data.path), env)
        return Run(
            seconds=seconds,
            peak_rss_bytes=monitor.peak_bytes,
            largest_maxrss_bytes=largest,
            children_maxrss_bytes=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
            own_rss_bytes=own,
            processes=monitor.max_processes,
            samples=monitor.samples,
            warmup_mb_per_s=data.bytes / MB / warm,
            answer=self.answer(json.loads(stdout)),
        )


def logmr_command(engine: str) -> Callable[[Path], list[str]]:
    """``logmr run PATH --job status_codes --json --engine ENGINE``: the console script."""

    def command(path: Path) -> list[str]:
        script = Path(sys.executable).with_name("logmr")
        head = [str(script)] if script.is_file() else [sys.executable, "-m", "logmr.cli"]
        return [*head, "run", str(path), "--job", JOB, "--json", "--engine", engine]

    return command


def baseline_command(parser: str) -> Callable[[Path], list[str]]:
    def command(path: Path) -> list[str]:
        script = str(Path(__file__).resolve())
        return [sys.executable, script, "--baseline", str(path), "--parser", parser]

    return command


def systems() -> list[System]:
    cores = os.cpu_count() or 1
    return [
        System(
            letter="A",
            key="logmr_statemachine",
            label=f"logmr run: the state machine on the local engine ({cores} workers)",
            cores=cores,
            command=logmr_command("statemachine"),
            answer=Answer.from_logmr,
            uses_logmr_home=True,
        ),
        System(
            letter="I",
            key="logmr_inline",
            label=f"logmr run --engine inline: the task functions directly ({cores} workers)",
            cores=cores,
            command=logmr_command("inline"),
            answer=Answer.from_logmr,
            uses_logmr_home=True,
        ),
        System(
            letter="B",
            key="python_baseline",
            label="plain Python, 1 process, reference regex",
            cores=1,
            command=baseline_command("reference"),
            answer=Answer.from_baseline,
            uses_logmr_home=False,
        ),
        System(
            letter="C",
            key="python_logmr_parser",
            label="plain Python, 1 process, logmr's parser",
            cores=1,
            command=baseline_command("logmr"),
            answer=Answer.from_baseline,
            uses_logmr_home=False,
        ),
    ]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summarize(system: System, runs: list[Run], data: Input) -> dict[str, Any]:
    seconds = [run.seconds for run in runs]
    median = _median(seconds)
    events_per_s = data.lines / median
    return {
        "label": system.label,
        "letter": system.letter,
        "command": " ".join(shown(Path(part)) for part in system.command(data.path)),
        "cores_used": system.cores,
        "wall_s_runs": [round(value, 3) for value in seconds],
        "wall_s_median": round(median, 3),
        "events_per_s": round(events_per_s),
        "events_per_s_per_core": round(events_per_s / system.cores),
        "mb_per_s": round(data.bytes / MB / median, 1),
        "peak_rss_mib": round(max(run.peak_rss_bytes for run in runs) / MIB, 1),
        "peak_rss_mib_runs": [round(run.peak_rss_bytes / MIB, 1) for run in runs],
        "largest_process_maxrss_mib_runs": [
            round(run.largest_maxrss_bytes / MIB, 1) for run in runs
        ],
        "rusage_children_maxrss_mib_after_runs": [
            round(run.children_maxrss_bytes / MIB, 1) for run in runs
        ],
        "benchmark_process_rss_mib_runs": [round(run.own_rss_bytes / MIB, 1) for run in runs],
        "processes_max": max(run.processes for run in runs),
        "memory_samples_runs": [run.samples for run in runs],
        "warmup_read_mb_per_s_runs": [round(run.warmup_mb_per_s) for run in runs],
    }


# -- the map task in this process -----------------------------------------------------
@contextmanager
def _temporary_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="logmr-bench-map-") as home:
        yield Path(home)


def map_task_rates(data: Input, repeats: int = MAP_REPEATS) -> dict[str, Any]:
    """``tasks.map_task`` on one range in this process (one core), with a breakdown."""
    from logmr import tasks
    from logmr.config import SAMPLES_PER_TASK, Settings
    from logmr.inputs.lines import iter_range_texts, split_lines
    from logmr.jobs import binding
    from logmr.mapreduce.partition import buckets_for
    from logmr.mapreduce.side import MapSide
    from logmr.run.embedded import embedded_backends
    from logmr.spec import JobSpec, MapTask, Piece

    uri = str(data.path.resolve())
    start = 0
    end = min(start + MAP_RANGE_BYTES, data.bytes)
    spec = JobSpec(
        job_id="bench-map-task",
        job=JOB,
        inputs=[uri],
        format=FORMAT,
        chunk_size=MAP_RANGE_BYTES,
        reducers=os.cpu_count() or 1,  # the local engine's choice: one reducer per core
        buckets=buckets_for(os.cpu_count() or 1),  # as Plan sets them
    )
    task = MapTask(task=0, pieces=(Piece(uri=uri, start=start, end=end),))

    def read_lines() -> int:
        count = 0
        long_lines: list[int] = []  # a line over MAX_LINE_BYTES: one line, never in a text
        with open(uri, "rb") as stream:
            texts = iter_range_texts(
                stream, start, end, on_long_line=lambda _, length: long_lines.append(length)
            )
            for text in texts:
                count += text.count(b"\n")
        return count + len(long_lines)

    def read_parse() -> int:
        job, fmt = binding.prepare(spec)
        count = 0
        long_lines: list[int] = []
        with open(uri, "rb") as stream:
            texts = iter_range_texts(
                stream, start, end, on_long_line=lambda _, length: long_lines.append(length)
            )
            for text in texts:
                count += text.count(b"\n")
                found = fmt.values_in_text(text, job.count_field) if job.count_field else None
                if found is None:
                    found = fmt.records_in_text(text)
                if found is None:
                    found = [record for record in fmt.parse_many(split_lines(text)) if record]
        return count + len(long_lines)

    def read_parse_map() -> int:
        job, fmt = binding.prepare(spec)
        side = MapSide(job, fmt, SAMPLES_PER_TASK)
        with open(uri, "rb") as stream:
            for text in iter_range_texts(stream, start, end, on_long_line=side.long_line):
                side.feed_text(text)
        side.combine()
        return side.lines

    with _temporary_home() as home:
        backends = embedded_backends(Settings.load(home=home))

        def full() -> int:
            return int(tasks.map_task(spec, task, backends)["counters"]["lines"])

        stages: list[tuple[str, str, Callable[[], int]]] = [
            ("read", "read texts of whole lines (lines.iter_range_texts)", read_lines),
            ("read_parse", "read + parse (the format's block parser)", read_parse),
            ("read_parse_map", "read + parse + map/combine (MapSide.feed_text)", read_parse_map),
            ("map_task", "full map task (tasks.map_task)", full),
        ]
        read_through(data.path, start, end - start)  # warm the range
        timings: dict[str, list[float]] = {key: [] for key, _, _ in stages}
        counted: dict[str, set[int]] = {key: set() for key, _, _ in stages}
        for _ in range(repeats):  # the stages interleaved, like the systems
            for key, _, function in stages:
                started = time.perf_counter()
                counted[key].add(function())
                timings[key].append(time.perf_counter() - started)
    line_counts = set().union(*counted.values())
    if len(line_counts) != 1:
        raise RuntimeError(f"the map task stages read different line counts: {counted}")
    lines = line_counts.pop()
    full_s = _median(timings["map_task"])
    report: dict[str, Any] = {}
    for key, label, _ in stages:
        median = _median(timings[key])
        report[key] = {
            "label": label,
            "seconds_runs": [round(value, 4) for value in timings[key]],
            "seconds_median": round(median, 4),
            "lines_per_s": round(lines / median),
            "mb_per_s": round((end - start) / MB / median, 1),
            "share_of_map_task": round(median / full_s, 3),
        }
    return {
        "range": {"start": start, "end": end, "bytes": end - start},
        "lines": lines,
        "repeats": repeats,
        "cores": 1,
        "lines_per_s_per_core": report["map_task"]["lines_per_s"],
        "stages": report,
    }


# -- report -------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


#: a CPU-bound loop that prints its own duration
SPIN = (
    "import time\nstarted = time.perf_counter()\ntotal = 0\n"
    "for i in range({n}):\n    total += i\nprint(time.perf_counter() - started)"
)
SPIN_ITERATIONS = 5_000_000


def cpu_scaling(processes: int, repeats: int = 3) -> dict[str, Any]:
    """How much CPU-bound work ``processes`` processes do together, relative to one.

    ``os.cpu_count()`` counts vCPUs; on a shared or SMT host, N busy processes
    can get less than N times the work of one. ``effective_cores`` is
    ``processes * t_alone / t_together`` (medians of ``repeats``).
    """
    code = SPIN.format(n=SPIN_ITERATIONS)

    def batch(count: int) -> float:
        children = [
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        return statistics.fmean(float(child.communicate()[0]) for child in children)

    alone: list[float] = []
    together: list[float] = []
    for _ in range(repeats):
        alone.append(batch(1))
        together.append(batch(processes))
    alone_s, together_s = _median(alone), _median(together)
    return {
        "processes": processes,
        "loop_s_alone": round(alone_s, 3),
        "loop_s_together": round(together_s, 3),
        "effective_cores": round(processes * alone_s / together_s, 2),
    }


def run_facts(scaling: dict[str, Any], load_before: Sequence[float]) -> dict[str, Any]:
    """What every report says of its run: when, on what machine, which code,
    and the load average before and after."""
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "cpu_scaling": scaling},
        "code": code_version(),
        "load_average": {
            "before": [round(value, 2) for value in load_before],
            "after": [round(value, 2) for value in os.getloadavg()],
        },
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether logmr's sources differ from it (read-only git)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "functions_modified": bool(git("status", "--porcelain", "--", "functions")),
    }


def markdown(report: dict[str, Any]) -> str:
    info, data, mapping = report["machine"], report["input"], report["map_task"]
    target = report["targets"]["map_task_lines_per_s_per_core"]
    answer = report["answer"]
    scaling, code, load = info["cpu_scaling"], report["code"], report["load_average"]
    speedups = ", ".join(
        f"{value:.2f}x {report['systems'][key]['letter']}"
        for key, value in report["logmr_speedup"].items()
    )
    out = [
        f"# status_codes benchmark, {data['size']} input",
        "",
        f"- Machine: {info['cores']} cores (`os.cpu_count()`), {info['implementation']} "
        f"{info['python']}, {info['platform']}; {scaling['processes']} CPU-bound processes "
        f"together did {scaling['effective_cores']:.2f}x the work of one "
        f"(effective cores); load average (1 min) {load['before'][0]:.2f} before, "
        f"{load['after'][0]:.2f} after",
        f"- Code: {code['commit'] or 'unknown'}"
        + (" with uncommitted changes under functions/" if code["functions_modified"] else ""),
        f"- Input: `{data['path']}`, {data['bytes']:,} bytes, {data['lines']:,} lines "
        f"({FORMAT}, seed {SEED})",
        f"- Regime: **{report['regime']}** (the whole input is read just before each timed "
        f"run; those reads ran at {report['warmup_read_mb_per_s_median']:,} MB/s, median)",
        f"- Medians of {report['runs']} runs per system, alternating "
        f"{' '.join(report['order'][: 2 * len(report['systems'])])} ...; wall time of "
        "the whole subprocess "
        "(interpreter start-up and process pool included)",
        "",
        "| | System | Wall s (median) | Runs (s) | Events/s | Events/s per core "
        "| MB/s | Peak RSS MiB |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for key in report["systems"]:
        row = report["systems"][key]
        runs = ", ".join(f"{value:.2f}" for value in row["wall_s_runs"])
        out.append(
            f"| {row['letter']} | {row['label']} | {row['wall_s_median']:.2f} | {runs} | "
            f"{row['events_per_s']:,} | {row['events_per_s_per_core']:,} | "
            f"{row['mb_per_s']:,.1f} | {row['peak_rss_mib']:,.1f} |"
        )
    out += [
        "",
        f"logmr's speed (A) relative to the others (median wall times): {speedups}; "
        f"the state machine's overhead over the inline runner (A against I): "
        f"{report['statemachine_overhead_over_inline']:+.1%}. "
        f"All gave the same answer: {answer['lines']:,} lines, {answer['malformed']:,} "
        f"malformed, {len(answer['status'])} status codes. "
        "Events are input lines (malformed ones included); per core divides by the cores "
        "the system uses. Peak RSS is the largest summed VmRSS of the process tree, "
        f"polled every {POLL_SECONDS * 1000:.0f} ms (max over runs).",
        "",
        f"Map task in this process (one core, {report['regime']}), bytes "
        f"{mapping['range']['start']:,}-{mapping['range']['end']:,} "
        f"({mapping['range']['bytes'] / MIB:.0f} MiB, {mapping['lines']:,} lines), "
        f"median of {mapping['repeats']}:",
        "",
        "| Stage | Seconds | Lines/s | MB/s | Share of map task |",
        "|---|---:|---:|---:|---:|",
    ]
    for stage in mapping["stages"].values():
        out.append(
            f"| {stage['label']} | {stage['seconds_median']:.3f} | {stage['lines_per_s']:,} | "
            f"{stage['mb_per_s']:,.1f} | {stage['share_of_map_task']:.0%} |"
        )
    verdict = "met" if target["met"] else "NOT met"
    out += [
        "",
        f"Target: map task >= {target['target']:,} lines/s per core: measured "
        f"{target['measured']:,} lines/s, **{verdict}**.",
        "",
    ]
    return "\n".join(out)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    temp.replace(path)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return (
        str(path.relative_to(ROOT))
        if path.is_absolute() and path.is_relative_to(ROOT)
        else str(path)
    )


def benchmark(size_text: str, rounds: int, output: Path) -> int:
    load_before = os.getloadavg()
    data = prepare_input(size_text)
    if data.generate_s is not None:
        print(f"generated {data.lines:,} lines in {data.generate_s:.1f} s", file=sys.stderr)
    first_read = read_through(data.path)
    print(
        f"input {shown(data.path)}: {data.bytes:,} bytes; first read "
        f"{data.bytes / MB / first_read:,.0f} MB/s",
        file=sys.stderr,
    )
    compared = systems()
    print("CPU scaling probe ...", file=sys.stderr)
    scaling = cpu_scaling(os.cpu_count() or 1)
    runs: dict[str, list[Run]] = {system.key: [] for system in compared}
    order: list[str] = []
    for round_no in range(1, rounds + 1):
        for system in compared:
            run = system.run(data)
            runs[system.key].append(run)
            order.append(system.letter)
            print(
                f"round {round_no}/{rounds} {system.letter} {system.key}: {run.seconds:.2f} s, "
                f"peak {run.peak_rss_bytes / MIB:,.0f} MiB "
                f"(warm-up read {run.warmup_mb_per_s:,.0f} MB/s)",
                file=sys.stderr,
            )
    answers = {key: [run.answer for run in done] for key, done in runs.items()}
    reference = answers[compared[0].key][0]
    agree = all(answer == reference for done in answers.values() for answer in done)
    if not agree:
        print("the systems disagree:", file=sys.stderr)
        for key, done in answers.items():
            for number, answer in enumerate(done, 1):
                print(f"  {key} run {number}: {answer}", file=sys.stderr)

    print("map task in-process ...", file=sys.stderr)
    mapping = map_task_rates(data)
    measured = mapping["lines_per_s_per_core"]
    by_key = {system.key: summarize(system, runs[system.key], data) for system in compared}
    warmups = [run.warmup_mb_per_s for done in runs.values() for run in done]
    report: dict[str, Any] = {
        "benchmark": JOB,
        **run_facts(scaling, load_before),
        "input": {
            "path": shown(data.path),
            "size": size_text,
            "format": FORMAT,
            "seed": SEED,
            "bytes": data.bytes,
            "lines": data.lines,
            "first_read_mb_per_s": round(data.bytes / MB / first_read),
        },
        "regime": REGIME,
        "warmup_read_mb_per_s_median": round(_median(warmups)),
        "runs": rounds,
        "order": order,
        "statistic": "median",
        "events": "input lines, malformed included",
        "systems": by_key,
        "logmr_speedup": {
            key: round(row["wall_s_median"] / by_key["logmr_statemachine"]["wall_s_median"], 3)
            for key, row in by_key.items()
            if key != "logmr_statemachine"
        },
        "statemachine_overhead_over_inline": round(
            by_key["logmr_statemachine"]["wall_s_median"] / by_key["logmr_inline"]["wall_s_median"]
            - 1,
            3,
        ),
        "answer": {**asdict(reference), "identical": agree},
        "map_task": mapping,
        "targets": {
            "map_task_lines_per_s_per_core": {
                "target": TARGET_MAP_LINES_PER_S_PER_CORE,
                "measured": measured,
                "met": measured >= TARGET_MAP_LINES_PER_S_PER_CORE,
            }
        },
        "rusage_children_maxrss_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }
    table = markdown(report)
    write_atomic(output, json.dumps(report, indent=2) + "\n")
    write_atomic(output.with_suffix(".md"), table)
    print(table)
    print(f"wrote {shown(output)} and {shown(output.with_suffix('.md'))}", file=sys.stderr)
    return 0 if agree else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", default="1GB", help="input size, e.g. 100MB, 1GB (default 1GB)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of A I B C (default 3)")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"JSON report; the Markdown goes next to it (default {shown(DEFAULT_OUTPUT)})",
    )
    parser.add_argument(
        "--baseline",
        metavar="PATH",
        help="only run the plain-Python baseline on PATH and print its answer as JSON",
    )
    parser.add_argument(
        "--parser",
        choices=sorted(PARSERS),
        default="reference",
        help="the baseline's parser: the reference regex or logmr's (with --baseline)",
    )
    args = parser.parse_args(argv)
    if args.baseline:
        json.dump(baseline(args.baseline, args.parser), sys.stdout)
        sys.stdout.write("\n")
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return benchmark(args.size, args.runs, args.output.resolve())


if __name__ == "__main__":
    raise SystemExit(main())
