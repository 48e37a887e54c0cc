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

from logmr.devtools.generate import GENERATED_FORMATS, GENERATED_SHAPES, GenerateStats, generate
from logmr.errors import InvalidParameterError
from logmr.formats import get_format

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
# refactorings. A deliberate change to the generator updates these values (and
# generate.REVISION, so that cached generated logs are made anew).
GOLDEN = {
    "apache_combined": "98ccbf90d0f9a9dc230e8f967400c0f7da47f4208ce48e94f193bb76adec681e",
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


# --- apache_combined, realistic shape -----------------------------------------
#
# At 1 GB (seed 1): 4,269,076 lines, 50,000 paths, 379,770 request targets,
# 199,442 clients. 200,000 lines see a share of each pool, measured below.

REALISTIC_LINES = 200_000


@pytest.fixture(scope="module")
def realistic_200k() -> list[bytes]:
    data, stats = run(lines=REALISTIC_LINES, seed=7, shape="realistic")
    assert stats == GenerateStats(lines=REALISTIC_LINES, bytes=len(data))
    return split_lines(data)


@pytest.mark.unit
def test_shapes_are_named() -> None:
    assert GENERATED_SHAPES == ("simple", "realistic")


@pytest.mark.unit
def test_the_simple_shape_is_the_default() -> None:
    data, _ = run(fmt="apache_combined", lines=3000, seed=42, shape="simple")
    assert hashlib.sha256(data).hexdigest() == GOLDEN["apache_combined"]


@pytest.mark.unit
def test_realistic_same_arguments_give_the_same_bytes() -> None:
    a, sa = run(lines=20_000, seed=3, shape="realistic")
    b, sb = run(lines=20_000, seed=3, shape="realistic")
    assert a == b
    assert sa == sb
    other, _ = run(lines=20_000, seed=4, shape="realistic")
    assert split_lines(other)[0] != split_lines(a)[0]
    simple, _ = run(lines=20_000, seed=3)
    assert simple != a


REALISTIC_GOLDEN = "4225340e8660565334df75b80e5a6ca02c33c76c4b48c2315a2e20baa480b131"


@pytest.mark.unit
def test_realistic_output_is_pinned() -> None:
    data, _ = run(lines=3000, seed=42, shape="realistic")
    assert hashlib.sha256(data).hexdigest() == REALISTIC_GOLDEN


@pytest.mark.unit
def test_realistic_stopping_rules() -> None:
    long, _ = run(lines=20_000, seed=5, shape="realistic")
    for n in (1, 8191, 8193):
        short, stats = run(lines=n, seed=5, shape="realistic")
        assert long.startswith(short)
        assert short.count(b"\n") == stats.lines == n
    data, stats = run(size=1_000_000, seed=5, shape="realistic")
    assert long.startswith(data)
    assert len(data) == stats.bytes <= 1_000_000
    more, _ = run(lines=stats.lines + 1, seed=5, shape="realistic")
    assert len(more) > 1_000_000


@pytest.mark.unit
def test_realistic_lines_parse_but_the_malformed_share(realistic_200k: list[bytes]) -> None:
    fmt = get_format("apache_combined")
    bad = [line for line in realistic_200k if fmt.parse(line) is None]
    # the same malformed kinds and share (about 0.1%) as the simple shape
    assert 0.0005 * REALISTIC_LINES <= len(bad) <= 0.002 * REALISTIC_LINES
    assert bad == [line for line in realistic_200k if not APACHE_RE.match(line)]
    assert any(b" - - [" in line for line in bad)
    assert any(b" - - [" not in line for line in bad)
    assert all(line and not line.endswith(b"\r") for line in realistic_200k)


@pytest.mark.unit
def test_realistic_lines_have_many_distinct_keys(realistic_200k: list[bytes]) -> None:
    fmt = get_format("apache_combined")
    records = [r for line in realistic_200k if (r := fmt.parse(line)) is not None]
    n = len(records)
    get = {name: fmt.getter(name) for name in ("client", "path", "bytes", "status", "method")}
    targets: Counter[bytes] = Counter(get["path"](r) for r in records)
    paths: Counter[bytes] = Counter()
    for target, count in targets.items():
        paths[target.split(b"?", 1)[0]] += count
    clients = {get["client"](r) for r in records}
    sizes = [get["bytes"](r) for r in records]
    pairs = {(get["path"](r).split(b"?", 1)[0], get["bytes"](r)) for r in records}
    # a 200,000-line prefix meets about two thirds of the 50,000 paths, ...
    assert 28_000 <= len(paths) <= 38_000
    # ... about 55,000 targets (380,000 at 4.3 M lines) ...
    assert 45_000 <= len(targets) <= 65_000
    with_query = sum(count for target, count in targets.items() if b"?" in target)
    assert 0.12 < with_query / n < 0.30
    # ... and about 77,000 of the 200,000 clients (IPv6 among them)
    assert 65_000 <= len(clients) <= 90_000
    assert any(b":" in c for c in clients)
    # sizes are drawn per response: (path, size) pairs rarely repeat
    assert len(set(sizes)) > 90_000
    assert len(pairs) / n > 0.8
    # paths carry ids; popularity is Zipf-like
    assert sum(1 for p in paths if re.fullmatch(rb"/api/v1/\w+/\d+", p)) > 5_000
    assert sum(1 for p in paths if re.fullmatch(rb"/products/\d+", p)) > 5_000
    top = paths.most_common(10)
    assert top[0][0] == b"/" and 0.03 < top[0][1] / n < 0.08
    assert 0.15 < sum(c for _, c in top) / n < 0.35
    assert all(b"?" not in p for p in paths)
    # the simple shape's methods and statuses, and the size rules
    statuses = Counter(get["status"](r) for r in records)
    methods = Counter(get["method"](r) for r in records)
    assert set(statuses) == STATUSES
    assert set(methods) == METHODS
    assert 0.60 < statuses[b"200"] / n < 0.90
    assert 0.80 < methods[b"GET"] / n < 0.97


@pytest.mark.unit
def test_realistic_head_and_not_modified_have_no_body(realistic_200k: list[bytes]) -> None:
    checked = 0
    last = b""
    for line in realistic_200k:
        m = APACHE_RE.match(line)
        if m is None:
            continue
        stamp = m.group(4, 7, 8, 9)
        assert b"".join(stamp) >= last, "timestamps must not go backwards"
        last = b"".join(stamp)
        method = m.group(11).split(b" ")[0]
        if m.group(12) == b"304" or method == b"HEAD":
            assert m.group(13) == b"-"
            checked += 1
    assert checked > 1000


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lines": 10, "shape": "wide"}, "unknown generator shape 'wide'"),
        ({"lines": 10, "shape": ""}, "unknown generator shape"),
        ({"fmt": "applog", "lines": 10, "shape": "realistic"}, "only made for apache_combined"),
    ],
)
def test_invalid_shapes(kwargs: dict[str, object], message: str) -> None:
    buf = io.BytesIO()
    with pytest.raises(InvalidParameterError, match=message):
        generate(buf, **kwargs)  # type: ignore[arg-type]
    assert buf.getvalue() == b""


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
