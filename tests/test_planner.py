"""logmr.plan.planner: make_plan (list, detect, sample, tune, cut, choose the
map mode) and detect, on local inputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from helpers import generated_logs
from logmr.errors import EmptyInputError, InputNotFoundError, InvalidJobError
from logmr.inputs.source import InputObject, LocalInputSource
from logmr.plan import planner
from logmr.plan.tuning import Limits, local_limits
from logmr.spec import INLINE_MAP_MAX_TASKS, JobSpec

pytestmark = pytest.mark.unit


def make(paths: list[Path], job: str = "status_codes", **fields: object) -> planner.Plan:
    spec = JobSpec.from_dict(
        {"job_id": "p", "job": job, "inputs": [str(p) for p in paths], **fields}
    )
    return planner.make_plan(spec, LocalInputSource(), local_limits(2))


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    return generated_logs(tmp_path, lines=3000, seed=41)


# -- the format --------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "fmt"), [("access", "apache_combined"), ("app", "applog")])
def test_make_plan_detects_the_format(logs: dict[str, Path], kind: str, fmt: str) -> None:
    job = "status_codes" if kind == "access" else "level_counts"
    planned = make([logs[kind]], job)
    assert planned.spec.format == fmt


def test_a_compressed_input_is_detected_from_its_decompressed_start(
    logs: dict[str, Path], tmp_path: Path
) -> None:
    packed = tmp_path / "access.bin"
    packed.write_bytes(gzip.compress(logs["access"].read_bytes()))
    planned = make([packed])
    assert planned.spec.format == "apache_combined"
    assert [(t.start, t.end, t.compression) for t in planned.map_tasks] == [(0, None, "gzip")]


def test_a_raw_lines_job_reads_plain_lines(logs: dict[str, Path]) -> None:
    assert make([logs["access"]], "word_count").spec.format == "plain"


def test_a_given_format_is_kept(logs: dict[str, Path]) -> None:
    spec = JobSpec(job_id="p", job="word_count", inputs=["x"], format="apache_common")
    assert planner.detect(spec, b"anything at all\n") is spec
    # a format that does not fit the lines is the user's to give: counted malformed later
    assert make([logs["app"]], "status_codes", format="apache_common").spec.format == (
        "apache_common"
    )


# -- the figures -------------------------------------------------------------------------
def test_make_plan_resolves_every_figure_and_covers_the_input(logs: dict[str, Path]) -> None:
    log = logs["access"]
    planned = make([log])
    size = log.stat().st_size
    assert planned.spec.planned  # reducers, chunk size and concurrency chosen
    assert planned.spec.reducers == planned.tuning.reducers
    assert planned.spec.chunk_size == planned.tuning.chunk_size >= size  # small: one task
    assert [(t.start, t.end) for t in planned.map_tasks] == [(0, size)]
    assert planned.objects == [InputObject(str(log.resolve()), size)]
    assert planned.input_bytes == size
    assert not planned.distributed


def test_given_figures_win(logs: dict[str, Path]) -> None:
    planned = make(
        [logs["access"]], reducers=5, chunk_size=50_000, max_concurrency=3, salted_keys=["200"]
    )
    spec = planned.spec
    assert (spec.reducers, spec.chunk_size, spec.max_concurrency) == (5, 50_000, 3)
    assert spec.salted_keys == ["200"]
    assert set(planned.tuning.reasons.values()) == {"given"}
    size = logs["access"].stat().st_size
    assert len(planned.map_tasks) == -(-size // 50_000)
    assert all(t.end is not None and t.end - t.start <= 50_000 for t in planned.map_tasks)


def test_several_inputs_are_cut_one_after_another(logs: dict[str, Path]) -> None:
    planned = make([logs["access"], logs["app"]], "word_count", chunk_size=100_000)
    by_input: dict[str, list[tuple[int, int | None]]] = {}
    for task in planned.map_tasks:
        by_input.setdefault(task.uri, []).append((task.start, task.end))
    assert [task.task for task in planned.map_tasks] == list(range(len(planned.map_tasks)))
    for path in (logs["access"], logs["app"]):
        ranges = by_input[str(path.resolve())]
        assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size


# -- the map mode ------------------------------------------------------------------------
def sized(tmp_path: Path, tasks: int, chunk: int = 1000) -> Path:
    """A log of whole Apache lines, a little under ``tasks`` chunks long."""
    line = b'10.0.0.1 - - [01/Dec/2020:08:00:01 +0000] "GET /a HTTP/1.1" 200 10 "-" "c"\n'
    path = tmp_path / f"{tasks}.log"
    path.write_bytes(line * ((tasks * chunk - 1) // len(line)))
    return path


@pytest.mark.parametrize(
    ("tasks", "distributed"),
    [(1, False), (INLINE_MAP_MAX_TASKS, False), (INLINE_MAP_MAX_TASKS + 1, True)],
)
def test_auto_chooses_the_distributed_map_past_the_inline_maps_tasks(
    tmp_path: Path, tasks: int, distributed: bool
) -> None:
    planned = make([sized(tmp_path, tasks)], chunk_size=1000)
    assert len(planned.map_tasks) == tasks
    assert planned.distributed is distributed


@pytest.mark.parametrize(
    ("mode", "tasks", "distributed"),
    [("inline", INLINE_MAP_MAX_TASKS + 5, False), ("distributed", 1, True)],
)
def test_a_given_map_mode_wins_over_the_task_count(
    tmp_path: Path, mode: str, tasks: int, distributed: bool
) -> None:
    planned = make([sized(tmp_path, tasks)], chunk_size=1000, map_mode=mode)
    assert len(planned.map_tasks) == tasks
    assert planned.distributed is distributed


# -- the sample --------------------------------------------------------------------------
def test_the_plan_samples_the_whole_input_not_its_start(tmp_path: Path) -> None:
    """A log in time order whose first half asks for one path and second half
    for another: the plan's sample sees both (its start alone saw one), and
    says how many reads it took."""
    half = 20_000
    line = b'10.0.0.1 - - [01/Dec/2020:08:00:01 +0000] "GET /%s HTTP/1.1" 200 100 "-" "curl/8"\n'
    log = tmp_path / "ordered.log"
    log.write_bytes(line % b"early" * half + line % b"late" * half)
    planned = make([log], "top_paths")
    assert set(planned.sample.weights) == {"/early", "/late"}
    assert planned.sample.reads == 8
    assert planned.sample.bytes <= 256 * 1024


def test_a_small_input_is_sampled_whole_in_one_read(tmp_path: Path) -> None:
    small = generated_logs(tmp_path, lines=500, seed=42)["access"]
    assert small.stat().st_size < 256 * 1024
    planned = make([small])
    assert planned.sample.complete and planned.sample.reads == 1
    assert planned.sample.lines == 500


# -- refusals ----------------------------------------------------------------------------
def test_empty_inputs_are_refused(tmp_path: Path, logs: dict[str, Path]) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    other = tmp_path / "also-empty.log"
    other.write_bytes(b"")
    for inputs in ([empty], [empty, other]):
        with pytest.raises(EmptyInputError, match="the inputs hold no bytes"):
            make(inputs)
    # an empty input beside one with lines: planned, and it gets no task
    planned = make([empty, logs["access"]])
    assert {task.uri for task in planned.map_tasks} == {str(logs["access"].resolve())}


def test_a_bad_job_is_refused_before_the_inputs_are_read(tmp_path: Path) -> None:
    missing = tmp_path / "no-such.log"
    with pytest.raises(InvalidJobError):
        make([missing], "no_such_job")
    with pytest.raises(InputNotFoundError):
        make([missing])


def test_lambda_limits_plan_for_the_functions(logs: dict[str, Path]) -> None:
    """Planned for Lambda, a small input is one map task of at least the
    minimum chunk, and the concurrency is the task count's."""
    spec = JobSpec(job_id="p", job="status_codes", inputs=[str(logs["access"])])
    planned = planner.make_plan(spec, LocalInputSource(), Limits())
    assert len(planned.map_tasks) == 1
    assert planned.spec.max_concurrency == 1
    assert planned.spec.reducers == 1  # a handful of status codes
