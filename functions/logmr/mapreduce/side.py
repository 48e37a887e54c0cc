"""The in-memory heart of a task: mapping records with in-memory combining,
partitioning the combined pairs, and reducing grouped values. No I/O."""

from __future__ import annotations

import gc
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Reversible
from contextlib import contextmanager
from functools import partial
from itertools import chain, compress, filterfalse, islice, repeat
from itertools import count as counting
from operator import is_not, itemgetter
from typing import Any

from logmr.config import SAMPLE_LINE_BYTES
from logmr.formats.base import Column, Format
from logmr.inputs.lines import split_lines
from logmr.jobs.base import Job, key_text
from logmr.jobs.sums import (
    INT64_MAX,
    Chunks,
    KeyedSums,
    codes_of,
    numpy,
    regrouped,
    sums_by_code,
    widened,
)
from logmr.mapreduce.partition import partition_of, salted_bucket
from logmr.mapreduce.shuffle import encode_chunk
from logmr.timerange import TimeRange

#: buffered values before the combiner folds them (bounds map-side memory)
COMBINE_EVERY = 200_000
#: pairs from which a reducer adds values up in C (``merge_groups``): fewer
#: (a status code's few keys) are not worth numpy's import (~0.1 s)
SUM_IN_C_FROM = 10_000
#: what a key's entry in a combining dict costs beside its key and value
#: objects (``MapSide.footprint``): a compact dict's 24-byte entry and its
#: index slots, at a table's usual fill
ENTRY_BYTES = 48
#: a buffered value's list slot, and a buffered key's list
SLOT_BYTES = 8
LIST_BYTES = 72
#: the last keys (and values) of a table whose sizes stand for all of them
SIZE_SAMPLE = 32

