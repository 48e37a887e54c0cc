"""The hostile-input closing table of issue 18: every attack that runs on one
machine, through the real CLI, before and after.

Run ``python bench/hostile.py [--before DIR] [--quick] [--cases a,b]``. Each
case runs ``logmr run/plan/status/results/report`` as a subprocess with the
checkout's ``functions`` on ``PYTHONPATH`` and a fresh ``LOGMR_HOME``, and
records its exit code, the last line of stderr (the message), the peak
resident memory of the process tree (summed VmRSS, polled:
``bench_status_codes.TreeMemory``), and, when the run counted, how many lines
(or words) it lost (negative) or counted twice (positive) against a count made
here from the bytes. ``--before DIR`` runs the same cases in another checkout
first (``git -C /work/main worktree add /work/wt-hostile-before b54449a^``);
a case the old code cannot express (an option it did not have) says so.

The items that exist only on AWS (DynamoDB's sort-key limit, an S3 object
overwritten between Plan and Map, MarkFailed and a foreign job id on Step
Functions, POST /jobs importing a module), and the ones that need a hand
inside a running job (a task's object swapped, a summary edited or cut), are
the tests their ``Case`` names: the script runs them with pytest in this
checkout and reports that they pass; their "before" is what the issue
reported. The memory cases (a 200 MB line, a gzip of 1 GB of zeros, 50/100/200
MB of unique tokens, ``logmr report`` of a 3 M-key job, a map task and Finalize
with the Lambda sizes) take minutes: ``--quick`` leaves them out; they reuse
``long_lines.py``'s inputs and ``memory.py``'s commands.

It writes ``bench/results/hostile.md`` and ``.json`` (``--output``). Memory and
outcomes are reported, never asserted: the exit status is 1 only when an
"after" case does not meet the issue's demand (a row marked "open").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import lzma
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_status_codes import TreeMemory, run_watched

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "hostile.json"
MIB = 1024 * 1024
#: a case step that has not ended by then is a hang: its process tree is killed
HANG_S = 120.0
#: how long ``logmr run ... | wc -c`` may take to see its end after SIGTERM
PIPE_END_S = 30.0
WORD = re.compile(rb"[A-Za-z0-9_]+")
#: a traceback's last line: the exception raised (logging may write after it)
RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Pool|Interrupt)\b")
STRIP = ("LOGMR_WORKERS", "LOGMR_CHUNK_SIZE", "LOGMR_REDUCERS", "LOGMR_HOME")

#: The items of issue 18 one machine can run, or that a test stands for; each
#: must be a case (``tests/test_bench_hostile.py`` checks it).
ISSUE_ITEMS: dict[str, str] = {
    "foreign-id": "a failing request naming another job's id overwrites that job's record",
    "foreign-id-aws": "the same on Step Functions and DynamoDB (MarkFailed), allow-list included",
    "same-id-race": "two runs with the same --job-id and different inputs both exit 0",
    "same-id-dynamodb": "claiming a job id on DynamoDB is one conditional put",
    "job-module-import": "POST /jobs imports the module named in `job` before the allow-list",
    "malformed-job-name": "malformed dotted job names (':X', '.X', '..x:Y')",
    "terminal-controls": "keys with terminal control characters printed raw",
    "copytruncate": "a log truncated during a job (logrotate's copytruncate)",
    "s3-overwritten": "an S3 object overwritten between Plan and Map",
    "same-object-twice": "the same file named twice, its folder, a symlink to it",
    "fifty-copies": "fifty copies of one URI in a request",
    "unreadable-subfolder": "a folder with an unreadable sub-folder",
    "xz": "an xz input read as text",
    "lz4": "an lz4 input read as text",
    "zip": "a zip input read as text",
    "utf16": "a UTF-16 log with a BOM",
    "utf32": "a UTF-32 log with a BOM",
    "lone-surrogate": "one JSON line holding a lone surrogate",
    "size-400-digits": "one access line with a 400-digit size",
    "dynamodb-keys": "a key over DynamoDB's 1,024-byte sort-key limit, or an empty key",
    "line-200MB": "one 200 MB line",
    "gzip-bomb": "a 1 MB gzip of 1 GB of zeros (run, and what `logmr plan` sees)",
    "tokens-50MB": "50 MB of unique tokens",
    "tokens-100MB": "100 MB of unique tokens",
    "tokens-200MB": "200 MB of unique tokens",
    "tokens-200MB-one-task": "200 MB of unique tokens in one map task (--chunk-size 200MB)",
    "report-3M-keys": "`logmr report` of a ~3 M-key job",
    "map-task-lambda": "a map task over 200 MB of tokens with the Lambda sizes",
    "finalize-lambda": "Finalize of that job",
    "chunk-size-1": "a chunk_size of 1 byte",
    "reducers-beyond": "reducers beyond what the state machine can run",
    "kill-9-worker": "kill -9 of one worker mid-job",
    "sigterm-cli": "SIGTERM to `logmr run ... | wc -c`",
    "disk-full": "disk full under LOGMR_HOME",
    "corrupt-database": "a corrupt results database: results, status, a new run",
    "home-is-file": "LOGMR_HOME that is a file",
    "workers-abc": "LOGMR_WORKERS=abc",
    "workers-0": "--workers 0 (and LOGMR_WORKERS=0) with --json",
    "shuffle-swapped": "a valid shuffle object of another task in a task's place",
    "summary-edited": "an edited map summary",
    "summary-truncated": "a truncated map summary",
}


# -- running the CLI -----------------------------------------------------------------
@dataclass
class Step:
    """One subprocess: exit code, output, peak memory of its tree."""

    code: int
    stdout: str
    stderr: str
    peak_bytes: int

    @property
    def message(self) -> str:
        """The last line of stderr; else a ``--json`` failure's error and cause."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        if lines:
            raised = [line for line in lines if RAISED.match(line)]
            if self.traceback and raised and not RAISED.match(lines[-1]):
                return _short(f"{lines[-1]} (raised: {raised[-1]})")
            return _short(lines[-1])
        answer = self.json() or {}
        if answer.get("error"):
            return _short(
                f"(--json) {answer.get('status')}: {answer['error']}: {answer.get('cause')}"
            )
        if answer.get("status"):
            return f"(--json) {answer['status']}"
        return "(nothing on stderr)"

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    def json(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self.stdout)
        except json.JSONDecodeError:
            return None
        return found if isinstance(found, dict) else None


