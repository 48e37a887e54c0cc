"""Line-exact reading of byte ranges.

A line is LF-terminated; a final segment without LF is a line too when it is
not empty; one trailing CR is removed. A range ``[start, end)`` *owns* every
line that starts inside it: the reader skips the partial first line unless the
range starts at 0 or just after an LF, and reads past ``end`` to finish its last
line. Every line of an object is therefore read by exactly one range, whatever
the range size (lines longer than a range included).

The reader only needs a stream opened at ``max(start - 1, 0)`` and read to the
end of the object (a local file, or an open-ended ranged S3 GET); memory is
bounded by the block size plus the longest line, never by the range.

``iter_range_texts`` yields the owned lines as texts of whole lines (the map
task's input: a format's block parser scans a text in one pass);
``iter_range_blocks`` yields them split into lists of lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def strip_cr(lines: list[bytes]) -> list[bytes]:
    """Remove one trailing CR from each line (in a new list)."""
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def split_lines(text: bytes) -> list[bytes]:
    """The lines of ``text``, which ends with LF: split in C, and the CR before
    each LF dropped by one ``replace`` when the text has any CR at all."""
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    lines = text.split(b"\n")
    lines.pop()  # the empty segment after the final LF
    return lines


def iter_range_blocks(
    stream: Readable,
    start: int,
    end: int | None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[list[bytes]]:
    """Yield the lines owned by ``[start, end)`` in batches (lists of lines).

    ``stream`` must be positioned at ``max(start - 1, 0)`` of the object.
    ``end=None`` means the range runs to the end of the object (used for
    compressed objects, which are one range each). Lines come without LF and
    with one trailing CR removed.
    """
    for text in iter_range_texts(stream, start, end, block_size=block_size):
        yield split_lines(text)


def iter_range_texts(
    stream: Readable,
    start: int,
    end: int | None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[bytes]:
    """Yield the lines owned by ``[start, end)`` as texts of whole lines.

    Each text is a run of lines as they are in the object, each ending with
    LF (a final line without one gets one), CRs untouched: what a block parser
    scans in one pass. ``split_lines`` of the texts gives exactly the lines of
    ``iter_range_blocks``. Same stream contract as ``iter_range_blocks``.
    """
    if end is not None and end <= start:
        return
    read = _block_reader(stream, block_size)
    pos = start  # object offset of the first byte held in ``pending``
    pending: list[bytes | memoryview] = []  # the start of a line whose LF is still unread
    if start > 0:
        before = stream.read(1)
        if not before:
            return  # the object is shorter than start: nothing here
        if before != b"\n":
            # Skip the tail of a line that started in an earlier range.
            while True:
                block = read()
                if not block:
                    return
                nl = block.find(b"\n")
                if nl >= 0:
                    pos += nl + 1
                    pending = [bytes(block[nl + 1 :])]
                    break
                pos += len(block)
    while end is None or pos < end:
        block = read()
        if not block:
            tail = b"".join(pending)
            if tail:
                if not tail.endswith(b"\n"):
                    tail += b"\n"
                yield tail if end is None else _owned(tail, pos, end)
            return
        last_nl = block.rfind(b"\n")
        if last_nl < 0:
            pending.append(bytes(block))  # a line longer than a block: read on
            continue
        pending.append(memoryview(block)[: last_nl + 1])  # joined without a copy of its own
        text = b"".join(pending)
        pending = [bytes(block[last_nl + 1 :])]
        text_end = pos + len(text)
        if end is not None and text_end > end:
            yield _owned(text, pos, end)
            return
        yield text
        del text  # freed before the next text is joined (see _block_reader)
        pos = text_end


def _block_reader(stream: Readable, block_size: int) -> Callable[[], bytes | bytearray]:
    """Reads of up to ``block_size`` bytes (empty at the end of the object).
    A stream with ``readinto`` (files, S3 bodies, decompressors) fills one
    reused buffer: each text is then the only large allocation per block. A
    fresh ``bytes`` per read (and one more for the text) made the allocator
    return and re-map memory every block: 0.6 s of page faults per GB. The
    buffer is overwritten by the next read, so callers copy what they keep.
    (A caller that drops each text before asking for the next, as
    ``tasks.map_task`` does, keeps one text alive at a time, which the
    allocator then reuses in place.)"""
    read_into = getattr(stream, "readinto", None)
    if read_into is None:
        return lambda: stream.read(block_size)
    buffer = bytearray(block_size)
    view = memoryview(buffer)

    def read() -> bytes | bytearray:
        count = read_into(view)
        if count is None:  # a non-blocking stream with nothing yet: read the plain way
            return stream.read(block_size)
        return buffer if count == block_size else buffer[:count]

    return read


def _owned(text: bytes, pos: int, end: int) -> bytes:
    """The lines of ``text`` (at object offset ``pos``, ending with LF) that
    start before ``end``: up to the LF of the line holding byte ``end - 1``."""
    if end <= pos:
        return b""
    if pos + len(text) <= end:
        return text
    return text[: text.index(b"\n", end - pos - 1) + 1]
