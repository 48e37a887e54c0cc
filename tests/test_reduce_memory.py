"""A reduce task within its memory budget (``plan.tuning.ReduceBudget``,
``mapreduce.merging``, ``storage.parquet.write_stream``): forced to spill
sorted runs on small data by a tiny budget, it gives exactly what the
in-memory path gives, for every built-in job, salted keys included."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import generated_logs
from logmr import layout, tasks
from logmr.config import Settings
from logmr.errors import StorageFullError
from logmr.jobs.base import KV, Job
from logmr.mapreduce import merging
from logmr.mapreduce.merging import GroupMerger, RowSorter
from logmr.mapreduce.side import merge_groups
from logmr.plan import tuning
from logmr.plan.tuning import ReduceBudget, reduce_budget
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask
from logmr.storage import parquet
from logmr.storage.backends import Backends
from logmr.storage.parts import TOP_KEPT, put_part
from logmr.workflow.names import FUNCTION_SIZES

#: a budget every pair and every result passes: everything spills
TINY = ReduceBudget(pairs_bytes=1, rows_bytes=1)


class Summed(Job):
    """Adds its values up in C at the reducer (``Job.adds_values_up``)."""

    name = "test_summed"


class Listed(Job):
    """Keeps every value in the order the reducer got them."""

    name = "test_listed"

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, list(values)


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of a few pairs, merged a few at a time, results checked often:
    every path of ``mapreduce.merging`` on small data."""
    monkeypatch.setattr(merging, "RUN_CHUNK_PAIRS", 3)
    monkeypatch.setattr(merging, "MERGE_FAN_IN", 3)
    monkeypatch.setattr(merging, "ROWS_CHECK_EVERY", 2)


def merged(job: Job, blocks: list[list[tuple[str, Any]]], budget: int, folder: Path) -> Any:
    merger = GroupMerger(job, budget, folder)
    for block in blocks:
        merger.add(list(block))
    return list(merger.groups()), merger.runs.written


def reduced(job: Job, groups: Any) -> list[tuple[str, Any]]:
    return [pair for key, values in groups for pair in job.reducer(key, values)]


# -- the merger and the sorter ------------------------------------------------------------
@pytest.mark.unit
def test_spilled_groups_keep_every_value_in_reading_order(small_runs: None, tmp_path: Path) -> None:
    job = Listed({})
    blocks = [[(f"k{(i * 7 + j) % 5}", [i, j]) for j in range(4)] for i in range(9)]
    want = sorted(merge_groups(job, blocks).items())
    got, runs = merged(job, blocks, 1, tmp_path)
    assert runs > merging.MERGE_FAN_IN  # spilled, and merged in two passes
    assert got == want


@pytest.mark.unit
def test_spilled_sums_add_up_to_the_in_memory_sums(small_runs: None, tmp_path: Path) -> None:
    job = Summed({})
    blocks = [[(f"k{(i * 3 + j) % 7}", i * j + 2**62) for j in range(5)] for i in range(20)]
    want = reduced(job, sorted(merge_groups(job, blocks).items()))
    got, runs = merged(job, blocks, 1, tmp_path)
    assert runs and reduced(job, got) == want
    assert max(value for _, value in want) > 2**63  # past int64: Python ints, exact


@pytest.mark.unit
def test_sorted_results_keep_a_repeated_key_s_last_value(small_runs: None, tmp_path: Path) -> None:
    rows = [(f"r{(i * 11) % 13}", (i, {1: "int key"})) for i in range(40)]
    sorter = RowSorter(1, tmp_path)
    for row in rows:
        sorter.extend([row])
    assert sorter.runs.written > 1 and sorter.in_memory is None and not sorter.ordered
    want = sorted(dict(rows).items())
    assert list(sorter.rows()) == want
    assert list(sorter.rows()) == want  # read again from the first (the part file's 2 passes)
    assert type(next(sorter.rows())[1]) is tuple  # as the reducer gave it


@pytest.mark.unit
def test_results_in_key_order_are_spilled_to_one_run_as_they_come(
    small_runs: None, tmp_path: Path
) -> None:
    rows = [(f"r{i:03d}", [i]) for i in range(50)]
    in_order, then_not = RowSorter(1, tmp_path / "a"), RowSorter(1, tmp_path / "b")
    for sorter in (in_order, then_not):
        sorter.runs.folder.mkdir()
        for start in range(0, len(rows), 4):
            sorter.extend(rows[start : start + 4])
    assert in_order.ordered and in_order.runs.written == 1  # appended to, never sorted
    assert list(in_order.rows()) == list(in_order.rows()) == rows
    then_not.extend([("r010", "again")])  # out of order now: sorted runs, merged
    assert not then_not.ordered  # the run and the held one merged, the last value kept
    assert list(then_not.rows()) == sorted({**dict(rows), "r010": "again"}.items())


