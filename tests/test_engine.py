"""The state machine definition end to end: on the local engine (logmr's
interpreter, handlers in this process or in worker processes) and on moto's
Step Functions interpreter, compared with the inline runner."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from analytics_reference import without_estimates
from engine_support import Fault, FaultPlan, comparable, no_sleep, request_for
from helpers import generated_logs, run_inline
from logmr.cli import main
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher
from logmr.engine.history import LocalStepFunctions
from logmr.run import engine as local_engine
from logmr.run.embedded import embedded_backends
from logmr.run.watch import ExecutionWatcher
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, check_contract, dispatching

pytestmark = pytest.mark.statemachine

JOBS: list[tuple[str, dict[str, str], str]] = [
    ("word_count", {}, "access"),
    ("pattern_count", {"pattern": r"HTTP/(?P<key>1\.[01])"}, "access"),
    ("status_codes", {}, "access"),
    ("top_paths", {"top": "5"}, "access"),
    ("bytes_total", {}, "access"),
    ("error_rate", {}, "app"),
    ("level_counts", {}, "app"),
    ("requests_per_window", {"window": "1h"}, "access"),
    ("field_count", {"field": "method"}, "access"),
    ("window_counts", {"window": "5m", "slide": "1m"}, "access"),
    ("sessions", {"gap": "1m"}, "access"),
    ("distinct_count", {"window": "1m"}, "access"),
    # KLL compaction is randomized (seeded from the clock): 15s windows hold at
    # most ~120 values of these logs (k = 200), so the sketches stay exact and
    # the runs compare equal
    ("percentiles", {"window": "15s"}, "access"),
    ("access_report", {"window": "15s", "top": "5"}, "access"),
]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("logs"), lines=4000, seed=11)


def engine_run(
    request: dict[str, Any], workers: int = 0, hook: Any = None, progress: Any = None
) -> Any:
    """The local engine, storage under the test's LOGMR_HOME (as the in-process handlers see it)."""
    settings = Settings.load(workers=workers)
    shown = {} if progress is None else {"progress": progress}
    return local_engine.run_engine(
        request, settings=settings, workers=workers, hook=hook, sleep=no_sleep, **shown
    )


def maps_entered(execution: Any) -> list[str]:
    """The Map states the execution entered, in order."""
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in execution.history
        if event["type"] == "MapStateEntered"
    ]


def event_shapes(history: list[dict[str, Any]]) -> dict[str, tuple[str, frozenset[str]]]:
    """Each event type's details member and its fields (one shape a type)."""
    shapes: dict[str, set[tuple[str, frozenset[str]]]] = {}
    for event in history:
        members = [key for key in event if key.endswith("EventDetails")] or [""]
        fields = frozenset(event.get(members[0], {}))
        shapes.setdefault(event["type"], set()).add((members[0], fields))
        assert set(event) - {members[0]} == {"id", "previousEventId", "timestamp", "type"}
    assert all(len(found) == 1 for found in shapes.values()), shapes
    return {kind: found.pop() for kind, found in shapes.items()}


def record_and_results(job_id: str) -> tuple[Any, dict[str, Any]]:
    results = embedded_backends(Settings.load()).job_results()
    return results.get_job(job_id), dict(results.iter_results(job_id))


@pytest.mark.parametrize(("job", "params", "log"), JOBS)
def test_every_job_matches_the_inline_runner(
    handler_env: None,
    logs: dict[str, Path],
    job: str,
    params: dict[str, str],
    log: str,
) -> None:
    extra = {"params": params, "reducers": 3, "chunk_size": 100_000}
    inline_record, inline_results = run_inline(
        logs[log], job, params=params, reducers=3, chunk_size=100_000
    )
    execution = engine_run(request_for(logs[log], job, "sm-1", **extra))
    assert execution.status == "SUCCEEDED", execution.cause
    record, results = record_and_results("sm-1")
    assert results == inline_results
    # summaries over more than k values hold randomized KLL estimates
    assert without_estimates(comparable(record)) == without_estimates(comparable(inline_record))


def test_worker_processes_give_the_same_answer(logs: dict[str, Path]) -> None:
    request = request_for(logs["access"], "top_paths", "pool-1", chunk_size=64 * 1024, reducers=2)
    execution = engine_run(request, workers=2)
    assert execution.status == "SUCCEEDED", execution.cause
    _, inline_results = run_inline(logs["access"], "top_paths", chunk_size=64 * 1024, reducers=2)
    assert record_and_results("pool-1")[1] == inline_results


