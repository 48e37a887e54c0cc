"""Date-partitioned layouts: the times an object's records may carry, told by
its key, so that a job with a time range (``JobSpec.time_range``) never lists
nor reads the objects outside it (docs/time-ranges.md, "Listing").

Layouts known, from the key alone (S3 key or local path, ``/`` separated):

- ALB access logs: ``AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/``
  folders, files named ``..._YYYYMMDDTHHMMZ_...log.gz`` (the end of the
  5-minute interval the file covers);
- CloudFront standard logs: ``<distribution>.YYYY-MM-DD-HH.<id>.gz`` (the hour);
- Firehose (and any ``YYYY/MM/DD/`` or ``YYYY/MM/DD/HH/`` folders, or their
  Hive-style names ``year=YYYY/month=MM/day=DD/hour=HH/`` of a dynamic
  partitioning prefix): the day or hour;
- CloudWatch Logs exports (``<prefix>/<task id>/<stream>/000000.gz``) carry no
  time in their keys: they are listed whole, their records filtered.

A span is widened by ``KEY_MARGIN`` on either side before it is compared with
the range: a file's name tells when it was written or delivered, and a record
in it may be a little older (a long request logged when it ended, a
Firehose buffer) or, on clocks that disagree, newer. An object kept by its
key still has its records filtered one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from logmr.timerange import TimeRange

#: seconds an object's span (from its key) is widened by on either side
KEY_MARGIN = 3600.0
#: folder levels without a date descended one by one (a delimited listing
#: each) looking for date folders; deeper, or at a level of more folders than
#: ``WALK_FANOUT``, the rest is listed flat
WALK_DEPTH = 6
WALK_FANOUT = 32
#: the years a folder named by four digits may be
YEARS = range(2000, 2100)

_CLOUDFRONT = re.compile(r"\.(\d{4})-(\d{2})-(\d{2})-(\d{2})\.[A-Za-z0-9]+(?:\.gz)?$", re.ASCII)
_ALB = re.compile(r"_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_[^/]*$", re.ASCII)
#: date folders: ``2026/``, or Hive-style ``year=2026/`` (and so for month, day, hour)
_Y, _M, _D, _H = (
    rf"(?:{name}=)?(\d{{{width}}})/"
    for name, width in (("year", 4), ("month", 2), ("day", 2), ("hour", 2))
)
_FOLDERS = re.compile(rf"(?:^|/){_Y}{_M}{_D}(?:{_H})?", re.ASCII)
_FOLDER_END = re.compile(rf"(?:^|/){_Y}(?:{_M}(?:{_D}(?:{_H})?)?)?$", re.ASCII)

Span = tuple[float, float]
#: ``(key, size)`` of each object a listing finds
Listed = list[tuple[str, int]]


def _span(year: str, month: str, day: str, hour: str | None, length: timedelta) -> Span | None:
    try:
        start = datetime(int(year), int(month), int(day), int(hour or 0), tzinfo=UTC)
    except ValueError:
        return None
    if start.year not in YEARS:
        return None
    return start.timestamp(), (start + length).timestamp()


def key_span(key: str) -> Span | None:
    """The times ``[start, end)`` the records of the object at ``key`` hold by
    its layout (not yet widened by ``KEY_MARGIN``); ``None``: the key tells nothing."""
    name = key.rpartition("/")[2]
    found = _CLOUDFRONT.search(name)
    if found:
        year, month, day, hour = found.groups()
        return _span(year, month, day, hour, timedelta(hours=1))
    found = _ALB.search(name)
    if found:
        year, month, day, hour, minute = found.groups()
        end = _span(year, month, day, hour, timedelta(minutes=int(minute)))
        return None if end is None else (end[1] - 300.0, end[1])
    folders = list(_FOLDERS.finditer("/" + key.rpartition("/")[0] + "/"))
    if folders:
        year, month, day, hour = folders[-1].groups()
        return _span(year, month, day, hour, timedelta(hours=1 if hour else 24))
    return None


def folder_span(prefix: str) -> Span | None:
    """The times under a folder that ends in a date level (``.../YYYY/``,
    ``.../YYYY/MM/``, ``.../YYYY/MM/DD/``, ``.../YYYY/MM/DD/HH/``); ``None``
    for any other folder. ``prefix`` ends with ``/``."""
    found = _FOLDER_END.search(prefix)
    if not found:
        return None
    year, month, day, hour = found.groups()
    if day is not None:
        return _span(year, month, day, hour, timedelta(hours=1 if hour else 24))
    first = _span(year, month or "1", "1", None, timedelta(0))
    if first is None:
        return None
    # a year's folder ends with its December, a month's at the next month
    after = (int(year) + 1, 1) if int(month or 12) == 12 else (int(year), int(month or 0) + 1)
    return first[0], datetime(*after, 1, tzinfo=UTC).timestamp()


def widened(span: Span) -> Span:
    return span[0] - KEY_MARGIN, span[1] + KEY_MARGIN


@dataclass
class DatedListing:
    """A listing within ``window``: what it left out, for ``logmr plan``."""

    window: TimeRange
    #: objects left out by their own key (listed, never read)
    skipped_objects: list[str] = field(default_factory=list)
    #: folders left out by their date (never listed)
    skipped_folders: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Objects and folders left out so far."""
        return len(self.skipped_objects) + len(self.skipped_folders)

    def keeps(self, location: str, key: str) -> bool:
        """The object at ``key`` may hold records within the window; else it
        is noted as skipped (by ``location``, its URI or path)."""
        span = key_span(key)
        if span is None or self.window.overlaps(*widened(span)):
            return True
        self.skipped_objects.append(location)
        return False

    def kept(self, listed: Listed, location: Callable[[str], str]) -> Listed:
        return [(key, size) for key, size in listed if self.keeps(location(key), key)]

    def walk(
        self,
        root: str,
        list_level: Callable[[str], tuple[Listed, list[str]]],
        list_all: Callable[[str], Listed],
        location: Callable[[str], str],
        depth: int = 0,
    ) -> Listed:
        """Every object under the folder ``root`` (``/``-terminated) that may
        hold records within the window. ``list_level(prefix)``: the objects
        directly in a folder and its sub-folders (a delimited listing);
        ``list_all(prefix)``: every object under it (a flat listing). Date
        folders outside the window are never listed, those wholly inside
        are listed flat; other folders are descended while date folders may
        lie below (``WALK_DEPTH``, ``WALK_FANOUT``)."""
        objects, folders = list_level(root)
        dated = {folder: folder_span(folder) for folder in folders}
        if not any(dated.values()) and (len(folders) > WALK_FANOUT or depth >= WALK_DEPTH):
            return self.kept(list_all(root), location)
        found = self.kept(objects, location)
        for folder, span in dated.items():
            if span is None:
                found += self.walk(folder, list_level, list_all, location, depth + 1)
            elif not self.window.overlaps(*widened(span)):
                self.skipped_folders.append(location(folder))
            elif self.window.covers(*widened(span)):
                found += self.kept(list_all(folder), location)
            else:
                found += self.walk(folder, list_level, list_all, location, depth)
        return found
