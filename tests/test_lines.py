"""Line-exact range reading: every line read once, whatever the range size."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logmr.inputs.lines import iter_range_blocks
from logmr.inputs.source import InputObject
from logmr.plan.cutting import cut


def reference_lines(data: bytes) -> list[bytes]:
    """The definition, written independently: split on LF, a final non-empty
    segment counts, one trailing CR removed."""
    segments = data.split(b"\n")
    if segments[-1] == b"":
        segments.pop()
    return [s[:-1] if s.endswith(b"\r") else s for s in segments]


class ReadOnly:
    """A stream with ``read`` only (no ``readinto``): the reader's plain path."""

    def __init__(self, inner: io.BytesIO) -> None:
        self.inner = inner

    def read(self, size: int = -1, /) -> bytes:
        return self.inner.read(size)


class Trickling(io.RawIOBase):
    """``readinto`` filling at most 3 bytes, and every other call ``None``
    (a non-blocking stream with nothing yet), as network bodies may."""

    def __init__(self, inner: io.BytesIO) -> None:
        self.inner = inner
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        return self.inner.read(size)

    def readinto(self, buffer: Any, /) -> int | None:
        self.calls += 1
        if self.calls % 2:
            return None
        data = self.inner.read(min(len(buffer), 3))
        buffer[: len(data)] = data
        return len(data)


STREAMS: dict[str, Callable[[io.BytesIO], Any]] = {
    "readinto": lambda inner: inner,
    "read_only": ReadOnly,
    "trickling": Trickling,
}


def read_all_ranges(data: bytes, chunk: int, block: int, kind: str = "readinto") -> list[bytes]:
    out: list[bytes] = []
    for task in cut([InputObject("mem", len(data))], chunk):
        inner = io.BytesIO(data)
        inner.seek(max(task.start - 1, 0))
        stream = STREAMS[kind](inner)
        for lines in iter_range_blocks(stream, task.start, task.end, block_size=block):
            out.extend(lines)
    return out


@pytest.mark.unit
@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"a", [b"a"]),
        (b"a\n", [b"a"]),
        (b"a\nb", [b"a", b"b"]),
        (b"\n\n", [b"", b""]),
        (b"a\r\nb\r\n", [b"a", b"b"]),
        (b"a\r\r\n", [b"a\r"]),
        (b"a\rb\n", [b"a\rb"]),
        (b"x\x00y\n\xff\xfe\n", [b"x\x00y", b"\xff\xfe"]),
    ],
)
def test_lines_of_whole_object(data: bytes, lines: list[bytes]) -> None:
    assert read_all_ranges(data, max(len(data), 1), 4) == lines


@pytest.mark.unit
def test_line_longer_than_range_is_read_once_by_the_range_it_starts_in() -> None:
    data = b"short\n" + b"x" * 100 + b"\nend\n"
    assert read_all_ranges(data, 7, 3) == [b"short", b"x" * 100, b"end"]


@pytest.mark.unit
def test_range_starting_right_after_lf_owns_that_line() -> None:
    data = b"ab\ncd\n"
    stream = io.BytesIO(data)
    stream.seek(2)
    assert [line for batch in iter_range_blocks(stream, 3, 6) for line in batch] == [b"cd"]


line_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"") if len(b) % 3 else b)
contents = st.lists(
    st.tuples(st.binary(max_size=40), st.sampled_from([b"\n", b"\r\n", b"\r", b""])),
    max_size=40,
).map(lambda parts: b"".join(text + end for text, end in parts))


@pytest.mark.property
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=contents,
    chunk=st.integers(1, 64),
    block=st.integers(1, 32),
    kind=st.sampled_from(sorted(STREAMS)),
)
def test_ranges_cover_every_line_exactly_once(
    data: bytes, chunk: int, block: int, kind: str
) -> None:
    """Whatever the stream: one reused buffer filled by ``readinto`` (full,
    short or empty-for-now reads), or plain ``read``."""
    assert read_all_ranges(data, chunk, block, kind) == reference_lines(data)


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=2000), chunk=st.integers(1, 3000))
def test_ranges_cover_random_bytes(data: bytes, chunk: int) -> None:
    assert read_all_ranges(data, chunk, 1 << 20) == reference_lines(data)