@dataclass
class Outcome:
    """What a case ended with, in the table's terms."""

    exit: str
    message: str
    peak_mib: float | None
    #: counted minus counted-here (lines, or words: ``unit``); None: nothing counted
    delta: int | None = None
    unit: str = "lines"
    check: str = ""
    meets: bool = False
    traceback: bool = False
    expressible: bool = True


@dataclass
class Ctx:
    """A checkout to run, and a folder for one case's inputs and homes."""

    checkout: Path
    work: Path
    peaks: list[int] = field(default_factory=list)
    tracebacks: list[bool] = field(default_factory=list)

    def env(self, home: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STRIP}
        env["PYTHONPATH"] = str(self.checkout / "functions")
        env["LOGMR_HOME"] = str(home or self.home())
        env.update(extra or {})
        return env

    def home(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="home-", dir=self.work))

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "logmr.cli", *args]

    def cli(
        self,
        *args: str,
        home: Path | None = None,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
        setup: bool = False,
    ) -> Step:
        """``logmr ARGS`` to its end, measured (``run_watched``); a ``setup`` step
        (the job an attack aims at, a check of the record after) is not the
        case's peak."""
        argv = [*prefix, *self.argv(*args)]
        _, monitor, _, code, stdout, stderr = run_watched(argv, self.env(home, env))
        step = Step(code, stdout, stderr, monitor.peak_bytes)
        if not setup:
            self.peaks.append(step.peak_bytes)
        self.tracebacks.append(step.traceback)
        return step

    def start(
        self, *args: str, home: Path, stdout: Any = None
    ) -> tuple[subprocess.Popen[bytes], TreeMemory]:
        """``logmr ARGS`` started, its tree watched: for the cases that act on it."""
        process = subprocess.Popen(
            self.argv(*args),
            env=self.env(home),
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        monitor = TreeMemory(process.pid)
        monitor.start()
        return process, monitor

    def ended(self, process: subprocess.Popen[bytes], monitor: TreeMemory) -> Step:
        """Wait for a started process (killing its tree after ``HANG_S``)."""
        try:
            out, err = process.communicate(timeout=HANG_S)
            hung = False
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            out, err = process.communicate()
            hung = True
        monitor.finish()
        stderr = (err or b"").decode(errors="replace")
        if hung:
            stderr += f"\n(hang: still running after {HANG_S:.0f} s; its tree killed)"
        step = Step(
            process.returncode, (out or b"").decode(errors="replace"), stderr, monitor.peak_bytes
        )
        self.peaks.append(step.peak_bytes)
        self.tracebacks.append(step.traceback)
        return step

    def outcome(self, step: Step, **figures: Any) -> Outcome:
        """An outcome from ``step``, the case's peak and tracebacks over all its steps."""
        figures.setdefault("exit", str(step.code))
        figures.setdefault("message", step.message)
        return Outcome(
            peak_mib=round(max(self.peaks, default=0) / MIB, 1),
            traceback=any(self.tracebacks),
            **figures,
        )


def descendants(root: int) -> list[int]:
    """The pids under ``root`` (children first), from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(b")", 1)[1].split()[1]), []).append(int(name))
    found, todo = [], list(children.get(root, ()))
    while todo:
        pid = todo.pop(0)
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def kill_tree(root: int) -> None:
    """SIGKILL ``root`` and what it started (only the processes this script ran)."""
    for pid in [root, *descendants(root)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(home: Path, pattern: str, process: subprocess.Popen[bytes], limit: float = 60) -> bool:
    """Until a file matching ``pattern`` exists under ``home`` (False: the run ended first)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if next(home.rglob(pattern), None) is not None:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    return False


# -- counted here, from the bytes ------------------------------------------------------
def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def count_words(data: bytes) -> int:
    return len(WORD.findall(data.lower()))


def generate(ctx: Ctx, name: str, size: str, seed: int) -> Path:
    """A generated Apache combined log (this checkout's generator, the same bytes for both runs)."""
    path = ctx.work / name
    if not path.exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
        argv = [
            sys.executable,
            "-m",
            "logmr.cli",
            "generate",
            "-o",
            str(path),
            "--size",
            size,
            "--seed",
            str(seed),
        ]
        subprocess.run(argv, env=env, check=True, capture_output=True)
    return path


def small_log(ctx: Ctx) -> Path:
    return generate(ctx, "access-200KB.log", "200KB", 3)


def big_log(ctx: Ctx) -> Path:
    return generate(ctx, "access-30MB.log", "30MB", 5)


def joined(steps: Sequence[Step]) -> str:
    """The messages of several steps, each cut shorter."""
    return " / ".join(_short(step.message, 170) for step in steps)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refused(step: Step, error: str) -> bool:
    """The one-line error a case asks for: exit 1, no traceback, and either one line
    ``logmr: error: <error>...`` on stderr or (``--json``) a record whose error is it."""
    said = [line for line in step.stderr.splitlines() if line.strip()]
    if step.code != 1 or step.traceback:
        return False
    if said:
        return len(said) == 1 and said[0].startswith(f"logmr: error: {error}")
    return str((step.json() or {}).get("error", "")).startswith(error) and bool(error)


def word_delta(step: Step, data: bytes) -> int | None:
    """Words counted minus words here, from a ``--json`` run (None: it did not count)."""
    answer = step.json()
    if not answer or answer.get("status") != "SUCCEEDED":
        return None
    return sum(answer["results"].values()) - count_words(data)


def line_delta(step: Step, data: bytes) -> int | None:
    answer = step.json()
    if not answer or answer.get("status") != "SUCCEEDED":
        return None
    return int(answer["counters"]["lines"]) - count_lines(data)


# -- the cases: job identity -------------------------------------------------------------
def case_foreign_id(ctx: Ctx) -> Outcome:
    """A finished job, then failing requests under its id; the victim must stay as it was."""
    path, home = small_log(ctx), ctx.home()
    data = path.read_bytes()
    ctx.cli(
        "run",
        str(path),
        "--job",
        "word_count",
        "--job-id",
        "victim",
        "--json",
        home=home,
        setup=True,
    )
    attacks = [
        ("--job", "no_such_job"),
        ("--job", "top_paths", "--param", "top=-1"),
        ("--job", "word_count", "--reducers", "-1"),
    ]
    steps = [
        ctx.cli("run", str(path), *attack, "--job-id", "victim", home=home) for attack in attacks
    ]
    status = ctx.cli("status", "victim", "--json", home=home, setup=True).json() or {}
    results = ctx.cli("results", "victim", "--top", "100000000", "--json", home=home, setup=True)
    rows = _result_rows(results.stdout)
    delta = sum(rows.values()) - count_words(data) if rows else -count_words(data)
    victim = status.get("status")
    return ctx.outcome(
        steps[-1],
        exit=", ".join(str(step.code) for step in steps),
        message=joined(steps),
        delta=delta,
        unit="words (the victim's results after)",
        check=f"victim after the attacks: {victim}, {len(rows):,} results",
        meets=victim == "SUCCEEDED" and delta == 0 and all(s.code == 1 for s in steps),
    )


def _result_rows(text: str) -> dict[str, int]:
    """``logmr results --all --json``: one JSON object, or one per line."""
    text = text.strip()
    if not text:
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        found = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(found, dict):
        found = found.get("results", found)
    if isinstance(found, dict):
        return {str(k): int(v) for k, v in found.items() if isinstance(v, int)}
    return {
        str(row[0] if isinstance(row, list) else row["key"]): int(
            row[1] if isinstance(row, list) else row["value"]
        )
        for row in found
    }


def case_same_id_race(ctx: Ctx) -> Outcome:
    """Two ``logmr run --job-id race`` at once over different logs in one home."""
    home = ctx.home()
    logs = [generate(ctx, f"race-{n}.log", "2MB", 10 + n) for n in (1, 2)]
    runs = [
        ctx.start(
            "run",
            str(path),
            "--job",
            "word_count",
            "--job-id",
            "race",
            "--json",
            "--workers",
            "1",
            home=home,
        )
        for path in logs
    ]
    steps = [ctx.ended(*run) for run in runs]
    deltas = [word_delta(step, path.read_bytes()) for step, path in zip(steps, logs, strict=True)]
    counted = [d for d in deltas if d is not None]
    wrong = sum(abs(d) for d in counted)
    ok = sorted(step.code for step in steps) == [0, 1] and wrong == 0
    refused_one = [step for step in steps if step.code != 0]
    return ctx.outcome(
        refused_one[0] if refused_one else steps[1],
        exit=", ".join(str(step.code) for step in steps),
        delta=wrong if counted else None,
        unit="words (each successful run against its own log)",
        check=f"{len(counted)} of 2 runs SUCCEEDED",
        meets=ok and refused(refused_one[0], "JobExistsError"),
    )


def case_malformed_job_name(ctx: Ctx) -> Outcome:
    path = small_log(ctx)
    steps = [ctx.cli("run", str(path), "--job", name) for name in (":X", ".X", "..x:Y")]
    return ctx.outcome(
        steps[-1],
        exit=", ".join(str(step.code) for step in steps),
        message=joined(steps),
        meets=all(refused(step, "InvalidJobError") for step in steps),
    )


def case_terminal_controls(ctx: Ctx) -> Outcome:
    """Keys holding ESC[2J and an OSC title sequence, shown in the CLI's table."""
    line = b"ok \x1b[2Jclear \x1b]0;owned\x07title \xe2\x80\xaeevil\n"
    data = line * 50
    path = ctx.work / "controls.log"
    path.write_bytes(data)
    step = ctx.cli(
        "run", str(path), "--job", "pattern_count", "--param", r"pattern=\S+", "--top", "100"
    )
    shown = step.stdout.encode()
    raw = [c for c in (b"\x1b", b"\x07", b"\xe2\x80\xae") if c in shown]
    return ctx.outcome(
        step,
        message=step.message if step.code else f"table: {len(step.stdout.splitlines())} lines",
        check=f"raw controls on stdout: {', '.join(repr(c) for c in raw) or 'none'}",
        meets=step.code == 0 and not raw and "\\x1b" in step.stdout,
    )


# -- inputs that change, repeat or cannot be read ------------------------------------------
def case_copytruncate(ctx: Ctx) -> Outcome:
    """Truncate the log to nothing (logrotate's copytruncate) once Plan has written its plan."""
    source = big_log(ctx)
    data = source.read_bytes()
    path = ctx.work / "rotating.log"
    path.write_bytes(data)
    home = ctx.home()
    process, monitor = ctx.start(
        "run", str(path), "--job", "access_report", "--chunk-size", "1MB", "--json", home=home
    )
    planned = wait_for(home, "plan.json", process)
    with open(path, "r+b") as log:
        log.truncate(0)
    step = ctx.ended(process, monitor)
    if not planned:
        return ctx.outcome(step, check="the job ended before its plan appeared: not reached")
    delta = line_delta(step, data)
    return ctx.outcome(
        step,
        delta=delta,
        check="truncated to 0 bytes when plan.json appeared",
        meets=refused(step, "InputChangedError"),
    )


def case_same_object_twice(ctx: Ctx) -> Outcome:
    folder = ctx.work / "twice"
    folder.mkdir(exist_ok=True)
    data = small_log(ctx).read_bytes()
    path = folder / "a.log"
    path.write_bytes(data)
    link = ctx.work / "link.log"
    if not link.exists():
        link.symlink_to(path)
    step = ctx.cli(
        "run", str(path), str(path), str(folder), str(link), "--job", "word_count", "--json"
    )
    delta = word_delta(step, data)
    counters = (step.json() or {}).get("counters", {})
    return ctx.outcome(
        step,
        delta=delta,
        unit="words",
        check=f"repeated_inputs: {counters.get('repeated_inputs', '(no counter)')}",
        meets=step.code == 0 and delta == 0,
    )


def case_fifty_copies(ctx: Ctx) -> Outcome:
    path = small_log(ctx)
    data = path.read_bytes()
    plan = ctx.cli("plan", *[str(path)] * 50, "--job", "word_count", "--json")
    step = ctx.cli("run", *[str(path)] * 50, "--job", "word_count", "--json")
    tasks = _map_tasks(plan.json())
    delta = word_delta(step, data)
    return ctx.outcome(
        step,
        delta=delta,
        unit="words",
        check=f"logmr plan: {tasks} map tasks",
        meets=step.code == 0 and delta == 0 and tasks == 1,
    )


def _map_tasks(plan: dict[str, Any] | None) -> Any:
    if not plan:
        return "?"
    for key in ("map_tasks", "tasks"):
        if key in plan:
            value = plan[key]
            return len(value) if isinstance(value, list) else value
    return plan.get("plan", {}).get("map_tasks", "?")


def case_unreadable_subfolder(ctx: Ctx) -> Outcome:
    """A folder whose sub-folder cannot be listed: root without DAC override (``setpriv``)."""
    folder = ctx.work / "locked"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    data = small_log(ctx).read_bytes()
    half = data[: len(data) // 2].rsplit(b"\n", 1)[0] + b"\n"
    (folder / "a.log").write_bytes(half)
    (folder / "sub" / "b.log").write_bytes(data[len(half) :])
    (folder / "sub").chmod(0)
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    try:
        step = ctx.cli("run", str(folder), "--job", "word_count", "--json", prefix=prefix)
    finally:
        (folder / "sub").chmod(0o755)
    return ctx.outcome(
        step,
        delta=word_delta(step, data),
        unit="words",
        meets=refused(step, "InputUnreadableError"),
    )


def _packed_case(ctx: Ctx, name: str, packed: bytes, decodable: bool, error: str = "") -> Outcome:
    data = small_log(ctx).read_bytes()
    path = ctx.work / name
    path.write_bytes(packed)
    step = ctx.cli("run", str(path), "--job", "word_count", "--json")
    delta = word_delta(step, data)
    meets = (step.code == 0 and delta == 0) if decodable else refused(step, error)
    keys = len((step.json() or {}).get("results", {}))
    return ctx.outcome(
        step,
        message=step.message if step.code else f"SUCCEEDED: {keys:,} keys",
        delta=delta,
        unit="words",
        meets=meets,
    )


def case_xz(ctx: Ctx) -> Outcome:
    return _packed_case(ctx, "a.log.xz", lzma.compress(small_log(ctx).read_bytes()), True)


def case_lz4(ctx: Ctx) -> Outcome:
    path = ctx.work / "a.log.lz4"
    subprocess.run(["lz4", "-q", "-f", str(small_log(ctx)), str(path)], check=True)
    return _packed_case(ctx, "lz4.log", path.read_bytes(), False, "UnsupportedInputError")


def case_zip(ctx: Ctx) -> Outcome:
    path = ctx.work / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(small_log(ctx), "a.log")
    return _packed_case(ctx, "zip.log", path.read_bytes(), False, "UnsupportedInputError")


def case_utf16(ctx: Ctx) -> Outcome:
    text = small_log(ctx).read_bytes().decode()
    return _packed_case(ctx, "utf16.log", text.encode("utf-16"), False, "UnsupportedInputError")


def case_utf32(ctx: Ctx) -> Outcome:
    text = small_log(ctx).read_bytes().decode()
    return _packed_case(ctx, "utf32.log", text.encode("utf-32"), False, "UnsupportedInputError")


# -- one bad line ------------------------------------------------------------------------
def case_lone_surrogate(ctx: Ctx) -> Outcome:
    good = [b'{"level": "info", "message": "ok %d"}' % n for n in range(200)]
    data = b"\n".join([*good, b'{"level": "\\ud800", "message": "lone"}']) + b"\n"
    path = ctx.work / "surrogate.jsonl"
    path.write_bytes(data)
    step = ctx.cli("run", str(path), "--job", "level_counts", "--format", "jsonl", "--json")
    answer = step.json() or {}
    counted = sum(answer.get("results", {}).values()) if step.code == 0 else None
    return ctx.outcome(
        step,
        message=step.message if step.code else f"SUCCEEDED: {answer.get('results')}",
        delta=None if counted is None else counted - count_lines(data),
        unit="records",
        meets=step.code == 0 and counted == count_lines(data),
    )


def case_size_400_digits(ctx: Ctx) -> Outcome:
    line = '10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET /{} HTTP/1.1" 200 {} "-" "ua"\n'
    sizes = ["9" * 400, *(str(100 + n) for n in range(99))]
    data = "".join(line.format(n, size) for n, size in enumerate(sizes)).encode()
    path = ctx.work / "huge-size.log"
    path.write_bytes(data)
    jobs = ("bytes_total", "percentiles", "access_report")
    steps = [
        ctx.cli("run", str(path), "--job", job, "--format", "apache_combined", "--json")
        for job in jobs
    ]
    deltas = [line_delta(step, data) for step in steps]
    return ctx.outcome(
        steps[0],
        exit=", ".join(str(step.code) for step in steps),
        message=" / ".join(step.message if step.code else "SUCCEEDED" for step in steps),
        delta=None if None in deltas else sum(abs(d) for d in deltas if d is not None),
        check=f"jobs {', '.join(jobs)}",
        meets=all(step.code == 0 for step in steps) and deltas == [0, 0, 0],
    )


# -- requests bounded --------------------------------------------------------------------
def case_chunk_size_1(ctx: Ctx) -> Outcome:
    step = ctx.cli(
        "plan", str(small_log(ctx)), "--job", "word_count", "--chunk-size", "1", "--json"
    )
    message = step.message if step.code else f"plan: {_map_tasks(step.json())} map tasks"
    return ctx.outcome(step, message=message, meets=refused(step, "InvalidParameterError"))


def case_reducers_beyond(ctx: Ctx) -> Outcome:
    step = ctx.cli("run", str(small_log(ctx)), "--job", "word_count", "--reducers", "467", "--json")
    message = step.message if step.code else "SUCCEEDED with 467 reducers"
    return ctx.outcome(
        step,
        message=message,
        delta=word_delta(step, small_log(ctx).read_bytes()),
        unit="words",
        meets=refused(step, "InvalidParameterError"),
    )


# -- dying processes and broken state ----------------------------------------------------------
def case_kill_9_worker(ctx: Ctx) -> Outcome:
    path, home = big_log(ctx), ctx.home()
    data = path.read_bytes()
    process, monitor = ctx.start(
        "run",
        str(path),
        "--job",
        "word_count",
        "--chunk-size",
        "1MB",
        "--workers",
        "2",
        "--json",
        home=home,
    )
    reached = wait_for(home, "m-00000.json", process)
    workers = [pid for pid in descendants(process.pid) if "spawn_main" in cmdline(pid)]
    if reached and workers:
        os.kill(workers[0], signal.SIGKILL)
    step = ctx.ended(process, monitor)
    status = _status(ctx, step, home)
    delta = word_delta(step, data)
    return ctx.outcome(
        step,
        message=step.message if step.code else "SUCCEEDED",
        delta=delta,
        unit="words",
        check=(
            f"worker {workers[0]} killed after the first map summary; record {status}"
            if reached and workers
            else "not reached: no worker or no summary"
        ),
        meets=step.code == 0 and delta == 0,
    )


def _status(ctx: Ctx, step: Step, home: Path) -> str:
    """The job record's status (the job id from the output or the only record)."""
    job_id = (step.json() or {}).get("job_id")
    if job_id is None:
        jobs = sorted((home / "objects" / "jobs").glob("*"))
        job_id = jobs[-1].name if jobs else None
    if job_id is None:
        return "(no job)"
    record = ctx.cli("status", job_id, "--json", home=home, setup=True).json() or {}
    return f"{record.get('status', '?')} {record.get('error') or ''}".strip()


def case_sigterm_cli(ctx: Ctx) -> Outcome:
    """``logmr run ... | wc -c``: SIGTERM to the CLI once Map runs; the pipe must end."""
    path, home = big_log(ctx), ctx.home()
    read_end, write_end = os.pipe()
    process, monitor = ctx.start(
        "run",
        str(path),
        "--job",
        "access_report",
        "--chunk-size",
        "1MB",
        "--workers",
        "2",
        home=home,
        stdout=write_end,
    )
    os.close(write_end)
    reached = wait_for(home, "m-00000.json", process)
    tree = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    ended = _pipe_ends(read_end, PIPE_END_S)
    os.close(read_end)
    left = [pid for pid in tree if Path(f"/proc/{pid}").exists() and "spawn_main" in cmdline(pid)]
    for pid in left:  # orphans this script started: end them
        os.kill(pid, signal.SIGKILL)
    step = ctx.ended(process, monitor)
    status = _status(ctx, step, home)
    return ctx.outcome(
        step,
        check=(
            f"pipe {'ended' if ended else f'still open after {PIPE_END_S:.0f} s'}; "
            f"{len(left)} workers left; record {status}"
            if reached
            else "not reached"
        ),
        meets=reached and ended and not left and ("FAILED" in status or "ABORTED" in status),
    )


def _pipe_ends(fd: int, limit: float) -> bool:
    """Read ``fd`` (as ``wc -c`` would) until EOF; False if it stays open ``limit`` seconds."""
    import select

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready and not os.read(fd, 65536):
            return True
    return False


def case_disk_full(ctx: Ctx) -> Outcome:
    """A 2 MB tmpfs as LOGMR_HOME, a job whose shuffle needs more."""
    mount = ctx.work / "tmpfs"
    mount.mkdir(exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode:
        return Outcome(
            "-",
            "cannot mount a tmpfs: see test_a_full_disk_fails_the_job_at_once_naming_the_path",
            None,
            expressible=False,
        )
    try:
        path = ctx.work / "tokens-8MB.log"
        if not path.exists():
            _write_tokens(path, "8MB")
        home = mount / "home"
        step = ctx.cli(
            "run", str(path), "--job", "word_count", "--json", "--job-id", "full", home=home
        )
        record = ctx.cli("status", "full", "--json", home=home, setup=True)
        status = (record.json() or {}).get("status", record.message)
    finally:
        subprocess.run(["umount", str(mount)], check=False)
    return ctx.outcome(
        step,
        check=f"record: {status}",
        meets=refused(step, "StorageFullError") and status == "FAILED",
    )


def case_corrupt_database(ctx: Ctx) -> Outcome:
    path, home = small_log(ctx), ctx.home()
    ctx.cli(
        "run", str(path), "--job", "word_count", "--job-id", "kept", "--json", home=home, setup=True
    )
    database = home / "logmr.sqlite"
    database.write_bytes(b"not a database, whatever it was" * 100)
    for extra in home.glob("logmr.sqlite-*"):  # its journal or WAL, if any
        extra.unlink()
    steps = [
        ctx.cli("results", "kept", home=home),
        ctx.cli("status", "kept", home=home),
        ctx.cli("run", str(path), "--job", "word_count", "--json", home=home),
    ]
    return ctx.outcome(
        steps[-1],
        exit=", ".join(str(step.code) for step in steps),
        message=joined(steps),
        check="results, status, then a new run",
        meets=all(refused(step, "LocalStoreError") for step in steps),
    )


def case_home_is_file(ctx: Ctx) -> Outcome:
    home = ctx.work / "home-file"
    home.write_bytes(b"")
    step = ctx.cli("run", str(small_log(ctx)), "--job", "word_count", home=home)
    return ctx.outcome(step, meets=refused(step, "LocalStoreError"))


def case_workers_abc(ctx: Ctx) -> Outcome:
    step = ctx.cli("run", str(small_log(ctx)), "--job", "word_count", env={"LOGMR_WORKERS": "abc"})
    return ctx.outcome(
        step, meets=step.code in (1, 2) and not step.traceback and "LOGMR_WORKERS" in step.message
    )


def case_workers_0(ctx: Ctx) -> Outcome:
    path = small_log(ctx)
    flag = ctx.cli("run", str(path), "--job", "word_count", "--workers", "0", "--json")
    env = ctx.cli("run", str(path), "--job", "word_count", "--json", env={"LOGMR_WORKERS": "0"})
    clean = all(step.json() is not None or not step.stdout.strip() for step in (flag, env))
    return ctx.outcome(
        flag,
        exit=f"{flag.code}, {env.code}",
        message=f"{flag.message} / {env.message}",
        check=f"stdout {'JSON or empty' if clean else 'not JSON (log lines mixed in)'}",
        meets=flag.code == 2
        and "--workers" in flag.message
        and refused(env, "")
        and "LOGMR_WORKERS" in env.message
        and clean,
    )


def _write_tokens(path: Path, size: str) -> None:
    """``bench/memory.py tokens``: lines of distinct 10-hex-digit tokens."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "memory.py"),
            "tokens",
            "--size",
            size,
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


# -- memory ------------------------------------------------------------------------------------
def _long_lines_case(ctx: Ctx, file: str, job: str, extra: list[str]) -> Outcome:
    """``bench/long_lines.py``'s input and command (``logmr run PATH --job J --json --top 3``)."""
    import long_lines

    long_lines.write_inputs(ctx.work.parent / "long-lines")
    path = ctx.work.parent / "long-lines" / file
    step = ctx.cli("run", str(path), "--job", job, *extra, "--json", "--top", "3")
    counters = (step.json() or {}).get("counters", {})
    return ctx.outcome(
        step,
        message=step.message if step.code else long_lines._said(step.stdout, step.stderr),
        delta=None if not counters else int(counters["lines"]) - 1,
        check=f"long_lines counter: {counters.get('long_lines', '(none)')}",
        meets=step.code == 0 and counters.get("lines") == 1,
    )


def case_line_200mb(ctx: Ctx) -> Outcome:
    return _long_lines_case(ctx, "line-200MB.log", "word_count", [])


def case_gzip_bomb(ctx: Ctx) -> Outcome:
    found = _long_lines_case(ctx, "zeros-1GB.gz", "word_count", [])
    plan = ctx.cli(
        "plan", str(ctx.work.parent / "long-lines" / "zeros-1GB.gz"), "--job", "word_count"
    )
    said = next(
        (line for line in plan.stdout.splitlines() if "decompress" in line or "map task" in line),
        plan.message,
    )
    found.check = f"logmr plan: {said.strip()[:160]}"
    return found


def _tokens(ctx: Ctx, size: str) -> Path:
    path = ctx.work.parent / "tokens" / f"tokens-{size}.log"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        _write_tokens(path, size)
    return path


#: the token runs made, by checkout and arguments: Finalize's case reads the job of tokens-200MB's
_TOKEN_RUNS: dict[tuple[Path, str, tuple[str, ...]], tuple[Outcome, Step, Path]] = {}


def _tokens_run(ctx: Ctx, size: str, *extra: str) -> tuple[Outcome, Step, Path]:
    key = (ctx.checkout, size, extra)
    if key not in _TOKEN_RUNS:
        _TOKEN_RUNS[key] = _tokens_job(ctx, size, *extra)
    return _TOKEN_RUNS[key]


def _tokens_job(ctx: Ctx, size: str, *extra: str) -> tuple[Outcome, Step, Path]:
    path, home = _tokens(ctx, size), ctx.home()
    step = ctx.cli(
        "run", str(path), "--job", "word_count", *extra, "--json", "--top", "1", home=home
    )
    lines = _count_file_lines(path)
    job_id = (step.json() or {}).get("job_id", "?")
    record = ctx.cli("status", job_id, "--json", home=home, setup=True).json() or {}
    keys = record.get("result_keys")
    answer = step.json() or {}
    delta = None if step.code else int(answer["counters"]["lines"]) - lines
    found = ctx.outcome(
        step,
        message=step.message if step.code else f"SUCCEEDED: {lines:,} lines, {keys:,} keys",
        delta=delta,
        check=f"result_keys {keys} of {lines * 8:,} tokens (each once)",
        meets=step.code == 0 and delta == 0 and keys == lines * 8,
    )
    return found, step, home


def _count_file_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 * MIB), b""):
            count += block.count(b"\n")
    return count


def case_tokens_50mb(ctx: Ctx) -> Outcome:
    return _tokens_run(ctx, "50MB")[0]


def case_tokens_100mb(ctx: Ctx) -> Outcome:
    return _tokens_run(ctx, "100MB")[0]


def case_tokens_200mb(ctx: Ctx) -> Outcome:
    return _tokens_run(ctx, "200MB")[0]


def case_tokens_200mb_one_task(ctx: Ctx) -> Outcome:
    """One map task of 18 M new keys: what a sample that misjudged the keys plans."""
    return _tokens_run(ctx, "200MB", "--chunk-size", "200MB")[0]


def _memory_py(ctx: Ctx, *args: str) -> tuple[dict[str, Any] | None, str]:
    """``bench/memory.py --checkout CHECKOUT ARGS``: its JSON line, or its error."""
    argv = [
        sys.executable,
        str(ROOT / "bench" / "memory.py"),
        "--checkout",
        str(ctx.checkout),
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_S * 5, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return None, (done.stderr.strip().splitlines() or ["(no output)"])[-1][:240]
    return json.loads(lines[-1]), ""


def case_report_3m_keys(ctx: Ctx) -> Outcome:
    """``logmr report`` of word_count over 33 MB of tokens (3.0 M keys): memory.py's ``report``."""
    ran, step, home = _tokens_run(ctx, "33MB")
    if step.code:
        return ran
    found, error = _memory_py(ctx, "report", step.json()["job_id"], "--home", str(home))  # type: ignore[index]
    if found is None:
        return Outcome("1", error, None)
    return Outcome(
        "0",
        f"page {found['page_bytes']:,} bytes (sha256 {found['page_sha256']})",
        found["maxrss_mib"],
        check=f"the job: {ran.message}",
        meets=True,
    )


def case_map_task_lambda(ctx: Ctx) -> Outcome:
    """memory.py's ``map``: Plan with ``Limits()`` (the Lambda sizes), its first map task alone."""
    found, error = _memory_py(ctx, "map", str(_tokens(ctx, "200MB")), "--home", str(ctx.home()))
    if found is None:
        return Outcome("1", error, None)
    return Outcome(
        "0",
        f"{found['map_tasks']} map tasks of {found['chunk_mib']} MiB; task 0: {found['records']:,}"
        f" records, {found.get('segments', 1)} segments",
        found["maxrss_mib"],
        check="the Map function has 1,769 MB",
        meets=found["maxrss_mib"] < 1769,
    )


def case_finalize_lambda(ctx: Ctx) -> Outcome:
    """memory.py's ``finalize`` of the 200 MB tokens job."""
    ran, step, home = _tokens_run(ctx, "200MB")
    if step.code:
        return ran
    found, error = _memory_py(ctx, "finalize", step.json()["job_id"], "--home", str(home))  # type: ignore[index]
    if found is None:
        return Outcome("1", error, None)
    return Outcome(
        "0",
        f"Finalize of {found['map_tasks']} map tasks, {found['reducers']} reducers:"
        f" {found['result_keys']:,} keys",
        found["maxrss_mib"],
        check="the Finalize function has 1,024 MB",
        meets=found["maxrss_mib"] < 1024,
    )


# -- the case list ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    item: str
    run: Callable[[Ctx], Outcome] | None = None
    #: pytest node ids that assert the outcome (for the cases no CLI can reach)
    tests: tuple[str, ...] = ()
    memory: bool = False
    #: what the issue reported before (for the cases that are tests)
    issue_before: str = ""


CASES: tuple[Case, ...] = (
    Case("foreign-id", case_foreign_id),
    Case(
        "foreign-id-aws",
        tests=(
            "tests/test_faults.py::test_a_failing_request_under_another_jobs_id_leaves_that_job_alone",
            "tests/test_allowlist.py::test_a_refused_input_under_another_jobs_id_leaves_that_job_alone",
        ),
        issue_before="a SUCCEEDED job became FAILED and GET /jobs/{id}/results returned no rows",
    ),
    Case("same-id-race", case_same_id_race),
    Case(
        "same-id-dynamodb",
        tests=(
            "tests/test_aws_dynamodb.py::test_a_job_id_is_claimed_once_and_written_only_by_its_execution",
            "tests/test_stores.py::test_a_job_id_is_claimed_once_and_written_only_by_its_execution",
        ),
        issue_before="an unconditional PutItem: two executions write one record",
    ),
    Case(
        "job-module-import",
        tests=(
            "tests/test_allowlist.py::test_plan_on_aws_imports_no_module_the_stack_does_not_allow",
        ),
        issue_before="the module named in `job` imported (its top-level code run) before"
        " the allow-list was checked",
    ),
    Case("malformed-job-name", case_malformed_job_name),
    Case("terminal-controls", case_terminal_controls),
    Case("copytruncate", case_copytruncate),
    Case(
        "s3-overwritten",
        tests=(
            "tests/test_badinput.py::test_an_s3_object_overwritten_after_plan_is_input_changed",
        ),
        issue_before="SUCCEEDED with a mix of two versions",
    ),
    Case("same-object-twice", case_same_object_twice),
    Case("fifty-copies", case_fifty_copies),
    Case("unreadable-subfolder", case_unreadable_subfolder),
    Case("xz", case_xz),
    Case("lz4", case_lz4),
    Case("zip", case_zip),
    Case("utf16", case_utf16),
    Case("utf32", case_utf32),
    Case("lone-surrogate", case_lone_surrogate),
    Case("size-400-digits", case_size_400_digits),
    Case(
        "dynamodb-keys",
        tests=(
            "tests/test_badinput.py::test_empty_and_long_keys_are_stored_on_dynamodb_as_locally",
        ),
        issue_before="the whole job FAILED on DynamoDB (ValidationException) while it"
        " succeeded locally",
    ),
    Case("line-200MB", case_line_200mb, memory=True),
    Case("gzip-bomb", case_gzip_bomb, memory=True),
    Case("tokens-50MB", case_tokens_50mb, memory=True),
    Case("tokens-100MB", case_tokens_100mb, memory=True),
    Case("tokens-200MB", case_tokens_200mb, memory=True),
    Case("tokens-200MB-one-task", case_tokens_200mb_one_task, memory=True),
    Case("report-3M-keys", case_report_3m_keys, memory=True),
    Case("map-task-lambda", case_map_task_lambda, memory=True),
    Case("finalize-lambda", case_finalize_lambda, memory=True),
    Case("chunk-size-1", case_chunk_size_1),
    Case("reducers-beyond", case_reducers_beyond),
    Case("kill-9-worker", case_kill_9_worker),
    Case("sigterm-cli", case_sigterm_cli),
    Case("disk-full", case_disk_full),
    Case("corrupt-database", case_corrupt_database),
    Case("home-is-file", case_home_is_file),
    Case("workers-abc", case_workers_abc),
    Case("workers-0", case_workers_0),
    Case(
        "shuffle-swapped",
        tests=(
            "tests/test_faults.py::test_job_data_of_another_task_job_or_attempt_fails_the_job_naming_it",
            "tests/test_faults.py::test_a_swapped_shuffle_object_on_s3_fails_the_job_naming_it",
        ),
        issue_before="accepted: the CRC does not bind an object to its job and task",
    ),
    Case(
        "summary-edited",
        tests=(
            "tests/test_faults.py::test_job_data_of_another_task_job_or_attempt_fails_the_job_naming_it",
        ),
        issue_before="an edited map summary believed",
    ),
    Case(
        "summary-truncated",
        tests=("tests/test_badinput.py::test_a_cut_task_summary_is_corrupt_job_data_naming_it",),
        issue_before="JSONDecodeError naming no file",
    ),
)


# -- running and reporting ------------------------------------------------------------------------
def run_case(case: Case, checkout: Path, scratch: Path) -> dict[str, Any]:
    assert case.run is not None
    work = scratch / case.item
    work.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(checkout, work)
    started = time.perf_counter()
    try:
        outcome = case.run(ctx)
    except Exception as error:  # a case's own failure: reported, the others still run
        outcome = Outcome("-", f"the case itself failed: {type(error).__name__}: {error}", None)
    if "unrecognized arguments" in outcome.message or "invalid choice" in outcome.message:
        outcome.expressible = False
    row = asdict(outcome)
    for name in ("message", "check"):  # the scratch folder's name says nothing
        row[name] = row[name].replace(str(work), "CASE")
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def run_tests(cases: Sequence[Case]) -> dict[str, str]:
    """Each named test's outcome (passed, failed, ...), run with pytest in this checkout."""
    ids = sorted({test for case in cases for test in case.tests})
    if not ids:
        return {}
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "junit.xml"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("functions", "", "tests")),
        }
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            f"--junitxml={report}",
            *ids,
        ]
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=1800, check=False)
        return _junit_outcomes(report)


