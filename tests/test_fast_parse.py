"""The block parsers accept exactly what the line parsers accept, line by line
(the access formats: what the reference regex accepts), so the fast path can
never change a count (and ``MapSide.feed_text`` counts what ``feed`` does:
tests/test_mapreduce.py)."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import no_long_line
from logmr.formats import get_format
from logmr.inputs.lines import iter_range_blocks, iter_range_texts, split_lines
from reference_access import TRAILING
from test_formats import (
    ALB_ERROR,
    ALB_HTTP,
    ALB_HTTPS,
    S3,
    S3_ERROR,
)

# The reference regexes, written the plain way (as in ../shared/data's reference
# script): \S+ fields, a bracketed time, quoted fields where a backslash escapes
# the next byte, a three-digit status and a size of digits or "-".
_QUOTED = rb'"((?:[^"\\]|\\.)*)"'
_COMMON_BODY = (
    rb"(\S+) (\S+) (\S+) \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) "
    rb"([+-]\d{4})\] " + _QUOTED + rb" (\d{3}) (\d+|-)"
)
_COMBINED_BODY = _COMMON_BODY + b" " + _QUOTED + b" " + _QUOTED
REFERENCE = {
    "apache_common": re.compile(b"^" + _COMMON_BODY + b"$"),
    # logmr's apache_combined takes trailing fields, on purpose (reference_access)
    "apache_combined": re.compile(b"^" + _COMBINED_BODY + TRAILING + b"$"),
    "vhost_combined": re.compile(rb"^(\S+):(\d+) " + _COMBINED_BODY + b"$"),
}
#: the reference group of each field a format extracts without match objects
PLAIN_GROUP = {
    "apache_common": {"client": 1, "status": 12},
    "apache_combined": {"client": 1, "status": 12, "referer": 14, "user_agent": 15},
    "vhost_combined": {"vhost": 1, "client": 3, "status": 14, "referer": 16, "user_agent": 17},
}

COMMON = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326'
COMBINED = COMMON + b' "http://example.com/s\\"x.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
VALID = {
    "apache_common": COMMON,
    "apache_combined": COMBINED,
    "vhost_combined": b"www.example.com:443 " + COMBINED,
}
#: the bytes that matter to the grammar, and a few that do not
NASTY = [b'"', b"\\", b" ", b"\t", b"\r", b"\x0b", b"\x1c", b"7", b"[", b"]", b"-", b":", b"/"]
NASTY += [b"\x00", b"\xff", b"a", b"Z", b"\\\\", b'\\"', b"+"]

edit = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.integers(0, 400),
    st.sampled_from(NASTY),
)


def mutated(line: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    for kind, where, text in edits:
        at = where % (len(line) + 1)
        if kind == "insert":
            line = line[:at] + text + line[at:]
        elif kind == "delete":
            line = line[:at] + line[at + 1 :]
        else:
            line = line[:at] + text + line[at + 1 :]
    return line


lines_of = {
    name: st.lists(
        st.lists(edit, max_size=4).map(lambda edits, line=line: mutated(line, edits)),
        min_size=1,
        max_size=12,
    )
    for name, line in VALID.items()
}


def as_text(lines: list[bytes], crlf: list[bool]) -> bytes:
    return b"".join(
        line + (b"\r\n" if cr else b"\n") for line, cr in zip(lines, crlf, strict=False)
    )


@pytest.mark.property
@pytest.mark.parametrize("name", sorted(VALID))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_block_parser_accepts_exactly_the_reference(name: str, data: st.DataObject) -> None:
    lines = data.draw(lines_of[name])
    crlf = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    fmt = get_format(name)
    reference = REFERENCE[name]
    # per line: the format's own pattern, group by group
    for line in lines:
        want = reference.match(line)
        got = fmt.parse(line)
        assert (got is None) == (want is None), line
    # a whole text at once, LF or CRLF line ends
    text = as_text(lines, crlf)
    accepted = [found for line in split_lines(text) if (found := reference.match(line))]
    records = fmt.records_in_text(text)
    assert records is not None
    assert len(records) == len(accepted)
    rejected = [line for line in split_lines(text) if not reference.match(line)]
    assert list(fmt.malformed_in_text(text) or ["no block parser"]) == rejected
    for field, group in PLAIN_GROUP[name].items():
        getter = fmt.getter(field)
        assert [getter(record) for record in records] == [m[group] for m in accepted]
        lines = len(split_lines(text))
        assert fmt.values_in_text(text, field) == ([m[group] for m in accepted], lines), field
    # a batch job's values (each distinct raw value converted once) are the getters'
    for field in ("bytes", "epoch", "local_time", "method", "path"):
        getter = fmt.getter(field)
        assert fmt.values(field, records) == [getter(record) for record in records], field
    # a column job's columns (one findall, no match objects; or from the
    # records) are the getters' too, value by value and raw value by raw value
    fields = [*PLAIN_GROUP[name], "bytes", "epoch", "local_time", "method", "path"]
    found = fmt.columns_in_text(text, fields)
    assert found is not None
    columns, lines = found
    assert lines == len(split_lines(text))
    for field, column, from_records in zip(
        fields, columns, fmt.columns(records, fields), strict=True
    ):
        want = [fmt.getter(field)(record) for record in records]
        assert column.values() == want, field
        assert [column.value(raw) for raw in column.raw] == want, field
        assert from_records == column, field


#: formats whose block pattern is checked against their own line pattern
LINE_FORM_SAMPLES = {
    "alb": [ALB_HTTP, ALB_HTTPS, ALB_ERROR],
    "s3_access": [S3, S3_ERROR],
}


@pytest.mark.property
@pytest.mark.parametrize("name", sorted(LINE_FORM_SAMPLES))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_block_parsers_equal_their_line_parsers(name: str, data: st.DataObject) -> None:
    """The same records, group by group, as the line pattern over each line
    (LF and one CR removed): mutated lines, LF or CRLF ends, stray CRs, tabs,
    quotes and backslashes included."""
    samples = LINE_FORM_SAMPLES[name]
    lines = data.draw(
        st.lists(
            st.tuples(st.sampled_from(samples), st.lists(edit, max_size=4)).map(
                lambda pair: mutated(*pair)
            ),
            min_size=1,
            max_size=10,
        )
    )
    crlf = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    fmt = get_format(name)
    text = as_text(lines, crlf)
    want = [found.groups() for line in split_lines(text) if (found := fmt.parse(line))]
    records = fmt.records_in_text(text)
    assert records is not None
    assert [record.groups() for record in records] == want
    rejected = [line for line in split_lines(text) if fmt.parse(line) is None]
    assert list(fmt.malformed_in_text(text) or ["no block parser"]) == rejected
    assert any(fmt.parse(line) for line in samples)  # the samples themselves parse


@pytest.mark.unit
def test_values_in_text_only_for_plain_fields() -> None:
    fmt = get_format("apache_combined")
    assert fmt.values_in_text(COMBINED + b"\n", "bytes") is None  # an int, not a group
    assert fmt.values_in_text(COMBINED + b"\n", "status") == ([b"200"], 1)
    assert get_format("syslog").records_in_text(b"x\n") is None  # no block parser
    assert get_format("syslog").columns_in_text(b"x\n", ["host"]) is None
    assert fmt.columns_in_text(COMBINED + b"\n", ["status", "vhost"]) is None  # no such group
    found = fmt.columns_in_text(COMBINED + b"\n", ["status", "bytes"])
    assert found is not None
    (status, size), lines = found
    assert (status.values(), size.values(), lines) == ([b"200"], [int(COMBINED.split()[9])], 1)


def _min_width(pattern: re.Pattern[bytes], group: int) -> int:
    """The fewest bytes group number ``group`` of ``pattern`` can match,
    from the standard library's own regex parser."""
    from re import _parser  # CPython's sre parser: its getwidth is what re compiles with

    def search(node: object) -> int | None:
        if isinstance(node, _parser.SubPattern):
            for op, arguments in node.data:
                if op is _parser.SUBPATTERN and arguments[0] == group:
                    return int(arguments[-1].getwidth()[0])
                found = search(arguments)
                if found is not None:
                    return found
        elif isinstance(node, (tuple, list)):
            for item in node:
                found = search(item)
                if found is not None:
                    return found
        return None

    width = search(_parser.parse(pattern.pattern, pattern.flags))
    assert width is not None, f"no group {group}"
    return width


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(VALID))
def test_never_empty_groups_match_a_byte_at_least(name: str) -> None:
    """A group named in ``_never_empty`` marks a record's row apart from a
    malformed line's empty one (``RegexFormat._rows_in_text``): it must
    match at least one byte and take part in every record; the groups that
    may match none, or take no part (``apache_combined``'s trailing fields,
    absent from a plain combined line), are not in it."""
    fmt = get_format(name)
    pattern = fmt._block_pattern
    assert pattern is not None and fmt._never_empty
    record = fmt.parse(VALID[name])
    assert record is not None
    for group_name, number in pattern.groupindex.items():
        width = _min_width(pattern, number)
        takes_part = record[group_name] is not None
        assert (group_name in fmt._never_empty) == (width > 0 and takes_part), group_name


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"\n",
        b"garbage\n",
        b"\n\n" + COMBINED + b"\r\n\n",
        COMBINED + b"\nx\n" + COMBINED + b"\n",
    ],
)
def test_values_in_text_count_every_line_once(text: bytes) -> None:
    """The lines a text-wide ``findall`` counts (records and malformed lines
    in one pass, the malformed ones dropped) are the text's lines, empty ones
    included, and its values the records'."""
    fmt = get_format("apache_combined")
    records = [found for line in split_lines(text) if (found := fmt.parse(line))]
    values, lines = fmt.values_in_text(text, "status") or ([], -1)
    assert (values, lines) == ([record["status"] for record in records], len(split_lines(text)))
    found = fmt.columns_in_text(text, ["client", "referer"])
    assert found is not None
    (clients, referers), lines = found
    assert lines == len(split_lines(text))
    assert clients.raw == [record["client"] for record in records]
    assert referers.raw == [record["referer"] for record in records]


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.binary(max_size=30), st.sampled_from([b"\n", b"\r\n", b"\r", b""])),
        max_size=30,
    ).map(lambda parts: b"".join(text + end for text, end in parts)),
    start=st.integers(0, 200),
    length=st.integers(1, 200),
    block=st.integers(1, 40),
)
def test_range_texts_are_the_range_lines(data: bytes, start: int, length: int, block: int) -> None:
    def stream() -> io.BytesIO:
        handle = io.BytesIO(data)
        handle.seek(max(start - 1, 0))
        return handle

    end = start + length
    texts = list(
        iter_range_texts(stream(), start, end, on_long_line=no_long_line, block_size=block)
    )
    assert all(text.endswith(b"\n") for text in texts if text)
    got = [line for text in texts for line in split_lines(text)]
    batches = iter_range_blocks(stream(), start, end, on_long_line=no_long_line)
    want = [line for batch in batches for line in batch]
    assert got == want


