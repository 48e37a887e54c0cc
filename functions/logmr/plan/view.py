"""``logmr plan``: what Plan would decide for a job on AWS Lambda, without
running it or writing anything, and what it would cost and take
(``logmr.plan.cost``). ``assume_bytes`` plans a synthetic input of that size, in
objects of ``object_bytes``, whose content is like the given inputs (they are
still listed, and sampled for the format, the keys and the shuffle size)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, BinaryIO, cast

from logmr.inputs.dated import KEY_MARGIN, DatedListing
from logmr.inputs.source import DecompressedSize, InputObject, InputSource
from logmr.jobs import load_job
from logmr.plan import cost, planner
from logmr.plan.tuning import Limits, choose_concurrency, choose_reducers
from logmr.spec import INLINE_MAP_MAX_JSON_BYTES, INLINE_MAP_MAX_TASKS, JobSpec

MiB = 1024 * 1024
#: objects and folders the text names per kind (the JSON names them all)
NAMED_OBJECTS = 10


class AssumedInputs:
    """The real inputs for reading, a synthetic listing of ``total`` bytes."""

    def __init__(self, inner: InputSource, total: int, object_bytes: int) -> None:
        self.inner = inner
        self.total = total
        self.object_bytes = object_bytes
        self._first: InputObject | None = None  # the real first object, once listed
        self._first_told: DecompressedSize | None = None  # its size decompressed, once read
        #: the real first object's bytes read by (offset, length): a synthetic
        #: object's start is read for its format (``plan.formats``), once is enough
        self._read: dict[tuple[int, int], bytes] = {}

    def list_inputs(
        self, uris: Iterable[str], listing: DatedListing | None = None
    ) -> list[InputObject]:
        first = next((obj for obj in self.inner.list_inputs(uris, listing) if obj.size), None)
        if first is None:
            return []
        self._first = first
        count = math.ceil(self.total / self.object_bytes)
        sizes = [self.object_bytes] * (count - 1) + [self.total - self.object_bytes * (count - 1)]
        # the first is the real first object (the sample starts there; the
        # others read as it, see open_at)
        return [
            InputObject(
                first.uri if i == 0 else f"{first.uri}~{i}",
                size,
                first.compression,
                modified=first.modified,  # a syslog's year as the real object's
            )
            for i, size in enumerate(sizes)
        ]

    def open_at(
        self, uri: str, offset: int, length: int | None = None, version: str = ""
    ) -> BinaryIO:
        """A synthetic object (``<first uri>~<i>``) reads as the real first
        object, at the offset wrapped to its size: content like the inputs'."""
        real, _, synthetic = uri.rpartition("~")
        if self._first is None or not synthetic.isdigit() or real != self._first.uri:
            return self.inner.open_at(uri, offset, length, version)
        offset %= max(self._first.size, 1)
        if length is None:
            return self.inner.open_at(real, offset)
        if (offset, length) not in self._read:
            with self.inner.open_at(real, offset, length) as stream:
                self._read[offset, length] = stream.read(length)
        return cast(BinaryIO, io.BytesIO(self._read[offset, length]))

    def verify(self, uri: str, version: str) -> None:
        """Nothing is read but the sample: nothing to verify."""

    def decompressed_size(self, obj: InputObject) -> DecompressedSize:
        """A synthetic compressed object decompresses as the real first one
        does, scaled to its size (read once)."""
        first = self._first
        if first is None or not first.compression:
            return self.inner.decompressed_size(obj)
        if self._first_told is None:
            self._first_told = self.inner.decompressed_size(first)
        told = self._first_told
        if told.size is None:
            return told
        return DecompressedSize(
            told.size * obj.size // max(first.size, 1), False, f"{told.how} of {first.uri}, scaled"
        )


