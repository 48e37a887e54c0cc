"""Integer sums in columns (``logmr.jobs.sums``), the map side's sum tables and
the reducers' merge (``logmr.mapreduce.side``): each equals the plain Python
loop it replaces, exactly, on random columns with missing values and sizes far
past int64 and float64's 2**53."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logmr.formats.base import Column
from logmr.jobs.base import KV, Job
from logmr.jobs.builtin import TopPaths
from logmr.jobs.report import AccessReport
from logmr.jobs.sums import (
    INT64_MAX,
    Chunks,
    KeyedSums,
    codes_of,
    converted_ints,
    counts_and_sums,
    numpy,
    regrouped,
)
from logmr.mapreduce import side as mapreduce
from logmr.mapreduce.side import MapSide, SumTable, group_into, merge_groups, reduce_groups

#: sizes around every edge: small, past float64's exact 2**53, past int64, huge
SIZES = st.one_of(
    st.integers(0, 10**6),
    st.integers(2**53 - 2, 2**53 + 2),
    st.integers(2**62, 2**64),
    st.integers(-(2**70), 2**300),
)
RAWS = st.sampled_from([b"a", b"b", b"a?q=1", b"c?", b"-", b"\xff", b"\\xff", None])


def path_of(raw: Any) -> Any:
    """A request's 'path': ``None`` for a missing or ``-`` one."""
    return None if raw in (None, b"-") else raw