def test_workers_run_with_the_handler_env_and_leave_their_logs_whole(tmp_path: Path) -> None:
    """A worker runs with ``config.NUMERIC_LIBRARY_ENV`` (numpy's BLAS on one
    thread) and, closed, exits at once (``worker._leave``, no module
    teardown) with what it printed last in its log."""
    import os

    from logmr import config

    settings = Settings.load(home=tmp_path, workers=1)
    names = sorted(config.NUMERIC_LIBRARY_ENV)
    event = {"line": "the last words", "names": names}
    with local_engine.worker_pool(settings, 1) as pool:
        ok, payload = pool.run("engine_support.worker_environment", "Env", event)
    assert ok, payload
    out = json.loads(payload)
    assert out["env"] == config.NUMERIC_LIBRARY_ENV
    with pytest.raises(ProcessLookupError):  # closed: the worker has exited
        os.kill(out["pid"], 0)
    log = (tmp_path / "logs" / f"worker-{out['pid']}.log").read_text()
    assert log.splitlines()[-1] == "the last words"


def test_an_invocation_on_a_pool_that_lost_its_worker_unseen_fails_and_is_retried(
    tmp_path: Path,
) -> None:
    """A worker that died without its executor seeing it (CPython 3.11: a
    worker spawned while the executor's manager thread waits is not watched
    until its next wake-up; here the manager's ``terminate_broken`` does
    nothing, so it leaves without marking the pool broken or failing its
    work) leaves an invocation's future pending for ever, and this machine's
    invocations have no timeout: the invocation fails with
    ``TransientError`` (which Retry retries), the pool is replaced and the
    next invocation runs. The thread's ``join(timeout)`` guards the test
    against the hang (liveness, not a timed assertion)."""
    import os
    import signal
    import threading

    settings = Settings.load(home=tmp_path, workers=1)
    event = {"line": "hello", "names": []}
    with local_engine.worker_pool(settings, 1) as pool:
        pool.wait_ready()
        executor = pool._executor
        manager: Any = executor._executor_manager_thread
        assert manager is not None
        manager.terminate_broken = lambda cause: None
        (pid,) = set(pool.pids())
        os.kill(pid, signal.SIGKILL)
        manager.join(60)
        assert not manager.is_alive()  # gone, the pool not marked broken
        done: list[tuple[bool, str]] = []
        waiting = threading.Thread(
            target=lambda: done.append(pool.run("engine_support.worker_environment", "Env", event)),
            daemon=True,
        )
        waiting.start()
        waiting.join(120)
        assert done, "the invocation waited on a pool that can no longer run it"
        ok, payload = done[0]
        assert (ok, json.loads(payload)["errorType"]) == (False, "TransientError")
        assert pool.replaced == 1
        ok, payload = pool.run("engine_support.worker_environment", "Env", event)
        assert ok, payload
        assert json.loads(payload)["pid"] != pid


def test_a_function_at_its_reserved_concurrency_is_throttled() -> None:
    """The dispatcher's ``concurrency``: an invocation past a function's
    limit fails at once with Lambda's throttling error (what Step Functions
    reports, and what the definition retries longest); a freed slot runs the
    next one."""
    import threading

    started, release = threading.Event(), threading.Event()

    def hook(name: str, event: dict[str, Any], attempt: int) -> None:
        if event["line"] == "first":
            started.set()
            assert release.wait(30)

    dispatcher = Dispatcher(
        {"Env": "engine_support.worker_environment"},
        workers=0,
        hook=hook,
        concurrency={"Env": 1},
    )
    done: list[tuple[bool, str]] = []
    first = threading.Thread(
        target=lambda: done.append(
            dispatcher.invoke("Env", json.dumps({"line": "first", "names": []}))
        )
    )
    first.start()
    assert started.wait(30)
    second = json.dumps({"line": "second", "names": []})
    ok, payload = dispatcher.invoke("Env", second)
    assert (ok, json.loads(payload)["errorType"]) == (False, "Lambda.TooManyRequestsException")
    release.set()
    first.join(30)
    assert done and done[0][0], done
    assert dispatcher.invoke("Env", second)[0]  # the slot is free again