def plan_report(
    spec: JobSpec, inputs: InputSource, limits: Limits, with_estimate: bool
) -> dict[str, Any]:
    planned = planner.make_plan(spec, inputs, limits)
    chosen = planned.spec
    report: dict[str, Any] = {
        "job": chosen.job,
        "format": chosen.format,
        # what was found: objects per format, per compression, per syslog year
        "formats": chosen.formats,
        "compression": chosen.compression,
        "years": chosen.years,
        "objects": len(planned.objects),
        "input_bytes": planned.input_bytes,
        "mapped_bytes": planned.mapped_bytes,
        "decompressed": _decompressed(planned),
        "warnings": list(planned.warnings),
        "map_tasks": len(planned.map_tasks),
        # the ranges and whole compressed objects the tasks read (small objects grouped)
        "pieces": planned.pieces,
        "chunk_size": chosen.chunk_size,
        "reducers": chosen.reducers,
        "max_concurrency": chosen.max_concurrency,
        "map_mode": "distributed" if planned.distributed else "inline",
        "expected_keys": planned.tuning.expected_keys,
        "keys_high": planned.tuning.keys_high,
        "salted_keys": list(chosen.salted_keys),
        "reasons": planned.tuning.reasons,
        "sample": {
            "bytes": planned.sample.bytes,
            "lines": planned.sample.lines,
            "keys": planned.sample.keys,
            "reads": planned.sample.reads,
            "hot_keys": planned.sample.hot_keys,
            "largest_partition_share": round(
                planned.sample.largest_partition_share(chosen.reducers), 3
            ),
            "largest_load_share": round(planned.sample.largest_load_share(chosen.reducers), 3),
        },
        "limits": {
            "memory_mb": limits.memory_mb,
            "timeout_s": limits.timeout_s,
            "concurrency": limits.concurrency,
            "map_mb_per_s": round(limits.map_mb_per_s, 1),
        },
    }
    if planned.listing is not None:
        report["time_range"] = _time_range(planned, planned.listing)
    if with_estimate:
        shape = cost.Shape(
            objects=len(planned.objects),
            input_bytes=planned.mapped_bytes,
            map_tasks=len(planned.map_tasks),
            reducers=chosen.reducers,
            max_concurrency=chosen.max_concurrency,
            expected_keys=planned.tuning.expected_keys,
            distributed=planned.distributed,
            sample_reads=planned.sample_reads,
            summarised=load_job(spec.job, spec.params).summarises(),
            size_reads=len(planned.decompressed),
            longest_task_bytes=planned.longest_task_bytes,
            pieces=planned.pieces,
        )
        report["estimate"] = cost.estimate(shape, limits).to_dict()
        high = _at_keys(shape, planned.tuning.keys_high, spec, limits)
        report["estimate"]["high"] = {
            "keys": high.expected_keys,
            "reducers": high.reducers,
            **cost.estimate(high, limits).to_dict(),
        }
        report["prices_checked"] = cost.PRICES_CHECKED
    return report


def _time_range(planned: planner.Plan, listing: DatedListing) -> dict[str, Any]:
    """The job's time range, and the objects kept and left out by their keys
    (``inputs.dated``): the ones left out are never read, the folders left
    out never listed."""
    return {
        "since": planned.spec.since or None,
        "until": planned.spec.until or None,
        "margin_s": KEY_MARGIN,
        "kept": [obj.uri for obj in planned.objects],
        "skipped_objects": list(listing.skipped_objects),
        "skipped_folders": list(listing.skipped_folders),
    }


def _time_range_lines(found: dict[str, Any] | None) -> list[str]:
    """The kept and skipped objects, a few of each named, for a person."""
    if not found:
        return []
    kept, objects, folders = found["kept"], found["skipped_objects"], found["skipped_folders"]
    lines = [
        f"  time range    [{found['since'] or '-inf'}, {found['until'] or '+inf'}): records"
        f" outside are not counted; objects judged by the dates in their keys"
        f" (give or take {found['margin_s'] / 3600:g} h)",
        f"  kept          {len(kept):>12,}  objects",
        f"  skipped       {len(objects):>12,}  objects outside the range by their key (never read)",
        f"  skipped       {len(folders):>12,}  date folders outside the range (never listed)",
    ]
    for label, names in (("kept", kept), ("skipped", objects), ("skipped", folders)):
        lines += [f"    {label:<8} {name}" for name in names[:NAMED_OBJECTS]]
        if len(names) > NAMED_OBJECTS:
            lines.append(f"    {label:<8} ... and {len(names) - NAMED_OBJECTS:,} more (--json)")
    return lines


