"""A reduce task's merging within its memory budget (``plan.tuning.ReduceBudget``):
the map outputs' pairs grouped by key (``GroupMerger``) and the results put
in key order (``RowSorter``). Each holds what it is given up to its share of
the budget; past it, what it holds goes to a local file as a *sorted run*,
and at the end the runs and what is still held are merged key by key
(``heapq.merge``, which keeps the runs' order among equal keys). Nothing
spilled: the same work in memory as a reducer always did (``merge_groups``,
a dict of the results sorted).

A run is a file in the task's temporary folder (``tempfile``'s: on Lambda
``/tmp``, the function's ephemeral storage, 512 MB as the stack leaves it; a
full one is ``StorageFullError``): chunks of
at most ``RUN_CHUNK_PAIRS`` sorted pairs, each a ``u32`` length and the
pairs pickled, zstd-compressed. Pickle, not the shuffle codec: the results
of a job's reducer are any Python values (a tuple, a dict with int keys) and
must reach the part file as they are, and a run is read back only by the
process that wrote it, from its own private folder. A merge holds one chunk
of each run; past ``MERGE_FAN_IN`` runs the oldest are merged into one first
(in their order: a key's values keep theirs).

Exactness: a key's values reach the reducer in the order the in-memory merge
gives them (map task order, then within one the pairs' order), since the
runs are made in reading order and merged stably. A job whose values are
added up in C (``Job.adds_values_up``) gets one sum per run instead of one
in all, which its reducer adds up: the same total."""

from __future__ import annotations

import errno
import heapq
import pickle
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, groupby, islice
from operator import itemgetter, lt
from pathlib import Path
from typing import Any

import zstandard

from logmr.errors import StorageFullError
from logmr.jobs.base import Job
from logmr.mapreduce.side import SIZE_SAMPLE, mean_size, merge_groups

Pair = tuple[str, Any]
#: pairs a run's chunk holds at most (a merge holds one chunk per run)
RUN_CHUNK_PAIRS = 4096
#: zstd's level for runs: its fastest (a run is read back once or twice)
RUN_ZSTD_LEVEL = 1
#: runs merged at once, at most: one chunk of each is held
MERGE_FAN_IN = 64
#: what a held pair costs beside its key and value: a 2-tuple and its list slot
PAIR_BYTES = 64
#: results a ``RowSorter`` takes between two estimates of what it holds
ROWS_CHECK_EVERY = 4096

_LENGTH = struct.Struct("<I")