def test_distributed_map_branch_on_the_local_engine(
    handler_env: None, logs: dict[str, Path]
) -> None:
    request = request_for(
        logs["access"], "status_codes", "dist-1", chunk_size=64 * 1024, map_mode="distributed"
    )
    execution = engine_run(request)
    assert execution.status == "SUCCEEDED", execution.cause
    assert maps_entered(execution) == ["MapDistributed", "Reduce"]
    _, inline_results = run_inline(logs["access"], "status_codes")
    assert record_and_results("dist-1")[1] == inline_results


def test_auto_mode_goes_distributed_past_the_inline_limit(
    handler_env: None, small_chunks: None, logs: dict[str, Path]
) -> None:
    request = request_for(
        logs["access"], "status_codes", "auto-1", chunk_size=20_000
    )  # ~50 tasks > 40 (the handlers run here: the request's 64 KiB floor lowered)
    execution = engine_run(request)
    assert "MapDistributed" in maps_entered(execution)


@pytest.mark.parametrize("map_mode", ["inline", "distributed"])
def test_the_remote_watcher_reads_the_local_engines_history(
    handler_env: None, logs: dict[str, Path], map_mode: str
) -> None:
    """The progress ``logmr run`` shows is the deployed stack's watcher reading
    the local history, live; read again from the finished history it is the
    same, but for a Distributed Map's: its Map Run's counts come from
    DescribeMapRun, which tells the last of them once the run is over."""
    live: list[tuple[str, int, int]] = []
    request = request_for(
        logs["access"], "status_codes", f"watch-{map_mode}", chunk_size=64 * 1024, reducers=3
    )
    execution = engine_run({**request, "map_mode": map_mode}, progress=lambda *s: live.append(s))
    assert execution.status == "SUCCEEDED", execution.cause
    after: list[tuple[str, int, int]] = []
    ExecutionWatcher(
        LocalStepFunctions(execution), execution.arn, lambda *s: after.append(s)
    ).poll()
    map_tasks = record_and_results(request["job_id"])[0].map_tasks
    if map_mode == "inline":
        assert after == live
    else:
        assert [s for s in after if s[0] != "map"] == [s for s in live if s[0] != "map"]
        assert [s for s in after if s[0] == "map"] == [("map", map_tasks, map_tasks)]
    assert map_tasks > 3
    for phase, total in [("map", map_tasks), ("reduce", 3), ("finalize", 1)]:
        shown = [(done, of) for name, done, of in live if name == phase]
        assert shown == [(done, total) for done in range(total + 1)], phase
    assert [name for name, *_ in live] == sorted(
        (name for name, *_ in live), key=["map", "reduce", "finalize"].index
    )


# -- faults ---------------------------------------------------------------------------
def test_transient_map_failures_are_retried_and_counts_stay_exact(
    handler_env: None, logs: dict[str, Path]
) -> None:
    fault = Fault("Map", "TransientError", attempts=(1, 2), when={"task": {"task": 1}})
    request = request_for(logs["access"], "status_codes", "flaky-1", chunk_size=100_000)
    execution = engine_run(request, hook=FaultPlan(fault))
    assert execution.status == "SUCCEEDED", execution.cause
    assert fault.fired == 2
    retries = [
        e["logmrRetryScheduledEventDetails"]
        for e in execution.history
        if e["type"] == "LogmrRetryScheduled"
    ]
    assert [(e["name"], e["error"]) for e in retries] == [("MapTask", "TransientError")] * 2
    _, inline_results = run_inline(logs["access"], "status_codes")
    assert record_and_results("flaky-1")[1] == inline_results


def test_permanent_reduce_failure_fails_the_job_with_its_name_and_cause(
    handler_env: None, logs: dict[str, Path]
) -> None:
    fault = Fault("Reduce", "CorruptShuffleError", attempts=(1, 2, 3, 4, 5), when={"partition": 0})
    execution = engine_run(
        request_for(logs["access"], "status_codes", "bad-1"), hook=FaultPlan(fault)
    )
    assert (execution.status, execution.error) == ("FAILED", "CorruptShuffleError")
    assert fault.fired == 1  # permanent: no retries wasted
    record, _ = record_and_results("bad-1")
    assert record.status == "FAILED"
    assert record.error == "CorruptShuffleError"
    assert record.cause == "injected CorruptShuffleError on attempt 1"


