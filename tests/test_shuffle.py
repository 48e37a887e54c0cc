"""The shuffle codec (version 4): every partition round trips exactly as the
JSON of version 1 gave it back, the common values travel as MessagePack, an
object is bound to its job, map task and attempt, a block holds one chunk per
segment and the index counts the spill objects, and every bad byte (or an
object in another's place) is a ``CorruptShuffleError``."""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections import OrderedDict
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from logmr.errors import CorruptShuffleError
from logmr.jobs.base import key_text
from logmr.mapreduce import shuffle

#: whose output the tests' objects are
BINDING = shuffle.Binding("job-1", 3, "0123456789abcdef")


def encode(parts: Any, binding: shuffle.Binding = BINDING) -> bytes:
    return shuffle.encode(parts, binding)


def sample() -> bytes:
    return encode([[("a", 1), ("b", [2, 3])], [], [("ü|\t,", {"count": 4})]])


def json_round_trip(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """What version 1 (JSON) gave back: the answer version 2 must keep."""
    return [(k, v) for k, v in json.loads(json.dumps(pairs))] if pairs else []


def same(a: Any, b: Any) -> bool:
    """Equal with the same types, floats bit for bit (any NaN equal to any NaN:
    JSON kept neither the sign nor the payload of a NaN), dicts in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def blocks_of(data: bytes) -> list[bytes]:
    return [data[o : o + n] for o, n, _ in shuffle.decode_index(data)]


def codec_of(block: bytes) -> int:
    """The codec of a block's first chunk (after its 4-byte length)."""
    return block[4]


def chunk(payload: bytes) -> bytes:
    """A chunk around a raw payload (codec byte and body)."""
    return struct.pack("<I", len(payload)) + payload


def assemble(blocks: list[bytes], version: int = shuffle.VERSION, spills: int = 0) -> bytes:
    """An object around raw blocks, every checksum right: what a block's own
    content must stand against."""
    offset = shuffle.header_size(len(blocks), BINDING.job_id)
    job = BINDING.job_id.encode()
    checked = struct.pack("<I8sH", BINDING.task, bytes.fromhex(BINDING.attempt), len(job)) + job
    for block in blocks:
        checked += struct.pack("<QQI", offset, len(block), zlib.crc32(block))
        offset += len(block)
    checked += struct.pack("<I", spills)
    head = struct.pack("<4sBI", shuffle.MAGIC, version, len(blocks))
    return head + checked + struct.pack("<I", zlib.crc32(checked)) + b"".join(blocks)


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(data)


def read_all(data: bytes) -> list[list[tuple[str, Any]]]:
    return [shuffle.read_partition(data, i) for i in range(len(shuffle.decode_index(data)))]


# -- round trips ------------------------------------------------------------------------------
@pytest.mark.unit
def test_round_trip_every_partition() -> None:
    data = sample()
    assert data[4] == 4  # the version
    assert shuffle.read_partition(data, 0) == [("a", 1), ("b", [2, 3])]
    assert shuffle.read_partition(data, 1) == []
    assert shuffle.read_partition(data, 2) == [("ü|\t,", {"count": 4})]


@pytest.mark.unit
def test_encoding_is_deterministic() -> None:
    assert sample() == sample()


@pytest.mark.unit
def test_an_empty_partition_is_an_empty_block() -> None:
    data = encode([[], [("k", 1)], []])
    assert [len(block) for block in blocks_of(data)][::2] == [0, 0]
    assert encode([]) == encode([])  # no partitions at all
    assert read_all(encode([])) == []
    assert shuffle.decode_header(data).spills == 0


#: what the built-in combiners yield: counts, [count, bytes], column sums with a
#: sketch, dicts of counts, partial sessions of epoch floats, sketch text
BUILTIN_VALUES: list[Any] = [
    7,
    [3, 120_345],
    [10, 2, 99_999, "kll1:AgUIAMgACAAKAAAAAAAAAMgAAQ=="],
    {"count": 5, "2xx": 4, "5xx": 1},
    {"count": 2, "sketch": "hll1:AgEHDAMIAgC1bWUHnCkdCw=="},
    [[1_700_000_000.125, 1_700_000_042.5, 3], [1_700_003_600.0, 1_700_003_601.75, 1]],
    "kll1:" + "A" * 4_000,
    -0.0,
    1e-310,  # subnormal
    2**64 - 1,
    -(2**63),
    True,
    None,
]


@pytest.mark.unit
def test_the_builtin_values_travel_as_msgpack_and_come_back_as_json_gave_them() -> None:
    pairs = [(f"/p/{i}?q=ü", value) for i, value in enumerate(BUILTIN_VALUES)]
    pairs.append((key_text(b"/bad\xff\xfe/\xc3"), 1))  # invalid UTF-8 as \xNN text
    data = encode([pairs])
    (block,) = blocks_of(data)
    assert codec_of(block) == shuffle.MSGPACK
    got = shuffle.read_partition(data, 0)
    assert same(got, json_round_trip(pairs))
    assert got[-1][0] == "/bad\\xff\\xfe/\\xc3"


@pytest.mark.unit
def test_tuples_come_back_as_lists_and_dict_order_is_kept() -> None:
    pairs = [("t", (1, (2.5, "x"))), ("d", OrderedDict([("z", 1), ("a", 2), ("m", 3)]))]
    got = shuffle.read_partition(encode([pairs]), 0)
    assert got == [("t", [1, [2.5, "x"]]), ("d", {"z": 1, "a": 2, "m": 3})]
    assert list(got[1][1]) == ["z", "a", "m"]
    assert type(got[0][1]) is list and type(got[1][1]) is dict


@pytest.mark.unit
@pytest.mark.parametrize(
    "value",
    [
        2**64,  # outside 64 bits
        -(2**63) - 1,
        {1: "a", 2.5: "b", None: "c", False: "d"},  # JSON turns the keys into text
        {"1": "first", 1: "second"},  # ... which then collide: JSON keeps the last
        "lone \udc80 surrogate",
        [0, {"deep": [{"k": 10**30}]}],
    ],
    ids=["big", "negative big", "non-str keys", "colliding keys", "surrogate", "nested big"],
)
def test_a_value_msgpack_would_carry_differently_makes_the_block_json(value: Any) -> None:
    pairs = [("a", 1), ("b", value)]
    data = encode([pairs])
    (block,) = blocks_of(data)
    assert codec_of(block) == shuffle.JSON
    assert same(shuffle.read_partition(data, 0), json_round_trip(pairs))


@pytest.mark.unit
def test_a_surrogate_in_a_key_makes_the_block_json() -> None:
    pairs = [("k\ud800ey", 1), ("ok", 2)]
    data = encode([pairs])
    assert codec_of(blocks_of(data)[0]) == shuffle.JSON
    assert shuffle.read_partition(data, 0) == pairs


@pytest.mark.unit
def test_a_value_json_refuses_is_still_refused_at_the_map_side() -> None:
    with pytest.raises(TypeError):
        encode([[("k", {1, 2})]])
    with pytest.raises(TypeError):
        encode([[("k", struct)]])


@pytest.mark.unit
def test_nan_and_infinities_round_trip() -> None:
    pairs = [("k", [math.inf, -math.inf, math.nan])]
    data = encode([pairs])
    assert codec_of(blocks_of(data)[0]) == shuffle.MSGPACK
    assert same(shuffle.read_partition(data, 0), json_round_trip(pairs))


@pytest.mark.unit
def test_blocks_are_compressed() -> None:
    pairs = [(f"/api/v1/orders/{i}?page=3", [1, 512]) for i in range(2_000)]
    data = encode([pairs])
    assert len(data) < len(json.dumps(pairs)) / 4


# -- property: every shape the values take ----------------------------------------------------
keys = (
    st.text()
    | st.text(st.characters(codec="utf-8"))  # any scalar value, astral planes included
    | st.text(st.characters(categories=["Cs"]), max_size=3)  # lone surrogates
    | st.binary().map(key_text)  # invalid UTF-8 as \xNN text, as the mapper side makes keys
)
atoms = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: big ones take the JSON way
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text()
)
values = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(-5, 5), inner, max_size=3)  # JSON makes the keys text
    ),
    max_leaves=12,
)
pairs = st.lists(st.tuples(keys, values), max_size=12)


