"""Whether a job that SUCCEEDED gave results worth trusting: a run whose lines
were mostly malformed (past ``Settings.max_malformed``), or whose job found
none of the fields it counts in any record (``no_level`` equal to the
records, and no result), did not measure what was asked. ``doubt`` says why,
the likely cause, and the formats that would parse the malformed lines the
job kept (``formats.detect``'s candidates over its samples); ``logmr run``
prints it on stderr (or as the JSON's ``doubt``) and exits ``EXIT_SUSPECT``.
The job stays recorded as it ran."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from logmr.cli.output import printable

if TYPE_CHECKING:
    from logmr.storage.base import JobRecord

#: the counter prefix of a record without the field a job counts (``no_level``)
MISSING_PREFIX = "no_"
#: the share of the malformed samples a format must parse to be named
PARSES_SHARE = 0.5


@dataclass(frozen=True)
class Doubt:
    """Why a job's results are not to be trusted."""

    #: ``malformed`` (too many malformed lines) or ``missing_field``
    reason: str
    #: one line: what was found, and the likely cause
    message: str
    #: the formats that parse most of the job's malformed samples, best first
    formats: list[str] = field(default_factory=list)
    #: the figures behind it (``malformed_share`` and ``max_malformed``, or ``field``)
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """What ``logmr run`` prints on stderr."""
        said = [f"logmr: warning: {self.message}"]
        if self.formats:
            said.append(
                f"logmr: the malformed lines parse as: {', '.join(self.formats)}"
                f" (try --format {self.formats[0]})"
            )
        return said

    def say(self) -> None:
        """``lines`` on stderr, made printable (a format name or message from a log)."""
        for line in self.lines():
            print(printable(line), file=sys.stderr)


def doubt(record: JobRecord, max_malformed: float) -> Doubt | None:
    """Why ``record``'s results are doubtful, or ``None`` (the job is not
    SUCCEEDED, or it is sound)."""
    if record.status != "SUCCEEDED":
        return None
    counters = record.counters
    fmt = str(record.spec.get("format") or "?")
    records = counters.get("records", 0)
    malformed = counters.get("malformed", 0)
    lines = counters.get("lines", records + malformed)
    if lines and malformed / lines > max_malformed:
        share = malformed / lines
        samples = [str(sample.get("line", "")) for sample in record.malformed_samples]
        return Doubt(
            "malformed",
            f"{malformed:,} of {lines:,} lines ({share:.1%}) are malformed for format {fmt}"
            f" (more than --max-malformed {max_malformed:g}): the log is likely in another"
            " format, or damaged",
            parsing_formats(samples, exclude=fmt),
            {"malformed_share": round(share, 4), "max_malformed": max_malformed},
        )
    missing = [
        name[len(MISSING_PREFIX) :]
        for name, value in sorted(counters.items())
        if name.startswith(MISSING_PREFIX) and value == records
    ]
    if records and not record.result_keys and missing:
        fields = " or a ".join(missing)
        counted = ", ".join(MISSING_PREFIX + name for name in missing)
        return Doubt(
            "missing_field",
            f"none of the {records:,} records has a {fields} ({counted}): format {fmt} parsed"
            f" them, but this log does not carry what job {record.job} counts",
            figures={"field": missing[0], "fields": missing, "records": records},
        )
    return None


def parsing_formats(lines: Sequence[str], *, exclude: str) -> list[str]:
    """The detectable formats (``detect.CANDIDATES``) that parse at least
    ``PARSES_SHARE`` of ``lines`` (the non-empty ones), most lines first
    (the more specific first on a tie), ``exclude`` left out."""
    from logmr.formats.detect import CANDIDATES

    sample = [line.encode("utf-8", "surrogateescape") for line in lines if line]
    if not sample:
        return []
    found: list[tuple[int, int, str]] = []
    for order, cls in enumerate(CANDIDATES):
        if cls.name == exclude:
            continue
        parsed = sum(record is not None for record in cls().parse_many(sample))
        if parsed >= PARSES_SHARE * len(sample):
            found.append((-parsed, order, cls.name))
    return [name for _, _, name in sorted(found)]
