"""Peak memory of the many-keys cases (issue 18): a whole job, one map task
with the Lambda sizes, one reduce task, Finalize, and ``logmr report``.

Every figure is a peak resident set: of the process tree (summed VmRSS,
polled) and of each process (its own high-water mark, VmHWM, polled; for a
single process, ``wait4``'s ``ru_maxrss``). Run it from a checkout whose
``functions`` is on ``PYTHONPATH`` (``python bench/memory.py ...``: the
checkout this file is in); ``--before DIR`` is not needed: run the same
commands in another checkout (``git worktree add``) to compare.

Commands::

    tokens --size 200MB -o FILE     write lines of 10-hex-digit tokens, each token once
                                    (--shape access: access log lines, a path each)
    run FILE --job word_count       logmr run (local engine, a fresh LOGMR_HOME unless
                                    --home; more options go to it: --chunk-size 200MB):
                                    tree and per-process peaks, the job id
    map FILE                        Plan with the Lambda sizes (``tuning.Limits()``),
                                    then its first map task alone in a child process
    task FILE --memory-mb 1769      one map task over the whole file with that memory,
                                    alone in a child process (--digest: then the results)
    reduce JOB_ID --home HOME       a reduce task of a finished job again (--partition 0),
                                    in a child process, with the budget of --memory-mb
                                    (default: the Reduce function's; --tracemalloc: the
                                    traced peak too, at tracemalloc's cost in time)
    finalize JOB_ID --home HOME     Finalize of a finished job again, in a child process
    report JOB_ID --home HOME       logmr report JOB_ID --html ..., in a child process
    results JOB_ID --home HOME      every result of the job, streamed (a digest: to
                                    compare two runs' answers exactly)

Each prints one JSON line. Memory figures only, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
#: tokens a line holds (10 hex digits each, one space between)
TOKENS_PER_LINE = 8
#: an odd multiplier: ``i * SCRAMBLE mod 16**10`` is a permutation, so every token differs
SCRAMBLE = 0x9E3779B97F
TOKEN_SPACE = 16**10
POLL_S = 0.05


def _env(functions: Path, home: Path | None = None) -> dict[str, str]:
    """This environment, with ``functions`` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(functions), env.get("PYTHONPATH")]))
    if home is not None:
        env["LOGMR_HOME"] = str(home)
    return env


# -- the input ---------------------------------------------------------------------
def _token(i: int) -> str:
    return format(i * SCRAMBLE % TOKEN_SPACE, "010x")


