"""Mergeable sketches: KLL quantiles and HyperLogLog distinct counts.

Both come from Apache DataSketches (``datasketches``, the C++ library's
Python binding); this module only creates, updates, merges and (de)serializes
them, so that jobs never touch the library directly.

Guarantees, for the sizes fixed here (see docs/analytics.md):

* **Quantiles** - a KLL sketch of doubles with ``k = KLL_K = 200``. A quantile
  it returns for normalized rank ``r`` is a value whose true normalized rank
  (its position in the sorted input divided by ``n``) lies within
  ``KLL_RANK_ERROR`` (about 1.33%) of ``r``, with 99% confidence, for every
  ``r`` at once (``kll_doubles_sketch.get_normalized_rank_error(200, False)``).
  The error is in rank, not in value: the p99 of a long-tailed size
  distribution is a value between the true p97.7 and p100. Below about ``k``
  items the sketch keeps them all and is exact; ``n``, min and max are always
  exact. Merging sketches keeps the same bound.
* **Distinct counts** - an HLL sketch with ``lg_k = HLL_LG_K = 12`` (4,096
  buckets of 4 bits, about 2 KB). Its relative standard error after merges is
  ``HLL_RSE`` (about 1.62%, ``hll_sketch.get_rel_err(False, True, 12, 1)``);
  about 95% of estimates are within 2 RSE and 99.7% within 3 RSE. Small
  cardinalities (up to a few hundred) are counted almost exactly (the sketch
  keeps hashed coupons before it switches to buckets).

Serialized form: a versioned text, so a sketch rides in the shuffle codec (a
MessagePack string) and in the SQLite and DynamoDB result stores unchanged::

    "kll1:" + base64(kll_doubles_sketch.serialize())
    "hll1:" + base64(hll_sketch.serialize_compact())

The tag names the sketch type and the layout version of this module; an
unknown tag, bad base64 or bytes the library refuses raise
``CorruptShuffleError`` (a permanent error: never a wrong answer).

The library (and numpy, which it imports) loads on first use, not with this
module: about 0.1 s and a BLAS thread pool that most jobs, and every
worker process or Lambda cold start running them, have no use for.

Values enter HLL as text: ``bytes`` fields are decoded as UTF-8 with invalid
bytes as ``\\xNN`` (as keys are), numbers as their ``str``.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from logmr.errors import CorruptShuffleError

if TYPE_CHECKING:
    from datasketches import hll_sketch, kll_doubles_sketch

Sketch = TypeVar("Sketch")

__all__ = [
    "HLL_LG_K",
    "HLL_RSE",
    "HLL_TAG",
    "KLL_K",
    "KLL_RANK_ERROR",
    "KLL_TAG",
    "PERCENTILES",
    "distinct_estimate",
    "distinct_from_text",
    "distinct_text",
    "merge_distinct",
    "merge_quantiles",
    "new_distinct",
    "new_quantiles",
    "quantiles_from_text",
    "quantiles_of",
    "quantiles_summary",
    "quantiles_text",
]

#: KLL accuracy parameter (the library's default)
KLL_K = 200
#: normalized rank error of any quantile, 99% confidence: the library's
#: ``kll_doubles_sketch.get_normalized_rank_error(KLL_K, False)`` (a test checks)
KLL_RANK_ERROR = 0.013294757464848584
#: log2 of the HLL bucket count
HLL_LG_K = 12
#: relative standard error (one standard deviation) of a merged HLL estimate:
#: the library's ``abs(hll_sketch.get_rel_err(False, True, HLL_LG_K, 1))`` (a test checks)
HLL_RSE = 0.016155679

KLL_TAG = "kll1:"
HLL_TAG = "hll1:"

#: the percentiles a quantile summary reports, by name
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
)


@functools.cache
def library() -> ModuleType:
    """``datasketches``, imported on first use."""
    import datasketches

    module: ModuleType = datasketches
    return module


# ---------------------------------------------------------------- text form


def _encode(tag: str, data: bytes) -> str:
    return tag + base64.b64encode(data).decode("ascii")


def _decode(text: Any, tag: str, what: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(tag):
        shown = text[:12] if isinstance(text, str) else type(text).__name__
        raise CorruptShuffleError(f"not a {what} sketch (expected tag {tag!r}, got {shown!r})")
    try:
        return base64.b64decode(text[len(tag) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CorruptShuffleError(f"{what} sketch: bad base64: {exc}") from None


def _load(text: Any, tag: str, what: str, deserialize: Callable[[bytes], Sketch]) -> Sketch:
    """The sketch of a text form, or ``CorruptShuffleError``."""
    data = _decode(text, tag, what)
    try:
        return deserialize(data)
    except Exception as exc:  # the binding raises IndexError, ValueError, RuntimeError
        raise CorruptShuffleError(f"{what} sketch: undecodable: {exc}") from None


# ---------------------------------------------------------------- quantiles


def new_quantiles() -> kll_doubles_sketch:
    sketch: kll_doubles_sketch = library().kll_doubles_sketch(KLL_K)
    return sketch


def quantiles_text(sketch: kll_doubles_sketch) -> str:
    return _encode(KLL_TAG, sketch.serialize())


def quantiles_from_text(text: Any) -> kll_doubles_sketch:
    return _load(text, KLL_TAG, "KLL", library().kll_doubles_sketch.deserialize)


def merge_quantiles(values: Iterable[Any]) -> kll_doubles_sketch:
    """One sketch of ``values``: numbers (single observations) and sketch texts."""
    sketch = new_quantiles()
    numbers: list[float] = []
    for value in values:
        if isinstance(value, str):
            sketch.merge(quantiles_from_text(value))
        else:
            numbers.append(value)
    if numbers:
        _update_many(sketch, numbers)
    return sketch


def _update_many(sketch: kll_doubles_sketch, numbers: Sequence[float]) -> None:
    import numpy  # a dependency of datasketches; imported where the batch update needs it

    sketch.update(numpy.asarray(numbers, dtype=numpy.float64))


def quantiles_of(numbers: Sequence[float]) -> kll_doubles_sketch:
    """A sketch of ``numbers`` (a sequence or a numpy array), updated in one C call."""
    sketch = new_quantiles()
    if len(numbers):
        _update_many(sketch, numbers)
    return sketch


def quantiles_summary(sketch: kll_doubles_sketch) -> dict[str, Any]:
    """``count``, ``min``, ``max`` and the ``PERCENTILES`` of ``sketch`` (all
    ``None`` but ``count`` when it is empty)."""
    if sketch.is_empty():
        return {"count": 0, "min": None, "max": None, **{name: None for name, _ in PERCENTILES}}
    summary: dict[str, Any] = {
        "count": sketch.n,
        "min": sketch.get_min_value(),
        "max": sketch.get_max_value(),
    }
    for name, rank in PERCENTILES:
        summary[name] = sketch.get_quantile(rank, True)
    return summary


# ---------------------------------------------------------------- distinct counts


def new_distinct() -> hll_sketch:
    lib = library()
    sketch: hll_sketch = lib.hll_sketch(HLL_LG_K, lib.tgt_hll_type.HLL_4)
    return sketch


def distinct_text(sketch: hll_sketch) -> str:
    return _encode(HLL_TAG, sketch.serialize_compact())


def distinct_from_text(text: Any) -> hll_sketch:
    return _load(text, HLL_TAG, "HLL", library().hll_sketch.deserialize)


def merge_distinct(sketches: Iterable[hll_sketch]) -> hll_sketch:
    lib = library()
    union = lib.hll_union(HLL_LG_K)
    for sketch in sketches:
        union.update(sketch)
    result: hll_sketch = union.get_result(lib.tgt_hll_type.HLL_4)
    return result


def distinct_estimate(sketch: hll_sketch) -> dict[str, Any]:
    """The estimate rounded to an integer, and its bounds at two standard deviations."""
    return {
        "distinct": round(sketch.get_estimate()),
        "lower": round(sketch.get_lower_bound(2)),
        "upper": round(sketch.get_upper_bound(2)),
    }