_is_record = partial(is_not, None)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one batch, back on after it: a
    batch allocates hundreds of thousands of tuples and lists (a ``findall``'s
    rows, columns, groups), none in a reference cycle, and the collections
    their allocation triggers traverse them all for nothing (3-9% of a map
    task's CPU). Garbage is still freed as it goes, by reference counting."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def group_into(groups: dict[Any, list[Any]], pairs: Iterable[tuple[Any, Any]]) -> int:
    """Each pair's value appended to its key's list in ``groups``; how many pairs."""
    count = 0
    for key, value in pairs:
        bucket = groups.get(key)
        if bucket is None:
            groups[key] = [value]
        else:
            bucket.append(value)
        count += 1
    return count


class SumTable:
    """``KeyedSums`` of one shape added up over a map task's batches: an index
    of keys (key -> row) and one numpy array of rows, so that a key costs no
    Python object but itself and its index entry, and adding a batch is a few
    C calls (new keys appended to the index with ``dict.update`` over an
    iterator, rows added with ``numpy.add.at``). int64 while the sum of every
    magnitude added stays within int64, Python ints after that."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.index: dict[Any, int] = {}
        self.rows: Any = numpy().zeros((0, *shape), dtype=numpy().int64)
        self.bound = 0

    def add(self, batch: KeyedSums) -> None:
        np = numpy()
        index = self.index
        index.update(zip(filterfalse(index.__contains__, batch.keys), counting(len(index))))
        if len(index) > len(self.rows):
            grown = np.zeros((max(len(index), 2 * len(self.rows)), *self.shape), self.rows.dtype)
            grown[: len(self.rows)] = self.rows
            self.rows = grown
        self.bound += batch.bound
        sums = batch.sums
        if self.bound > INT64_MAX or sums.dtype == object:
            self.rows, sums = widened(self.rows), widened(sums)
        codes = np.fromiter(map(index.__getitem__, batch.keys), np.intp, len(batch.keys))
        np.add.at(self.rows, codes, sums)

    def __len__(self) -> int:
        return len(self.index)

    def sums(self) -> KeyedSums:
        return KeyedSums(list(self.index), self.rows[: len(self.index)], self.bound)


class MapSide:
    """Feeds batches of lines through parse, mapper and combiner."""

    def __init__(
        self,
        job: Job,
        fmt: Format,
        sample_limit: int,
        sample_origin: str = "",
        *,
        per_record: bool = False,
        window: TimeRange | None = None,
    ) -> None:
        """``per_record``: ``feed`` calls the mapper per record even for a
        column job, whose batches otherwise come pre-combined (one pair per key
        per batch): the planner's sample counts the pairs each key gets.

        ``window``: the job's time range (``JobSpec.time_range``). A record
        whose ``epoch`` is outside it counts in the job's ``out_of_range``
        counter, one without a time in ``no_time``; neither is mapped nor
        counted in ``records``. The one place every job is filtered: a
        column job's batch by its epoch column before ``map_columns``, a
        ``raw_lines`` job's lines by the time the format parses in them."""
        self.job = job
        self.window = window
        # FormatMismatchError before any work when the format has no time
        self._epoch = fmt.getter("epoch") if window is not None else None
        self.per_record = per_record
        self.fmt = fmt
        self.sample_limit = sample_limit
        self.sample_origin = sample_origin
        self.buffer: dict[Any, list[Any]] = {}
        self.counts: Counter[Any] = Counter()
        #: ``KeyedSums`` a column job's batches gave, added up per shape
        self.tables: dict[tuple[int, ...], SumTable] = {}
        self.buffered = 0
        self.lines = 0
        self.records = 0
        self.malformed = 0
        #: lines the reader skipped for their length (``long_line``), malformed too
        self.long_lines = 0
        self.samples: list[dict[str, Any]] = []
        is_continuation = getattr(fmt, "is_continuation", None)
        self._is_continuation = is_continuation if callable(is_continuation) else None
        self.continuation = 0
        field = job.count_field
        # the counting fast path, unless malformed lines must each be classified
        self._count_getter = (
            fmt.getter(field)
            if field and not job.raw_lines and self._is_continuation is None and window is None
            else None
        )

    def feed(self, lines: list[bytes]) -> None:
        self.lines += len(lines)
        job = self.job
        if job.raw_lines:
            if self.window is not None:
                lines = self._lines_in_range(lines)
            self.records += len(lines)
            keys = job.map_keys(lines)
            if keys is None:
                self._map(lines)
            else:  # the counting fast path: keys counted in C
                self.counts.update(keys)
            return
        if self._count_getter is not None:
            self._count(lines, self._count_getter)
            return
        records = list(self.fmt.parse_many(lines))
        malformed = records.count(None)
        if malformed:
            for line, record in zip(lines, records, strict=True):
                if record is None:
                    self._malformed(line)
            records = list(filter(_is_record, records))
        records = self._in_range(records)
        self.records += len(records)
        self._map(records)

    def feed_text(self, text: bytes) -> None:
        """A text of whole LF-terminated lines (``lines.iter_range_texts``): one
        C-level pass over the whole text when the format has a block parser
        (``Format.records_in_text``), else split into lines for ``feed``."""
        with collector_paused():
            self._feed_text(text)

    def _feed_text(self, text: bytes) -> None:
        job = self.job
        if job.raw_lines or self._is_continuation is not None:
            self.feed(split_lines(text))
            return
        if self._count_getter is not None and job.count_field is not None:
            counted = self.fmt.values_in_text(text, job.count_field)
            if counted is not None:
                keys, lines = counted
                self.lines += lines
                self._counted(keys, lines, lambda: self._malformed_in(text))
                return
        scan = job.scan_filter() if job.columns and self.window is None else None
        if scan is not None:
            cut = self.fmt.without_records(text, *scan)
            if cut is not None:  # the records the job's filter refuses, never extracted
                text, refused = cut
                self.lines += refused
                self.records += refused
                if not text:
                    return
        fields = job.columns
        if not fields and self.window is not None and job.count_field:
            fields = (job.count_field,)  # a counting job within a time range: its column
        if fields:
            wanted = fields if self.window is None else (*fields, "epoch")
            in_columns = self.fmt.columns_in_text(text, wanted)
            if in_columns is not None:
                columns, lines = in_columns
                self.lines += lines
                found = len(columns[0].raw)
                if lines - found:
                    self._find_malformed(lambda: self._malformed_in(text), lines - found)
                if self.window is not None:
                    columns = self._columns_in_range(columns)
                self.records += len(columns[0].raw)
                if job.columns:
                    self._add_pairs(job.map_columns(columns))
                else:
                    self._count_keys(columns[0].values())
                return
        records = self.fmt.records_in_text(text)
        if records is None:
            self.feed(split_lines(text))
            return
        lines = text.count(b"\n")
        self.lines += lines
        if self._count_getter is not None:
            keys = list(map(self._count_getter, records))
            self._counted(keys, lines, lambda: self._malformed_in(text))
            return
        malformed = lines - len(records)
        if malformed:
            self._find_malformed(lambda: self._malformed_in(text), malformed)
        records = self._in_range(records)
        self.records += len(records)
        self._map(records)

    def _in_range(self, records: list[Any]) -> list[Any]:
        """The records within the time range (all of them without one)."""
        if self.window is None or not records:
            return records
        inside = self._inside(Column(self.fmt.values("epoch", records)))
        return records if inside is None else list(compress(records, inside))

    def _columns_in_range(self, columns: list[Column]) -> list[Column]:
        """A batch's columns (its epoch column last) cut to the records within
        the time range, the epoch column dropped."""
        *kept, epochs = columns
        inside = self._inside(epochs)
        if inside is None:
            return kept
        return [Column(list(compress(column.raw, inside)), column.convert) for column in kept]

    def _lines_in_range(self, lines: list[bytes]) -> list[bytes]:
        """A ``raw_lines`` job's lines whose time (the format's) is within the
        range; a line the format cannot read has none (``no_time``)."""
        epoch = self._epoch
        assert epoch is not None
        times = [None if record is None else epoch(record) for record in self.fmt.parse_many(lines)]
        inside = self._inside(Column(times))
        return lines if inside is None else list(compress(lines, inside))

    def _inside(self, epochs: Column) -> list[bool | None] | None:
        """Per record, whether its time is within the range (``None``: it has
        none), each distinct raw time converted and tested once; the others
        counted in ``out_of_range`` and ``no_time``. ``None`` when every
        record is within (a batch of a log's middle): nothing to cut."""
        window = self.window
        assert window is not None
        verdicts: dict[Any, bool | None] = {}
        for raw in set(epochs.raw):
            value = epochs.value(raw)
            verdicts[raw] = None if value is None else window.contains(value)
        if all(verdicts.values()):
            return None
        inside = list(map(verdicts.__getitem__, epochs.raw))
        outside, timeless = inside.count(False), inside.count(None)
        if outside:
            self.job.count("out_of_range", outside)
        if timeless:
            self.job.count("no_time", timeless)
        return inside

    def _count(self, lines: list[bytes], getter: Any) -> None:
        """A counting job (``count_field``): parse, get and count in one C-level
        stream; records are not kept, only the keys."""
        keys = list(map(getter, filter(_is_record, self.fmt.parse_many(lines))))
        parse = self.fmt.parse
        self._counted(keys, len(lines), lambda: (line for line in lines if parse(line) is None))

    def _counted(
        self, keys: list[Any], lines: int, malformed_lines: Callable[[], Iterable[bytes]]
    ) -> None:
        """Count ``keys``, the values of the well-formed ones of ``lines`` lines;
        ``malformed_lines`` gives the others when they must be sampled."""
        self.records += len(keys)
        malformed = lines - len(keys)
        if malformed:
            self._find_malformed(malformed_lines, malformed)
        self._count_keys(keys)

    def _count_keys(self, keys: list[Any]) -> None:
        """A counting job's keys counted; ``None`` (a record without the
        field) in ``no_<field>``."""
        self.counts.update(keys)
        missing = self.counts.pop(None, 0)
        if missing:
            self.job.count(f"no_{self.job.count_field}", missing)

    def _find_malformed(
        self, malformed_lines: Callable[[], Iterable[bytes]], malformed: int
    ) -> None:
        """Count ``malformed`` lines, finding only those the sample still has
        room for (``malformed_lines``, a lazy search, is called only then)."""
        found = 0
        if len(self.samples) < self.sample_limit:
            for line in malformed_lines():
                self._malformed(line)
                found += 1
                if found == malformed or len(self.samples) >= self.sample_limit:
                    break
        self.malformed += malformed - found

    def _malformed_in(self, text: bytes) -> Iterable[bytes]:
        """The malformed lines of ``text``, lazily: the gaps between the block
        parser's matches, or (no block parser) each line parsed again."""
        gaps = self.fmt.malformed_in_text(text)
        if gaps is not None:
            return gaps
        parse = self.fmt.parse
        return (line for line in split_lines(text) if parse(line) is None)

    def _map(self, records: list[Any]) -> None:
        job = self.job
        if job.columns and not self.per_record:  # a column job (Job.map_columns)
            self._add_pairs(job.map_columns(self.fmt.columns(records, job.columns)))
        else:
            self._add_pairs(chain.from_iterable(map(job.mapper, records)))

    def _add_pairs(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """A batch's pairs into the buffer; ``KeyedSums`` (whose combiner adds
        up) into their shape's ``SumTable``, never as pairs."""
        chunks = pairs.chunks if isinstance(pairs, Chunks) else (pairs,)
        for chunk in chunks:
            if isinstance(chunk, KeyedSums):
                table = self.tables.get(chunk.shape)
                if table is None:
                    table = self.tables[chunk.shape] = SumTable(chunk.shape)
                table.add(chunk)
            else:
                self.buffered += group_into(self.buffer, chunk)
        if self.buffered >= COMBINE_EVERY:
            self.combine()

    def _malformed(self, line: bytes) -> None:
        self.malformed += 1
        if self._is_continuation is not None and self._is_continuation(line):
            self.continuation += 1
        self._sample(line, len(line))

    def long_line(self, head: bytes, length: int) -> None:
        """A line longer than the reader reads (``inputs.lines.MAX_LINE_BYTES``),
        which it streamed past (``lines.iter_range_texts``'s ``on_long_line``):
        one line, malformed whatever the job (never parsed nor mapped; not
        asked whether it is a continuation line), counted in ``long_lines``
        too, and sampled from its first bytes with its whole length."""
        self.lines += 1
        self.malformed += 1
        self.long_lines += 1
        self._sample(head, length)

    def _sample(self, line: bytes, length: int) -> None:
        """A malformed line's sample, while the task keeps fewer than its limit."""
        if len(self.samples) < self.sample_limit:
            self.samples.append(
                {
                    "origin": self.sample_origin,
                    "line": line[:SAMPLE_LINE_BYTES].decode("utf-8", "backslashreplace"),
                    "length": length,
                }
            )

    def combine(self) -> None:
        combined: dict[Any, list[Any]] = {}
        combiner = self.job.combiner
        for key, values in self.buffer.items():
            if len(values) == 1:
                combined.setdefault(key, []).extend(values)
                continue
            for out_key, out_value in combiner(key, values):
                combined.setdefault(out_key, []).append(out_value)
        self.buffer = combined
        self.buffered = len(combined)

    def footprint(self) -> int:
        """The combining state's bytes, estimated in a few microseconds: per
        key ``ENTRY_BYTES`` and the mean size of the last ``SIZE_SAMPLE`` keys
        and values of its table (keys come in bursts of one shape: tokens,
        paths), per buffered value its slot and size, and the sum tables'
        arrays. What ``drain`` makes in passing comes on top, about as much."""
        counts, buffer = self.counts, self.buffer
        total = 0
        if counts:
            total += len(counts) * (ENTRY_BYTES + mean_size(counts) + mean_size(counts.values()))
        if buffer:
            last = [values[-1] for values in islice(reversed(buffer.values()), SIZE_SAMPLE)]
            total += len(buffer) * (ENTRY_BYTES + LIST_BYTES + mean_size(buffer))
            total += self.buffered * (SLOT_BYTES + mean_size(last))
        for table in self.tables.values():
            total += len(table) * (ENTRY_BYTES + mean_size(table.index)) + table.rows.nbytes
        return total

    def partitions(
        self, buckets: int, salted: frozenset[str] = frozenset(), salt: int = 0
    ) -> list[list[tuple[str, Any]]]:
        """The combined pairs, keys made canonical, split into ``buckets``
        hash buckets (``partition.partition_of``). A key in ``salted`` goes to
        ``partition.salted_bucket`` of its bucket for ``salt`` (the map task's
        number): over the map tasks, a salted key reaches every reducer's group."""
        keys, values = _bucketed(self.combined(), buckets, salted, salt)
        return [list(zip(k, v, strict=True)) for k, v in zip(keys, values, strict=True)]

    def drain(
        self, buckets: int, salted: frozenset[str] = frozenset(), salt: int = 0
    ) -> Iterator[tuple[int, list[str], bytes]]:
        """A segment of the map task's output (``mapreduce.shuffle``): the
        pairs combined so far, bucketed as ``partitions`` does (in the same
        order), as ``(bucket, keys, chunk)`` for each bucket with pairs, the
        chunk encoded (``shuffle.encode_chunk``). The combining state is
        emptied (counters and samples stay) and each part freed once taken;
        the sum tables' rows become Python values one bucket at a time.
        Feeding goes on with an empty table."""
        self.combine()
        counts, buffer, tables = self.counts, self.buffer, self.tables
        self.counts, self.buffer, self.tables, self.buffered = Counter(), {}, {}, 0
        values, several, columns = _gathered(counts, buffer, tables, release=True)
        del counts, buffer, tables
        keys, found = _bucketed(_pairs(self.job, values, several), buckets, salted, salt)
        del values, several
        orders = [_bucket_order(sums, buckets, salted, salt) for sums in columns]
        for bucket in range(buckets):
            some_keys, some_values = keys[bucket], found[bucket]
            keys[bucket] = found[bucket] = []
            for sums, (order, bounds) in zip(columns, orders, strict=True):
                rows = order[bounds[bucket] : bounds[bucket + 1]]
                if len(rows):
                    some_keys += map(sums.keys.__getitem__, rows.tolist())
                    some_values += sums.sums[rows].tolist()
            if some_keys:
                yield bucket, some_keys, encode_chunk(some_keys, some_values)

    def combined(self) -> Iterator[tuple[str, Any]]:
        """The map task's pairs, keys made canonical (``key_text``), one value
        per key: the counts, the buffer and the sum tables merged, and a key's
        values from several of them (or raw keys with the same text) combined."""
        values, several, columns = _gathered(self.counts, self.buffer, self.tables, release=False)
        return chain(_pairs(self.job, values, several), *columns)

    def counters(self) -> dict[str, int]:
        counts = {"lines": self.lines, "records": self.records, "malformed": self.malformed}
        if self.continuation:
            counts["continuation_lines"] = self.continuation
        if self.long_lines:
            counts["long_lines"] = self.long_lines
        counts.update(self.job.counters)
        return counts


def mean_size(items: Reversible[Any]) -> int:
    """The mean ``_size`` of the last ``SIZE_SAMPLE`` of ``items``."""
    found = list(islice(reversed(items), SIZE_SAMPLE))
    return sum(map(_size, found)) // len(found) if found else 0


def _size(value: Any) -> int:
    size = sys.getsizeof(value)
    if type(value) in (list, tuple):
        size += sum(map(sys.getsizeof, value))
    elif type(value) is dict:
        size += sum(map(sys.getsizeof, value.values())) + sum(map(sys.getsizeof, value))
    return size


def _gathered(
    counts: Counter[Any],
    buffer: dict[Any, list[Any]],
    tables: dict[tuple[int, ...], SumTable],
    *,
    release: bool,
) -> tuple[dict[str, Any], dict[str, list[Any]], list[KeyedSums]]:
    """The parts of ``MapSide.combined``, keys made canonical: a key's one
    value, the values of a key found more than once (to combine), and the sum
    tables whose keys are found nowhere else, as ``KeyedSums``. ``release``:
    each part emptied once read (``MapSide.drain``), so that its keys are
    freed as the next ones are made."""
    values: dict[str, Any] = {}  # text -> its one value so far
    several: dict[str, list[Any]] = {}  # text -> its values, when several
    _gather(zip(map(key_text, counts), counts.values(), strict=True), values, several)
    if release:
        counts.clear()
    for key, buffered in buffer.items():
        _gather(zip(repeat(key_text(key)), buffered, strict=False), values, several)
    if release:
        buffer.clear()
    columns: list[KeyedSums] = []
    taken: dict[str, None] = {}  # the keys of ``columns``, when there are several tables
    for table in tables.values():
        sums = table.sums()
        if release:
            table.index = {}  # its keys live on in ``sums`` only
        if not set(map(type, sums.keys)) <= {str}:
            sums = _as_text(sums)
        if values.keys().isdisjoint(sums.keys) and taken.keys().isdisjoint(sums.keys):
            columns.append(sums)
            if len(tables) > 1:
                taken.update(dict.fromkeys(sums.keys))
            continue
        _gather(iter(sums), values, several)  # a key also yielded as a pair: combined below
    if release:
        tables.clear()
    return values, several, columns


def _as_text(sums: KeyedSums) -> KeyedSums:
    """``sums.rekeyed(key_text)`` without its two indexes of every key when
    the texts are distinct (they are unless bytes spell another key's
    ``\\xNN`` escape): a map task's table of a million keys drains in about
    half the memory."""
    texts = list(map(key_text, sums.keys))
    if len(set(texts)) < len(texts):
        return regrouped(texts, sums.sums, sums.bound)
    return KeyedSums(texts, sums.sums, sums.bound)


def _pairs(
    job: Job, values: dict[str, Any], several: dict[str, list[Any]]
) -> Iterator[tuple[str, Any]]:
    """A key's one value, or the combiner's output for its several."""
    combiner = job.combiner
    for key, value in values.items():
        all_values = several.get(key)
        if all_values is None:
            yield key, value
            continue
        for out_key, out_value in combiner(key, all_values):
            yield key_text(out_key), out_value


def _gather(
    pairs: Iterable[tuple[str, Any]], values: dict[str, Any], several: dict[str, list[Any]]
) -> None:
    """``pairs`` into ``values`` (a key's one value), a key seen again with
    every value in ``several``."""
    for text, value in pairs:
        if text not in values:
            values[text] = value
            continue
        found = several.get(text)
        if found is None:
            several[text] = [values[text], value]
        else:
            found.append(value)


def _bucketed(
    pairs: Iterable[tuple[str, Any]], buckets: int, salted: frozenset[str], salt: int
) -> tuple[list[list[str]], list[list[Any]]]:
    """``pairs`` split into ``buckets`` hash buckets as columns (keys, values)."""
    keys: list[list[str]] = [[] for _ in range(buckets)]
    values: list[list[Any]] = [[] for _ in range(buckets)]
    for text, value in pairs:
        bucket = _bucket(text, buckets, salted, salt)
        keys[bucket].append(text)
        values[bucket].append(value)
    return keys, values


def _bucket(text: str, buckets: int, salted: frozenset[str], salt: int) -> int:
    """The bucket of ``text``: its own, or a salted key's for map task ``salt``."""
    bucket = partition_of(text, buckets)
    return salted_bucket(bucket, salt, buckets) if text in salted else bucket


def _bucket_order(
    sums: KeyedSums, buckets: int, salted: frozenset[str], salt: int
) -> tuple[Any, list[int]]:
    """The rows of ``sums`` by bucket (in their order within one), and where
    each bucket's rows start in it (``buckets + 1`` bounds)."""
    np = numpy()
    found = np.fromiter(
        (_bucket(key, buckets, salted, salt) for key in sums.keys), np.intp, len(sums.keys)
    )
    order = np.argsort(found, kind="stable")
    bounds: list[int] = np.searchsorted(found[order], np.arange(buckets + 1)).tolist()
    return order, bounds


def merge_groups(job: Job, blocks: Iterable[list[tuple[str, Any]]]) -> dict[str, list[Any]]:
    """Every block's pairs grouped by key (``group_into``). For a job that adds
    values up (``Job.adds_values_up``), the int values (and lists of ints of
    one length) of each key are added up in C first (``summed_into``): such a
    key's group is then one value, its sum."""
    groups: dict[str, list[Any]] = {}
    if not job.adds_values_up():
        for pairs in blocks:
            group_into(groups, pairs)
        return groups
    pairs = list(chain.from_iterable(blocks))
    if len(pairs) < SUM_IN_C_FROM:
        group_into(groups, pairs)
        return groups
    summed_into(groups, list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs)))
    return groups


