"""What a job is.

A job is a small class in the spirit of mrjob: generator methods ``mapper``,
``combiner`` and ``reducer``, an optional ``finalize`` for the summary (top-N
and the like), validated parameters, and counters. It knows nothing about
where it runs: the same class is driven by the inline runner, the local engine
and the Lambda handlers.

Records are opaque: in ``bind`` a job asks the format for getters of the
canonical fields it needs (see ``logmr.formats.base``), so a format that lacks
one is refused before any work starts. Jobs with ``raw_lines = True`` see the
raw line (``bytes``, LF and one CR removed) whatever the format.

Keys may be ``bytes`` (decoded once per distinct key, invalid UTF-8 shown as
``\\xNN``), ``str`` or numbers (turned into ``str``). Values are JSON values;
the reducer's output value is the result: a number, or an object with a
``count`` field when a job keeps several figures per key.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal

from logmr.formats.base import Column, Format, Getter
from logmr.jobs.params import Param, parse_params

KV = tuple[Any, Any]
#: the shapes a job's results are shown in (``Job.shown_as``)
Shape = Literal["ranked", "series", "report", "sessions"]


def sort_value(value: Any) -> float:
    """The figure results are ranked by: the value, or its ``count``."""
    kind = type(value)
    if kind is dict:  # the common shapes first: a result object, an int
        count = value.get("count")
        if type(count) is int or type(count) is float:
            return float(count)
    elif kind is int or kind is float:
        return float(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping) and isinstance(value.get("count"), int | float):
        return float(value["count"])
    return 0.0


def top_n(pairs: Iterable[tuple[str, Any]], n: int) -> list[tuple[str, Any]]:
    """The ``n`` best pairs: value (or count) descending, then key ascending."""
    return heapq.nsmallest(n, pairs, key=lambda kv: (-sort_value(kv[1]), kv[0]))


class Best:
    """``top_n`` of a stream fed one pair at a time (several at once, one per
    panel of a results pass): the ``most`` best (key, count), count
    descending then key ascending, holding at most four times that many."""

    def __init__(self, most: int) -> None:
        self.most = most
        #: how many pairs were added
        self.seen = 0
        self._kept: list[tuple[Any, str]] = []

    def add(self, key: str, count: Any) -> None:
        self.seen += 1
        self._kept.append((-count, key))
        if len(self._kept) > 4 * self.most:
            self._kept.sort()
            del self._kept[self.most :]

    def best(self) -> list[tuple[str, Any]]:
        return [(key, -negated) for negated, key in sorted(self._kept)[: self.most]]


def key_text(key: Any) -> str:
    """The canonical string of a key: bytes decoded (invalid UTF-8 as ``\\xNN``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "backslashreplace")
    return str(key)


#: results a ``ResultsView`` keeps once read; more are read anew at each use
KEPT_RESULTS = 10_000


class ResultsView:
    """What ``finalize`` sees of a job's results, in key order: all of them,
    or the top ``n``. Given a function that streams them (Finalize: from the
    part files), it keeps them after one read when they are few
    (``KEPT_RESULTS``), else reads them anew at each use and never holds
    them all; given the pairs themselves, it keeps them."""

    def __init__(
        self, pairs: Iterable[tuple[str, Any]] | Callable[[], Iterable[tuple[str, Any]]]
    ) -> None:
        self._source = pairs if callable(pairs) else None
        self._kept: dict[str, Any] | None = None if callable(pairs) else dict(pairs)

    def _stream(self) -> Iterable[tuple[str, Any]]:
        """The results; the first use of a stream reads it (nothing is read
        for a job whose summary never looks), and keeps it when it is short."""
        if self._kept is not None:
            return self._kept.items()
        assert self._source is not None
        head = list(itertools.islice(self._source(), KEPT_RESULTS + 1))
        if len(head) <= KEPT_RESULTS:
            self._kept = dict(head)
            return self._kept.items()
        return self._source()

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._stream())

    def __len__(self) -> int:
        return sum(1 for _ in self._stream())

    def get(self, key: str, default: Any = None) -> Any:
        return next((value for found, value in self._stream() if found == key), default)

    def top(self, n: int) -> list[tuple[str, Any]]:
        return top_n(self._stream(), n)