def _junit_outcomes(report: Path) -> dict[str, str]:
    """``{node id without parameters: passed|failed|skipped}`` (failed wins over passed)."""
    from xml.etree import ElementTree

    found: dict[str, str] = {}
    for test in ElementTree.parse(report).iter("testcase"):
        module = test.get("classname", "").replace(".", "/") + ".py"
        name = test.get("name", "").split("[")[0]
        kinds = {child.tag for child in test}
        state = (
            "failed"
            if kinds & {"failure", "error"}
            else "skipped"
            if "skipped" in kinds
            else "passed"
        )
        key = f"{module}::{name}"
        seen = {state, found.get(key, state)}  # over a test's parameters
        found[key] = next(s for s in ("failed", "passed", "skipped") if s in seen)
    return found


def test_row(case: Case, outcomes: dict[str, str]) -> dict[str, Any]:
    states = [outcomes.get(test, "not run") for test in case.tests]
    return {
        "exit": "-",
        "message": "; ".join(
            f"`{Path(t).name}` {s}" for t, s in zip(case.tests, states, strict=True)
        ),
        "peak_mib": None,
        "delta": 0 if all(s == "passed" for s in states) else None,
        "unit": "the test's exact count",
        "check": "",
        "meets": all(s == "passed" for s in states),
        "traceback": False,
        "expressible": True,
    }