@pytest.mark.property
@given(parts=st.lists(pairs, min_size=1, max_size=6))
def test_round_trip_property(parts: list[list[tuple[str, Any]]]) -> None:
    data = encode(parts)
    for index, expected in enumerate(parts):
        assert same(shuffle.read_partition(data, index), json_round_trip(expected))


@pytest.mark.property
@given(
    parts=st.lists(
        st.lists(
            st.tuples(
                st.text(),
                st.integers(0, 2**40)
                | st.lists(st.integers(0, 2**40), min_size=2, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["count", "bytes", "2xx", "sketch"]), st.integers(0, 2**40)
                )
                | st.lists(
                    st.tuples(
                        st.floats(allow_nan=False), st.floats(allow_nan=False), st.integers(1, 99)
                    ),
                    max_size=3,
                ),
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_builtin_shapes_always_travel_as_msgpack(parts: list[list[tuple[str, Any]]]) -> None:
    data = encode(parts)
    for block, expected in zip(blocks_of(data), parts, strict=True):
        assert (codec_of(block) == shuffle.MSGPACK) if expected else block == b""
    for index, expected in enumerate(parts):
        assert same(shuffle.read_partition(data, index), json_round_trip(expected))


# -- corruption -------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: b"XXXX" + d[4:], "not a shuffle object"),
        (lambda d: d[:4] + b"\x09" + d[5:], "shuffle version 9"),
        (lambda d: d[:4] + b"\x01" + d[5:], "shuffle version 1, this logmr reads 4"),
        (lambda d: d[:4] + b"\x02" + d[5:], "shuffle version 2, this logmr reads 4"),
        (lambda d: d[:4] + b"\x03" + d[5:], "shuffle version 3, this logmr reads 4"),
        (lambda d: d[:6], "truncated"),
        (lambda d: d[:40], "truncated index"),
        (lambda d: d[:12] + bytes([d[12] ^ 1]) + d[13:], "index checksum"),  # the binding's task
        (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], "index checksum"),  # an index entry
        (lambda d: d[:-1], "truncated block"),
        (lambda d: d[:-2] + bytes([d[-2] ^ 0x55]) + d[-1:], "block checksum"),
    ],
)
def test_corruption_is_a_named_error(mangle: object, message: str) -> None:
    data = mangle(sample())  # type: ignore[operator]
    with pytest.raises(CorruptShuffleError, match=message):
        for partition in range(3):
            shuffle.read_partition(data, partition)


