"""The format each input object is read in: ``"auto"`` resolved per object.

Inputs of several formats (``logmr run access.log.1 syslog.3``, a folder of
mixed logs) are each read in their own: the first object's format is
detected from the start Plan reads of it anyway (``DETECT_SAMPLE_BYTES``),
every other object's from its first ``DETECT_OBJECT_BYTES``, up to
``MAX_DETECTED_OBJECTS`` objects (``DETECT_READS_AT_ONCE`` at a time: a
ranged GET each on S3). An object past that bound takes the format detected
for an object of the same name pattern (digits and a compression suffix
aside: ``access.log.7.gz`` is ``access.log.#``), else the most common one.
An object every sampled line of which a format already found parses is read
in it; only the others are tried in every format (``detect_format``: a
thousand objects of one format cost a parse of their starts each, not ten).

An object none of whose lines a format parses (a few malformed lines, a
file of binary) is read in the found format that parses most of them, so
that it counts as malformed lines and not as a format of its own; an object
with no line at all takes the most common format. A job that needs a field
one of the found formats lacks is refused before any work, with the formats
found (``FormatMismatchError``); a job that runs on each (``status_codes``
on an access log and on an ALB log) runs, each map task reading its
objects in their format (``spec.MapTask.format``; ``plan.cutting`` keeps a
task's pieces in one).

BSD syslog lines have no year: unless the request gives the format option
``year``, each object's is ``YYYY-MM`` of its modification time (UTC): its
lines are of that year, those of a later month of the year before
(``formats.syslog``). The spec says what was found: ``formats`` (objects
per format), ``compression`` (objects per compression), ``years``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from logmr import formats
from logmr.errors import FormatMismatchError
from logmr.formats.base import Format
from logmr.formats.syslog import SyslogRFC3164
from logmr.inputs.source import InputObject, InputSource, compression_counts, read_head
from logmr.jobs import Job, load_job
from logmr.jobs.binding import prepare
from logmr.plan.cutting import ReadAs
from logmr.spec import JobSpec

#: lines of the first object's start detection reads
DETECT_SAMPLE_LINES = 500
#: bytes (decompressed) and lines of every other object's start detection reads
DETECT_OBJECT_BYTES = 16 * 1024
DETECT_OBJECT_LINES = 100
#: objects whose format is detected from their own lines (the others by name)
MAX_DETECTED_OBJECTS = 1000
#: objects read for detection at a time (a ranged GET each on S3)
DETECT_READS_AT_ONCE = 16
#: objects a refusal names for a format
NAMED_OBJECTS = 3

_DIGITS = re.compile(r"\d+")
_COMPRESSED = re.compile(r"\.(gz|bz2|zst|xz)$")


@dataclass(frozen=True)
class ObjectFormats:
    """How each object is read, and what the spec says of it."""

    #: the spec's format and options: the most common (``JobSpec.format``)
    main: ReadAs
    #: the objects read otherwise, by URI (``plan.cutting`` gives them tasks of their own)
    others: dict[str, ReadAs] = field(default_factory=dict)
    #: objects per format name, most first (``JobSpec.formats``)
    counts: dict[str, int] = field(default_factory=dict)
    #: objects per syslog year option and its source (``JobSpec.years``)
    years: dict[str, int] = field(default_factory=dict)
    #: what detection found of each format, when it says (``JobSpec.variants``)
    variants: dict[str, str] = field(default_factory=dict)
    #: reads of object starts detection took (beside the first object's)
    reads: int = 0
    #: objects given the format of a detected object by their name
    by_name: int = 0

    def resolve(self, spec: JobSpec, objects: list[InputObject]) -> JobSpec:
        """``spec`` with the main format and what was found."""
        name, options = self.main
        return replace(
            spec,
            format=name,
            format_options=dict(options),
            formats=self.counts,
            compression=compression_counts(objects),
            years=self.years,
            variants=self.variants,
        )

    def sample_parts(
        self, spec: JobSpec, parts: list[tuple[str, bytes]]
    ) -> list[tuple[Job, Format, bytes]]:
        """The sample's pieces (``inputs.read_spread_parts``: by object) joined
        per format, each with the job bound to it (``plan.sample.sample_stats_of``)."""
        texts: dict[ReadAs, list[bytes]] = {self.main: []}
        for uri, text in parts:
            texts.setdefault(self.others.get(uri, self.main), []).append(text)
        return [
            (*prepare(replace(spec, format=name, format_options=dict(options))), b"".join(found))
            for (name, options), found in texts.items()
        ]


def object_formats(
    spec: JobSpec,
    inputs: InputSource,
    objects: list[InputObject],
    head: bytes,
) -> ObjectFormats:
    """How each non-empty object of ``objects`` is read (module docstring);
    ``head``: the start of the first non-empty one, already read."""
    present = [obj for obj in objects if obj.size]
    names, reads, by_name, variants = _names(spec, inputs, present, head)
    years: Counter[str] = Counter()
    read_as = {obj.uri: _read_as(spec, names[obj.uri], obj, years) for obj in present}
    counts = Counter(names[obj.uri] for obj in present)
    main = Counter(read_as.values()).most_common(1)[0][0]  # ties: the first listed
    _check_each(spec, read_as, present, counts)
    return ObjectFormats(
        main=main,
        others={uri: how for uri, how in read_as.items() if how != main},
        counts=_most_first(counts),
        years=_most_first(years),
        variants=variants,
        reads=reads,
        by_name=by_name,
    )


def _most_first(counts: Counter[str]) -> dict[str, int]:
    """``counts`` most first, ties by name: the same dict whatever the listing order."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _names(
    spec: JobSpec, inputs: InputSource, present: list[InputObject], head: bytes
) -> tuple[dict[str, str], int, int, dict[str, str]]:
    """Each object's format name, the reads detection took, the objects
    named by their name pattern, and what detection found of each format."""
    if spec.format != "auto":
        name = formats.resolve_name(spec.format)
        return {obj.uri: name for obj in present}, 0, 0, {}
    if load_job(spec.job, spec.params).raw_lines:
        return {obj.uri: "plain" for obj in present}, 0, 0, {}
    first, rest = present[0], present[1:MAX_DETECTED_OBJECTS]
    samples = {first.uri: _lines(head, DETECT_SAMPLE_LINES)}
    if rest:
        with ThreadPoolExecutor(max_workers=min(DETECT_READS_AT_ONCE, len(rest))) as pool:
            starts = pool.map(lambda obj: read_head(inputs, obj, DETECT_OBJECT_BYTES), rest)
            for obj, start in zip(rest, starts, strict=True):
                samples[obj.uri] = _lines(start, DETECT_OBJECT_LINES)
    detected: dict[str, str] = {}
    variants: dict[str, str] = {}
    found: Counter[str] = Counter()
    parsers: dict[str, Format] = {}
    for uri, lines in samples.items():
        fitting = _fits(found, parsers, lines)
        if fitting is None:
            detection = formats.detect_format(lines)
            fitting = detection.name
            if detection.variant:
                variants.setdefault(fitting, detection.variant)
        detected[uri] = fitting
        if fitting != "plain" and lines:
            found[fitting] += 1
    if not found:  # nothing but plain text (or no lines at all): every object plain
        return {obj.uri: "plain" for obj in present}, len(rest), 0, {}
    common = found.most_common(1)[0][0]
    names: dict[str, str] = {}
    for uri, lines in samples.items():
        name = detected[uri]
        if not lines:
            name = common
        elif name == "plain":
            name = _best_of(found, lines)
        names[uri] = name
    by_pattern: dict[str, str] = {}
    for obj in present[:MAX_DETECTED_OBJECTS]:
        by_pattern.setdefault(name_pattern(obj.uri), names[obj.uri])
    past = present[MAX_DETECTED_OBJECTS:]
    for obj in past:
        names[obj.uri] = by_pattern.get(name_pattern(obj.uri), common)
    return names, len(rest), len(past), {name: variants[name] for name in found if name in variants}


