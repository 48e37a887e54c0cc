"""logmr.devtools.generate: deterministic synthetic logs."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logmr.devtools.generate import GENERATED_FORMATS, GenerateStats, generate
from logmr.errors import InvalidParameterError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

APACHE_RE = re.compile(
    rb"^(\S+) (\S+) (\S+) \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "
    rb'"((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$'
)
APPLOG_RE = re.compile(
    rb"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (DEBUG|INFO|WARN|ERROR|FATAL) "
    rb"\[([^\]]+)\] ([\w.$]+) - (.+)$"
)
EXCEPTION_RE = re.compile(rb"^[a-z][\w.$]*\.[A-Z]\w*(?:Exception|Error): .+$")
FRAME_RE = re.compile(rb"^\tat [\w.$/]+\([\w.]+(?::\d+)?\)$|^\tat [\w.$/]+\(Unknown Source\)$")


def run(**kwargs: object) -> tuple[bytes, GenerateStats]:
    buf = io.BytesIO()
    stats = generate(buf, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue(), stats


def split_lines(data: bytes) -> list[bytes]:
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1] if data else []


@pytest.fixture(scope="module")
def apache_100k() -> list[bytes]:
    data, stats = run(fmt="apache_combined", lines=100_000, seed=7)
    assert stats == GenerateStats(lines=100_000, bytes=len(data))
    return split_lines(data)


@pytest.fixture(scope="module")
def applog_50k() -> list[bytes]:
    data, stats = run(fmt="applog", lines=50_000, seed=7)
    assert stats == GenerateStats(lines=50_000, bytes=len(data))
    return split_lines(data)


# --- determinism -------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_same_arguments_give_the_same_bytes(fmt: str) -> None:
    a, sa = run(fmt=fmt, lines=20_000, seed=3)
    b, sb = run(fmt=fmt, lines=20_000, seed=3)
    assert a == b
    assert sa == sb


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_different_seeds_give_different_bytes(fmt: str) -> None:
    a, _ = run(fmt=fmt, lines=1000, seed=1)
    b, _ = run(fmt=fmt, lines=1000, seed=2)
    assert a != b
    assert split_lines(a)[0] != split_lines(b)[0]


# Pinned digests: the bytes must not drift between machines, Python versions or
# refactorings. A deliberate change to the generator updates these values.
GOLDEN = {
    "apache_combined": "82ecc8be19b07d2db3be383d0f938b10f8b07837a8ce2cb76637e876e1ce8317",
    "applog": "aad71495f5ef172631e03abe9bea1676f0641b75512b7663f85daf5926158bf0",
}


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_output_is_pinned(fmt: str) -> None:
    data, _ = run(fmt=fmt, lines=3000, seed=42)
    assert hashlib.sha256(data).hexdigest() == GOLDEN[fmt]


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_shorter_output_is_a_prefix_of_a_longer_one(fmt: str) -> None:
    long, _ = run(fmt=fmt, lines=20_000, seed=5)
    for n in (1, 17, 8191, 8192, 8193, 12_345):
        short, stats = run(fmt=fmt, lines=n, seed=5)
        assert long.startswith(short)
        assert stats.lines == n
    by_size, _ = run(fmt=fmt, size=1_000_000, seed=5)
    assert long.startswith(by_size)


# --- lines and size modes ----------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
@pytest.mark.parametrize("n", [0, 1, 2, 999, 8192, 8193, 20_001])
def test_lines_mode_is_exact(fmt: str, n: int) -> None:
    data, stats = run(fmt=fmt, lines=n, seed=11)
    assert data.count(b"\n") == n
    assert stats == GenerateStats(lines=n, bytes=len(data))
    assert data == b"" or data.endswith(b"\n")


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
@pytest.mark.parametrize("size", [0, 1, 50, 300, 1000, 65_536, 1_234_567, 3_000_000])
def test_size_mode_keeps_the_most_whole_lines_that_fit(fmt: str, size: int) -> None:
    data, stats = run(fmt=fmt, size=size, seed=11)
    assert len(data) <= size
    assert stats == GenerateStats(lines=data.count(b"\n"), bytes=len(data))
    assert data == b"" or data.endswith(b"\n")
    # one more line would not fit
    more, _ = run(fmt=fmt, lines=stats.lines + 1, seed=11)
    assert more.startswith(data)
    assert len(more) > size


@pytest.mark.unit
def test_size_mode_reaches_close_to_the_size() -> None:
    data, stats = run(size=2_000_000, seed=0)
    assert 2_000_000 - 2000 < stats.bytes <= 2_000_000
    assert len(data) == stats.bytes


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_writes_to_a_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "out.log"
    with target.open("wb") as fh:
        stats = generate(fh, fmt=fmt, size=500_000, seed=1)
    assert target.stat().st_size == stats.bytes
    assert target.read_bytes() == run(fmt=fmt, size=500_000, seed=1)[0]


class Trickle(io.RawIOBase):
    """A raw stream that takes at most 1,000 bytes per write."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer, /) -> int:
        chunk = bytes(memoryview(b)[:1000])
        self.data += chunk
        return len(chunk)