@pytest.mark.unit
def test_nothing_spills_within_the_budget(tmp_path: Path) -> None:
    job = Listed({})
    blocks = [[("b", 1), ("a", 2)], [("a", 3)]]
    got, runs = merged(job, blocks, 10**6, tmp_path)
    assert (got, runs) == ([("a", [2, 3]), ("b", [1])], 0)
    sorter = RowSorter(10**6, tmp_path)
    sorter.extend([("b", 1), ("a", 2)])
    assert sorter.in_memory == [("a", 2), ("b", 1)] and not list(tmp_path.iterdir())


@pytest.mark.unit
def test_a_full_temporary_folder_is_storage_full_naming_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import errno

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(merging, "open", lambda *_: Full(), raising=False)
    sorter = RowSorter(1, tmp_path)
    with pytest.raises(StorageFullError, match=r"rows-0\.run: No space left .*--reducers"):
        sorter.extend([(f"k{i}", i) for i in range(merging.ROWS_CHECK_EVERY)])


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(
    blocks=st.lists(
        st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(-(2**70), 2**70)), max_size=8),
        max_size=8,
    ),
    budget=st.integers(1, 3000),
    chunk=st.integers(1, 5),
    fan_in=st.integers(2, 4),
)
def test_merging_within_any_budget_is_the_in_memory_merge(
    blocks: list[list[tuple[str, int]]], budget: int, chunk: int, fan_in: int
) -> None:
    import tempfile

    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(merging, "RUN_CHUNK_PAIRS", chunk)
        patch.setattr(merging, "MERGE_FAN_IN", fan_in)
        patch.setattr(merging, "ROWS_CHECK_EVERY", chunk)
        for job in (Listed({}), Summed({})):
            want = reduced(job, sorted(merge_groups(job, blocks).items()))
            got, _ = merged(job, blocks, budget, Path(folder))
            assert reduced(job, got) == want
        rows = [pair for block in blocks for pair in block]
        for ordered in (rows, sorted(dict(rows).items())):  # the reducer's order, or in order
            sorter = RowSorter(budget, Path(folder))
            for start in range(0, len(ordered), chunk):
                sorter.extend(ordered[start : start + chunk])
            assert list(sorter.rows()) == list(sorter.rows()) == sorted(dict(rows).items())


# -- the part file, a row group at a time -------------------------------------------------
plain = (
    st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.text(max_size=4)
    | st.lists(st.integers(-3, 3), max_size=3)
    | st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=2)
    | st.none()
)
objects = st.dictionaries(st.sampled_from(["count", "bytes", "", "value", "key"]), plain)
rows_strategy = st.dictionaries(st.text(max_size=6), plain | objects, max_size=30)


def streamed(rows: list[tuple[str, Any]], batch: int) -> bytes:
    scan = parquet.LayoutScan()
    for start in range(0, len(rows), batch):
        scan.add(rows[start : start + batch])
    sink = io.BytesIO()
    parquet.write_stream(iter(rows), scan, sink)
    return sink.getvalue()


@pytest.mark.property
@settings(max_examples=80, deadline=None)
@given(found=rows_strategy, batch=st.integers(1, 7))
def test_a_streamed_part_file_is_the_encoded_one(found: dict[str, Any], batch: int) -> None:
    """Its layout seen a few rows at a time, written a few rows at a time:
    the same schema (column map included) and rows as ``parquet.encode``'s."""
    rows = sorted(found.items())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parquet, "BATCH_ROWS", batch)
        patch.setattr(parquet, "ROW_GROUP_BYTES", 64)
        data = streamed(rows, batch)
    whole = parquet.encode(rows)
    assert parquet.decode(data) == parquet.decode(whole) == rows
    schema = pq.read_schema(io.BytesIO(data))
    assert schema == pq.read_schema(io.BytesIO(whole))
    assert schema.metadata == pq.read_schema(io.BytesIO(whole)).metadata


@pytest.mark.unit
def test_a_streamed_part_file_is_written_in_row_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(parquet, "BATCH_ROWS", 10)
    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 200)
    rows = [(f"k{i:04d}", {"count": i, "bytes": i * 3}) for i in range(1000)]
    data = streamed(rows, 10)
    assert pq.ParquetFile(io.BytesIO(data)).num_row_groups > 10
    assert parquet.decode(data) == rows


@pytest.mark.unit
def test_put_part_streams_or_encodes_the_same_part_file(tmp_path: Path) -> None:
    backends = embedded_backends(Settings.load(home=tmp_path / "home"))
    rows = [(f"k{i:04d}", i % 17) for i in range(3000)]
    assert put_part(backends.objects, "a", lambda: iter(rows)) == put_part(
        backends.objects, "b", lambda: iter(rows), rows
    )
    count, best = put_part(backends.objects, "c", lambda: iter(rows))
    assert count == len(rows) and len(best) == TOP_KEPT and best[0] == ("k0016", 16)
    assert parquet.decode(backends.objects.get("a")) == parquet.decode(backends.objects.get("b"))