def _fits(found: Counter[str], parsers: dict[str, Format], lines: list[bytes]) -> str | None:
    """The format found so far (the most common first) that parses every one
    of ``lines``, if any: an object of the inputs' format is read in it
    without trying every format (``detect_format``), and agrees with them."""
    for name, _ in found.most_common():
        fmt = parsers.setdefault(name, formats.get_format(name))
        if lines and all(record is not None for record in fmt.parse_many(lines)):
            return name
    return None


def _lines(data: bytes, limit: int) -> list[bytes]:
    """The first ``limit`` whole lines of ``data`` (all of it when it has no LF)."""
    if b"\n" in data:
        data = data[: data.rfind(b"\n")]
    return [line.rstrip(b"\r") for line in data.split(b"\n")[:limit] if line.strip()]


def _best_of(found: Counter[str], lines: list[bytes]) -> str:
    """The found format that parses most of ``lines`` (ties: the most common)."""

    def parsed(name: str) -> int:
        return sum(1 for record in formats.get_format(name).parse_many(lines) if record)

    return max(found, key=lambda name: (parsed(name), found[name]))


def name_pattern(uri: str) -> str:
    """An object's name with its compression suffix dropped and its runs of
    digits as ``#``: the objects of one log (rotated, dated) share it."""
    name = uri.rsplit("/", 1)[-1]
    return _DIGITS.sub("#", _COMPRESSED.sub("", name))


