"""A job spec's job and format, bound and checked against each other."""

from __future__ import annotations

from logmr import formats
from logmr.errors import FormatMismatchError
from logmr.formats.base import Format
from logmr.jobs import Job, load_job
from logmr.spec import JobSpec


def prepare(spec: JobSpec) -> tuple[Job, Format]:
    """The job and its format, checked against each other (no I/O)."""
    job = load_job(spec.job, spec.params)
    fmt = formats.get_format("plain" if spec.format == "auto" else spec.format, spec.format_options)
    job.bind(fmt)
    if spec.time_range is not None and "epoch" not in fmt.fields:
        raise FormatMismatchError(
            f"a time range (since/until) needs each record's time, and format {fmt.name}"
            " has none: name a format whose records carry one (logmr formats)"
        )
    return job, fmt


def check(spec: JobSpec) -> None:
    """Fail before any I/O: an unknown job, bad parameters, or a named format
    the job cannot read (a detected format is checked once detected)."""
    load_job(spec.job, spec.params)
    if spec.format != "auto":
        prepare(spec)