# -- the reduce task ----------------------------------------------------------------------
JOBS: list[tuple[str, dict[str, str], str, list[str]]] = [
    ("word_count", {}, "access", []),
    ("status_codes", {}, "access", ["200", "404"]),  # salted: partials for Finalize
    ("top_paths", {"top": "5"}, "access", []),
    ("error_rate", {}, "app", []),
    ("requests_per_window", {"window": "1h"}, "access", []),  # keys renamed by the reducer
    ("window_counts", {"window": "5m", "slide": "1m"}, "access", []),
    ("sessions", {"gap": "1m"}, "access", []),
    ("distinct_count", {"window": "1m"}, "access", []),
    ("percentiles", {"window": "15s"}, "access", []),  # 15s: the sketches stay exact
    ("access_report", {"window": "15s", "top": "5"}, "access", []),
]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("logs"), lines=4000, seed=5)


def mapped(
    backends: Backends, log: Path, job: str, params: dict[str, str], salted: list[str]
) -> tuple[JobSpec, int]:
    data: dict[str, Any] = {"job_id": f"budget-{job}", "job": job, "params": params}
    data["inputs"] = [str(log)]
    data |= {"chunk_size": 64 * 1024, "reducers": 2, "salted_keys": salted}
    out = tasks.plan(JobSpec.from_dict(data), backends)
    spec = JobSpec.from_dict(out["spec"])
    map_tasks = [MapTask.from_dict(task) for task in out["map_tasks"]]
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    spec = JobSpec.from_dict(tasks.plan_reduce(spec, len(map_tasks), backends)["spec"])
    return spec, len(map_tasks)


def reduce_outcome(
    spec: JobSpec, map_tasks: int, backends: Backends, budget: ReduceBudget
) -> list[dict[str, Any]]:
    """Every partition's results, summary (what does not vary between
    attempts) and best results in the result store."""
    found = []
    for partition in range(spec.reducers):
        tasks.reduce_task(spec, partition, map_tasks, backends, budget=budget)
        summary = backends.objects.get_json(layout.reduce_summary_key(spec.job_id, partition))
        part = backends.objects.get(layout.part_key(spec.job_id, partition))
        found.append(
            {
                "results": parquet.decode(part),
                "summary": {
                    name: summary.get(name)
                    for name in ("keys", "stored", "counters", "partials", "map_attempts")
                },
                "spilled": summary["spilled"]["runs"],
            }
        )
    found.append({"top": backends.results.top(spec.job_id, TOP_KEPT)})
    return found


@pytest.mark.functional
@pytest.mark.parametrize(("job", "params", "log", "salted"), JOBS)
def test_a_reduce_task_past_its_budget_gives_the_in_memory_answer(
    small_runs: None,
    logs: dict[str, Path],
    tmp_path: Path,
    job: str,
    params: dict[str, str],
    log: str,
    salted: list[str],
) -> None:
    backends = embedded_backends(Settings.load(home=tmp_path / "home"))
    spec, map_tasks = mapped(backends, logs[log], job, params, salted)
    assert spec.salted_keys == salted
    in_memory = reduce_outcome(spec, map_tasks, backends, reduce_budget())
    spilled = reduce_outcome(spec, map_tasks, backends, TINY)
    assert [part.pop("spilled") for part in in_memory[:-1]] == [0] * spec.reducers
    runs = [part.pop("spilled") for part in spilled[:-1]]
    read = [bool(part["results"] or part["summary"]["partials"]) for part in spilled[:-1]]
    assert [bool(found) for found in runs] == read  # every partition with pairs spilled
    assert spilled == in_memory
    assert any(part["results"] for part in in_memory[:-1])
    if salted:
        assert any(part["summary"]["partials"] for part in in_memory[:-1])


# -- the budget ---------------------------------------------------------------------------
@pytest.mark.unit
def test_the_reduce_budget_is_a_share_of_the_function_s_memory() -> None:
    budget = reduce_budget()
    memory = FUNCTION_SIZES["Reduce"][0] * tuning.MiB
    assert budget.pairs_bytes == int(memory * tuning.REDUCE_PAIRS_SHARE)
    assert budget.rows_bytes == int(memory * tuning.REDUCE_ROWS_SHARE)
    assert reduce_budget(512).pairs_bytes < budget.pairs_bytes
    local = tuning.reduce_budget_for(Settings.load(storage="local", workers=64))
    assert local.pairs_bytes <= budget.pairs_bytes  # a worker's share of this machine
    given = Settings.load(storage="local", reduce_memory_mb=100)
    assert tuning.reduce_budget_for(given) == reduce_budget(100)  # LOGMR_REDUCE_MEMORY_MB wins