def test_cli_exits_non_zero_with_one_line_on_a_failed_job(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], logs: dict[str, Path]
) -> None:
    fault = Fault("Reduce", "CorruptShuffleError", attempts=(1,))
    patched = functools.partial(local_engine.run_engine, hook=FaultPlan(fault), sleep=no_sleep)
    monkeypatch.setattr(local_engine, "run_engine", patched)
    code = main(["run", str(logs["access"]), "--job", "status_codes", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "logmr: error: CorruptShuffleError: injected CorruptShuffleError on attempt 1\n"


def test_a_map_task_executed_twice_is_not_counted_twice(
    handler_env: None, logs: dict[str, Path]
) -> None:
    fault = Fault("Map", duplicate=True)
    request = request_for(logs["access"], "status_codes", "twice-1", chunk_size=100_000)
    execution = engine_run(request, hook=FaultPlan(fault))
    assert execution.status == "SUCCEEDED", execution.cause
    assert fault.fired >= 4  # every map task ran twice
    record, results = record_and_results("twice-1")
    inline_record, inline_results = run_inline(logs["access"], "status_codes")
    assert results == inline_results
    assert record.counters == inline_record.counters


# -- moto's interpreter --------------------------------------------------------------------------
def test_moto_contract_of_the_patched_method() -> None:
    check_contract()


@pytest.mark.parametrize("map_mode", ["inline", "distributed"])
def test_the_same_definition_on_motos_interpreter(
    handler_env: None, logs: dict[str, Path], map_mode: str
) -> None:
    """Local storage, moto's Step Functions: the Distributed Map's items are put
    in moto's S3 by the test, as the local engine serves them from its folder."""
    request = request_for(
        logs["access"], "top_paths", f"moto-{map_mode}", chunk_size=100_000, map_mode=map_mode
    )
    with mock_aws(config=MOTO_CONFIG):
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="logmr-local")
        objects = embedded_backends(Settings.load()).objects

        def serve_items(function: str, result: Any) -> None:
            if function == "Plan" and result.get("distributed"):
                s3.put_object(
                    Bucket="logmr-local",
                    Key=result["map_items_key"],
                    Body=objects.get(result["map_items_key"]),
                )

        dispatcher = Dispatcher(dict(FUNCTIONS), workers=0, observer=serve_items)
        with dispatching(dispatcher):
            machine = StateMachine(bucket="logmr-local")
            machine.deploy()
            described = machine.run(request, request["job_id"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["status"] == "SUCCEEDED"
    record, results = record_and_results(request["job_id"])
    local = engine_run({**request, "job_id": "local-1"})
    assert local.status == "SUCCEEDED"
    local_record, local_results = record_and_results("local-1")
    assert results == local_results
    assert comparable(record) == comparable(local_record)
    # the histories have one shape: each event type's details member and fields
    # (moto's adds the execution's roleArn; its Distributed Map is a map run)
    local_shapes, moto_shapes = event_shapes(local.history), event_shapes(described["history"])
    if map_mode == "inline":
        assert set(local_shapes) == set(moto_shapes)
    for kind in set(local_shapes) & set(moto_shapes):
        (member, fields), (moto_member, moto_fields) = local_shapes[kind], moto_shapes[kind]
        assert member == moto_member and fields <= moto_fields, kind


def test_moto_interpreter_reports_the_failed_task_error(
    handler_env: None, logs: dict[str, Path]
) -> None:
    fault = Fault("Map", "TransientError", attempts=(1, 2, 3, 4, 5, 6))
    with mock_aws(config=MOTO_CONFIG):
        dispatcher = Dispatcher(dict(FUNCTIONS), workers=0, hook=FaultPlan(fault))
        with dispatching(dispatcher):
            machine = StateMachine(bucket="logmr-local")
            machine.deploy()
            described = machine.run(
                request_for(logs["access"], "status_codes", "moto-fail"), "moto-fail"
            )
    assert (described["status"], described["error"]) == ("FAILED", "TransientError")
    assert fault.fired == 5  # the first attempt and MaxAttempts (4) retries
    record, _ = record_and_results("moto-fail")
    assert (record.status, record.error) == ("FAILED", "TransientError")
