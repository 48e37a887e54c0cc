"""``make_plan``: what Plan decides before it writes anything: the inputs
listed, each object's format detected (``plan.formats``), a sample mapped,
the figures the request leaves open tuned (``plan.tuning``), the inputs cut
into map tasks (``plan.cutting``), the map mode chosen. ``logmr plan`` shows
it; the Plan task records it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from logmr.errors import EmptyInputError, InvalidParameterError
from logmr.inputs.dated import KEY_MARGIN, DatedListing
from logmr.inputs.source import (
    DecompressedSize,
    InputObject,
    InputSource,
    read_head,
    read_spread_parts,
)
from logmr.jobs.binding import check
from logmr.limits import MAX_MAP_TASKS
from logmr.mapreduce.partition import buckets_for
from logmr.plan.cutting import ReadAs, count_tasks, cut, read_through
from logmr.plan.formats import MAX_DETECTED_OBJECTS, ObjectFormats, object_formats
from logmr.plan.sample import SAMPLE_BYTES, SAMPLE_SLICES, SampleStats, sample_stats_of
from logmr.plan.tuning import Limits, Tuning, tune
from logmr.spec import (
    INLINE_MAP_MAX_JSON_BYTES,
    INLINE_MAP_MAX_TASKS,
    JobSpec,
    MapTask,
    json_size,
)

#: bytes of the first input read to detect the format (``plan.formats``)
DETECT_SAMPLE_BYTES = 256 * 1024
#: compressed objects whose decompressed size is read at a time (a ranged GET
#: each on S3, as many as ``aws.s3.HEAD_WORKERS`` list them with)
SIZE_READS_AT_ONCE = 16
#: objects a plan names in its warnings (the others are counted)
WARNED_OBJECTS = 10


@dataclass(frozen=True)
class Plan:
    """What Plan decides before it writes anything (``logmr plan`` shows it)."""

    spec: JobSpec
    objects: list[InputObject]
    map_tasks: list[MapTask]
    sample: SampleStats
    tuning: Tuning
    distributed: bool
    #: objects named more than once (the same URI, a folder and a file in it,
    #: a symlink to a listed file) and read once
    repeated_inputs: int = 0
    #: each compressed object's size decompressed, as its own bytes tell
    #: (``inputs.source.read_decompressed_size``), by URI
    decompressed: dict[str, DecompressedSize] = field(default_factory=dict)
    #: what the plan cannot help and a person should know (``long_task_warnings``)
    warnings: list[str] = field(default_factory=list)
    #: with a time range: the objects and folders left out by their keys
    #: (``inputs.dated``), never read
    listing: DatedListing | None = None
    #: how each object is read (``plan.formats``): the spec's format, or its own
    formats: ObjectFormats | None = None

    @property
    def input_bytes(self) -> int:
        """The bytes stored: what is listed and read from storage."""
        return sum(obj.size for obj in self.objects)

    @property
    def mapped_bytes(self) -> int:
        """The bytes the map tasks read through (``mapped_bytes``)."""
        return mapped_bytes(self.objects, self.decompressed)

    @property
    def sample_reads(self) -> int:
        """Plan's reads of the inputs' lines (a GET each on S3): the
        sample's, and the starts of the objects whose format was detected
        beside the first (``plan.formats``)."""
        return self.sample.reads + (self.formats.reads if self.formats else 0)

    @property
    def pieces(self) -> int:
        """The pieces the map tasks read (a GET each on S3): ranges and whole
        compressed objects (``plan.cutting``)."""
        return sum(len(task.pieces) for task in self.map_tasks)

    @property
    def longest_task_bytes(self) -> int:
        """The bytes the largest map task reads through: its ranges, and its
        compressed objects decompressed."""
        by_uri = {obj.uri: obj for obj in self.objects}
        return max(
            (
                sum(
                    piece.size
                    if piece.size is not None
                    else mapped_bytes([by_uri[piece.uri]], self.decompressed)
                    for piece in task.pieces
                )
                for task in self.map_tasks
            ),
            default=0,
        )


def make_plan(spec: JobSpec, inputs: InputSource, limits: Limits) -> Plan:
    """Validate the job, list the inputs, detect the format, map a sample,
    tune the figures the request leaves open (``logmr.plan.tuning``) and cut the
    inputs. Reads the listing and ``SAMPLE_BYTES`` of whole lines only, the
    first object's start and ``SAMPLE_SLICES - 1`` pieces spread over the
    inputs (``inputs.read_spread``), and a few bytes of each compressed object
    for its size decompressed (``decompressed_sizes``): the figures are tuned
    for the bytes the map tasks read through."""
    check(spec)  # unknown job, bad parameters or format: fail before any I/O
    named = list(dict.fromkeys(spec.inputs))  # a URI given twice is listed once
    window = spec.time_range
    listing = None if window is None else DatedListing(window)
    objects, repeated_inputs = distinct_objects(inputs.list_inputs(named, listing))
    repeated_inputs += len(spec.inputs) - len(named)
    if not objects and listing is not None and listing.skipped:
        raise EmptyInputError(
            f"no input may hold records within {window}: {len(listing.skipped_objects):,}"
            f" objects and {len(listing.skipped_folders):,} folders are outside it by the"
            f" dates in their keys (give or take {KEY_MARGIN / 3600:g} h)"
        )
    if not objects or all(obj.size == 0 for obj in objects):
        raise EmptyInputError(f"the inputs hold no bytes: {', '.join(spec.inputs)}")
    first = next(obj for obj in objects if obj.size)
    decompressed = decompressed_sizes(inputs, objects)
    wanted = max(DETECT_SAMPLE_BYTES, SAMPLE_BYTES)
    head = read_head(inputs, first, wanted)
    found = object_formats(spec, inputs, objects, head)
    spec = found.resolve(spec, objects)
    total = sum(obj.size for obj in objects)
    whole = len(head) < wanted and total == first.size
    parts, reads = [(first.uri, head[:SAMPLE_BYTES])], 0
    if total > SAMPLE_BYTES and not whole:
        parts, reads = read_spread_parts(inputs, objects, head, SAMPLE_BYTES, SAMPLE_SLICES)
    sample = sample_stats_of(found.sample_parts(spec, parts), complete=whole, reads=1 + reads)
    tuning = tune(
        mapped_bytes(objects, decompressed),  # the sample's figures are per byte read through
        sample,
        limits,
        chunk_size=spec.chunk_size,
        reducers=spec.reducers,
        max_concurrency=spec.max_concurrency,
        salted_keys=spec.salted_keys,
        count_tasks=lambda chunk: count_tasks(objects, chunk, decompressed, found.others),
    )
    spec = replace(
        spec,
        chunk_size=tuning.chunk_size,
        reducers=tuning.reducers,
        max_concurrency=tuning.max_concurrency,
        salted_keys=tuning.salted_keys,
        buckets=spec.buckets or buckets_for(tuning.reducers),
    )
    _check_task_count(objects, spec.chunk_size, decompressed, found.others)
    map_tasks = cut(objects, spec.chunk_size, decompressed, found.others)
    fits_inline = _fits_inline(map_tasks)
    if spec.map_mode == "inline" and len(map_tasks) > INLINE_MAP_MAX_TASKS:
        # the reducers' bound (limits.MAX_REDUCE_TASKS) counts on an inline map phase this small
        raise InvalidParameterError(
            f"map_mode 'inline' runs at most {INLINE_MAP_MAX_TASKS} map tasks, and the inputs"
            f" cut into {len(map_tasks):,}: use 'auto' or 'distributed', or a larger chunk_size"
        )
    if spec.map_mode == "inline" and not fits_inline:
        raise InvalidParameterError(
            f"map_mode 'inline' carries the map tasks in the state, at most"
            f" {INLINE_MAP_MAX_JSON_BYTES:,} bytes of JSON, and the inputs' {len(map_tasks)}"
            f" tasks (their {sum(len(task.pieces) for task in map_tasks):,} pieces) take"
            f" {_tasks_json_size(map_tasks):,}: use 'auto' or 'distributed'"
        )
    distributed = spec.map_mode == "distributed" or (spec.map_mode == "auto" and not fits_inline)
    warnings = long_task_warnings(objects, decompressed, limits)
    if found.by_name:
        warnings.append(
            f"the format of {found.by_name:,} objects past the first"
            f" {MAX_DETECTED_OBJECTS:,} was taken from objects of the same name pattern"
            " (or the most common), not detected from their own lines"
        )
    return Plan(
        spec,
        objects,
        map_tasks,
        sample,
        tuning,
        distributed,
        repeated_inputs,
        decompressed,
        warnings,
        listing,
        found,
    )


def _fits_inline(map_tasks: list[MapTask]) -> bool:
    """Whether an inline Map can carry ``map_tasks`` in its state: at most
    ``INLINE_MAP_MAX_TASKS`` of them, of at most ``INLINE_MAP_MAX_JSON_BYTES``
    of JSON together."""
    return (
        len(map_tasks) <= INLINE_MAP_MAX_TASKS
        and _tasks_json_size(map_tasks) <= INLINE_MAP_MAX_JSON_BYTES
    )


def _tasks_json_size(map_tasks: list[MapTask]) -> int:
    return json_size([task.to_dict() for task in map_tasks])


def decompressed_sizes(
    inputs: InputSource, objects: list[InputObject]
) -> dict[str, DecompressedSize]:
    """What each compressed object's bytes tell of its size decompressed
    (one small read each, ``SIZE_READS_AT_ONCE`` at a time): the bytes its
    map task reads through, which the cutting groups small objects by."""
    compressed = [obj for obj in objects if obj.compression and obj.size]
    if len(compressed) <= 1:
        return {obj.uri: inputs.decompressed_size(obj) for obj in compressed}
    with ThreadPoolExecutor(max_workers=min(SIZE_READS_AT_ONCE, len(compressed))) as pool:
        told = pool.map(inputs.decompressed_size, compressed)
        return {obj.uri: size for obj, size in zip(compressed, told, strict=True)}


def mapped_bytes(objects: list[InputObject], decompressed: dict[str, DecompressedSize]) -> int:
    """The bytes the map tasks read through: a plain object's size, a
    compressed object's size decompressed where its bytes tell it (a lower
    bound taken as at least the compressed size: deflate, zstd and xz grow
    nothing by more than a fraction of a percent), else its compressed size."""
    total = 0
    for obj in objects:
        told = decompressed.get(obj.uri)
        if told is None or told.size is None:
            total += obj.size
        else:
            total += told.size if told.exact else max(told.size, obj.size)
    return total


def long_task_warnings(
    objects: list[InputObject], decompressed: dict[str, DecompressedSize], limits: Limits
) -> list[str]:
    """A warning for each compressed object (one map task, never cut) whose
    size decompressed the map function would take longer than its timeout to
    read through at the model's rate (``Limits.map_mb_per_s``), on Lambda.
    Not a refusal: the rate is the model's for log lines a format parses, and
    a task streams past what it cannot parse (long lines, a bomb of zeros)
    many times faster, so no size is a sure timeout (docs/performance.md)."""
    if limits.target != "lambda":
        return []
    rate = limits.map_mb_per_s * 1e6
    over: list[tuple[InputObject, DecompressedSize, int]] = []
    for obj in objects:
        told = decompressed.get(obj.uri)
        if told is not None and told.size is not None and told.size > rate * limits.timeout_s:
            over.append((obj, told, told.size))
    warnings = [
        f"{obj.uri}: {obj.size:,} bytes of {obj.compression} hold"
        f" {'' if told.exact else 'at least '}{size:,} bytes ({told.how}), one map"
        f" task of about {size / rate:,.0f} s at {limits.map_mb_per_s:.0f} MB/s, past"
        f" the map function's {limits.timeout_s} s timeout: give it in smaller objects,"
        " or decompressed (plain text is cut into ranges)"
        for obj, told, size in over[:WARNED_OBJECTS]
    ]
    if len(over) > WARNED_OBJECTS:
        warnings.append(f"{len(over) - WARNED_OBJECTS:,} more compressed objects as large")
    return warnings


def distinct_objects(objects: list[InputObject]) -> tuple[list[InputObject], int]:
    """Each object once, in the order first named, and how many were named
    again: the sources name an object by its canonical URI (a local file by
    its real path, symlinks resolved; an S3 object by bucket and key)."""
    first: dict[str, InputObject] = {}
    for obj in objects:
        first.setdefault(obj.uri, obj)
    return list(first.values()), len(objects) - len(first)


def _check_task_count(
    objects: list[InputObject],
    chunk_size: int,
    decompressed: dict[str, DecompressedSize],
    read_as: dict[str, ReadAs] | None = None,
) -> None:
    """``InvalidParameterError`` naming the bound when cutting ``objects`` in
    ``chunk_size`` pieces would give more than ``MAX_MAP_TASKS`` map tasks
    (counted, not cut: a 1-byte chunk size builds nothing), with a chunk
    size that gives fewer, or why none does."""
    tasks = count_tasks(objects, chunk_size, decompressed, read_as)
    if tasks <= MAX_MAP_TASKS:
        return
    alone = sum(
        1 for obj in objects if obj.size and read_through(obj, decompressed.get(obj.uri)) is None
    )
    if alone >= MAX_MAP_TASKS:
        raise InvalidParameterError(
            f"{alone:,} compressed objects whose bytes do not tell their size decompressed"
            f" exactly (bzip2, a zstd stream, gzip of several members) are {alone:,} map"
            f" tasks (one each: they are not grouped), and a job may have at most"
            f" {MAX_MAP_TASKS:,}: split the inputs over several jobs"
        )
    fitting = _fitting_chunk_size(objects, chunk_size, decompressed, read_as)
    advice = (
        "split the inputs over several jobs (no chunk size groups their pieces into fewer:"
        " a map task's JSON is bounded)"
        if fitting is None
        else f"a chunk_size of {fitting:,} bytes cuts them into"
        f" {count_tasks(objects, fitting, decompressed, read_as):,}"
    )
    raise InvalidParameterError(
        f"chunk_size {chunk_size:,} cuts the inputs into {tasks:,} map tasks, over the"
        f" {MAX_MAP_TASKS:,} a job may have: {advice}"
    )


def _fitting_chunk_size(
    objects: list[InputObject],
    chunk_size: int,
    decompressed: dict[str, DecompressedSize],
    read_as: dict[str, ReadAs] | None = None,
) -> int | None:
    """A chunk size larger than ``chunk_size`` that cuts ``objects`` into
    at most ``MAX_MAP_TASKS`` map tasks, within 1/64 of the smallest such
    (doubled until one fits, then the gap halved), or ``None`` when none
    does: past the bytes the tasks read through a larger chunk changes
    nothing, and a task's pieces are bounded by its JSON too."""

    def fits(chunk: int) -> bool:
        return count_tasks(objects, chunk, decompressed, read_as) <= MAX_MAP_TASKS

    ceiling = 2 * max(mapped_bytes(objects, decompressed), chunk_size)
    low, high = chunk_size, 2 * chunk_size
    while not fits(high):
        if high >= ceiling:
            return None
        low, high = high, 2 * high
    while high - low > 1 and (high - low) * 64 > high:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return high