def git_commit(checkout: Path) -> str:
    """HEAD, and the last commit that changed logmr's code (``functions``)."""
    code = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h", "--", "functions"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    head = done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    return f"{head} (functions/ last changed in {code})"


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as info:
        total = int(info.readline().split()[1]) * 1024
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(total / 1024**3, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "not run"
    if not row["expressible"]:
        return f"cannot express: {_md(row['message'])}"
    peak = "-" if row["peak_mib"] is None else f"{row['peak_mib']:,.0f} MiB"
    delta = "-" if row["delta"] is None else f"{row['delta']:+,}"
    parts = [f"exit {row['exit']}", _md(row["message"]), f"peak {peak}", f"lost/double {delta}"]
    if row["check"]:
        parts.append(_md(row["check"]))
    if row["traceback"]:
        parts.append("**traceback**")
    return "; ".join(parts)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    runs = report.get("runs") or [report]
    lines = [
        "# Hostile input (issue 18): the closing table",
        "",
        "Written by " + "; ".join(f"`{run['command']}` ({run['date']})" for run in runs) + ".",
        f"After: {report['after_commit']}; before: {report.get('before_commit') or 'not run'}"
        + (f" (`{report['before']}`)" if report.get("before") else "")
        + ".",
        f"Machine: {report['machine']['cpus']} cores, {report['machine']['memory_gib']} GiB, Python"
        f" {report['machine']['python']}, Linux {report['machine']['kernel']}; shared with other"
        f" work (load average {', '.join(str(run['machine']['load_average']) for run in runs)} at"
        " the start of each run): peaks are resident"
        " memory, which sharing does not change; no times are compared.",
        "",
        "Each cell: exit code; the last line of stderr (or what the run printed); the peak"
        " resident memory of the process tree (summed VmRSS, polled every 20 ms); lines or words"
        " counted minus those counted from the bytes (lost: negative, double-counted: positive;"
        " `-`: nothing counted); what else was checked. **meets** says whether the after run"
        " ends as the issue demands (exact results, or a one-line error naming the cause);"
        " `open` marks one that does not. Rows that are tests ran with pytest in the after"
        " checkout; their before is what the issue reported.",
        "",
        "| item | before | after | meets |",
        "|---|---|---|---|",
    ]
    for item in report["rows"]:
        before = item.get("before")
        after = item.get("after")
        if item["tests"]:
            before_text = f"as the issue reported: {item['issue_before']}"
        else:
            before_text = _cell(before) if report.get("before") else "not run"
        verdict = "not run" if after is None else "yes" if after["meets"] else "**open**"
        lines.append(
            f"| {item['item']}: {_md(ISSUE_ITEMS[item['item']])} | {before_text} |"
            f" {_cell(after)} | {verdict} |"
        )
    if report.get("note"):
        lines += ["", report["note"]]
    lines += [
        "",
        f"Lines or words lost or double-counted after, across all rows that counted:"
        f" **{report['after_lost_or_double']:,}**"
        + (f"; before: {report['before_lost_or_double']:,}." if report.get("before") else "."),
        "",
        "Reproduce:",
        "",
        "```sh",
        "git -C /work/main worktree add /work/wt-hostile-before b54449a^",
        "python bench/hostile.py --before /work/wt-hostile-before          # all cases",
        "python bench/hostile.py --before /work/wt-hostile-before --quick  # no memory cases",
        "```",
    ]
    if report.get("runs"):
        lines += [
            "",
            "This table merges the runs named at the top (the quick cases on both sides, the memory"
            " cases one side per run):",
            "",
            "```sh",
            "python bench/hostile.py --merge QUICK.json AFTER-MEMORY.json BEFORE-MEMORY.json"
            " --output bench/results/hostile.json",
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to run the same cases in")
    parser.add_argument("--quick", action="store_true", help="leave out the memory cases")
    parser.add_argument("--cases", help="comma-separated items (default: all)")
    parser.add_argument("--no-tests", action="store_true", help="do not run the cited tests")
    parser.add_argument(
        "--sides",
        default="before,after",
        help="which checkouts to run: before, after or both (default)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="run nothing: merge reports (later files' rows win) into --output",
    )
    parser.add_argument("--note", default="", help="a paragraph for the table's page (--merge)")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="the .json (the .md beside)"
    )
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.output, args.note)
    sides = set(args.sides.split(","))
    chosen = [c for c in CASES if not (args.quick and c.memory)]
    if args.cases:
        wanted = set(args.cases.split(","))
        unknown = wanted - {c.item for c in CASES}
        if unknown:
            parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
        chosen = [c for c in chosen if c.item in wanted]
    report: dict[str, Any] = {
        "command": "python bench/hostile.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "after_commit": git_commit(ROOT),
        "before": str(args.before) if args.before else None,
        "before_commit": git_commit(args.before) if args.before else None,
        "rows": [],
    }
    outcomes = {} if args.no_tests or "after" not in sides else run_tests(chosen)
    with tempfile.TemporaryDirectory(prefix="logmr-hostile-") as scratch:
        for case in chosen:
            row: dict[str, Any] = {
                "item": case.item,
                "tests": list(case.tests),
                "issue_before": case.issue_before,
            }
            if case.tests:
                if "after" in sides:
                    row["after"] = (
                        test_row(case, outcomes)
                        if not args.no_tests
                        else {**test_row(case, {}), "message": "tests not run (--no-tests)"}
                    )
            else:
                if args.before and "before" in sides:
                    row["before"] = run_case(case, args.before.resolve(), Path(scratch) / "before")
                if "after" in sides:
                    row["after"] = run_case(case, ROOT, Path(scratch) / "after")
            report["rows"].append(row)
            for side in ("before", "after"):
                if side in row:
                    print(f"{case.item} [{side}]: {_cell(row[side])}", flush=True)
            write(report, args.output)  # after every case: a long run that stops keeps its rows
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")
    return 0 if all(row.get("after", {}).get("meets", True) for row in report["rows"]) else 1


def write(report: dict[str, Any], output: Path) -> None:
    for side in ("after", "before"):
        deltas = [abs(r[side]["delta"]) for r in report["rows"] if r.get(side) and r[side]["delta"]]
        report[f"{side}_lost_or_double"] = sum(deltas)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(report))


def merge(inputs: Sequence[Path], output: Path, note: str = "") -> int:
    """One report of several runs' (e.g. ``--quick`` and the memory cases, each side
    run apart): rows in the case list's order, a later file's side of a row winning."""
    reports = [json.loads(path.read_text()) for path in inputs]
    rows: dict[str, dict[str, Any]] = {}
    for found in reports:
        for row in found["rows"]:
            rows.setdefault(row["item"], {}).update(row)
    merged = {
        **reports[0],
        "runs": [
            {k: r[k] for k in ("command", "date", "machine", "after_commit", "before_commit")}
            for r in reports
        ],
    }
    merged["note"] = note
    merged["before"] = next((r["before"] for r in reports if r.get("before")), None)
    merged["before_commit"] = next(
        (r["before_commit"] for r in reports if r.get("before_commit")), None
    )
    merged["rows"] = [  # every case: one no run reached says "not run"
        rows.get(
            case.item,
            {"item": case.item, "tests": list(case.tests), "issue_before": case.issue_before},
        )
        for case in CASES
    ]
    write(merged, output)
    print(f"wrote {output} and {output.with_suffix('.md')}")
    return 0 if all(row.get("after", {}).get("meets", True) for row in merged["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