@pytest.mark.unit
def test_partial_writes_are_completed() -> None:
    sink = Trickle()
    stats = generate(sink, lines=500, seed=4)  # type: ignore[arg-type]
    assert bytes(sink.data) == run(lines=500, seed=4)[0]
    assert stats.bytes == len(sink.data)


@pytest.mark.property
@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(GENERATED_FORMATS),
    size=st.integers(min_value=0, max_value=120_000),
    seed=st.integers(min_value=0, max_value=2**64),
)
def test_size_mode_property(fmt: str, size: int, seed: int) -> None:
    data, stats = run(fmt=fmt, size=size, seed=seed)
    assert len(data) == stats.bytes <= size
    longer, _ = run(fmt=fmt, lines=stats.lines + 1, seed=seed)
    assert longer.startswith(data)
    assert len(longer) > size


@pytest.mark.unit
@pytest.mark.parametrize("fmt", GENERATED_FORMATS)
def test_lines_are_lf_terminated_without_cr_or_blank_lines(fmt: str) -> None:
    data, _ = run(fmt=fmt, lines=50_000, seed=2)
    lines = split_lines(data)
    assert len(lines) == 50_000
    assert all(line and not line.endswith(b"\r") for line in lines)


# --- apache_combined ---------------------------------------------------------

STATUSES = {b"200", b"201", b"204", b"301", b"302", b"304", b"400", b"401", b"403", b"404",
            b"408", b"500", b"502", b"503"}  # fmt: skip
