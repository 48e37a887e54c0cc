"""What runs in a worker process (or in the engine's own process): one handler
invocation, its exception turned into the error payload Lambda would return."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from logmr.config import WORKER_LOGS_KEPT
from logmr.engine.context import LocalContext
from logmr.storage.disk import FULL, READ_ONLY

#: the names of the worker log files (``worker_log``)
WORKER_LOG_GLOB = "worker-*.log"


class LogFile:
    """A worker's log file as its stdout and stderr, which a full (or
    read-only) disk does not break: a line it cannot take is dropped and
    counted (``dropped``). Without this, a handler's metrics line (a
    ``print``) failed the task with a bare ``OSError`` and the logging module
    printed a traceback per record, before the store's own write could fail
    with the error that names the cause (``storage.disk``)."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.dropped = 0

    def _full(self, exc: OSError) -> bool:
        if exc.errno not in FULL | READ_ONLY:
            return False
        self.dropped += 1
        return True

    def write(self, text: str) -> int:
        try:
            written: int = self._file.write(text)
        except OSError as exc:
            if not self._full(exc):
                raise
            return len(text)
        return written

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as exc:
            if not self._full(exc):
                raise

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, isatty, ...
        return getattr(self._file, name)


def worker_log(log_dir: str | Path, pid: int) -> Path:
    """The file a worker's stdout and stderr go to."""
    return Path(log_dir) / f"worker-{pid}.log"


def prune_logs(
    log_dir: str | Path, keep: int = WORKER_LOGS_KEPT, before: float | None = None
) -> int:
    """The worker log files of ``log_dir`` beyond the newest ``keep`` removed
    (and, with ``before``, every one last written before that time, a Unix
    time); how many. Each pool removes the oldest when it starts, so the
    folder holds at most ``keep`` files plus one per worker running."""
    found = []
    for path in Path(log_dir).glob(WORKER_LOG_GLOB):
        with contextlib.suppress(OSError):  # removed by another process meanwhile
            found.append((path.stat().st_mtime, path))
    found.sort(reverse=True)
    doomed = found[keep:] + [
        item for item in found[:keep] if before is not None and item[0] < before
    ]
    for _, path in doomed:
        path.unlink(missing_ok=True)
    return len(doomed)


def initialize(env: dict[str, str], log_dir: str | None, handlers: list[str]) -> None:
    """Worker start-up: the handlers' environment, their stdout (Powertools logs
    and metrics) sent to a file so it never mixes with the CLI's output, and
    the handler modules imported before the first task arrives."""
    os.environ.update(env)
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log = open(worker_log(log_dir, os.getpid()), "a", buffering=1)  # noqa: SIM115
        # the descriptors too, not only sys.stdout: a worker that outlives the
        # CLI must not hold its stdout or stderr open (``logmr run ... | wc -c``)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = LogFile(log)
    for handler_path in handlers:
        importlib.import_module(handler_path.rpartition(".")[0])
    atexit.register(_leave)


def _leave() -> None:
    """A worker's exit, without the interpreter's teardown of its modules
    (numpy and pyarrow's took about 20 ms, which the CLI waited for at the
    end of every run): its logs flushed, it holds nothing else to close
    (every store write is committed when the task returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def ready() -> int:
    """A no-op task: submitting one per worker starts them all at once."""
    return os.getpid()


def invoke(handler_path: str, function_name: str, event: Any) -> tuple[bool, str]:
    """Run ``module.function`` on ``event``: (True, result JSON) or (False, error JSON)."""
    module_name, _, attribute = handler_path.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
        result = handler(event, LocalContext(function_name=function_name))
        return True, json.dumps(result)
    except Exception as exc:
        return False, error_payload(exc)


def error_payload(exc: BaseException) -> str:
    """The JSON Lambda returns for an unhandled exception (errorType is what Retry/Catch match)."""
    return json.dumps(
        {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-8:],
        }
    )