def _decompressed(planned: planner.Plan) -> dict[str, Any] | None:
    """The compressed objects' sizes decompressed, summed (``None``: none is
    compressed): how many told their size, exactly or as a lower bound, and
    the largest."""
    compressed = [obj for obj in planned.objects if obj.compression and obj.size]
    if not compressed:
        return None
    told = planned.decompressed
    known = [(obj, told[obj.uri]) for obj in compressed if obj.uri in told]
    known = [(obj, size) for obj, size in known if size.size is not None]
    largest = max(known, key=lambda pair: pair[1].size or 0, default=None)
    return {
        "objects": len(compressed),
        "compressed_bytes": sum(obj.size for obj in compressed),
        "bytes": sum(size.size or 0 for _, size in known),
        "told": len(known),
        "exact": sum(1 for _, size in known if size.exact),
        "largest": None
        if largest is None
        else {
            "uri": largest[0].uri,
            "compressed_bytes": largest[0].size,
            "bytes": largest[1].size,
            "exact": largest[1].exact,
            "how": largest[1].how,
        },
    }


def _at_keys(shape: cost.Shape, keys: int, request: JobSpec, limits: Limits) -> cost.Shape:
    """``shape`` for ``keys`` distinct keys, with the reducers PlanReduce
    would choose for them (``plan.reducers``: the request's, else by the keys)."""
    reducers = request.reducers or choose_reducers(keys, limits)[0]
    concurrency = request.max_concurrency or choose_concurrency(shape.map_tasks, reducers, limits)
    return replace(shape, expected_keys=keys, reducers=reducers, max_concurrency=concurrency)


def format_report(report: dict[str, Any]) -> str:
    """The report as a few aligned lines a person reads."""
    reasons = report["reasons"]
    sample = report["sample"]
    inline_kib = INLINE_MAP_MAX_JSON_BYTES // 1024
    mode_note = (
        f"past {INLINE_MAP_MAX_TASKS} tasks or {inline_kib} KiB of them: items from S3"
        if report["map_mode"] == "distributed"
        else f"at most {INLINE_MAP_MAX_TASKS} tasks of {inline_kib} KiB"
    )
    lines = [
        f"plan: {report['job']} over {report['objects']:,} objects,"
        f" {_size(report['input_bytes'])} (format {report['format']})",
        *(f"  {label:<13} {text}" for label, text in found_lines(report)),
        *_decompressed_lines(report.get("decompressed")),
        *_time_range_lines(report.get("time_range")),
        f"  chunk size    {_chunk(report['chunk_size']):>12}  {reasons.get('chunk_size', '')}",
        f"  map tasks     {report['map_tasks']:>12,}  {report['map_mode']} Map ({mode_note})",
        f"  pieces        {report['pieces']:>12,}  {_count(report['map_tasks'], 'map task')}"
        f" over {_count(report['objects'], 'object')} (small objects grouped up to the chunk"
        " size)",
        f"  reducers      {report['reducers']:>12,}  {reasons.get('reducers', '')}",
        f"  concurrency   {report['max_concurrency']:>12,}  {reasons.get('max_concurrency', '')}",
        f"  sample        {_size(sample['bytes']):>12}  {sample['lines']:,} lines"
        f" in {sample['reads']} read{'s' if sample['reads'] > 1 else ''},"
        f" {sample['keys']:,} keys; busiest partition"
        f" {sample['largest_partition_share']:.0%} of the pairs",
    ]
    if sample["hot_keys"]:
        hot = ", ".join(f"{key!r} {share:.0%}" for key, share in sample["hot_keys"])
        lines.append(f"  hot keys      {hot} (combined per map task: one pair per mapper)")
    salted = ", ".join(repr(key) for key in report["salted_keys"]) or "none"
    lines.append(f"  salted keys   {salted:>12}  {reasons.get('salted_keys', '')}")
    lines += [f"warning: {warning}" for warning in report.get("warnings", [])]
    estimate = report.get("estimate")
    if estimate:
        usage, usd, seconds = estimate["usage"], estimate["usage"]["usd"], estimate["seconds"]
        limits = report["limits"]
        lines.append(
            f"estimate: Lambda arm64 {limits['memory_mb']} MB at {limits['map_mb_per_s']} MB/s"
            f" per map task, {limits['concurrency']:,} concurrent;"
            f" us-east-1 prices of {report['prices_checked']}"
        )
        rows = [
            (
                "Lambda",
                f"{usage['lambda_requests']:,} requests, {usage['lambda_gb_s']:,.1f} GB-s",
                usd["lambda_requests"] + usd["lambda_duration"],
            ),
            ("Step Functions", f"{usage['transitions']:,} transitions", usd["step_functions"]),
            (
                "S3",
                f"{usage['s3_get']:,} GET, {usage['s3_put']:,} PUT, {usage['s3_list']:,} LIST",
                usd["s3_get"] + usd["s3_put_list"],
            ),
            ("DynamoDB", f"{usage['dynamodb_wru']:,} write units", usd["dynamodb_writes"]),
            ("total", "", usd["total"]),
        ]
        lines += [f"  {label:<16}{what:<44}${dollars:,.4f}" for label, what, dollars in rows]
        lines.append(
            f"  time          map task {seconds['map_task']} s, reduce task"
            f" {seconds['reduce_task']} s, whole job about {seconds['wall']:,} s"
        )
        high = estimate["high"]
        if high["keys"] > report["expected_keys"]:
            lines.append(
                f"  range         {report['expected_keys']:,} to {high['keys']:,} keys"
                f" (the sample cannot tell a finite key set from one that grows with the"
                f" input), {report['reducers']} to {high['reducers']} reducers:"
                f" ${usd['total']:,.4f} to ${high['usage']['usd']['total']:,.4f};"
                " the reducers are chosen after Map from the keys measured"
            )
    return "\n".join(lines)