#: statuses a line of the tests may carry (mutations make others)
STATUSES = [b"200", b"304", b"404", b"500", b"503", b"099", b"999"]


@pytest.mark.property
@pytest.mark.parametrize("name", sorted(VALID))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_without_records_leaves_out_exactly_the_records_refused(
    name: str, data: st.DataObject
) -> None:
    """``without_records`` (a query's filter on the status, before any column
    is extracted) leaves out, LF and all, exactly the records whose status
    the test refuses, and keeps every other line, malformed ones included,
    in order: what a line-by-line parse and test leaves."""
    lines = [
        line.replace(b" 200 ", b" " + data.draw(st.sampled_from(STATUSES)) + b" ", 1)
        for line in data.draw(lines_of[name])
    ]
    crlf = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    kept_statuses = frozenset(data.draw(st.sets(st.sampled_from(STATUSES))))
    fmt = get_format(name)
    text = as_text(lines, crlf)

    def keep(status: bytes) -> bool:
        return status in kept_statuses

    found = fmt.without_records(text, "status", keep)
    ends = [b"\r\n" if cr else b"\n" for cr in crlf]
    records = [fmt.parse(line) for line in lines]
    refused = [r is not None and not keep(fmt.getter("status")(r)) for r in records]
    assert found is not None
    want = b"".join(
        line + end for line, end, out in zip(lines, ends, refused, strict=True) if not out
    )
    assert found == (want, sum(refused))


@pytest.mark.unit
def test_without_records_does_nothing_when_nothing_is_refused_or_it_cannot_tell() -> None:
    text = COMBINED + b"\n"
    fmt = get_format("apache_combined")
    assert fmt.without_records(text, "status", lambda status: True) is None
    assert fmt.without_records(text, "client", lambda client: False) is None  # not 3 digits
    assert get_format("syslog").without_records(b"x\n", "host", lambda host: False) is None
