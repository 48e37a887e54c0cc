"""logmr.plan.cutting: objects into map tasks, small ones grouped up to the
chunk size (compressed ones at their size decompressed), within the JSON a
Map state's item may carry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr import limits
from logmr.inputs.source import DecompressedSize, InputObject
from logmr.plan.cutting import count_tasks, cut, read_through
from logmr.spec import (
    INLINE_MAP_MAX_JSON_BYTES,
    INLINE_MAP_MAX_TASKS,
    MAX_SALTED_KEY_CHARS,
    MAX_SALTED_KEYS,
    MAX_TASK_JSON_BYTES,
    JobSpec,
    MapTask,
    json_size,
)

CHUNK = 1000


def plain(name: str, size: int) -> InputObject:
    return InputObject(f"/logs/{name}", size, None, f"v-{name}")


def packed(name: str, size: int, kind: str = "gzip") -> InputObject:
    return InputObject(f"/logs/{name}", size, kind, f"v-{name}")


def exactly(size: int) -> DecompressedSize:
    return DecompressedSize(size, True, "gzip trailer")


def layout(tasks: list[MapTask]) -> list[list[tuple[str, int, int | None]]]:
    """Each task's pieces as (name, start, end)."""
    return [[(p.uri.rsplit("/", 1)[1], p.start, p.end) for p in task.pieces] for task in tasks]


def covers_every_byte_once(objects: list[InputObject], tasks: list[MapTask]) -> bool:
    """The pieces, in task order, are each non-empty object's ranges end to
    end, objects in the order listed (a compressed one whole), and the tasks
    are numbered 0, 1, 2, ..."""
    pieces = [piece for task in tasks for piece in task.pieces]
    expected: list[tuple[str, int | None]] = []
    for obj in objects:
        if obj.size and obj.compression:
            expected.append((obj.uri, None))
        elif obj.size:
            expected.append((obj.uri, obj.size))
    seen: list[tuple[str, int | None]] = []
    for piece in pieces:
        if seen and seen[-1][0] == piece.uri and piece.end is not None:
            assert piece.start == seen[-1][1]  # the next range of the same object
            seen[-1] = (piece.uri, piece.end)
        else:
            assert piece.start == 0
            seen.append((piece.uri, piece.end))
    return seen == expected and [task.task for task in tasks] == list(range(len(tasks)))


# -- grouping ----------------------------------------------------------------------------------
@pytest.mark.unit
def test_small_plain_objects_share_a_task_up_to_the_chunk_size() -> None:
    sizes = [300, 300, 400, 1, 600, 399]
    objects = [plain(name, size) for name, size in zip("abcdef", sizes, strict=True)]
    tasks = cut(objects, CHUNK)
    assert layout(tasks) == [
        [("a", 0, 300), ("b", 0, 300), ("c", 0, 400)],  # 1,000: exactly the chunk
        [("d", 0, 1), ("e", 0, 600), ("f", 0, 399)],
    ]
    assert tasks[0].pieces[0].version == "v-a"
    assert count_tasks(objects, CHUNK) == 2


@pytest.mark.unit
def test_an_object_of_exactly_the_chunk_size_is_a_task_of_its_own() -> None:
    objects = [plain("a", 10), plain("b", CHUNK), plain("c", 10)]
    assert layout(cut(objects, CHUNK)) == [
        [("a", 0, 10)],
        [("b", 0, CHUNK)],
        [("c", 0, 10)],
    ]
    gz = [plain("a", 10), packed("b.gz", 90), plain("c", 10)]
    told = {"/logs/b.gz": exactly(CHUNK)}
    assert layout(cut(gz, CHUNK, told)) == [[("a", 0, 10)], [("b.gz", 0, None)], [("c", 0, 10)]]


@pytest.mark.unit
def test_empty_objects_get_no_piece() -> None:
    objects = [plain("a", 0), plain("b", 5), packed("c.gz", 0), plain("d", 0), plain("e", 5)]
    assert layout(cut(objects, CHUNK)) == [[("b", 0, 5), ("e", 0, 5)]]
    assert cut([plain("a", 0)], CHUNK) == [] and count_tasks([plain("a", 0)], CHUNK) == 0


