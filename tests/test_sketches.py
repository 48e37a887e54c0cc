"""``logmr.jobs.sketches``: the stated guarantees against exact answers, the text
form through the shuffle codec and both result stores, and corrupt input."""

from __future__ import annotations

import base64
import math
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from analytics_reference import rank_interval
from logmr.aws import tables
from logmr.aws.dynamodb import DynamoResultStore
from logmr.errors import CorruptShuffleError
from logmr.jobs.sketches import (
    HLL_LG_K,
    HLL_RSE,
    KLL_K,
    KLL_RANK_ERROR,
    PERCENTILES,
    distinct_from_text,
    distinct_text,
    merge_distinct,
    merge_quantiles,
    new_distinct,
    quantiles_from_text,
    quantiles_of,
    quantiles_summary,
    quantiles_text,
)
from logmr.mapreduce import shuffle
from logmr.storage.sqlite import SqliteResultStore

DISTRIBUTIONS: dict[str, Callable[[random.Random], float]] = {
    "uniform": lambda rng: rng.uniform(0, 1000),
    "lognormal": lambda rng: rng.lognormvariate(8, 1.5),
    "exponential": lambda rng: rng.expovariate(1 / 300),
    # response sizes: many repeats of a few values, and a long tail
    "sizes": lambda rng: float(
        rng.choice([0, 0, 43, 512, 512, 2326]) or int(rng.paretovariate(1.2))
    ),
}


def split_sketched(values: list[float], parts: int) -> str:
    """Sketch ``values`` in ``parts`` slices, each through the text form, then merge."""
    size = math.ceil(len(values) / parts)
    texts = [
        quantiles_text(quantiles_of(values[i : i + size])) for i in range(0, len(values), size)
    ]
    return quantiles_text(merge_quantiles(texts))


@pytest.mark.unit
def test_the_stated_errors_are_the_librarys() -> None:
    from datasketches import hll_sketch, kll_doubles_sketch

    assert kll_doubles_sketch.get_normalized_rank_error(KLL_K, False) == KLL_RANK_ERROR
    assert abs(float(hll_sketch.get_rel_err(False, True, HLL_LG_K, 1))) == pytest.approx(HLL_RSE)