def summed_into(groups: dict[Any, list[Any]], keys: list[Any], values: list[Any]) -> None:
    """The pairs ``zip(keys, values)`` into ``groups``, the values of one shape
    (an int, not a bool; a list of n ints) added up per key in C: one value per
    key and shape, exact (int64 while the sum of magnitudes fits, Python ints
    past it). Values of any other shape are grouped as they are."""
    np = numpy()
    widths = np.fromiter(map(_width, values), dtype=np.intp, count=len(values))
    for width in np.unique(widths).tolist():
        chosen = widths == width
        some_keys = list(compress(keys, chosen))
        some_values = list(compress(values, chosen))
        sums = _int64_rows(some_values, width) if width >= 0 else None
        if sums is None:  # an item no int64: find the values that are all ints, in Python
            ints = [width >= 0 and _all_ints(value, width) for value in some_values]
            others = [not found for found in ints]
            rest = zip(compress(some_keys, others), compress(some_values, others), strict=True)
            group_into(groups, rest)
            some_keys = list(compress(some_keys, ints))
            some_values = list(compress(some_values, ints))
            if not some_keys:
                continue
            sums = np.array(some_values, dtype=object)  # Python ints: exact at any size
        distinct, codes = codes_of(some_keys)
        summed = sums_by_code(codes, len(distinct), sums).tolist()
        group_into(groups, zip(distinct, summed, strict=True))