def found_lines(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """What Plan found in the inputs, from a planned spec's dict (or a plan
    report), as (label, text): the formats when there are several, the
    compressions when any, the syslog years when any. For ``logmr plan``,
    and ``logmr run`` on stderr."""
    found = []
    formats = spec.get("formats") or {}
    if len(formats) > 1:
        found.append(("formats", _counted(formats, ", each read in its own")))
    compression = spec.get("compression") or {}
    if set(compression) - {"none"}:
        named = {"uncompressed" if kind == "none" else kind: n for kind, n in compression.items()}
        found.append(("compression", _counted(named)))
    for year, count in (spec.get("years") or {}).items():
        found.append(("syslog year", f"{year} for {_count(count, 'object')}"))
    return found


def _counted(counts: dict[str, int], note: str = "") -> str:
    """``{"gzip": 2, "xz": 1}`` as ``2 gzip, 1 xz (3 objects)``."""
    parts = ", ".join(f"{count:,} {name}" for name, count in counts.items())
    return f"{parts} ({_count(sum(counts.values()), 'object')}{note})"


def _decompressed_lines(decompressed: dict[str, Any] | None) -> list[str]:
    """What the compressed objects hold decompressed, for a person."""
    if not decompressed:
        return []
    count, told = decompressed["objects"], decompressed["told"]
    if not told:
        return [
            f"  decompressed  {'unknown':>12}  {count:,} compressed objects whose format"
            " tells no size (bzip2, a zstd stream): planned on their compressed size"
        ]
    bound = "" if decompressed["exact"] == told else "at least "
    largest = decompressed["largest"]
    if count == 1:
        return [
            f"  decompressed  {_size(largest['bytes']):>12}  {bound}what its"
            f" {_size(largest['compressed_bytes'])} hold ({largest['how']}): never cut"
        ]
    unknown = f"; {count - told:,} tell no size" if told < count else ""
    return [
        f"  decompressed  {_size(decompressed['bytes']):>12}  {bound}what {told:,} of"
        f" {count:,} compressed objects ({_size(decompressed['compressed_bytes'])}) hold" + unknown,
        f"  largest       {_size(largest['bytes']):>12}  {largest['uri']}"
        f" ({'' if largest['exact'] else 'at least; '}{largest['how']}): never cut",
    ]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _chunk(nbytes: int) -> str:
    return f"{nbytes // MiB:,} MiB" if nbytes % MiB == 0 else f"{nbytes:,} B"


def _size(nbytes: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} B"