@pytest.mark.unit
def test_a_huge_object_among_small_ones_is_cut_and_its_tail_grouped() -> None:
    """Its whole chunks are a task each, in order; the small objects before
    it close their task; its last range starts the next group."""
    objects = [plain("a", 100), plain("big", 3 * CHUNK + 250), plain("c", 700), plain("d", 100)]
    tasks = cut(objects, CHUNK)
    assert layout(tasks) == [
        [("a", 0, 100)],
        [("big", 0, 1000)],
        [("big", 1000, 2000)],
        [("big", 2000, 3000)],
        [("big", 3000, 3250), ("c", 0, 700)],
        [("d", 0, 100)],
    ]
    assert covers_every_byte_once(objects, tasks)


@pytest.mark.unit
def test_compressed_objects_are_grouped_at_their_size_decompressed() -> None:
    """gzip told exactly counts what it decompresses to; a size its bytes
    cannot tell (bzip2) or only bound (several gzip members) is a task of its
    own; plain and compressed pieces mix in one task, in order."""
    objects = [
        packed("a.gz", 50),
        plain("b.log", 200),
        packed("c.gz", 60),
        packed("d.bz2", 40, "bzip2"),
        packed("e.gz", 70),
        packed("f.gz", 80),
        packed("g.zst", 30, "zstd"),
    ]
    told = {
        "/logs/a.gz": exactly(500),
        "/logs/c.gz": exactly(300),
        "/logs/d.bz2": DecompressedSize(None, False, "bzip2 does not tell"),
        "/logs/e.gz": DecompressedSize(10, False, "gzip trailer: the last member's"),
        "/logs/f.gz": exactly(400),
        "/logs/g.zst": DecompressedSize(700, True, "zstd frame header"),
    }
    tasks = cut(objects, CHUNK, told)
    assert layout(tasks) == [
        [("a.gz", 0, None), ("b.log", 0, 200), ("c.gz", 0, None)],  # 500 + 200 + 300
        [("d.bz2", 0, None)],
        [("e.gz", 0, None)],
        [("f.gz", 0, None)],  # 400 + 700 > 1,000
        [("g.zst", 0, None)],
    ]
    assert [p.compression for p in tasks[0].pieces] == ["gzip", None, "gzip"]
    assert covers_every_byte_once(objects, tasks)
    assert count_tasks(objects, CHUNK, told) == len(tasks)
    # without the sizes, every compressed object is a task of its own
    assert [len(task.pieces) for task in cut(objects, CHUNK)] == [1] * 7


@pytest.mark.unit
def test_what_a_task_reads_through() -> None:
    assert read_through(plain("a", 7), None) == 7
    assert read_through(packed("a.gz", 7), exactly(70)) == 70
    assert read_through(packed("a.gz", 7), DecompressedSize(3, False, "last member")) is None
    assert read_through(packed("a.bz2", 7, "bzip2"), None) is None


@pytest.mark.unit
def test_fifty_thousand_small_gzip_objects_become_a_few_hundred_tasks() -> None:
    """ALB's shape: 50,000 objects of a few KB compressed, 200 KB of lines
    each, under S3 keys of 170 characters; the Lambda chunk of 64 MiB."""
    prefix = "s3://logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/05/"
    objects = [
        InputObject(
            f"{prefix}123456789012_elb_app.my-alb.0123456789abcdef_{n:06d}.log.gz",
            9_000,
            "gzip",
            '"0123456789abcdef0123456789abcdef"',
        )
        for n in range(50_000)
    ]
    told = {obj.uri: exactly(200_000) for obj in objects}
    tasks = cut(objects, 64 << 20, told)
    assert 100 <= len(tasks) <= 400
    assert count_tasks(objects, 64 << 20, told) == len(tasks)
    assert covers_every_byte_once(objects, tasks)
    assert max(json_size(task.to_dict()) for task in tasks) <= MAX_TASK_JSON_BYTES


# -- the JSON bound ------------------------------------------------------------------------------
def long_uri(n: int) -> str:
    """An S3 URI at its longest: a 63-character bucket and a 1,024-byte key."""
    head = f"s3://{'b' * 63}/"
    name = f"{n:08d}.gz"
    return head + "k" * (1024 - len(name)) + name