def _read_as(spec: JobSpec, name: str, obj: InputObject, years: Counter[str]) -> ReadAs:
    """The format ``name`` with the request's options it knows (all of them
    for a format the request names) and, for BSD syslog, the year."""
    options = dict(spec.format_options)
    if spec.format == "auto":
        known = formats.FORMATS[name].option_defaults
        options = {key: value for key, value in options.items() if key in known}
    if name == SyslogRFC3164.name:
        if "year" in options:
            years[f"{options['year']} (format option)"] += 1
        elif obj.modified is not None:
            options["year"] = datetime.fromtimestamp(obj.modified, UTC).strftime("%Y-%m")
            years[f"{options['year']} (modification time)"] += 1
        else:
            default = SyslogRFC3164.option_defaults["year"]
            years[f"{default} (default: no modification time)"] += 1
    return name, tuple(sorted(options.items()))


def _check_each(
    spec: JobSpec,
    read_as: Mapping[str, ReadAs],
    present: list[InputObject],
    counts: Counter[str],
) -> None:
    """Every format found can give the job its fields, and every option the
    request gives is known to one of them; else refuse, naming the formats found."""
    given = set(spec.format_options)
    known = set().union(*(formats.FORMATS[name].option_defaults for name in counts))
    if given - known:
        # the format's own error, naming its options
        prepare(replace(spec, format=next(iter(counts))))
    for name, options in dict.fromkeys(read_as.values()):
        try:
            prepare(replace(spec, format=name, format_options=dict(options)))
        except FormatMismatchError as exc:
            if len(counts) == 1:
                raise
            lacking = [obj.uri for obj in present if read_as[obj.uri][0] == name]
            more = len(lacking) - NAMED_OBJECTS
            named = ", ".join(lacking[:NAMED_OBJECTS]) + (f" and {more:,} more" if more > 0 else "")
            found = ", ".join(
                f"{format_name} ({named if format_name == name else f'{count:,}'})"
                for format_name, count in _most_first(counts).items()
            )
            raise FormatMismatchError(
                f"{exc}, and the inputs hold {len(counts)} formats: {found}: leave the"
                f" {name} objects out, or run a job they can answer"
            ) from None