@pytest.mark.unit
def test_the_library_loads_only_when_a_job_sketches() -> None:
    """The map handler with a job that does not sketch (access_report without
    percentiles) leaves datasketches and numpy unimported; a sketch loads them."""
    script = (
        "import sys\n"
        "import logmr.handlers.map, logmr.handlers.reduce\n"
        "from logmr.jobs import load_job\n"
        "load_job('access_report', {'percentiles': 'false'})\n"
        "before = sorted(m for m in ('datasketches', 'numpy') if m in sys.modules)\n"
        "from logmr.jobs.sketches import quantiles_of\n"
        "quantiles_of([1.0])\n"
        "after = sorted(m for m in ('datasketches', 'numpy') if m in sys.modules)\n"
        "print(before, after)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == "[] ['datasketches', 'numpy']"


@pytest.mark.unit
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_kll_ranks_are_within_the_stated_error(distribution: str, seed: int) -> None:
    rng = random.Random(seed)
    values = [DISTRIBUTIONS[distribution](rng) for _ in range(30_000)]
    sketch = quantiles_from_text(split_sketched(values, parts=7))
    exact = sorted(values)
    summary = quantiles_summary(sketch)
    assert (summary["count"], summary["min"], summary["max"]) == (len(values), exact[0], exact[-1])
    for name, rank in PERCENTILES:
        below, at_or_below = rank_interval(exact, summary[name])
        # the value returned for rank r truly sits at a rank within the error of r
        assert below - KLL_RANK_ERROR <= rank <= at_or_below + KLL_RANK_ERROR, (name, below)


@pytest.mark.unit
def test_kll_is_exact_below_k_items() -> None:
    values = [float(v) for v in random.Random(5).sample(range(10_000), KLL_K)]
    summary = quantiles_summary(merge_quantiles(values))
    exact = sorted(values)
    for name, rank in PERCENTILES:
        assert summary[name] == exact[math.ceil(rank * len(exact)) - 1]  # nearest rank


@pytest.mark.unit
def test_kll_raw_numbers_and_sketches_merge_alike() -> None:
    values = [float(v) for v in range(1000)]
    mixed = merge_quantiles([quantiles_text(quantiles_of(values[:500])), *values[500:]])
    assert mixed.n == 1000
    assert (mixed.get_min_value(), mixed.get_max_value()) == (0.0, 999.0)


@pytest.mark.unit
def test_an_empty_summary_has_no_figures() -> None:
    assert quantiles_summary(merge_quantiles([])) == {
        "count": 0,
        "min": None,
        "max": None,
        **{name: None for name, _ in PERCENTILES},
    }


@pytest.mark.unit
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cardinality", [50, 3_000, 40_000])
def test_hll_is_within_three_standard_errors(cardinality: int, seed: int) -> None:
    rng = random.Random(seed)
    items = [f"10.{rng.randrange(256)}.{i}.{seed}" for i in range(cardinality)]
    parts: list[Any] = []
    for _ in range(5):  # five overlapping slices, as map tasks see them
        sketch = new_distinct()
        for item in rng.sample(items, k=len(items) // 2):
            sketch.update(item)
        parts.append(distinct_from_text(distinct_text(sketch)))
    last = new_distinct()
    for item in items:  # every item at least once
        last.update(item)
    parts.append(last)
    estimate = merge_distinct(parts).get_estimate()
    assert abs(estimate - cardinality) <= 3 * HLL_RSE * cardinality


def sketch_texts() -> dict[str, Any]:
    return {
        "kll": quantiles_text(quantiles_of([float(v) for v in range(5000)])),
        "hll": distinct_text(_distinct_of(f"c{i}" for i in range(2000))),
        "row": {"count": 3, "sketch": quantiles_text(quantiles_of([1.0, 2.0, 3.0]))},
    }


def _distinct_of(items: Iterator[str]) -> Any:
    sketch = new_distinct()
    for item in items:
        sketch.update(item)
    return sketch


def assert_same_sketches(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got == want  # the text is carried byte for byte
    kll = quantiles_from_text(got["kll"])
    assert (kll.n, kll.get_min_value(), kll.get_max_value()) == (5000, 0.0, 4999.0)
    assert distinct_from_text(got["hll"]).get_estimate() == pytest.approx(
        distinct_from_text(want["hll"]).get_estimate()
    )


@pytest.mark.unit
def test_text_form_through_the_shuffle_codec() -> None:
    texts = sketch_texts()
    data = shuffle.encode([list(texts.items()), []], shuffle.Binding("j", 0, "00" * 8))
    assert_same_sketches(dict(shuffle.read_partition(data, 0)), texts)


@pytest.mark.unit
def test_text_form_through_the_sqlite_store(tmp_path: Path) -> None:
    texts = sketch_texts()
    store = SqliteResultStore(tmp_path / "r.sqlite")
    store.put_results("j", texts.items())
    assert_same_sketches(dict(store.iter_results("j")), texts)


@pytest.mark.functional
def test_text_form_through_the_dynamodb_store() -> None:
    texts = sketch_texts()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(**tables.results_table_spec("results"))
        client.create_table(**tables.jobs_table_spec("jobs"))
        store = DynamoResultStore("results", "jobs", client=client)
        store.put_results("j", texts.items())
        assert_same_sketches(dict(store.iter_results("j")), texts)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kll2:AAAA", "expected tag 'kll1:'"),
        ("hll1:AAAA", "expected tag 'kll1:'"),
        (12, "got 'int'"),
        ("kll1:not base64!", "bad base64"),
        ("kll1:" + base64.b64encode(b"\x05\x01garbage").decode(), "undecodable"),
    ],
)
def test_garbled_quantile_sketches_are_corrupt_shuffle_errors(text: Any, message: str) -> None:
    with pytest.raises(CorruptShuffleError, match=message):
        quantiles_from_text(text)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kll1:AAAA", "expected tag 'hll1:'"),
        ("hll9:AAAA", "expected tag 'hll1:'"),
        ("hll1:@@", "bad base64"),
        ("hll1:" + base64.b64encode(b"garbage!").decode(), "undecodable"),
    ],
)
def test_garbled_distinct_sketches_are_corrupt_shuffle_errors(text: str, message: str) -> None:
    with pytest.raises(CorruptShuffleError, match=message):
        distinct_from_text(text)