@pytest.mark.unit
def test_a_task_closes_before_its_json_passes_the_bound() -> None:
    """Tiny objects under the longest S3 keys: the chunk would take them
    all, the JSON bound closes each task first, and each task's JSON is
    within it (the next piece would not have fitted)."""
    objects = [InputObject(long_uri(n), 20, "gzip", '"' + "e" * 32 + '-9999"') for n in range(400)]
    told = {obj.uri: exactly(100) for obj in objects}
    tasks = cut(objects, 1 << 30, told)
    sizes = [json_size(task.to_dict()) for task in tasks]
    assert len(tasks) > 1 and max(sizes) <= MAX_TASK_JSON_BYTES
    piece = json_size(tasks[0].pieces[0].to_dict()) + 1
    assert all(size + piece > MAX_TASK_JSON_BYTES for size in sizes[:-1])
    assert covers_every_byte_once(objects, tasks)


@pytest.mark.unit
def test_the_worst_case_payloads_stay_within_step_functions_quota() -> None:
    """The largest spec a request may make (every salted key at its longest,
    in characters JSON escapes to six bytes; a pattern of 1,000 characters)
    with the largest map task (the JSON bound, at the longest S3 keys):

    * a Map iteration's input, ``{spec, task}`` (the inline Map's, and a
      Distributed Map's child execution input) is within 256 KiB;
    * Plan's output with the inline Map's tasks at their bound is too;
    * so is one item of the Distributed Map's items file."""
    spec = JobSpec(
        job_id="j" * 80,
        job="pattern_count",
        inputs=[long_uri(0)[:-11] + "/"],
        params={"pattern": "\x01" * 1000, "ignore_case": True},
        salted_keys=["\x01" * MAX_SALTED_KEY_CHARS] * MAX_SALTED_KEYS,
        reducers=466,
        chunk_size=1 << 40,
        max_concurrency=10_000,
        buckets=466,
    ).to_dict()
    objects = [InputObject(long_uri(n), 20, "gzip", '"' + "e" * 32 + '-9999"') for n in range(99)]
    tasks = cut(objects, 1 << 30, {obj.uri: exactly(100) for obj in objects})
    largest = max(tasks, key=lambda task: json_size(task.to_dict())).to_dict()
    assert json_size(largest) > MAX_TASK_JSON_BYTES - 1200  # at the bound, within a piece
    assert json_size({"spec": spec, "task": largest}) <= limits.MAX_PAYLOAD_BYTES
    # Plan's output (tasks.planning.plan) with the inline Map's tasks at their
    # bound: their JSON in place of the empty list's
    plan_output = {
        "job_id": spec["job_id"],
        "spec": spec,
        "map_tasks": [],
        "map_task_count": INLINE_MAP_MAX_TASKS,
        "distributed": False,
        "map_items_key": "s3://" + "b" * 63 + "/logmr/jobs/" + "j" * 80 + "/map_items.json",
        "max_concurrency": 10_000,
        "input_bytes": 10**15,
    }
    assert json_size(plan_output) - 2 + INLINE_MAP_MAX_JSON_BYTES <= limits.MAX_PAYLOAD_BYTES


# -- counting is cutting ---------------------------------------------------------------------------
object_sizes = st.integers(min_value=0, max_value=5000)
kinds = st.sampled_from([None, None, "gzip", "bzip2"])


@pytest.mark.property
@given(
    described=st.lists(st.tuples(object_sizes, kinds, st.integers(0, 20_000)), max_size=40),
    chunk=st.integers(min_value=1, max_value=3000),
)
def test_count_tasks_counts_what_cut_builds_and_every_byte_is_read_once(
    described: list[tuple[int, str | None, int]], chunk: int
) -> None:
    objects = [InputObject(f"/logs/{n}", size, kind) for n, (size, kind, _) in enumerate(described)]
    told = {
        obj.uri: exactly(inflated)
        for obj, (_, kind, inflated) in zip(objects, described, strict=True)
        if kind == "gzip"
    }
    tasks = cut(objects, chunk, told)
    assert count_tasks(objects, chunk, told) == len(tasks)
    assert covers_every_byte_once(objects, tasks)
    by_uri = {obj.uri: obj for obj in objects}
    for task in tasks:
        if len(task.pieces) > 1:  # a group: pieces of known bytes, at most the chunk
            nbytes = [
                piece.size
                if piece.size is not None
                else read_through(by_uri[piece.uri], told.get(piece.uri))
                for piece in task.pieces
            ]
            assert None not in nbytes
            assert sum(n for n in nbytes if n is not None) <= chunk
