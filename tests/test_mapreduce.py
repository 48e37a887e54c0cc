"""logmr.mapreduce.side: the map side (parse, map, combine, partition) and
the reduce of grouped values, in memory."""

from __future__ import annotations

import gc
import io
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logmr.devtools.generate import generate
from logmr.formats import get_format
from logmr.inputs.lines import split_lines
from logmr.jobs import Job, binding, load_job
from logmr.jobs.base import key_text
from logmr.mapreduce import side as side_module
from logmr.mapreduce.partition import partition_of, reducer_of, salted_bucket
from logmr.mapreduce.side import MapSide, collector_paused, reduce_groups
from logmr.spec import JobSpec
from test_fast_parse import REFERENCE, VALID, as_text, lines_of


def generated(fmt: str, lines: int, seed: int) -> bytes:
    out = io.BytesIO()
    generate(out, fmt=fmt, lines=lines, seed=seed)
    return out.getvalue()


def map_side(job: str, fmt: str, params: dict[str, str] | None = None, **kw: Any) -> MapSide:
    spec = JobSpec(job_id="m", job=job, inputs=["x"], params=params or {}, format=fmt)
    bound_job, bound_fmt = binding.prepare(spec)
    return MapSide(bound_job, bound_fmt, kw.pop("sample_limit", 5), **kw)


#: (job, params, format, generated log): the fast paths MapSide takes: a counting
#: job (count_field), a column job, the mapper per record, raw lines with
#: map_keys, raw lines with a mapper, a format with continuation lines (not the
#: KLL sketch jobs: their compaction is randomised, the bytes differ run to run)
PATHS = [
    ("status_codes", {}, "apache_combined"),
    ("top_paths", {}, "apache_combined"),
    ("requests_per_window", {"window": "1h"}, "apache_combined"),
    ("error_rate", {}, "apache_combined"),
    ("sessions", {"gap": "5m"}, "apache_combined"),
    ("word_count", {}, "plain"),
    ("pattern_count", {"pattern": r"\[(?P<key>[^\]]+)\]"}, "plain"),
    ("level_counts", {}, "applog"),
]
LOGS = {"apache_combined": "apache_combined", "plain": "applog", "applog": "applog"}


def by_key(parts: list[list[tuple[str, Any]]]) -> list[dict[str, Any]]:
    """Partitions as their pairs by key: the order inside one does not matter."""
    found = [dict(part) for part in parts]
    assert [len(part) for part in found] == [len(part) for part in parts]  # each key once
    return found