class Job:
    """Base class of every job. Subclasses set ``name`` and override methods."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    #: canonical fields the mapper reads (checked against the format in ``bind``)
    needs: ClassVar[tuple[str, ...]] = ()
    #: fields of which the mapper reads the first one the format has
    needs_any: ClassVar[tuple[str, ...]] = ()
    #: the mapper gets raw lines, whatever the format
    raw_lines: ClassVar[bool] = False
    #: a counting job: records per value of this field, ``no_<field>`` counting
    #: records without one. The mapper must yield exactly ``(value, 1)`` (or
    #: nothing, counting ``no_<field>``); the engine may then count in C.
    count_field: str | None = None
    #: a column job: the canonical fields ``map_columns`` reads (set in ``bind``)
    columns: tuple[str, ...] = ()
    #: the combiner and reducer add values up: for a key whose values are all
    #: ints, or all lists of ints of one length, ``reducer(key, values)`` is
    #: ``reducer(key, [their element-wise sum])`` (and so for the combiner), so
    #: that a reducer may add them up in C first (``mapreduce.side.merge_groups``).
    #: A job with Job's own combiner and reducer (``sum``) adds up whatever this says.
    adds_up: ClassVar[bool] = False
    #: how a terminal shows the results (``logmr.cli.tables``): ``ranked``, the
    #: top N by value; ``series``, one row per time window in time order;
    #: ``report``, ``access_report``'s sections; ``sessions``, clients and the
    #: summary's labelled histograms
    shown_as: ClassVar[Shape] = "ranked"

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = parse_params(self.name, self.params, params or {})
        self.counters: Counter[str] = Counter()
        self.fields: dict[str, Getter] = {}
        self.configure()

    # -- set-up -----------------------------------------------------------
    def configure(self) -> None:
        """Derive working state from ``self.options`` (called once)."""

    def bind(self, fmt: Format) -> None:
        """Take the getters this job needs from ``fmt``; fail early if missing."""
        if self.raw_lines:
            return
        for field in self.needs:
            self.fields[field] = fmt.getter(field)
        if self.needs_any:
            have = [field for field in self.needs_any if field in fmt.fields]
            # getter() raises the one-line FormatMismatchError when none is there
            chosen = have[0] if have else self.needs_any[0]
            self.fields[chosen] = fmt.getter(chosen)
            self.fields["_any"] = self.fields[chosen]

    # -- the MapReduce methods ---------------------------------------------
    def mapper(self, record: Any) -> Iterator[KV]:
        raise NotImplementedError(f"job {self.name} has no mapper")

    def map_keys(self, lines: list[bytes]) -> Iterable[Any] | None:
        """An optional fast path for ``raw_lines`` counting jobs: the keys of
        ``lines``, each counting 1, exactly the pairs ``mapper`` would yield as
        ``(key, 1)``, so that the engine counts them in C instead of calling
        ``mapper`` per line. Only for jobs whose combiner and reducer sum.
        ``None``: no fast path, use ``mapper``."""
        return None

    def map_columns(self, columns: list[Column]) -> Iterable[KV]:
        """The pairs of a whole batch of records given as columns, for a job
        that sets ``columns`` (in ``bind``): ``columns[i]`` holds field
        ``self.columns[i]`` of every record (``Format.columns_in_text`` or
        ``Format.columns``), so that a job counts with ``Counter(column)`` in C,
        or groups by raw value before converting, instead of running a Python
        generator per record. The engine then calls this instead of
        ``mapper``. The pairs may be pre-combined (one per key per batch): they
        go through the combiner like the mapper's. They may come as
        ``jobs.sums.KeyedSums`` (keys and an array of int sums, for keys whose
        combiner adds values up), or a ``jobs.sums.Chunks`` of those and plain
        pairs: the map side then adds the sums up in C, never per key."""
        raise NotImplementedError(f"job {self.name} has no column mapper")

    def scan_filter(self) -> tuple[str, Callable[[Any], bool]] | None:
        """For a column job: a field, and a test of its value that every
        record ``map_columns`` keeps passes (``None``: there is none). The
        engine may then leave out the records that fail it before any column
        is extracted (``Format.without_records``); they count as records all
        the same."""
        return None

    def combiner(self, key: Any, values: list[Any]) -> Iterator[KV]:
        """Default: the reducer, which is right for every associative reducer."""
        return self.reducer(key, values)

    def reducer(self, key: Any, values: list[Any]) -> Iterator[KV]:
        yield key, sum(values)

    @classmethod
    def adds_values_up(cls) -> bool:
        """Whether reducers may add this job's int values up in C (``adds_up``)."""
        return cls.adds_up or (cls.reducer is Job.reducer and cls.combiner is Job.combiner)

    @classmethod
    def summarises(cls) -> bool:
        """The job has a ``finalize`` of its own (Finalize reads its results for it)."""
        return cls.finalize is not Job.finalize

    def finalize(self, results: ResultsView) -> dict[str, Any] | None:
        """A small summary of the results for the job record (optional)."""
        return None

    # -- counters ------------------------------------------------------------
    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    @classmethod
    def describe(cls) -> str:
        lines = [f"{cls.name}: {cls.description}"]
        lines += [f"    --param {param.describe()}" for param in cls.params]
        return "\n".join(lines)