# -- the binding: whose output an object is ---------------------------------------------------
@pytest.mark.unit
def test_an_object_names_its_job_task_and_attempt() -> None:
    data = sample()
    header = data[: shuffle.header_size(3, "job-1")]
    found = shuffle.decode_header(header, "obj", job_id="job-1", task=3)
    assert found.binding == BINDING
    assert found.entries == shuffle.decode_index(data)
    other = shuffle.Binding("job-1", 3, "fedcba9876543210")
    assert shuffle.decode_header(encode([[("a", 1)]], other)).binding.attempt == other.attempt


@pytest.mark.unit
@pytest.mark.parametrize(
    ("job_id", "task", "message"),
    [
        (
            "job-1",
            4,
            r"m-4: the shuffle object of job 'job-1' map task 3 \(attempt 0123456789abcdef\),"
            r" not of job 'job-1' map task 4: another task's output in its place",
        ),
        (
            "job-2",
            3,
            r"the shuffle object of job 'job-1' map task 3 .*, not of job 'job-2' map task 3:"
            r" another job's output in its place",
        ),
        ("job-100", 3, r"the shuffle object of job 'job-1' map task 3 .*, not of job 'job-100'"),
        ("j", 3, r"m-4: the shuffle object of job 'job-1', not of job 'j': another job's output"),
    ],
    ids=["another task", "another job", "a longer job id", "a shorter job id"],
)
def test_an_object_in_another_tasks_place_is_refused(job_id: str, task: int, message: str) -> None:
    """What a reducer reads, the header it fetches for the job id it knows,
    from a valid object of another task or job: refused, naming both."""
    data = sample()
    with pytest.raises(CorruptShuffleError, match=message):
        shuffle.decode_header(
            data[: shuffle.header_size(3, job_id)], "m-4", job_id=job_id, task=task
        )