# -- feed and feed_text ------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(("job", "params", "fmt"), PATHS, ids=[p[0] for p in PATHS])
def test_feed_text_counts_what_feed_counts(job: str, params: dict[str, str], fmt: str) -> None:
    """The same log as one text, as two texts, and as line batches of odd
    sizes: the same counters, samples and partitions."""
    text = generated(LOGS[fmt], 3000, seed=31) + b"a line no format parses\n"
    lines = split_lines(text)
    whole = map_side(job, fmt, params)
    whole.feed_text(text)
    cut = text.index(b"\n", len(text) // 3) + 1
    halves = map_side(job, fmt, params)
    halves.feed_text(text[:cut])
    halves.feed_text(text[cut:])
    batches = map_side(job, fmt, params)
    for start in range(0, len(lines), 777):
        batches.feed(lines[start : start + 777])
    assert whole.counters()["lines"] == len(lines)
    assert whole.counters()["malformed"] >= 1 or fmt == "plain"
    for other in (halves, batches):
        assert other.counters() == whole.counters()
        assert other.samples == whole.samples
        assert by_key(other.partitions(4)) == by_key(whole.partitions(4))


@pytest.mark.property
@pytest.mark.parametrize("job_name", ["status_codes", "top_paths", "bytes_total", "access_report"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_of["apache_combined"], data=st.data())
def test_feed_text_equals_feed_lines(
    job_name: str, lines: list[bytes], data: st.DataObject
) -> None:
    """Mutated Apache lines (quotes, backslashes, stray CRs, LF or CRLF): the
    block parsers' path and the line path agree, and with the reference regex."""
    crlf = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    text = as_text(lines, crlf)
    fast = side_after(job_name, "apache_combined", text, as_text_blocks=True)
    slow = side_after(job_name, "apache_combined", text, as_text_blocks=False)
    assert fast.counters() == slow.counters()
    assert fast.samples == slow.samples
    assert fast.partitions(3) == slow.partitions(3)
    reference = REFERENCE["apache_combined"]
    assert fast.counters()["malformed"] == sum(
        1 for line in split_lines(text) if reference.match(line) is None
    )
    if job_name == "status_codes":
        want = Counter(m[12] for line in split_lines(text) if (m := reference.match(line)))
        assert dict(fast.counts) == dict(want)


def side_after(job_name: str, fmt_name: str, text: bytes, *, as_text_blocks: bool) -> MapSide:
    job = load_job(job_name)
    fmt = get_format(fmt_name)
    job.bind(fmt)
    side = MapSide(job, fmt, sample_limit=3)
    if as_text_blocks:
        side.feed_text(text)
    else:
        side.feed(split_lines(text))
    side.combine()
    return side


@pytest.mark.unit
def test_malformed_lines_are_counted_all_and_sampled_up_to_the_limit() -> None:
    good = generated("apache_combined", 100, seed=32)
    junk = [b"junk %d" % i for i in range(7)]
    text = good + b"".join(line + b"\n" for line in junk)
    side = map_side("status_codes", "apache_combined", sample_limit=3, sample_origin="f@0")
    side.feed_text(text)
    assert side.counters()["malformed"] >= 7
    assert len(side.samples) == 3
    assert all(sample["origin"] == "f@0" for sample in side.samples)
    assert {sample["line"] for sample in side.samples} <= {
        line.decode()
        for line in split_lines(text)
        if REFERENCE["apache_combined"].match(line) is None
    }


# -- combine ---------------------------------------------------------------------------------
@pytest.mark.unit
def test_combine_folds_each_keys_values_and_changes_no_answer() -> None:
    lines = split_lines(generated("apache_combined", 2000, seed=33))
    side = map_side("top_paths", "apache_combined", per_record=True)
    side.feed(lines)
    before = side.partitions(3)
    pairs = sum(len(values) for values in side.buffer.values())
    assert pairs > len(side.buffer)  # some path came more than once
    side.combine()
    assert all(len(values) == 1 for values in side.buffer.values())
    assert side.buffered == len(side.buffer)
    assert side.partitions(3) == before


@pytest.mark.unit
def test_the_buffer_is_combined_as_it_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """Map-side memory stays bounded: past COMBINE_EVERY buffered values the
    combiner runs, and the answer is the one of an unbounded buffer."""
    lines = split_lines(generated("apache_combined", 3000, seed=34))
    unbounded = map_side("top_paths", "apache_combined", per_record=True)
    unbounded.feed(lines)
    monkeypatch.setattr(side_module, "COMBINE_EVERY", 100)
    bounded = map_side("top_paths", "apache_combined", per_record=True)
    most = 0
    for start in range(0, len(lines), 50):
        bounded.feed(lines[start : start + 50])
        most = max(most, bounded.buffered)
    assert most < 100 + len(unbounded.buffer)
    assert sum(len(v) for v in unbounded.buffer.values()) > most
    assert bounded.partitions(5) == unbounded.partitions(5)


# -- partitions -------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("reducers", [1, 2, 7])
def test_every_key_goes_once_to_the_partition_that_owns_it(reducers: int) -> None:
    side = map_side("status_codes", "apache_combined")
    side.feed_text(generated("apache_combined", 2000, seed=35))
    assert all(isinstance(key, bytes) for key in side.counts)  # counted as raw bytes
    parts = side.partitions(reducers)
    assert len(parts) == reducers
    seen = [key for part in parts for key, _ in part]
    assert sorted(seen) == sorted(key.decode() for key in side.counts)  # canonical text, once
    for number, part in enumerate(parts):
        assert all(partition_of(key, reducers) == number for key, _ in part)
    assert sum(value for part in parts for _, value in part) == side.counters()["records"]


@pytest.mark.unit
@pytest.mark.parametrize("reducers", [2, 4, 7])
def test_a_salted_key_spreads_over_every_reducers_group_of_buckets(reducers: int) -> None:
    """Salted with the map task's number, the hot key moves to one other
    bucket per task (``salted_bucket``), and over 4 x R map tasks every
    reducer's contiguous group of buckets gets 2 to 6 of its pairs, whatever
    R Reduce is planned with; every other key stays where it was."""
    side = map_side("top_paths", "apache_combined", sample_limit=0)
    side.feed(split_lines(generated("apache_combined", 500, seed=36)))
    side.combine()
    buckets = 64
    plain = side.partitions(buckets)
    counts = Counter({key: value[0] for part in plain for key, value in part})  # [count, bytes]
    hot = counts.most_common(1)[0][0]
    home = partition_of(hot, buckets)
    groups = Counter[int]()
    for task in range(4 * reducers):
        parts = side.partitions(buckets, frozenset({hot}), salt=task)
        where = [i for i, part in enumerate(parts) if any(key == hot for key, _ in part)]
        assert where == [salted_bucket(home, task, buckets)]
        groups[reducer_of(where[0], reducers, buckets)] += 1
        others = [[pair for pair in part if pair[0] != hot] for part in parts]
        assert others == [[pair for pair in part if pair[0] != hot] for part in plain]
    assert sorted(groups) == list(range(reducers))
    assert all(2 <= count <= 6 for count in groups.values()), groups


# -- reduce_groups and key_text -------------------------------------------------------------------
class Bytes(Job):
    """Keys come back from the reducer as bytes, values as the list's length."""

    name = "bytes_keys"

    def reducer(self, key: Any, values: list[Any]) -> Iterator[tuple[Any, Any]]:
        yield key.encode() + b"\xff", len(values)


@pytest.mark.unit
def test_reduce_groups_reduces_every_key_in_key_order() -> None:
    groups = {"b": [1, 2], "a": [3], "c": [4, 5, 6]}
    assert reduce_groups(load_job("status_codes"), groups) == [("a", 3), ("b", 3), ("c", 15)]
    assert reduce_groups(Bytes(), groups) == [("a\\xff", 1), ("b\\xff", 2), ("c\\xff", 3)]
    assert reduce_groups(Bytes(), {}) == []


@pytest.mark.unit
def test_key_text_is_the_canonical_string_of_a_key() -> None:
    assert key_text("café") == "café"
    assert key_text("café".encode()) == "café"
    assert key_text(b"caf\xe9") == "caf\\xe9"  # invalid UTF-8 kept, escaped
    assert key_text(404) == "404"
    assert key_text(None) == "None"


# -- the collector ----------------------------------------------------------------------
@pytest.fixture
def collections_seen() -> Iterator[list[int]]:
    """The generations of the cyclic collector's runs while the test runs."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    yield seen
    gc.callbacks.remove(note)


@pytest.mark.unit
@pytest.mark.parametrize("job_name", ["access_report", "top_paths"])
def test_a_batch_runs_no_collection_and_leaves_the_collector_on(
    job_name: str, collections_seen: list[int]
) -> None:
    """50,000 records allocate far past gen0's threshold (700 containers): with
    the collector on, that many rows trigger collections; during a batch, none."""
    text = b"".join(VALID["apache_combined"] + b"\n" for _ in range(50_000))
    side = MapSide(load_job(job_name), get_format("apache_combined"), 5)
    side.job.bind(side.fmt)
    rows = [[line] for line in split_lines(text)]  # the same allocations, collector on
    assert collections_seen, "50,000 lists should have triggered a collection"
    del rows
    collections_seen.clear()
    during: list[list[int]] = []
    batch = side._feed_text

    def batch_then_note(text: bytes) -> None:
        batch(text)
        during.append(list(collections_seen))  # still inside the batch

    side._feed_text = batch_then_note  # type: ignore[method-assign]
    side.feed_text(text)
    assert during == [[]]
    assert gc.isenabled()
    assert side.counters()["records"] == 50_000


@pytest.mark.unit
def test_the_collector_comes_back_after_a_failing_batch() -> None:
    with pytest.raises(ValueError), collector_paused():
        assert not gc.isenabled()
        raise ValueError("bad batch")
    assert gc.isenabled()


@pytest.mark.unit
def test_a_paused_collector_stays_paused_after_a_batch() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the caller's choice, not turned on behind its back
    finally:
        gc.enable()


# -- segments: drain and footprint ---------------------------------------------------------------
def _chunk_pairs(chunk: bytes) -> list[tuple[str, Any]]:
    from logmr.mapreduce import shuffle

    return shuffle.decode_block(chunk, zlib.crc32(chunk), len(chunk))


@pytest.mark.unit
@pytest.mark.parametrize(("job", "params", "fmt"), PATHS, ids=[p[0] for p in PATHS])
def test_drain_gives_the_partitions_as_chunks_and_empties_the_table(
    job: str, params: dict[str, str], fmt: str
) -> None:
    """A segment is what ``partitions`` gives, bucket by bucket, encoded; the
    combining table is empty after it and the counters stay."""
    text = generated(LOGS[fmt], 1500, seed=41)
    side = map_side(job, fmt, params)
    side.feed_text(text)
    want = side.partitions(8, frozenset(), 3)
    counters = side.counters()
    assert side.footprint() > 0
    drained = list(side.drain(8, frozenset(), 3))
    assert [bucket for bucket, _, _ in drained] == [b for b, part in enumerate(want) if part]
    for bucket, keys, chunk in drained:
        assert keys == [key for key, _ in want[bucket]]
        assert _chunk_pairs(chunk) == json_like(want[bucket])
    assert side.footprint() == 0 and side.partitions(8) == [[] for _ in range(8)]
    assert list(side.drain(8)) == []
    assert side.counters() == counters


def json_like(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Pairs as the shuffle gives them back (tuples as lists)."""
    return [(key, json.loads(json.dumps(value))) for key, value in pairs]


@pytest.mark.unit
@pytest.mark.parametrize(("job", "params", "fmt"), PATHS, ids=[p[0] for p in PATHS])
def test_segments_reduce_to_the_answer_of_one(job: str, params: dict[str, str], fmt: str) -> None:
    """Drained after every text, a map side gives segments whose pairs, a
    key's from every segment reduced together, are the answer of one segment."""
    text = generated(LOGS[fmt], 3000, seed=42)
    whole = map_side(job, fmt, params)
    whole.feed_text(text)
    spilled = map_side(job, fmt, params)
    pieces, at = 0, 0
    groups: dict[str, list[Any]] = {}
    while at < len(text):
        end = text.index(b"\n", min(at + 20_000, len(text) - 1)) + 1
        spilled.feed_text(text[at:end])
        at, pieces = end, pieces + 1
        for _, _, chunk in spilled.drain(4):
            for key, value in _chunk_pairs(chunk):
                groups.setdefault(key, []).append(value)
    assert pieces >= 5 and any(len(values) > 1 for values in groups.values())
    assert spilled.counters() == whole.counters()
    want = {key: [value] for part in whole.partitions(4) for key, value in json_like(part)}
    assert reduce_groups(spilled.job, groups) == reduce_groups(whole.job, want)


@pytest.mark.unit
def test_the_footprint_follows_the_keys_and_their_sizes() -> None:
    """The estimate grows with the distinct keys, not the records, and with
    the keys' length: what the map task spills by."""
    short, long, repeated = (map_side("word_count", "plain") for _ in range(3))
    short.feed([b"k%d" % i for i in range(20_000)])
    long.feed([b"k%d" % i + b"x" * 200 for i in range(20_000)])
    repeated.feed([b"k%d" % (i % 100) for i in range(20_000)])
    assert repeated.footprint() < short.footprint() / 50
    assert long.footprint() > short.footprint() + 20_000 * 150
    buffered = map_side("top_paths", "apache_combined", per_record=True)
    buffered.feed(split_lines(generated("apache_combined", 2000, seed=43)))
    assert buffered.footprint() > len(buffered.buffer) * side_module.ENTRY_BYTES
