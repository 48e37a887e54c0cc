"""logmr.plan.planner: make_plan (list, detect, sample, tune, cut, choose the
map mode) and detect, on local inputs."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest
import zstandard

from helpers import generated_logs
from logmr.errors import (
    EmptyInputError,
    InputNotFoundError,
    InvalidJobError,
    InvalidParameterError,
)
from logmr.inputs.source import DecompressedSize, InputObject, LocalInputSource
from logmr.plan import cost, planner, view
from logmr.plan.tuning import Limits, local_limits
from logmr.spec import (
    INLINE_MAP_MAX_JSON_BYTES,
    INLINE_MAP_MAX_TASKS,
    MAX_TASK_JSON_BYTES,
    JobSpec,
    json_size,
)

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
    pieces = [piece for task in planned.map_tasks for piece in task.pieces]
    assert [(p.start, p.end, p.compression) for p in pieces] == [(0, None, "gzip")]


def test_a_raw_lines_job_reads_plain_lines(logs: dict[str, Path]) -> None:
    assert make([logs["access"]], "word_count").spec.format == "plain"


def test_a_given_format_is_kept(logs: dict[str, Path]) -> None:
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
    assert [[(p.start, p.end) for p in t.pieces] for t in planned.map_tasks] == [[(0, size)]]
    assert planned.objects == [InputObject(str(log.resolve()), size)]
    assert planned.input_bytes == size
    assert not planned.distributed


def test_given_figures_win(logs: dict[str, Path]) -> None:
    planned = make(
        [logs["access"]], reducers=5, chunk_size=70_000, max_concurrency=3, salted_keys=["200"]
    )
    spec = planned.spec
    assert (spec.reducers, spec.chunk_size, spec.max_concurrency) == (5, 70_000, 3)
    assert spec.salted_keys == ["200"]
    assert set(planned.tuning.reasons.values()) == {"given"}
    size = logs["access"].stat().st_size
    assert len(planned.map_tasks) == -(-size // 70_000) > 1
    assert all(
        len(t.pieces) == 1 and 0 < (t.pieces[0].size or 0) <= 70_000 for t in planned.map_tasks
    )


def test_several_inputs_are_cut_one_after_another(logs: dict[str, Path]) -> None:
    planned = make([logs["access"], logs["app"]], "word_count", chunk_size=100_000)
    by_input: dict[str, list[tuple[int, int | None]]] = {}
    for task in planned.map_tasks:
        for piece in task.pieces:
            by_input.setdefault(piece.uri, []).append((piece.start, piece.end))
    assert [task.task for task in planned.map_tasks] == list(range(len(planned.map_tasks)))
    for path in (logs["access"], logs["app"]):
        ranges = by_input[str(path.resolve())]
        assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size


# -- the map mode ------------------------------------------------------------------------
def sized(tmp_path: Path, tasks: int, chunk: int = 1000) -> Path:
    """A log of whole Apache lines, a little under ``tasks`` chunks long (of
    1,000 bytes: below a request's floor, lowered by ``small_chunks``)."""
    line = b'10.0.0.1 - - [01/Dec/2020:08:00:01 +0000] "GET /a HTTP/1.1" 200 10 "-" "c"\n'
    path = tmp_path / f"{tasks}.log"
    path.write_bytes(line * ((tasks * chunk - 1) // len(line)))
    return path


@pytest.mark.parametrize(
    ("tasks", "distributed"),
    [(1, False), (INLINE_MAP_MAX_TASKS, False), (INLINE_MAP_MAX_TASKS + 1, True)],
)
def test_auto_chooses_the_distributed_map_past_the_inline_maps_tasks(
    tmp_path: Path, small_chunks: None, tasks: int, distributed: bool
) -> None:
    planned = make([sized(tmp_path, tasks)], chunk_size=1000)
    assert len(planned.map_tasks) == tasks
    assert planned.distributed is distributed


@pytest.mark.parametrize(
    ("mode", "tasks", "distributed"),
    [("inline", INLINE_MAP_MAX_TASKS, False), ("distributed", 1, True)],
)
def test_a_given_map_mode_wins_over_the_task_count(
    tmp_path: Path, small_chunks: None, mode: str, tasks: int, distributed: bool
) -> None:
    planned = make([sized(tmp_path, tasks)], chunk_size=1000, map_mode=mode)
    assert len(planned.map_tasks) == tasks
    assert planned.distributed is distributed


def test_tasks_past_the_inline_maps_json_go_distributed_or_are_refused_inline(
    tmp_path: Path,
) -> None:
    """A few map tasks of many grouped objects: fewer than 40, but their
    JSON passes what Plan's output may carry to an inline Map; "auto" goes
    distributed, "inline" is refused naming the bound."""
    line = b'10.0.0.1 - - [01/Dec/2020:08:00:01 +0000] "GET /a HTTP/1.1" 200 10 "-" "c"\n'
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(800):
        (folder / f"{'long-object-name-' * 4}{n:04d}.log").write_bytes(line)
    planned = make([folder])
    assert len(planned.map_tasks) <= INLINE_MAP_MAX_TASKS and planned.distributed
    assert planned.pieces == 800
    sizes = [json_size(task.to_dict()) for task in planned.map_tasks]
    assert sum(sizes) > INLINE_MAP_MAX_JSON_BYTES and max(sizes) <= MAX_TASK_JSON_BYTES
    with pytest.raises(InvalidParameterError, match=r"^map_mode 'inline' carries the map tasks"):
        make([folder], map_mode="inline")


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
    uris = {piece.uri for task in planned.map_tasks for piece in task.pieces}
    assert uris == {str(logs["access"].resolve())}


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


# -- compressed inputs: planned on their size decompressed ---------------------------------
@pytest.mark.parametrize(
    ("kind", "pack", "how"),
    [
        ("gzip", gzip.compress, "gzip trailer"),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data), "zstd frame header"),
        ("xz", lzma.compress, "xz index"),
    ],
)
def test_a_compressed_input_is_planned_on_its_size_decompressed(
    logs: dict[str, Path], tmp_path: Path, kind: str, pack: object, how: str
) -> None:
    """The plan and its estimate count the bytes the map task reads through,
    as the object's trailer, frame header or index tells them; ``logmr plan``
    says so."""
    data = logs["access"].read_bytes()
    packed = tmp_path / f"access.{kind}"
    packed.write_bytes(pack(data))  # type: ignore[operator]
    plain = tmp_path / "access.log"
    plain.write_bytes(data)
    spec = JobSpec(job_id="p", job="status_codes", inputs=[str(packed), str(plain)])
    planned = planner.make_plan(spec, LocalInputSource(), Limits())
    uri = str(packed.resolve())
    assert planned.decompressed == {uri: DecompressedSize(len(data), True, how)}
    assert planned.input_bytes == packed.stat().st_size + len(data)
    assert planned.mapped_bytes == 2 * len(data)
    # both in one map task: together they are far below the chunk size
    assert [len(task.pieces) for task in planned.map_tasks] == [2]
    assert planned.longest_task_bytes == 2 * len(data)
    report = view.plan_report(spec, LocalInputSource(), Limits(), with_estimate=True)
    assert report["mapped_bytes"] == 2 * len(data)
    assert report["decompressed"] == {
        "objects": 1,
        "compressed_bytes": packed.stat().st_size,
        "bytes": len(data),
        "told": 1,
        "exact": 1,
        "largest": {
            "uri": uri,
            "compressed_bytes": packed.stat().st_size,
            "bytes": len(data),
            "exact": True,
            "how": how,
        },
    }
    # the estimate maps the bytes read through, and reads each compressed object's size
    shape = cost.Shape(
        objects=2,
        input_bytes=2 * len(data),
        map_tasks=1,
        reducers=planned.spec.reducers,
        max_concurrency=planned.spec.max_concurrency,
        expected_keys=planned.tuning.expected_keys,
        distributed=False,
        sample_reads=planned.sample_reads,  # the sample's, and the second object's start
        summarised=False,
        size_reads=1,
        longest_task_bytes=2 * len(data),
        pieces=2,
    )
    assert report["estimate"]["usage"] == cost.estimate(shape, Limits()).usage.to_dict()
    assert f"what its {view._size(packed.stat().st_size)} hold ({how})" in (
        view.format_report(report)
    )


def test_a_compressed_object_past_the_map_timeout_is_a_warning_not_a_refusal(
    tmp_path: Path,
) -> None:
    """67 MB of zeros in one gzip object, a map function of 1 s at 60 MB/s:
    the plan warns (it cannot cut a compressed object), names the object and
    the figures, and plans it; on one machine (no timeout) it does not warn."""
    zeros = tmp_path / "zeros.gz"
    zeros.write_bytes(gzip.compress(bytes(64 * 1024 * 1024), 9))
    spec = JobSpec(job_id="p", job="word_count", inputs=[str(zeros)])
    planned = planner.make_plan(spec, LocalInputSource(), Limits(timeout_s=1))
    (warning,) = planned.warnings
    assert warning.startswith(
        f"{zeros.resolve()}: {zeros.stat().st_size:,} bytes of gzip hold 67,108,864 bytes"
        " (gzip trailer), one map task of about 1 s at 60 MB/s, past the map function's"
        " 1 s timeout"
    )
    assert len(planned.map_tasks) == 1
    assert planner.make_plan(spec, LocalInputSource(), Limits()).warnings == []
    assert planner.make_plan(spec, LocalInputSource(), local_limits(2)).warnings == []
    report = view.plan_report(spec, LocalInputSource(), Limits(timeout_s=1), with_estimate=False)
    assert report["warnings"] == [warning]
    assert f"warning: {warning}" in view.format_report(report).splitlines()


def test_warnings_name_a_few_objects_and_count_the_others() -> None:
    objects = [InputObject(f"s3://b/{n}.zst", 1000, "zstd") for n in range(12)]
    told = {obj.uri: DecompressedSize(10**12, True, "zstd frame header") for obj in objects}
    warnings = planner.long_task_warnings(objects, told, Limits())
    assert len(warnings) == planner.WARNED_OBJECTS + 1
    assert warnings[0].startswith("s3://b/0.zst: 1,000 bytes of zstd hold 1,000,000,000,000")
    assert warnings[-1] == "2 more compressed objects as large"


def test_an_unknown_or_lower_bound_size_is_planned_as_at_least_the_compressed_one() -> None:
    objects = [
        InputObject("a.bz2", 1000, "bzip2"),
        InputObject("b.gz", 1000, "gzip"),
        InputObject("c.gz", 1000, "gzip"),
        InputObject("d.log", 500),
    ]
    told = {
        "a.bz2": DecompressedSize(None, False, "bzip2 does not tell"),
        "b.gz": DecompressedSize(5, False, "gzip trailer: the last member's"),
        "c.gz": DecompressedSize(9000, True, "gzip trailer"),
    }
    assert planner.mapped_bytes(objects, told) == 1000 + 1000 + 9000 + 500