def _width(value: Any) -> int:
    """0 for an int (not a bool), n for a list (of n items), -1 for anything else."""
    kind = type(value)
    return 0 if kind is int else len(value) if kind is list else -1


def _all_ints(value: Any, width: int) -> bool:
    """An int (``width`` 0) or a list of ints (none a bool)."""
    return type(value) is int if not width else all(type(item) is int for item in value)


def _int64_rows(values: list[Any], width: int) -> Any:
    """``values`` (ints, or lists of ``width`` items) as an int64 array to add
    up in C, Python ints when their magnitudes summed pass int64; ``None``
    when an item is no int64 (a float, None, text, a larger int...)."""
    np = numpy()
    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype != np.int64 or array.shape != (len(values), width)[: 2 if width else 1]:
        return None
    if not array.size:
        return array
    largest = max(abs(int(array.max())), abs(int(array.min())))
    return array if largest * len(values) <= INT64_MAX else widened(array)


def reduce_groups(job: Job, groups: dict[str, list[Any]]) -> list[tuple[str, Any]]:
    """The reducer over every key, in key order."""
    out: list[tuple[str, Any]] = []
    reducer = job.reducer
    for key in sorted(groups):
        for out_key, value in reducer(key, groups[key]):
            out.append((key_text(out_key), value))
    return out
