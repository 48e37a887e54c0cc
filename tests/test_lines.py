"""Line-exact range reading: every line read once, whatever the range size."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import no_long_line
from logmr.inputs.lines import (
    LONG_LINE_HEAD_BYTES,
    MAX_LINE_BYTES,
    iter_range_blocks,
    iter_range_texts,
)
from logmr.inputs.source import InputObject
from logmr.plan.cutting import cut


def reference_lines(data: bytes) -> list[bytes]:
    """The definition, written independently: split on LF, a final non-empty
    segment counts, one trailing CR removed."""
    segments = data.split(b"\n")
    if segments[-1] == b"":
        segments.pop()
    return [s[:-1] if s.endswith(b"\r") else s for s in segments]


@dataclass(frozen=True)
class Long:
    """A line the reader skipped: its first bytes and its length."""

    head: bytes
    length: int


def reference_with_long(data: bytes, max_line: int) -> list[bytes | int]:
    """``reference_lines``, each line longer than ``max_line`` as its length."""
    return [line if len(line) <= max_line else len(line) for line in reference_lines(data)]


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


def read_all_ranges(
    data: bytes,
    chunk: int,
    block: int,
    kind: str = "readinto",
    max_line: int = MAX_LINE_BYTES,
) -> list[bytes | Long]:
    """Every range's lines, in order, a long line as ``Long`` where it was."""
    out: list[bytes | Long] = []
    for (piece,) in (task.pieces for task in cut([InputObject("mem", len(data))], chunk)):
        inner = io.BytesIO(data)
        inner.seek(max(piece.start - 1, 0))
        stream = STREAMS[kind](inner)
        blocks = iter_range_blocks(
            stream,
            piece.start,
            piece.end,
            on_long_line=lambda head, length: out.append(Long(head, length)),
            block_size=block,
            max_line=max_line,
        )
        for lines in blocks:
            out.extend(lines)
    return out


def lengths_of_long(
    out: list[bytes | Long], data: bytes, max_line: int = MAX_LINE_BYTES
) -> list[bytes | int]:
    """``out`` with each ``Long`` as its length, after checking its head is
    the start of the line of ``data`` in its place, as much of it as the
    reader keeps: ``LONG_LINE_HEAD_BYTES``, or what it held before it knew
    the line was too long (at least ``max_line + 1`` bytes)."""
    for item, line in zip(out, reference_lines(data), strict=False):
        if isinstance(item, Long) and len(line) == item.length:
            assert line.startswith(item.head)
            assert len(item.head) >= min(len(line), max_line + 1, LONG_LINE_HEAD_BYTES)
            assert len(item.head) <= LONG_LINE_HEAD_BYTES
    return [item.length if isinstance(item, Long) else item for item in out]


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
    batches = iter_range_blocks(stream, 3, 6, on_long_line=no_long_line)
    assert [line for batch in batches for line in batch] == [b"cd"]


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


# -- lines longer than the reader reads ------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("data", "want"),
    [
        (b"abcde\nab\n", [5, b"ab"]),  # one over: long
        (b"abcd\nab\n", [b"abcd", b"ab"]),  # at the bound: a line
        (b"abcd\r\nx", [b"abcd", b"x"]),  # the CR is not counted
        (b"abcd\r\r\nx", [5, b"x"]),  # one CR is removed, not two
        (b"x\nabcdefghij", [b"x", 10]),  # the last line, without LF
        (b"x\nabcde\r", [b"x", 5]),  # ... ending in CR
        (b"x\nabcd\r", [b"x", b"abcd"]),
        (b"abcdefghijklmnopqrstuvwxyz\n\n", [26, b""]),
    ],
)
def test_a_line_longer_than_max_line_is_told_not_read(data: bytes, want: list[bytes | int]) -> None:
    for block in (1, 2, 3, 4, 64):
        for chunk in (1, 3, len(data)):
            got = read_all_ranges(data, chunk, block, max_line=4)
            assert lengths_of_long(got, data, 4) == want, (block, chunk)


@pytest.mark.unit
def test_a_long_lines_head_is_its_first_bytes() -> None:
    """With the bound above the head's size (as 8 MiB is), the head is the
    line's first ``LONG_LINE_HEAD_BYTES``, whatever the blocks and ranges."""
    line = bytes(range(256)).replace(b"\n", b"") * 40
    data = b"a\n" + line + b"\nb\n"
    (long,) = [
        item for item in read_all_ranges(data, 100, 64, max_line=2000) if isinstance(item, Long)
    ]
    assert long == Long(line[:LONG_LINE_HEAD_BYTES], len(line))


@pytest.mark.property
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.binary(max_size=40) | st.just(b"x" * 200),
            st.sampled_from([b"\n", b"\r\n", b"\r", b""]),
        ),
        max_size=30,
    ).map(lambda parts: b"".join(text + end for text, end in parts)),
    chunk=st.integers(1, 80),
    block=st.integers(1, 48),
    max_line=st.integers(0, 64),
    kind=st.sampled_from(sorted(STREAMS)),
)
def test_ranges_anywhere_count_every_line_once_long_lines_once(
    data: bytes, chunk: int, block: int, max_line: int, kind: str
) -> None:
    """Ranges cut anywhere (inside a long line too), blocks of any size: every
    line once, in order, and each line longer than ``max_line`` told once, by
    the range it starts in, with its length and first bytes."""
    got = read_all_ranges(data, chunk, block, kind, max_line=max_line)
    assert lengths_of_long(got, data, max_line) == reference_with_long(data, max_line)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("after", "lines"),
    [(b"\nafter\n", [b"short", b"after"]), (b"", [b"short"])],
    ids=["then-a-line", "last-without-lf"],
)
def test_a_50mb_line_costs_a_few_blocks_of_memory(after: bytes, lines: list[bytes]) -> None:
    """The reader holds at most ``max_line + 1`` bytes of a line, then streams
    past it: its peak allocation over a 50 MB line is a few blocks, not the
    line (it was about twice the line: the pieces, then their join)."""
    block = 1024 * 1024
    stream = io.BytesIO(b"short\n" + b"z" * (50 * 1024 * 1024) + after)
    told: list[int] = []
    tracemalloc.start()
    try:
        texts = iter_range_texts(
            stream,
            0,
            None,
            on_long_line=lambda _, length: told.append(length),
            block_size=block,
            max_line=block,
        )
        got = [line for text in texts for line in text.splitlines()]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert told == [50 * 1024 * 1024]
    assert got == lines
    assert peak < 5 * block, peak