@pytest.mark.unit
def test_a_version_1_object_is_refused() -> None:
    """What version 1 wrote (zlib-compressed JSON pairs) is refused by its version."""
    block = zlib.compress(json.dumps([["a", 1]]).encode(), 1)
    with pytest.raises(CorruptShuffleError, match="shuffle version 1"):
        shuffle.read_partition(assemble([block], version=1), 0)


@pytest.mark.unit
@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_every_flipped_byte_is_a_corrupt_shuffle_error(flip: int) -> None:
    data = sample()
    for position in range(len(data)):
        mangled = data[:position] + bytes([data[position] ^ flip]) + data[position + 1 :]
        with pytest.raises(CorruptShuffleError):
            for partition in range(3):  # the original count, whatever the header now says
                shuffle.read_partition(mangled, partition)


@pytest.mark.unit
def test_every_truncation_is_a_corrupt_shuffle_error() -> None:
    data = sample()
    for end in range(len(data)):
        with pytest.raises(CorruptShuffleError):
            for partition in range(3):
                shuffle.read_partition(data[:end], partition)


@pytest.mark.unit
def test_a_truncated_block_read_is_a_corrupt_shuffle_error() -> None:
    data = sample()
    ((offset, length, crc), *_) = shuffle.decode_index(data)
    for end in range(length):
        with pytest.raises(CorruptShuffleError, match="truncated block"):
            shuffle.decode_block(data[offset : offset + end], crc, length)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("block", "message"),
    [
        (bytes([9]) + zstd(b"\x92\x91\xa1a\x91\x01"), "unknown block codec 9"),
        (bytes([shuffle.MSGPACK]) + b"not zstd at all", "undecodable"),
        (bytes([shuffle.MSGPACK]), "undecodable"),  # a codec byte and nothing else
        (bytes([shuffle.MSGPACK]) + zstd(b"\x92\x91\xa1a"), "undecodable"),  # cut msgpack
        (bytes([shuffle.MSGPACK]) + zstd(b"\x93\x90\x90\x90"), "undecodable"),  # 3 arrays
        (bytes([shuffle.MSGPACK]) + zstd(b"\x92\x91\xa1a\x90"), "undecodable"),  # 1 key, 0 values
        (bytes([shuffle.MSGPACK]) + zstd(b"\x92\xa2ab\xa2cd"), "undecodable"),  # text, not arrays
        (bytes([shuffle.MSGPACK]) + zstd(b"\x05"), "undecodable"),  # not an array
        (bytes([shuffle.JSON]) + zstd(b'[["a"],[1]'), "undecodable"),  # cut JSON
        (bytes([shuffle.JSON]) + zstd(b'[["a"],[1,2]]'), "undecodable"),
        (bytes([shuffle.JSON]) + zstd(b'{"a":1}'), "undecodable"),
        (bytes([shuffle.JSON]) + zlib.compress(b'[["a"],[1]]'), "undecodable"),  # zlib, not zstd
    ],
)
def test_a_block_whose_checksum_holds_but_whose_body_is_bad(block: bytes, message: str) -> None:
    with pytest.raises(CorruptShuffleError, match=message):
        shuffle.read_partition(assemble([chunk(block)]), 0)


