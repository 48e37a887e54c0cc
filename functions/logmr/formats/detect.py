"""Format auto-detection: ``detect_format(lines) -> Detection``.

Every format except ``plain`` parses the sample (empty lines are ignored).
The format that parses the largest share of the non-empty lines wins; a tie
goes to the more specific format, in the order of ``CANDIDATES`` (AWS formats
first, then ``vhost_combined`` > ``apache_combined`` > ``apache_common``,
``syslog_rfc5424`` > ``syslog_rfc3164``, then ``jsonl`` and ``applog``).
``apache_combined`` takes combined lines with trailing fields too. When no
format parses at least half of the non-empty lines - or there are
none - the answer is ``plain`` (whose ``matched`` is then every sampled line).
Formats are tried with their default options. Lines that look like
continuation lines (stack traces, see ``applog.is_continuation``) are left out
of ``applog``'s share, so a sample that starts inside a long trace still
detects as ``applog``.

``Detection.variant`` says what the chosen format found in the sample
(``Format.describe_sample``): the trailing fields of ``apache_combined``
(``combined + 2 trailing fields (extra1 quoted, extra2 seconds -> latency)``),
the level and time keys of ``jsonl`` (``level from 's', time from 't.$date'
(MongoDB)``); empty for the other formats. ``Detection.text`` is the one line
to show: ``name (variant)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from logmr.formats.access import ApacheCombined, ApacheCommon, VhostCombined
from logmr.formats.applog import AppLog, is_continuation
from logmr.formats.aws import Alb, CloudFront, S3Access
from logmr.formats.base import Format
from logmr.formats.jsonl import JsonLines
from logmr.formats.plain import Plain
from logmr.formats.syslog import SyslogRFC3164, SyslogRFC5424

__all__ = ["CANDIDATES", "Detection", "detect_format"]

#: formats tried by detection, most specific first (the tie-break order)
CANDIDATES: tuple[type[Format], ...] = (
    Alb,
    S3Access,
    CloudFront,
    VhostCombined,
    ApacheCombined,
    ApacheCommon,
    SyslogRFC5424,
    SyslogRFC3164,
    JsonLines,
    AppLog,
)


@dataclass(frozen=True)
class Detection:
    """The chosen format, how many of the sampled non-empty lines it parsed,
    and what it found in them (``variant``, may be empty)."""

    name: str
    matched: int
    sampled: int
    variant: str = ""

    @property
    def text(self) -> str:
        """The format chosen and its variant, to show in one line."""
        return f"{self.name} ({self.variant})" if self.variant else self.name


def detect_format(lines: Sequence[bytes]) -> Detection:
    """The format that best fits ``lines`` (``plain`` when none fits half of them)."""
    sample = [line for line in lines if line]
    sampled = len(sample)
    best: tuple[Format, list[object]] | None = None
    best_share = 0.0
    for cls in CANDIDATES:
        fmt = cls()
        records = [record for record in fmt.parse_many(sample) if record is not None]
        counted = sampled
        if cls is AppLog:
            counted -= sum(1 for line in sample if is_continuation(line))
        share = len(records) / counted if counted else 0.0
        if share > best_share:  # strict: earlier (more specific) formats win ties
            best, best_share = (fmt, records), share
    if best is None or best_share < 0.5:
        return Detection(Plain.name, sampled, sampled)
    fmt, records = best
    return Detection(fmt.name, len(records), sampled, fmt.describe_sample(records))
