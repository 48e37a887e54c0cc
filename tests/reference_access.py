"""The access-log answers of ``../shared/data``, re-derived here from the
reference's own definitions (inside each ``*.expected.json``) with plain
``re`` and ``Counter``, so that a deliberate difference of logmr's can be
applied to them: ``apache_combined`` takes fields after the user agent
(an X-Forwarded-For, nginx's ``$request_time``: issue 16), which the
reference's regex refuses. ``expected_by_logmr`` is the reference with the
lines that only that difference accepts counted as records; the same
derivation with the reference's own regex must give the reference's
figures back (``tests/test_reference.py`` checks), so the derivation is not
what makes the two agree."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from pathlib import Path
from typing import Any

#: the reference's regex ends with the user agent's closing quote and ``$``:
#: logmr's ``apache_combined`` then takes fields, each after one space,
#: quoted (a backslash escaping the next byte) or a run of non-blank bytes
TRAILING = rb'(?: (?:"(?:[^"\\]|\\.)*"|[^\s"]\S*))*'
MONTHS = {name.encode(): number for number, name in enumerate(calendar.month_abbr) if name}


def lines_of(path: Path) -> list[bytes]:
    """The reference's lines: split on LF, a final unterminated one kept, one CR removed."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def with_trailing_fields(reference: dict[str, Any]) -> re.Pattern[bytes]:
    """The reference's regex with logmr's trailing fields before its ``$``."""
    pattern = reference["format_regex"].encode()
    assert pattern.endswith(b'"$'), "a combined regex ends with the user agent's quote"
    return re.compile(pattern[:-1] + TRAILING + b"$")


def access_answers(lines: list[bytes], regex: re.Pattern[bytes]) -> dict[str, Any]:
    """The reference's access figures of ``lines`` under ``regex`` (its groups:
    1-3 host, ident, user; 4-10 the time; 11 the request; 12 status; 13 size)."""
    matched = [(line, regex.match(line)) for line in lines]
    records = [found for _, found in matched if found is not None]
    malformed = [(number, line.decode("utf-8", "replace")) for number, (line, found)
                 in enumerate(matched, 1) if found is None]  # fmt: skip
    paths: Counter[bytes] = Counter()
    methods: Counter[str] = Counter()
    without_path = 0
    for found in records:
        tokens = found[11].split()
        if tokens:
            methods[tokens[0].decode("utf-8", "replace")] += 1
        if len(tokens) < 2:
            without_path += 1
        else:
            paths[tokens[1]] += 1
    hours = Counter(
        f"{int(f[6]):04d}-{MONTHS[f[5]]:02d}-{int(f[4]):02d}T{int(f[7]):02d}" for f in records
    )
    top = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    return {
        "matching_lines": len(records),
        "malformed_lines": len(malformed),
        "malformed_examples_first5": [list(pair) for pair in malformed[:5]],
        "status_counts": dict(Counter(found[12].decode() for found in records)),
        "total_response_bytes": sum(int(f[13]) if f[13] != b"-" else 0 for f in records),
        "method_counts": dict(methods),
        "top20_paths": [[key.decode("utf-8", "replace"), count] for key, count in top],
        "distinct_paths": len(paths),
        "requests_without_path": without_path,
        "per_hour": dict(hours),
    }


def expected_by_logmr(path: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """The reference, with its access figures as logmr's ``apache_combined``
    defines them (trailing fields taken); other references as they are."""
    if reference.get("declared_format") != "apache_combined":
        return reference
    return {**reference, **access_answers(lines_of(path), with_trailing_fields(reference))}