METHODS = {b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"}


@pytest.mark.unit
def test_apache_malformed_share_is_about_a_tenth_of_a_percent(apache_100k: list[bytes]) -> None:
    bad = [line for line in apache_100k if not APACHE_RE.match(line)]
    assert 50 <= len(bad) <= 500, len(bad)


@pytest.mark.unit
def test_apache_malformed_lines_come_in_several_kinds(apache_100k: list[bytes]) -> None:
    bad = [line for line in apache_100k if not APACHE_RE.match(line)]
    looks_like_a_request = [line for line in bad if b" - - [" in line]
    garbage = [line for line in bad if b" - - [" not in line]
    assert looks_like_a_request
    assert garbage
    assert any(line.count(b'"') > 6 for line in bad)  # an extra field or a stray quote


@pytest.mark.unit
def test_apache_well_formed_lines_are_realistic(apache_100k: list[bytes]) -> None:
    matches = [m for line in apache_100k if (m := APACHE_RE.match(line))]
    assert len(matches) >= 99_500
    clients: Counter[bytes] = Counter()
    paths: Counter[bytes] = Counter()
    methods: Counter[bytes] = Counter()
    statuses: Counter[bytes] = Counter()
    agents: set[bytes] = set()
    referers: Counter[bytes] = Counter()
    last = (0, 0, 0, 0)
    for m in matches:
        client, ident, user, day, month, year, hh, mm, ss, tz = m.groups()[:10]
        request, status, size, referer, agent = m.groups()[10:]
        assert (ident, user, month, year, tz) == (b"-", b"-", b"Dec", b"2020", b"+0000")
        now = (int(day), int(hh), int(mm), int(ss))
        assert now >= last, "timestamps must not go backwards"
        last = now
        method, path, proto = request.split(b" ")
        assert proto in (b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0")
        assert path.startswith(b"/")
        assert status in STATUSES
        if status == b"304" or method == b"HEAD":
            assert size == b"-"
        clients[client] += 1
        paths[path] += 1
        methods[method] += 1
        statuses[status] += 1
        agents.add(agent)
        referers[referer] += 1
    assert matches[0].group(4, 7, 8) == (b"01", b"00", b"00")
    assert 1800 <= len(clients) <= 2000
    assert any(b":" in c for c in clients)  # a few IPv6 clients
    assert 400 <= len(paths) <= 500
    assert any(b"?" in p for p in paths)
    assert 25 <= len(agents) <= 35
    assert set(methods) == METHODS
    assert set(statuses) == STATUSES
    n = len(matches)
    assert 0.80 < methods[b"GET"] / n < 0.97
    assert 0.60 < statuses[b"200"] / n < 0.90
    assert 0.01 < statuses[b"404"] / n < 0.10
    # Zipf-like paths: the top path alone is a large share, the top ten most of it
    top = paths.most_common(10)
    assert top[0][0] == b"/" and 0.08 < top[0][1] / n < 0.25
    assert 0.30 < sum(c for _, c in top) / n < 0.60
    assert 0.25 < referers[b"-"] / n < 0.60


@pytest.mark.unit
def test_apache_timestamps_advance(apache_100k: list[bytes]) -> None:
    first = APACHE_RE.match(apache_100k[0])
    last = APACHE_RE.match(apache_100k[-1]) or APACHE_RE.match(apache_100k[-2])
    assert first is not None and last is not None
    assert first.group(4, 7, 8, 9) == (b"01", b"00", b"00", b"00")
    assert last.group(4, 7, 8, 9) != first.group(4, 7, 8, 9)


# --- applog ------------------------------------------------------------------


@pytest.mark.unit
def test_applog_lines_have_a_level_or_are_stack_trace_lines(applog_50k: list[bytes]) -> None:
    levels: Counter[bytes] = Counter()
    trace_lines = 0
    previous_level = b""
    last_time = b""
    in_trace = False
    frames = 0
    for line in applog_50k:
        m = APPLOG_RE.match(line)
        if m:
            if in_trace:
                assert 3 <= frames <= 6
            in_trace = False
            assert m.group(1) >= last_time, "timestamps must not go backwards"
            last_time = m.group(1)
            previous_level = m.group(2)
            levels[previous_level] += 1
            continue
        trace_lines += 1
        if EXCEPTION_RE.match(line):
            assert previous_level in (b"ERROR", b"FATAL")
            assert not in_trace
            in_trace = True
            frames = 0
        else:
            assert FRAME_RE.match(line), line
            assert in_trace
            frames += 1
    assert set(levels) == {b"DEBUG", b"INFO", b"WARN", b"ERROR", b"FATAL"}
    events = sum(levels.values())
    assert levels.most_common(1)[0][0] == b"INFO"
    assert 0.50 < levels[b"INFO"] / events < 0.80
    assert 0.10 < levels[b"DEBUG"] / events < 0.35
    assert 0.03 < levels[b"WARN"] / events < 0.20
    assert 0.01 < levels[b"ERROR"] / events < 0.08
    assert 0 < levels[b"FATAL"] < levels[b"ERROR"]
    assert trace_lines > 0
    assert applog_50k[0].startswith(b"2020-12-01 00:00:00,")


@pytest.mark.unit
def test_applog_has_stack_traces_after_errors(applog_50k: list[bytes]) -> None:
    starts = [i for i, line in enumerate(applog_50k) if line.startswith(b"java.")]
    assert len(starts) > 50
    for i in starts[:20]:
        m = APPLOG_RE.match(applog_50k[i - 1])
        assert m is not None and m.group(2) in (b"ERROR", b"FATAL")
        assert FRAME_RE.match(applog_50k[i + 1])


# --- argument errors ---------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    "kwargs",
    [
        {"fmt": "nginx_json", "lines": 10},
        {"fmt": "", "lines": 10},
        {"lines": 10, "size": 100},
        {},
        {"lines": -1},
        {"size": -1},
        {"lines": 10, "seed": -1},
        {"lines": True},
        {"lines": 1.5},
        {"size": "20MB"},
    ],
)
def test_invalid_arguments(kwargs: dict[str, object]) -> None:
    buf = io.BytesIO()
    with pytest.raises(InvalidParameterError) as info:
        generate(buf, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert buf.getvalue() == b""


@pytest.mark.unit
def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(InvalidParameterError, match="apache_combined"):
        generate(io.BytesIO(), fmt="syslog", lines=1)