def write_tokens(path: Path, size: int, shape: str = "words") -> dict[str, Any]:
    """``size`` bytes (about) of lines of distinct 10-hex-digit tokens:
    ``words``, ``TOKENS_PER_LINE`` a line; ``access``, Apache combined lines
    each of one request to a path of its own (``/t/<token>``)."""
    per_line = TOKENS_PER_LINE if shape == "words" else 1
    line_bytes = TOKENS_PER_LINE * 11 if shape == "words" else len(_access_line(0))
    lines = max(size // line_bytes, 1)
    with open(path, "w", encoding="ascii") as out:
        for start in range(0, lines, 10_000):
            block = []
            for line in range(start, min(start + 10_000, lines)):
                if shape == "words":
                    first = line * per_line
                    block.append(" ".join(_token(first + i) for i in range(per_line)))
                else:
                    block.append(_access_line(line))
            out.write("\n".join(block) + "\n")
    return {"path": str(path), "bytes": path.stat().st_size, "tokens": lines * per_line}


def _access_line(i: int) -> str:
    return (
        f"10.0.{i % 250}.{i % 199} - - [05/Dec/2026:10:{i // 60 % 60:02d}:{i % 60:02d} +0000] "
        f'"GET /t/{_token(i)} HTTP/1.1" 200 {100 + i % 900} "-" "bench"'
    )


# -- polling a process tree --------------------------------------------------------
def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(b")", 1)[1].split()[1])
        found.setdefault(parent, []).append(int(name))
    return found


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` (bytes), and its command's first words."""
    figures: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return figures


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(word.decode(errors="replace") for word in words[:4])[:80]


class TreePeaks(threading.Thread):
    """Polls a process tree: the largest summed VmRSS, and each process's VmHWM."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.tree_peak = 0
        self.process_peaks: dict[int, tuple[int, str]] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            children = _children()
            todo, total = [self.root], 0
            while todo:
                pid = todo.pop()
                figures = _status(pid)
                total += figures.get("VmRSS", 0)
                if figures.get("VmHWM", 0) > self.process_peaks.get(pid, (0, ""))[0]:
                    self.process_peaks[pid] = (figures["VmHWM"], _command(pid))
                todo.extend(children.get(pid, ()))
            self.tree_peak = max(self.tree_peak, total)
            self._done.wait(POLL_S)

    def finish(self) -> None:
        self._done.set()
        self.join()


def measured(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv``: its output, seconds, tree peak, per-process peaks and ``ru_maxrss``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        poller = TreePeaks(child.pid)
        poller.start()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        poller.finish()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode:
        raise SystemExit(f"{argv[:4]} failed ({child.returncode}): {stderr[-2000:]}")
    peaks = sorted(poller.process_peaks.values(), reverse=True)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "tree_peak_mib": round(poller.tree_peak / MIB, 1),
        "largest_process_mib": round(peaks[0][0] / MIB, 1) if peaks else None,
        "processes": [[round(peak / MIB, 1), command] for peak, command in peaks[:6]],
        "root_maxrss_mib": round(usage.ru_maxrss * 1024 / MIB, 1),
        "stdout": stdout,
    }


# -- the cases ---------------------------------------------------------------------
def run_job(functions: Path, path: Path, job: str, home: Path, extra: list[str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "logmr.cli", "run", str(path), "--job", job, "--json"]
    argv += ["--top", "1", *extra]
    found = measured(argv, _env(functions, home))
    record = json.loads(found.pop("stdout"))
    return {"job_id": record["job_id"], "status": record["status"], **found}


_MAP_CHILD = """
import json, resource, sys
from logmr import layout, tasks
from logmr.plan.tuning import Limits
from logmr.run.embedded import embedded_backends
from logmr.config import Settings
from logmr.spec import JobSpec, MapTask
spec, task = JobSpec.from_dict(json.loads(sys.argv[1])), MapTask.from_dict(json.loads(sys.argv[2]))
backends = embedded_backends(Settings.load())
limits = Limits()
try:
    result = tasks.map_task(spec, task, backends, limits)
except TypeError:  # a checkout before map tasks took their limits
    result = tasks.map_task(spec, task, backends)
summary = backends.objects.get_json(layout.map_summary_key(spec.job_id, task.task))
print(json.dumps({"maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "records": result["counters"]["records"], "seconds": result["seconds"],
                  "shuffle_bytes": summary["shuffle_bytes"], "spills": summary.get("spills", 0),
                  "segments": summary.get("segments", 1)}))
"""


def map_case(functions: Path, path: Path, job: str, home: Path) -> dict[str, Any]:
    """Plan with the Lambda sizes, then the first map task alone in a child."""
    sys.path.insert(0, str(functions))
    os.environ["LOGMR_HOME"] = str(home)
    from logmr import tasks
    from logmr.config import Settings
    from logmr.layout import manifest_key
    from logmr.plan.tuning import Limits
    from logmr.run.embedded import embedded_backends
    from logmr.spec import request_to_spec

    backends = embedded_backends(Settings.load(home=home))
    spec = request_to_spec({"job": job, "inputs": [str(path)]})
    plan = tasks.plan(spec, backends, Limits())
    items = backends.objects.get_json(manifest_key(spec.job_id))["map_tasks"]
    argv = [sys.executable, "-c", _MAP_CHILD, json.dumps(plan["spec"]), json.dumps(items[0])]
    found = measured(argv, _env(functions, home))
    child = json.loads(found.pop("stdout"))
    return {
        "map_tasks": len(items),
        "chunk_mib": round(plan["spec"]["chunk_size"] / MIB, 1),
        **child,
        **{k: found[k] for k in ("seconds", "root_maxrss_mib")},
    }


_TASK_CHILD = """
import hashlib, json, os, resource, sys
from logmr import layout, tasks
from logmr.config import Settings
from logmr.plan.tuning import Limits
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask, request_to_spec
path, job, memory, digest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "digest"
params = dict(p.split("=", 1) for p in sys.argv[5:])
backends = embedded_backends(Settings.load())
request = {"job": job, "params": params, "inputs": [path], "reducers": 2,
           "chunk_size": os.path.getsize(path) + 1}
plan = tasks.plan(request_to_spec(request), backends, Limits())
spec = JobSpec.from_dict(plan["spec"])
(item,) = backends.objects.get_json(layout.manifest_key(spec.job_id))["map_tasks"]
try:
    tasks.map_task(spec, MapTask.from_dict(item), backends, Limits(memory_mb=memory))
except TypeError:  # a checkout before map tasks took their limits
    tasks.map_task(spec, MapTask.from_dict(item), backends)
summary = backends.objects.get_json(layout.map_summary_key(spec.job_id, 0))
found = {"maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
         "segments": summary.get("segments", 1), "spills": summary.get("spills", 0),
         "shuffle_bytes": summary["shuffle_bytes"], "records": summary["counters"]["records"]}
if digest:  # after the peak is read: the job finished, its results digested
    spec = JobSpec.from_dict(tasks.plan_reduce(spec, 1, backends)["spec"])
    for partition in range(spec.reducers):
        tasks.reduce_task(spec, partition, 1, backends)
    sha, count = hashlib.sha256(), 0
    for pair in backends.job_results().iter_results(spec.job_id):
        sha.update(json.dumps(pair).encode())
        count += 1
    found.update(results=count, sha256=sha.hexdigest()[:16])
print(json.dumps(found))
"""


def task_case(
    functions: Path, path: Path, job: str, memory_mb: int, *, digest: bool, params: list[str]
) -> dict[str, Any]:
    """One map task over the whole of ``path`` with ``memory_mb``, alone in a
    child process (``--digest``: then its reducers, and a digest of the results)."""
    home = Path(tempfile.mkdtemp(prefix="logmr-memory-task-"))
    argv = [sys.executable, "-c", _TASK_CHILD, str(path), job, str(memory_mb)]
    argv += ["digest" if digest else "-", *params]
    found = measured(argv, _env(functions, home))
    return {"memory_mb": memory_mb, **json.loads(found.pop("stdout")), "seconds": found["seconds"]}


_REDUCE_CHILD = """
import json, resource, sys, time
from logmr import layout, tasks
from logmr.config import Settings
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec
job_id, partition, memory, trace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
backends = embedded_backends(Settings.load())
record = backends.results.get_job(job_id)
spec = JobSpec.from_dict(record.spec)
if trace == "trace":
    import tracemalloc
    tracemalloc.start()
cpu = time.process_time()
try:
    from logmr.plan.tuning import reduce_budget
except ImportError:  # a checkout before reduce tasks had a budget
    result = tasks.reduce_task(spec, partition, record.map_tasks, backends)
else:
    budget = reduce_budget(memory) if memory else reduce_budget()
    result = tasks.reduce_task(spec, partition, record.map_tasks, backends, budget=budget)
found = {"maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
         "keys": result["keys"], "cpu_s": round(time.process_time() - cpu, 2)}
if trace == "trace":
    found["traced_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
summary = backends.objects.get_json(layout.reduce_summary_key(spec.job_id, partition))
found.update(reducers=spec.reducers, map_tasks=record.map_tasks, spilled=summary.get("spilled"))
print(json.dumps(found))
"""


def reduce_case(
    functions: Path, job_id: str, home: Path, partition: int, memory_mb: int, *, trace: bool
) -> dict[str, Any]:
    """A reduce task of a finished job again, alone in a child process."""
    argv = [sys.executable, "-c", _REDUCE_CHILD, job_id, str(partition), str(memory_mb)]
    argv.append("trace" if trace else "-")
    found = measured(argv, _env(functions, home))
    return {**json.loads(found.pop("stdout")), "seconds": found["seconds"]}


_FINALIZE_CHILD = """
import json, resource, sys
from logmr import tasks
from logmr.config import Settings
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec
backends = embedded_backends(Settings.load())
record = backends.results.get_job(sys.argv[1])
spec = JobSpec.from_dict(record.spec)
result = tasks.finalize(spec, record.map_tasks, backends)
print(json.dumps({"maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "result_keys": result["result_keys"], "reducers": spec.reducers,
                  "map_tasks": record.map_tasks}))
"""


def finalize_case(functions: Path, job_id: str, home: Path) -> dict[str, Any]:
    found = measured([sys.executable, "-c", _FINALIZE_CHILD, job_id], _env(functions, home))
    return {**json.loads(found.pop("stdout")), "seconds": found["seconds"]}


def report_case(functions: Path, job_id: str, home: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        argv = [sys.executable, "-m", "logmr.cli", "report", job_id, "--html", str(page)]
        found = measured(argv, _env(functions, home))
        digest = hashlib.sha256(page.read_bytes()).hexdigest()[:16]
        return {
            "maxrss_mib": found["root_maxrss_mib"],
            "page_bytes": page.stat().st_size,
            "page_sha256": digest,
            "seconds": found["seconds"],
        }


def results_digest(functions: Path, job_id: str, home: Path) -> dict[str, Any]:
    """A digest of every result, streamed: equal digests, equal answers."""
    argv = [sys.executable, "-m", "logmr.cli", "results", job_id, "--all"]
    digest = hashlib.sha256()
    count = 0
    with subprocess.Popen(argv, env=_env(functions, home), stdout=subprocess.PIPE) as child:
        assert child.stdout is not None
        for line in child.stdout:
            digest.update(line)
            count += 1
    return {"results": count, "sha256": digest.hexdigest()[:16]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkout", type=Path, default=ROOT, help="the logmr checkout to measure (default: this)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    tokens = sub.add_parser("tokens")
    tokens.add_argument("--size", required=True)
    tokens.add_argument("-o", "--output", required=True, type=Path)
    tokens.add_argument("--shape", choices=("words", "access"), default="words")
    for name in ("run", "map"):
        case = sub.add_parser(name)
        case.add_argument("path", type=Path)
        case.add_argument("--job", default="word_count")
        case.add_argument("--home", type=Path)
    task = sub.add_parser("task")
    task.add_argument("path", type=Path)
    task.add_argument("--job", default="word_count")
    task.add_argument("--memory-mb", type=int, default=1769)
    task.add_argument("--param", action="append", default=[], metavar="K=V")
    task.add_argument("--digest", action="store_true")
    for name in ("reduce", "finalize", "report", "results"):
        case = sub.add_parser(name)
        case.add_argument("job_id")
        case.add_argument("--home", type=Path, required=True)
        if name == "reduce":
            case.add_argument("--partition", type=int, default=0)
            case.add_argument("--memory-mb", type=int, default=0, help="0: the Reduce function's")
            case.add_argument("--tracemalloc", action="store_true")
    args, extra = parser.parse_known_args()  # what ``run`` does not know goes to logmr run
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    functions = args.checkout.resolve() / "functions"
    if args.command == "tokens":
        size = _size(functions, args.size)
        print(json.dumps(write_tokens(args.output, size, args.shape)))
        return 0
    if args.command in ("run", "map"):
        home = args.home or Path(tempfile.mkdtemp(prefix="logmr-memory-"))
        if args.command == "run":
            found = run_job(functions, args.path, args.job, home, extra)
        else:
            found = map_case(functions, args.path, args.job, home)
        print(json.dumps({"case": args.command, "home": str(home), **found}))
        return 0
    if args.command == "task":
        found = task_case(
            functions, args.path, args.job, args.memory_mb, digest=args.digest, params=args.param
        )
        print(json.dumps({"case": "task", **found}))
        return 0
    if args.command == "reduce":
        found = reduce_case(
            functions,
            args.job_id,
            args.home,
            args.partition,
            args.memory_mb,
            trace=args.tracemalloc,
        )
        print(json.dumps({"case": "reduce", **found}))
        return 0
    cases = {"finalize": finalize_case, "report": report_case, "results": results_digest}
    found = cases[args.command](functions, args.job_id, args.home)
    print(json.dumps({"case": args.command, **found}))
    return 0


def _size(functions: Path, text: str) -> int:
    sys.path.insert(0, str(functions))
    from logmr.units import parse_size

    return parse_size(text)


if __name__ == "__main__":
    sys.exit(main())