class Runs:
    """Sorted runs of pairs, each a file in ``folder``, merged by ``join``
    (pairs of one key, adjacent, into what the merged stream gives for it)."""

    def __init__(
        self,
        folder: Path,
        name: str,
        join: Callable[[Iterable[Pair]], Iterator[Pair]],
    ) -> None:
        self.folder = folder
        self.name = name
        self.join = join
        self.files: list[Path] = []
        #: runs written, and their bytes (the merges' included)
        self.written = 0
        self.bytes = 0

    def __bool__(self) -> bool:
        return bool(self.files)

    def write(self, pairs: Iterable[Pair], *, append: bool = False) -> Path:
        """A new run of ``pairs`` (in key order), after the others; or, with
        ``append``, the last run continued (``pairs`` after its own)."""
        append = append and bool(self.files)
        path = self.files[-1] if append else self.folder / f"{self.name}-{self.written}.run"
        pairs = iter(pairs)
        compress = zstandard.ZstdCompressor(level=RUN_ZSTD_LEVEL).compress
        try:
            with open(path, "ab" if append else "wb") as out:
                while chunk := list(islice(pairs, RUN_CHUNK_PAIRS)):
                    data = compress(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
                    out.write(_LENGTH.pack(len(data)))
                    out.write(data)
                    self.bytes += _LENGTH.size + len(data)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise StorageFullError(
                f"{path}: {exc.strerror} after {self.bytes:,} bytes of sorted runs: a reduce"
                " task spills past its memory budget to its temporary folder (on Lambda the"
                " Reduce function's ephemeral storage); give it more room, or run the job"
                " with more reducers (--reducers)"
            ) from None
        if not append:
            self.written += 1
            self.files.append(path)
        return path

    def read(self, run: int) -> Iterator[Pair]:
        """The pairs of the ``run``-th run (of ``files``), in order."""
        return _read(self.files[run])

    def merged(self, *held: Iterable[Pair]) -> Iterator[Pair]:
        """Every run's pairs, then those of ``held`` (key-ordered streams of
        pairs still in memory, the last), merged in key order and joined."""
        while len(self.files) + len(held) > MERGE_FAN_IN:
            oldest, self.files = self.files[:MERGE_FAN_IN], self.files[MERGE_FAN_IN:]
            self.write(self.join(_merge([_read(path) for path in oldest])))
            self.files.insert(0, self.files.pop())  # the oldest pairs, first
            for path in oldest:
                path.unlink()
        return self.join(_merge([*(_read(path) for path in self.files), *held]))


def _merge(streams: list[Iterable[Pair]]) -> Iterator[Pair]:
    """Key-ordered streams merged in key order, equal keys in stream order."""
    return heapq.merge(*streams, key=itemgetter(0))


def _read(path: Path) -> Iterator[Pair]:
    """A run's pairs, a chunk at a time."""
    decompress = zstandard.ZstdDecompressor().decompress
    with open(path, "rb") as run:
        while head := run.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(head)
            chunk: list[Pair] = pickle.loads(decompress(run.read(size)))  # our own file
            yield from chunk


def joined_values(pairs: Iterable[Pair]) -> Iterator[Pair]:
    """Adjacent ``(key, values)`` of one key as one, their values in order."""
    for key, found in groupby(pairs, key=itemgetter(0)):
        lists = [values for _, values in found]
        yield key, lists[0] if len(lists) == 1 else list(chain.from_iterable(lists))


def last_value(pairs: Iterable[Pair]) -> Iterator[Pair]:
    """Adjacent pairs of one key as one: the last (an upsert's)."""
    for key, found in groupby(pairs, key=itemgetter(0)):
        yield key, deque(found, maxlen=1)[0][1]


def held_size(pairs: list[Pair], start: int = 0) -> int:
    """The estimated bytes of ``pairs[start:]``: each ``PAIR_BYTES`` and the
    mean size of the last ``SIZE_SAMPLE`` keys and values."""
    count = len(pairs) - start
    if count <= 0:
        return 0
    last = pairs[max(len(pairs) - SIZE_SAMPLE, start) :]
    keys = mean_size([key for key, _ in last])
    values = mean_size([value for _, value in last])
    return count * (PAIR_BYTES + keys + values)


class GroupMerger:
    """The map outputs' pairs of a reduce task (``add``, in reading order),
    grouped by key and given in key order (``groups``): pairs are held until
    their estimated bytes pass ``budget``, then grouped (``merge_groups``)
    and spilled as a sorted run."""

    def __init__(self, job: Job, budget: int, folder: Path) -> None:
        self.job = job
        self.budget = budget
        self.held: list[Pair] = []
        self.held_bytes = 0
        self.runs = Runs(folder, "groups", joined_values)

    def add(self, pairs: list[Pair]) -> None:
        if not pairs:
            return
        start = len(self.held)
        self.held += pairs
        self.held_bytes += held_size(self.held, start)
        if self.held_bytes > self.budget:
            self.spill()

    def spill(self) -> None:
        """What is held, grouped and written as the next run."""
        self.runs.write(self._grouped())

    def _grouped(self) -> list[tuple[str, list[Any]]]:
        """What is held, grouped, in key order; nothing held after."""
        held, self.held, self.held_bytes = self.held, [], 0
        groups = merge_groups(self.job, [held])
        del held
        found = sorted(groups.items(), key=itemgetter(0))
        groups.clear()
        return found

    def groups(self) -> Iterator[tuple[str, list[Any]]]:
        """Every key and its values, in key order (the runs merged with what is held)."""
        in_memory = self._grouped()
        if not self.runs:
            return iter(in_memory)
        return self.runs.merged(in_memory)


class RowSorter:
    """A reduce task's results (``extend``, in the order the reducer gives
    them; a key given twice keeps its last value, as an upsert would), given
    in key order (``rows``): held until their estimated bytes pass
    ``budget``, then spilled. Results in strictly increasing key order (a
    reducer that keeps its key: the common case) are spilled as they come,
    appended to one run, and read back as they are: no sort, no merge. Once
    one comes out of order, what is held is sorted and spilled as a run of
    its own, and the runs are merged at the end."""

    def __init__(self, budget: int, folder: Path) -> None:
        self.budget = budget
        self.held: list[Pair] = []
        self._checked = 0  # rows held at the last estimate
        self._checked_bytes = 0
        self.runs = Runs(folder, "rows", last_value)
        #: every result so far in strictly increasing key order, and the last key
        self.ordered = True
        self._last: str | None = None
        self._sorted: list[Pair] | None = None

    def extend(self, rows: list[Pair]) -> None:
        if not rows:
            return
        if self.ordered:
            keys = [key for key, _ in rows]
            after = self._last is None or self._last < keys[0]
            self.ordered = after and all(map(lt, keys, islice(keys, 1, None)))
            self._last = keys[-1]
        held = self.held
        held += rows
        if len(held) - self._checked >= ROWS_CHECK_EVERY:
            self._checked_bytes += held_size(held, self._checked)
            self._checked = len(held)
            if self._checked_bytes > self.budget:
                if self.ordered:  # in order: appended to the one run
                    self.runs.write(self._taken(), append=True)
                else:
                    self.runs.write(self._sorted_held())

    def _taken(self) -> list[Pair]:
        held, self.held, self._checked, self._checked_bytes = self.held, [], 0, 0
        return held

    def _sorted_held(self) -> list[Pair]:
        # a key given twice: its last value (keys are distinct once in a dict)
        return sorted(dict(self._taken()).items(), key=itemgetter(0))

    @property
    def in_memory(self) -> list[Pair] | None:
        """Every result in key order, when none was spilled (else None)."""
        return None if self.runs else self._held_in_order()

    def _held_in_order(self) -> list[Pair]:
        if self._sorted is None:
            self._sorted = self._taken() if self.ordered else self._sorted_held()
        return self._sorted

    def rows(self) -> Iterator[Pair]:
        """Every result in key order; called again, again from the first."""
        held = self._held_in_order()
        if not self.runs:
            return iter(held)
        if self.ordered:  # one run, then what is held: in order as they are
            return chain(self.runs.read(0), held)
        return self.runs.merged(held)