@pytest.mark.unit
def test_the_bad_block_tests_start_from_a_good_one() -> None:
    """The hand-made bodies above are one byte away from valid ones."""
    good = bytes([shuffle.MSGPACK]) + zstd(b"\x92\x91\xa1a\x91\x01")
    assert shuffle.read_partition(assemble([chunk(good)]), 0) == [("a", 1)]
    good_json = bytes([shuffle.JSON]) + zstd(b'[["a"],[1]]')
    assert shuffle.read_partition(assemble([chunk(good_json)]), 0) == [("a", 1)]


@pytest.mark.unit
def test_threads_encode_and_decode_at_once() -> None:
    """A reducer decodes its blocks on ``READ_THREADS`` threads: each has its own zstd context."""
    from concurrent.futures import ThreadPoolExecutor

    parts = [[(f"k{t}-{i}", [i, t]) for i in range(3_000)] for t in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        datas = list(pool.map(lambda part: encode([part]), parts))
        got = list(pool.map(lambda data: shuffle.read_partition(data, 0), datas * 4))
    assert got == parts * 4


# -- segments and spills ------------------------------------------------------------------------
@pytest.mark.unit
def test_a_block_holds_one_chunk_per_segment_read_back_in_order() -> None:
    """A map task that spilled holds several segments per object: a bucket's
    block is their chunks, read back in segment order, a key maybe in each."""
    held = shuffle.Segments(3)
    first = [[("a", 1), ("b", [2, 3])], [], [("z", {"count": 1})]]
    second = [[("a", 5)], [("m", 2**70)], []]  # a JSON chunk beside MessagePack ones
    for segment in (first, second):
        for bucket, pairs in enumerate(segment):
            held.add(bucket, shuffle.encode_block(pairs))
    assert held.size == sum(len(c) for chunks in held.chunks for c in chunks)
    data = held.take(BINDING, spills=2)
    assert held.size == 0 and held.chunks == [[], [], []]
    assert read_all(data) == [first[0] + second[0], second[1], first[2]]
    header = shuffle.decode_header(data, job_id=BINDING.job_id, task=BINDING.task)
    assert (header.binding, header.spills) == (BINDING, 2)
    block = blocks_of(data)[0]
    (size,) = struct.unpack_from("<I", block)
    assert len(block) > 4 + size  # two chunks
    assert codec_of(block) == shuffle.MSGPACK and codec_of(blocks_of(data)[1]) == shuffle.JSON


@pytest.mark.unit
def test_one_segment_is_what_encode_writes() -> None:
    parts = [[("a", 1)], [], [("b", 2), ("c", 3)]]
    held = shuffle.Segments(3)
    for bucket, pairs in enumerate(parts):
        held.add(bucket, shuffle.encode_block(pairs))
    assert held.take(BINDING) == encode(parts)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x05\x00", "chunk length cut short"),
        (struct.pack("<I", 0), "chunk of 0 bytes"),
        (struct.pack("<I", 99) + b"\x01abc", "chunk of 99 bytes"),
        (chunk(bytes([shuffle.MSGPACK]) + zstd(b"\x92\x91\xa1a\x91\x01")) + b"\x01", "cut short"),
    ],
)
def test_a_chunk_length_that_does_not_fit_its_block_is_named(block: bytes, message: str) -> None:
    with pytest.raises(CorruptShuffleError, match=message):
        shuffle.read_partition(assemble([block]), 0)


@pytest.mark.unit
def test_the_spill_count_is_checksummed_with_the_index() -> None:
    data = assemble([b""], spills=3)
    assert shuffle.decode_header(data).spills == 3
    at = shuffle.header_size(1, BINDING.job_id) - 8  # the spill count, before the checksum
    mangled = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
    with pytest.raises(CorruptShuffleError, match="index checksum"):
        shuffle.decode_header(mangled)