def plain_sums(pairs: list[KV]) -> dict[Any, Any]:
    """Values added up per key, in Python (ints, or lists element-wise; a
    window's missing sketch, ``None``, stays ``None``)."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
        elif isinstance(value, list):
            out[key] = [None if a is None else a + b for a, b in zip(out[key], value, strict=True)]
        else:
            out[key] = out[key] + value
    return out


# -- jobs.sums ----------------------------------------------------------------------------
@pytest.mark.unit
def test_codes_of_gives_the_distinct_values_in_order_and_each_items_position() -> None:
    distinct, codes = codes_of([b"x", b"y", b"x", None, b"y"])
    assert distinct == [b"x", b"y", None]
    assert codes.tolist() == [0, 1, 0, 2, 1]


@pytest.mark.unit
def test_converted_ints_converts_each_distinct_value_once_and_counts_the_missing() -> None:
    seen: list[bytes] = []

    def convert(raw: bytes) -> int | None:
        seen.append(raw)
        return None if raw == b"?" else int(raw)

    numbers, bound, missing = converted_ints([b"5", b"?", b"5", b"7", b"?"], convert)
    assert numbers.tolist() == [5, 0, 5, 7, 0]
    assert missing == 2
    assert sorted(seen) == [b"5", b"7", b"?"]
    assert bound >= 5 + 5 + 7
    assert numbers.dtype == numpy().int64


@pytest.mark.unit
def test_sizes_past_int64_are_added_as_python_ints_exactly() -> None:
    size = 2**62 + 1  # four of them overflow int64; float64 would round each
    numbers, bound, _ = converted_ints([size] * 4, None)
    assert numbers.dtype == object
    sums = counts_and_sums([b"k"] * 4, numbers, bound)
    assert list(sums) == [(b"k", [4, 4 * size])]
    assert 4 * size > INT64_MAX


@pytest.mark.unit
def test_int64_is_kept_up_to_the_bound() -> None:
    size = INT64_MAX // 3
    numbers, bound, _ = converted_ints([size] * 3, None)
    assert numbers.dtype == numpy().int64
    assert list(counts_and_sums([b"k"] * 3, numbers, bound)) == [(b"k", [3, 3 * size])]


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(RAWS, st.one_of(st.none(), SIZES)), max_size=40))
def test_counts_and_sums_equal_a_python_loop(rows: list[tuple[Any, int | None]]) -> None:
    keys = [key for key, _ in rows]
    numbers, bound, missing = converted_ints([size for _, size in rows], None)
    assert missing == sum(size is None for _, size in rows)
    sums = counts_and_sums(keys, numbers, bound).rekeyed(path_of)
    expected = plain_sums([(path_of(key), [1, size or 0]) for key, size in rows])
    assert dict(iter(sums)) == expected
    assert all(type(v) is int for value in dict(iter(sums)).values() for v in value)


@pytest.mark.unit
def test_keyed_sums_pop_removes_one_key_and_gives_its_row() -> None:
    sums = regrouped([b"a", None, b"b", None], numpy().array([[1, 2], [3, 4], [5, 6], [7, 8]]), 36)
    assert sums.pop(None) == [10, 12]
    assert sums.pop(None) is None
    assert list(sums) == [(b"a", [1, 2]), (b"b", [5, 6])]
    with pytest.raises(ValueError, match="2 keys but 1 rows"):
        KeyedSums([b"a", b"b"], numpy().array([1]), 1)


@pytest.mark.unit
def test_chunks_iterate_as_every_pair_in_order() -> None:
    table = KeyedSums(["x", "y"], numpy().array([1, 2]), 3)
    assert list(Chunks(table, [("z", [1, 2])])) == [("x", 1), ("y", 2), ("z", [1, 2])]


# -- the map side's sum tables ---------------------------------------------------------------
@pytest.mark.property
@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(RAWS, SIZES), max_size=12), max_size=6))
def test_a_sum_table_adds_batches_up_exactly(batches: list[list[tuple[Any, int]]]) -> None:
    table = SumTable((2,))
    for batch in batches:
        numbers, bound, _ = converted_ints([size for _, size in batch], None)
        table.add(counts_and_sums([key for key, _ in batch], numbers, bound))
    every = [(key, [1, size]) for batch in batches for key, size in batch]
    assert dict(iter(table.sums())) == plain_sums(every)
    assert len(table) == len({key for key, _ in every})


@pytest.mark.unit
def test_a_sum_table_widens_to_python_ints_when_its_bound_passes_int64() -> None:
    table = SumTable(())
    for _ in range(3):
        table.add(KeyedSums(["k"], numpy().array([2**62]), 2**62))
    assert table.rows.dtype == object
    assert list(table.sums()) == [("k", 3 * 2**62)]


class Summing(Job):
    """A column job whose batches come as ``KeyedSums`` of bytes keys, plus a
    pair per batch for a key also in the table (merged by the combiner)."""

    name = "summing_test"
    adds_up = True
    columns = ("path",)

    def map_columns(self, columns: list[Column]) -> Chunks:
        keys = columns[0].raw
        counts = numpy().ones(len(keys), dtype=numpy().int64)
        return Chunks(regrouped(list(keys), counts, len(keys)), [(b"a", 100)])


@pytest.mark.unit
def test_combined_merges_the_tables_with_the_buffer_and_equal_texts() -> None:
    side = MapSide(Summing(), None, 0)  # type: ignore[arg-type]
    side._add_pairs(Summing().map_columns([Column([b"a", b"\xff", b"\\xff", b"b", b"a"])]))
    side._add_pairs(Summing().map_columns([Column([b"b"])]))
    # b"\xff" and b"\\xff" have one text; "a" is in the table and the buffer
    assert dict(side.combined()) == {"a": 202, "\\xff": 2, "b": 2}
    parts = side.partitions(3)
    assert sorted(pair for part in parts for pair in part) == [("\\xff", 2), ("a", 202), ("b", 2)]


# -- the columnar jobs against their per-record mappers -----------------------------------------
def size_of(raw: Any) -> int | None:
    return None if raw is None or raw == "?" else raw


def time_of(raw: Any) -> float | None:
    return None if raw is None else float(raw)


RECORDS = st.lists(
    st.tuples(
        RAWS,
        st.one_of(st.none(), st.just("?"), SIZES),
        st.sampled_from([b"200", b"404", b"503", b"301", None]),
        st.one_of(st.none(), st.integers(0, 4 * 3600)),
    ),
    min_size=1,  # a batch of none still yields its total
    max_size=40,
)


def per_record(job: Job, records: list[tuple[Any, ...]]) -> tuple[dict[Any, Any], dict[str, int]]:
    pairs = [pair for record in records for pair in job.mapper(record)]
    return plain_sums(pairs), dict(job.counters)


def by_columns(
    job: Job, columns: list[Column], keep: Callable[[KV], bool] = lambda _: True
) -> tuple[dict[Any, Any], dict[str, int]]:
    return plain_sums([pair for pair in job.map_columns(columns) if keep(pair)]), dict(job.counters)


@pytest.mark.property
@pytest.mark.parametrize("strip_query", ["true", "false"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS)
def test_top_paths_columns_equal_its_mapper(
    strip_query: str, records: list[tuple[Any, ...]]
) -> None:
    jobs = [TopPaths({"strip_query": strip_query}) for _ in range(2)]
    for job in jobs:
        job.fields = {"path": lambda r: path_of(r[0]), "bytes": lambda r: size_of(r[1])}
    columns = [Column([r[0] for r in records], path_of), Column([r[1] for r in records], size_of)]
    assert by_columns(jobs[0], columns) == per_record(jobs[1], records)


def is_window(pair: KV) -> bool:
    return str(pair[0]).startswith("window:")


@pytest.mark.property
@pytest.mark.parametrize("windows", ["true", "false"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS)
def test_access_report_columns_equal_its_mapper(
    windows: str, records: list[tuple[Any, ...]]
) -> None:
    params = {"windows": windows, "percentiles": "false", "window": "1h"}
    jobs = [AccessReport(params) for _ in range(2)]
    fields = ("status", "bytes", "path", "epoch")[: 4 if windows == "true" else 3]
    convert = {"status": None, "bytes": size_of, "path": path_of, "epoch": time_of}
    at = {"status": 2, "bytes": 1, "path": 0, "epoch": 3}
    for job in jobs:
        job.columns = fields
        job.fields = {
            f: (lambda r, f=f: r[at[f]] if convert[f] is None else convert[f](r[at[f]]))
            for f in fields
        }
    columns = [Column([r[at[f]] for r in records], convert[f]) for f in fields]
    found, counters = by_columns(jobs[0], columns)
    assert (found, counters) == per_record(jobs[1], records)
    if windows == "true":
        assert any(map(is_window, found.items())) == any(r[3] is not None for r in records)


# -- the reducers' merge ------------------------------------------------------------------------
class ElementWise(Job):
    """Adds ints and lists of ints up; keeps any other values as they came."""

    name = "elementwise_test"
    adds_up = True

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        if all(type(v) is int for v in values):
            yield key, sum(values)
        elif all(isinstance(v, list) and all(type(x) is int for x in v) for v in values):
            yield key, [sum(column) for column in zip(*values, strict=True)]
        else:
            yield key, sorted(map(repr, values))


class Appending(ElementWise):
    """The same reducer, but declared not to add up: values reach it as they came."""

    name = "appending_test"
    adds_up = False


def shaped_values(shape: str) -> st.SearchStrategy[Any]:
    ints = st.one_of(st.integers(-5, 5), SIZES)
    return {
        "int": ints,
        "pair": st.lists(ints, min_size=2, max_size=2),
        "triple": st.lists(ints, min_size=3, max_size=3),
        "other": st.one_of(
            st.lists(st.one_of(st.none(), st.floats(allow_nan=False), st.text(max_size=2))),
            st.booleans(),
            st.floats(allow_nan=False),
            st.text(max_size=3),
        ),
    }[shape]


@st.composite
def shuffled_blocks(draw: st.DrawFn) -> list[list[KV]]:
    """Blocks of pairs whose keys each keep one shape of value, as a job's do."""
    shapes = draw(st.dictionaries(st.text(max_size=3), st.sampled_from(
        ["int", "pair", "triple", "other"]), min_size=1, max_size=8))  # fmt: skip
    keys = sorted(shapes)
    pair = st.sampled_from(keys).flatmap(
        lambda key: shaped_values(shapes[key]).map(lambda value: (key, value))
    )
    return draw(st.lists(st.lists(pair, max_size=15), max_size=5))


