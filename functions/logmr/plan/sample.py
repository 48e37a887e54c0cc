"""What the planner learns from a bounded sample of the input: the job's own
mapper run over a few hundred KB of whole lines (the input's start and pieces
spread over it), giving the keys it emits, how fast new keys appear, the
shuffle bytes per input byte, and the keys and partitions that would
dominate, by records and by the bytes of their combined pairs (the keys worth
salting, ``choose_salted_keys``). No I/O: the caller reads the sample
(``plan.planner.make_plan``, with ``inputs.read_spread``, reusing the start it read to
detect the format).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from logmr.formats.base import Format
from logmr.jobs.base import Job, key_text
from logmr.mapreduce.partition import buckets_for, owner
from logmr.mapreduce.shuffle import ATTEMPT_BYTES, Binding, encode
from logmr.mapreduce.side import MapSide
from logmr.spec import MAX_SALTED_KEY_CHARS, MAX_SALTED_KEYS

#: bytes of whole lines the planner maps at plan time
SAMPLE_BYTES = 256 * 1024
#: ... in this many pieces spread over the inputs (``inputs.read_spread``)
SAMPLE_SLICES = 8
#: a key is "hot" when it holds at least this share of the sample's pairs
HOT_KEY_SHARE = 0.2
#: hot keys listed in a plan
MAX_HOT_KEYS = 10
#: a partition dominates when its share of the sample's combined bytes is at
#: least this factor times the fair share 1/R
DOMINANT_SHARE_FACTOR = 1.5
#: a key whose combined pair (one map task's) is smaller is never salted
MIN_SALTED_PAIR_BYTES = 256


@dataclass(frozen=True)
class SampleStats:
    """The job's map side over a sample of ``bytes`` bytes (whole lines)."""

    bytes: int = 0
    lines: int = 0
    #: pairs the mapper emitted (before combining)
    pairs: int = 0
    #: distinct keys in the whole sample and in its first half
    keys: int = 0
    keys_first_half: int = 0
    #: keys seen exactly once and exactly twice (for the Chao1 estimate)
    singletons: int = 0
    doubletons: int = 0
    #: bytes of the sample's combined shuffle object
    shuffle_bytes: int = 0
    #: the input was shorter than the sample: the figures are the whole input's
    complete: bool = False
    #: reads of the input the sample took (its start, and the spread pieces)
    reads: int = 1
    #: (key, share of the sample's pairs), largest first, share >= HOT_KEY_SHARE
    hot_keys: list[tuple[str, float]] = field(default_factory=list)
    #: pairs per key (the sample's), for the partition skew of a reducer count
    weights: dict[str, int] = field(default_factory=dict, repr=False)
    #: bytes of each key's combined pair as JSON text (``json.dumps([key, value])``):
    #: the measure of what one map task adds to a reducer's load (the shuffle
    #: ships it as MessagePack, compressed; ``MIN_SALTED_PAIR_BYTES`` is in these bytes)
    loads: dict[str, int] = field(default_factory=dict, repr=False)

    def keys_in(self, nbytes: int) -> int:
        """Distinct keys expected in ``nbytes`` of input, the smaller of two
        estimates: new keys keep appearing at the rate the sample's second half
        found them (linear: right for ids that never repeat), and the key set
        is finite with the size Chao1 gives from the keys seen once and twice
        (right for status codes, paths, levels; bias-corrected form)."""
        if self.bytes == 0:
            return 0
        if self.complete or nbytes <= self.bytes:
            return min(self.keys, max(1, math.ceil(self.keys * nbytes / self.bytes)))
        half = max(self.bytes // 2, 1)
        rate = (self.keys - self.keys_first_half) / half
        linear = self.keys + math.ceil(rate * (nbytes - self.bytes))
        f1, f2 = self.singletons, self.doubletons
        chao1 = self.keys + math.ceil(f1 * (f1 - 1) / (2 * (f2 + 1)))
        return min(linear, chao1)

    def keys_range(self, nbytes: int) -> tuple[int, int]:
        """(low, high): the distinct keys ``nbytes`` of input may hold, by the
        two views of a sample a few thousand times smaller than the input.

        * low, the key set is finite and the sample saw most of it:
          ``keys_in`` (Chao1, a lower-bound estimator: the keys seen once and
          twice say how many were missed, assuming the input is drawn from
          the same few keys the sample saw);
        * high, keys never stop coming: every pair of the input brings a new
          key with the Good-Turing probability ``singletons / pairs`` (the
          sample's share of pairs whose key it saw once), at most one key per
          pair. Ids, query strings and client addresses grow so; the rate
          falls as an input repeats its keys, so this is an upper estimate.

        When most of the sample's keys occur once, the two are orders of
        magnitude apart (7,636 and 2.8 million for access_report over the
        realistic 1 GB log, which holds 430,000): the sample cannot tell
        which view the input follows, and the reducers are chosen after Map
        from the keys measured (``plan.reducers``)."""
        low = self.keys_in(nbytes)
        if self.bytes == 0 or self.complete or nbytes <= self.bytes or self.pairs == 0:
            return low, low
        pairs_after = self.pairs * (nbytes - self.bytes) / self.bytes
        growth = self.keys + math.ceil(self.singletons / self.pairs * pairs_after)
        return low, max(low, growth)

    def largest_partition_share(self, reducers: int) -> float:
        """The share of the sample's pairs the busiest of ``reducers`` partitions gets."""
        return _busiest_share(self.weights, reducers)

    def largest_load_share(self, reducers: int) -> float:
        """The share of the sample's combined bytes the busiest of ``reducers`` partitions gets."""
        return _busiest_share(self.loads, reducers)


def _busiest_share(amounts: dict[str, int], reducers: int) -> float:
    """The share of ``amounts`` (per key) the busiest of ``reducers`` partitions gets."""
    total = sum(amounts.values())
    if reducers <= 1 or total == 0:
        return 1.0
    loads = Counter[int]()
    buckets = buckets_for(reducers)
    for key, amount in amounts.items():
        loads[owner(key, reducers, buckets)] += amount
    return max(loads.values()) / total


def choose_salted_keys(sample: SampleStats, reducers: int, map_tasks: int) -> tuple[list[str], str]:
    """The keys to salt (spread over every reducer) and why, from the sample's
    combined bytes per key.

    Every map task combines before it writes, so a key brings its reducer one
    pair per map task: M pairs, whatever its record count. That is nothing for
    a count, but a key whose combined value is large (a KLL or HyperLogLog
    sketch, a list of partial sessions) brings M of them, and its reducer
    merges them all while the others idle: the long pole. Measured by the
    bytes of the combined pairs, the busiest of the R partitions *dominates*
    when it holds at least ``DOMINANT_SHARE_FACTOR`` times the fair share 1/R;
    the keys salted then are those alone worth at least a fair partition
    (share >= 1/R), their combined pair at least ``MIN_SALTED_PAIR_BYTES``
    (smaller values cost a reducer about what reading them costs), largest
    first, at most ``MAX_SALTED_KEYS`` keys of at most
    ``MAX_SALTED_KEY_CHARS`` characters (the spec travels in every Step
    Functions payload). Never with one reducer or one map task: there is
    nothing to spread over, or only one pair per key."""
    if reducers < 2:
        return [], "one reducer: nothing to spread over"
    if map_tasks < 2:
        return [], "one map task: one pair per key"
    total = sum(sample.loads.values())
    if total == 0:
        return [], "the sample has no pairs"
    fair = 1 / reducers
    busiest = sample.largest_load_share(reducers)
    if busiest < DOMINANT_SHARE_FACTOR * fair:
        return [], (
            f"busiest partition {busiest:.0%} of the combined bytes,"
            f" under {DOMINANT_SHARE_FACTOR} x 1/{reducers}"
        )
    heavy = sorted(
        (
            (size, key)
            for key, size in sample.loads.items()
            if size / total >= fair
            and size >= MIN_SALTED_PAIR_BYTES
            and len(key) <= MAX_SALTED_KEY_CHARS
        ),
        key=lambda item: (-item[0], item[1]),
    )[:MAX_SALTED_KEYS]
    if not heavy:
        return [], (
            f"busiest partition {busiest:.0%} of the combined bytes, but no key alone"
            f" holds 1/{reducers} of them in a pair of {MIN_SALTED_PAIR_BYTES}+ bytes"
        )
    shares = ", ".join(f"{size / total:.0%}" for size, _ in heavy)
    return [key for _, key in heavy], (
        f"busiest partition {busiest:.0%} of the combined bytes"
        f" (>= {DOMINANT_SHARE_FACTOR} x 1/{reducers}); salted keys hold {shares}"
    )


#: the binding the sample's shuffle bytes are measured with (nothing is written)
_MEASURED = Binding("sample", 0, "00" * ATTEMPT_BYTES)


def sample_stats(job: Job, fmt: Format, head: bytes, complete: bool, reads: int = 1) -> SampleStats:
    """Map ``head`` (whole lines of the input, from its start or spread over
    it; a last partial line dropped unless ``complete``) with the job and count
    what it emits; ``reads`` is how many reads of the input gave it."""
    return sample_stats_of([(job, fmt, head)], complete, reads)


def sample_stats_of(
    parts: Sequence[tuple[Job, Format, bytes]], complete: bool, reads: int = 1
) -> SampleStats:
    """``sample_stats`` of a sample in parts, each read in its own format
    (inputs of several formats, ``plan.formats``) with the job bound to it:
    its pairs and keys added up, its combined pairs measured part by part
    (the objects of two formats are in different map tasks)."""
    if not complete:  # a last partial line dropped
        parts = [(job, fmt, text[: text.rfind(b"\n") + 1]) for job, fmt, text in parts]
    texts = [(job, fmt, _lines(text)) for job, fmt, text in parts]
    total = sum(len(lines) for _, _, lines in texts)
    if not total:
        return SampleStats(complete=complete)
    half = total // 2
    first: Counter[str] = Counter()
    weights: Counter[str] = Counter()
    loads: Counter[str] = Counter()
    shuffle_bytes = before = 0
    for job, fmt, lines in texts:
        if before < half:
            first.update(_weights(job, fmt, lines[: half - before]))
        before += len(lines)
        side = _map_side(job, fmt, lines)
        weights.update(_side_weights(side))
        side.combine()
        combined = side.partitions(1)
        shuffle_bytes += len(encode(combined, _MEASURED))
        loads.update(_pair_bytes(combined[0]))
    pairs = sum(weights.values())
    hot = sorted(
        ((key, count / pairs) for key, count in weights.items() if count / pairs >= HOT_KEY_SHARE),
        key=lambda item: (-item[1], item[0]),
    )[:MAX_HOT_KEYS]
    return SampleStats(
        bytes=sum(len(text) for _, _, text in parts),
        lines=total,
        pairs=pairs,
        keys=len(weights),
        keys_first_half=len(first),
        singletons=sum(1 for count in weights.values() if count == 1),
        doubletons=sum(1 for count in weights.values() if count == 2),
        shuffle_bytes=shuffle_bytes,
        complete=complete,
        reads=reads,
        hot_keys=[(key, round(share, 4)) for key, share in hot],
        weights=dict(weights),
        loads=dict(loads),
    )


def _lines(text: bytes) -> list[bytes]:
    """The lines of a sample's text."""
    lines = [line.rstrip(b"\r") for line in text.split(b"\n")]
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _map_side(job: Job, fmt: Format, lines: list[bytes]) -> MapSide:
    side = MapSide(job, fmt, sample_limit=0, per_record=True)
    side.feed(lines)
    return side


def _weights(job: Job, fmt: Format, lines: list[bytes]) -> dict[str, int]:
    return _side_weights(_map_side(job, fmt, lines))


def _side_weights(side: MapSide) -> dict[str, int]:
    """Pairs per canonical key, before combining (the counting fast path keeps
    counts, the mapper path keeps the values)."""
    weights: dict[str, int] = {}
    count: Any
    for key, count in side.counts.items():
        text = key_text(key)
        weights[text] = weights.get(text, 0) + int(count)
    for key, values in side.buffer.items():
        text = key_text(key)
        weights[text] = weights.get(text, 0) + len(values)
    return weights


def _pair_bytes(pairs: list[tuple[str, Any]]) -> dict[str, int]:
    """Bytes of each key's combined pair as JSON text (``SampleStats.loads``)."""
    loads: dict[str, int] = {}
    for key, value in pairs:
        size = len(json.dumps([key, value], separators=(",", ":")))
        loads[key] = loads.get(key, 0) + size
    return loads
