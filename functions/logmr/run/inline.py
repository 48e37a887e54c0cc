"""The inline runner: the task functions driven directly, map and reduce tasks
in a process pool (or in this process with ``workers=1``, where a failing task
raises its real exception with its real traceback)."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from logmr import tasks
from logmr.errors import LocalStoreError, LogmrError, error_name
from logmr.layout import manifest_key
from logmr.plan.tuning import local_limits
from logmr.run.request import validate
from logmr.run.runner import failed_record, quiet
from logmr.run.watch import Progress, show_read, task_bytes
from logmr.spec import JobSpec, MapTask
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.workflow.names import ABORTED_CAUSE, ABORTED_ERROR


def run(
    spec: JobSpec,
    backends: Backends,
    *,
    workers: int = 1,
    progress: Progress = quiet,
    memory_mb: int | None = None,
    execution: str | None = None,
) -> dict[str, Any]:
    """Plan, map, reduce and finalize ``spec`` as ``execution`` (a new one
    unless given); the finalize output, or the task's exception after the job
    is recorded as FAILED (if the record can be written: a full disk may
    leave it RUNNING, which ``failed_record`` reports). ``memory_mb``: a map
    task's (default: a worker's share of the machine, ``tuning.local_limits``)."""
    limits = local_limits(workers, memory_mb)
    execution = execution or tasks.new_execution()
    try:
        plan = tasks.plan(spec, backends, limits, execution=execution)
        spec = JobSpec.from_dict(plan["spec"])
        count = plan["map_task_count"]
        # every map task, from the manifest (the plan carries them only for an inline Map)
        items = backends.objects.get_json(manifest_key(spec.job_id))["map_tasks"]
        map_calls = [
            (tasks.map_task, (spec, MapTask.from_dict(item), backends, limits)) for item in items
        ]
        sizes = task_bytes(items, plan["input_bytes"])

        def reduce_calls() -> list[Call]:
            """After Map: the reducers PlanReduce chooses from the keys measured."""
            nonlocal spec
            planned = tasks.plan_reduce(spec, count, backends, limits)
            spec = JobSpec.from_dict(planned["spec"])
            return [
                (tasks.reduce_task, (spec, partition, count, backends))
                for partition in planned["partitions"]
            ]

        if workers <= 1:
            _serial("map", map_calls, progress, sizes)
            _serial("reduce", reduce_calls(), progress)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                _pooled(pool, "map", map_calls, progress, sizes)
                _pooled(pool, "reduce", reduce_calls(), progress)
        progress("finalize", 0, 1)
        result = tasks.finalize(spec, count, backends)
        progress("finalize", 1, 1)
        return result
    except Exception as exc:
        _mark_failed(spec, error_name(exc), str(exc), backends, execution)
        raise
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI raises it): the job ends here
        _mark_failed(spec, ABORTED_ERROR, ABORTED_CAUSE, backends, execution)
        raise


def _mark_failed(spec: JobSpec, error: str, cause: str, backends: Backends, execution: str) -> None:
    """MarkFailed's task, keeping the run's own error when the record cannot
    be written (``LocalStoreError``: a full disk under ``LOGMR_HOME``)."""
    with contextlib.suppress(LocalStoreError):
        tasks.mark_failed(spec.job_id, error, cause, backends, spec.to_dict(), execution=execution)


Call = tuple[Callable[..., Any], tuple[Any, ...]]


def _serial(phase: str, calls: list[Call], progress: Progress, sizes: Sequence[int] = ()) -> None:
    """``calls`` one after the other; ``sizes``: each map task's input bytes."""
    read = _Read(progress, sizes)
    progress(phase, 0, len(calls))
    for done, (index, (function, args)) in enumerate(enumerate(calls), 1):
        function(*args)
        read.task(index)
        progress(phase, done, len(calls))


def _pooled(
    pool: ProcessPoolExecutor,
    phase: str,
    calls: list[Call],
    progress: Progress,
    sizes: Sequence[int] = (),
) -> None:
    """``calls`` in ``pool``; ``sizes``: each map task's input bytes."""
    read = _Read(progress, sizes)
    progress(phase, 0, len(calls))
    futures = {pool.submit(function, *args): index for index, (function, args) in enumerate(calls)}
    try:
        for done, future in enumerate(as_completed(futures), 1):
            future.result()
            read.task(futures[future])
            progress(phase, done, len(calls))
    except BaseException:
        for future in futures:
            future.cancel()
        raise


class _Read:
    """The input bytes the finished map tasks read, shown to ``progress``
    (``watch.show_read``) as each task ends."""

    def __init__(self, progress: Progress, sizes: Sequence[int]) -> None:
        self.progress, self.sizes = progress, sizes
        self.total, self.done = sum(sizes), 0
        if sizes:
            show_read(progress, 0, self.total)

    def task(self, index: int) -> None:
        if self.sizes:
            self.done += self.sizes[index]
            show_read(self.progress, self.done, self.total)


class InlineRunner:
    """The task functions driven directly (``run``) over ``backends``: the
    runner of ``logmr run --engine inline``. ``raise_errors``:
    a failing task's exception propagates with its traceback (``--debug``),
    after the job is recorded as FAILED, instead of a FAILED record coming back."""

    def __init__(self, backends: Backends, *, workers: int = 1, raise_errors: bool = False):
        self.backends = backends
        self.workers = workers
        self.raise_errors = raise_errors

    def run(self, request: dict[str, Any], progress: Progress | None = None) -> JobRecord:
        spec = validate(request)
        execution = tasks.new_execution()
        try:
            run(
                spec,
                self.backends,
                workers=self.workers,
                progress=progress or quiet,
                execution=execution,
            )
        except LogmrError as exc:
            if self.raise_errors:
                raise
            error, cause = error_name(exc), str(exc)
            return failed_record(self.backends, spec, error, cause, execution=execution)
        return self.backends.results.get_job(spec.job_id)