@pytest.mark.property
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=shuffled_blocks())
def test_merge_groups_reduces_to_what_plain_grouping_reduces_to(blocks: list[list[KV]]) -> None:
    mapreduce.SUM_IN_C_FROM = 0  # every partition added up in C (restored by the fixture)
    plain: dict[str, list[Any]] = {}
    for block in blocks:
        group_into(plain, block)
    job = ElementWise()
    expected = reduce_groups(job, plain)
    assert reduce_groups(job, merge_groups(job, blocks)) == expected
    assert merge_groups(Appending(), blocks) == plain


@pytest.fixture(autouse=True)
def sum_in_c_from() -> Iterator[None]:
    kept = mapreduce.SUM_IN_C_FROM
    yield
    mapreduce.SUM_IN_C_FROM = kept


@pytest.mark.unit
def test_a_few_pairs_are_grouped_as_they_came() -> None:
    blocks = [[("a", [1, 2])], [("a", [3, 4])]]
    assert merge_groups(ElementWise(), blocks) == {"a": [[1, 2], [3, 4]]}


@pytest.mark.unit
def test_merge_groups_adds_int_pairs_into_one_value_per_key() -> None:
    mapreduce.SUM_IN_C_FROM = 0
    blocks = [[("a", [1, 2]), ("b", 5)], [("a", [3, 4]), ("b", 2**63), ("c", [1.5, 1])]]
    groups = merge_groups(ElementWise(), blocks)
    assert groups == {"a": [[4, 6]], "b": [5 + 2**63], "c": [[1.5, 1]]}
    assert all(type(v) is int for v in groups["a"][0])


@pytest.mark.unit
def test_jobs_with_jobs_own_reducer_add_up_and_others_do_not() -> None:
    from logmr.jobs import job_class

    assert job_class("status_codes").adds_values_up()
    assert job_class("top_paths").adds_values_up()
    assert job_class("access_report").adds_values_up()
    assert not job_class("sessions").adds_values_up()
    assert not job_class("requests_per_window").adds_values_up()
    assert not Appending.adds_values_up()


@pytest.mark.unit
def test_the_reduce_task_merges_with_the_collector_paused_and_restores_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from helpers import run_inline
    from logmr.mapreduce import merging

    merge = merging.merge_groups
    during: list[bool] = []

    def noting(*args: Any) -> Any:
        during.append(gc.isenabled())
        return merge(*args)

    monkeypatch.setattr(merging, "merge_groups", noting)
    log = tmp_path / "a.log"
    log.write_text('1.2.3.4 - - [01/Dec/2020:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "u"\n')
    assert gc.isenabled()
    _, results = run_inline(log, "top_paths", home=tmp_path / "home")
    assert during and not any(during)
    assert gc.isenabled()
    assert results["/a"] == {"count": 1, "bytes": 5}
