"""Line-exact reading of byte ranges.

A line is LF-terminated; a final segment without LF is a line too when it is
not empty; one trailing CR is removed. A range ``[start, end)`` *owns* every
line that starts inside it: the reader skips the partial first line unless the
range starts at 0 or just after an LF, and reads past ``end`` to finish its last
line. Every line of an object is therefore read by exactly one range, whatever
the range size (lines longer than a range included).

A line longer than ``MAX_LINE_BYTES`` is not read: the reader streams past it
(one ``find`` of LF per block, holding none of it), and tells the caller its
first bytes and its length (``on_long_line``); it is still one line, owned by
the range it starts in. A decompression bomb (a gigabyte of zeros) is such a
line.

The reader only needs a stream opened at ``max(start - 1, 0)`` and read to the
end of the object (a local file, or an open-ended ranged S3 GET); memory is
bounded by a few blocks (the block size plus ``MAX_LINE_BYTES``), never by the
range nor by a line.

``iter_range_texts`` yields the owned lines as texts of whole lines (the map
task's input: a format's block parser scans a text in one pass);
``iter_range_blocks`` yields them split into lists of lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from logmr.config import SAMPLE_LINE_BYTES

DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024
#: the longest line a map task reads, in bytes (its LF and one trailing CR not
#: counted); a longer one is malformed (``MapSide.long_line``). The block size:
#: every line but the first of a text then lies inside one block, so only the
#: line a text starts with can be too long, and one ``find`` per block tells
#: (a bound below the block size would cost a length check of every line), and
#: a text holds at most two blocks' worth. No log line is that long (Filebeat
#: cuts a message at 10 MiB by default, a CloudWatch Logs event is at most
#: 1 MB): what is, is a file with no LF (a binary, a bomb of zeros, a JSON
#: document on one line) that the job cannot parse anyway. Each such line used
#: to be held whole, and mapped: 2.5 GB for a 200 MB line under ``word_count``,
#: 4.1 GB for a gzip of 1 GB of zeros (docs/bad-input.md)
MAX_LINE_BYTES = DEFAULT_BLOCK_SIZE
#: what the reader keeps of a long line for its sample
LONG_LINE_HEAD_BYTES = SAMPLE_LINE_BYTES

#: told of each long line: its first ``LONG_LINE_HEAD_BYTES`` and its length
#: (LF and one trailing CR not counted)
LongLineSink = Callable[[bytes, int], None]


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
    on_long_line: LongLineSink,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[list[bytes]]:
    """Yield the lines owned by ``[start, end)`` in batches (lists of lines).

    ``stream`` must be positioned at ``max(start - 1, 0)`` of the object.
    ``end=None`` means the range runs to the end of the object (used for
    compressed objects, which are one range each). Lines come without LF and
    with one trailing CR removed; a line longer than ``max_line`` goes to
    ``on_long_line`` instead.
    """
    texts = iter_range_texts(
        stream, start, end, on_long_line=on_long_line, block_size=block_size, max_line=max_line
    )
    for text in texts:
        yield split_lines(text)


def iter_range_texts(
    stream: Readable,
    start: int,
    end: int | None,
    *,
    on_long_line: LongLineSink,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_line: int = MAX_LINE_BYTES,
    buffer: bytearray | None = None,
) -> Iterator[bytes]:
    """Yield the lines owned by ``[start, end)`` as texts of whole lines.

    Each text is a run of lines as they are in the object, each ending with
    LF (a final line without one gets one), CRs untouched: what a block parser
    scans in one pass. ``split_lines`` of the texts gives exactly the lines of
    ``iter_range_blocks``. Same stream contract as ``iter_range_blocks``.

    A line longer than ``max_line`` bytes (LF and one trailing CR not counted)
    is in no text: ``on_long_line(head, length)`` is called in its place (in
    order, between the texts before and after it), and the reader holds at
    most ``max_line + 1`` bytes of it before it streams past the rest. Blocks
    are at most ``max_line`` bytes: a line inside one block is shorter, so
    only a line that runs over from the bytes before a block can be too long.

    ``buffer``: where blocks are read (at least a block's bytes), reused by
    a caller that reads many ranges one after another (a map task of many
    small objects), instead of a new one per range; nothing of it is held
    once the generator is done.
    """
    if end is not None and end <= start:
        return
    read = _block_reader(stream, max(min(block_size, max_line), 1), buffer)
    pos = start  # object offset of the first byte held in ``pending``
    pending: list[bytes | memoryview] = []  # the start of a line whose LF is still unread
    held = 0  # bytes in ``pending``
    block: bytes | bytearray = b""  # read and not yet taken in
    if start > 0:
        before = stream.read(1)
        if not before:
            return  # the object is shorter than start: nothing here
        if before != b"\n":
            # Skip the tail of a line that started in an earlier range.
            skipped, _, rest = _to_line_end(read)
            if rest is None:
                return
            pos += skipped + 1
            block = rest
    while end is None or pos < end:
        if not block:
            block = read()
            if not block:  # the end of the object: a last line without LF
                tail = b"".join(pending)
                if not tail:
                    return
                length = len(tail) - tail.endswith(b"\r")
                if length > max_line:
                    on_long_line(tail[: min(length, LONG_LINE_HEAD_BYTES)], length)
                    return
                tail += b"\n"
                yield tail if end is None else _owned(tail, pos, end)
                return
        if held:  # the line in ``pending`` runs into this block
            nl = block.find(b"\n")
            if nl < 0 and held + len(block) <= max_line + 1:
                pending.append(bytes(block))  # a line longer than a block: read on
                held += len(block)
                block = b""
                continue
            if nl < 0:  # too long whatever follows: keep its head, stream past the rest
                head, raw = _head([*pending, block]), held + len(block)
                skipped, cr, rest = _to_line_end(read, block[-1] == _CR)
                raw += skipped
                on_long_line(head[: raw - cr], raw - cr)
                if rest is None:
                    return
                pos += raw + 1
                pending, held, block = [], 0, rest
                continue
            cr = block[nl - 1] == _CR if nl else pending[-1][-1] == _CR
            if held + nl - cr > max_line:
                length = held + nl - cr
                on_long_line(_head([*pending, memoryview(block)[:nl]])[:length], length)
                pos += held + nl + 1
                pending, held, block = [], 0, bytes(memoryview(block)[nl + 1 :])
                continue
        last_nl = block.rfind(b"\n")
        if last_nl < 0:
            pending.append(bytes(block))  # a line longer than a block: read on
            held += len(block)
            block = b""
            continue
        pending.append(memoryview(block)[: last_nl + 1])  # joined without a copy of its own
        text = b"".join(pending)
        pending = [bytes(block[last_nl + 1 :])]
        held = len(pending[0])
        block = b""
        text_end = pos + len(text)
        if end is not None and text_end > end:
            yield _owned(text, pos, end)
            return
        yield text
        del text  # freed before the next text is joined (see _block_reader)
        pos = text_end


_CR = ord("\r")


def _to_line_end(
    read: Callable[[], bytes | bytearray], cr: bool = False
) -> tuple[int, bool, bytes | None]:
    """Read on to the next LF, keeping nothing (one ``find`` per block, at
    memchr speed): the bytes before it, whether the last byte before it is a
    CR (``cr``: whether the byte before the first read is one), and the rest
    of its block (a copy: the next read overwrites the block); ``None`` for
    the rest when the object ends first."""
    skipped = 0
    while True:
        block = read()
        if not block:
            return skipped, cr, None
        nl = block.find(b"\n")
        if nl < 0:
            skipped += len(block)
            cr = block[-1] == _CR
            continue
        if nl:
            cr = block[nl - 1] == _CR
        return skipped + nl, cr, bytes(memoryview(block)[nl + 1 :])


def _head(pieces: list[bytes | bytearray | memoryview]) -> bytes:
    """The first ``LONG_LINE_HEAD_BYTES`` of the pieces joined (a long line's
    sample), without joining them."""
    head = bytearray()
    for piece in pieces:
        head += piece[: LONG_LINE_HEAD_BYTES - len(head)]
        if len(head) >= LONG_LINE_HEAD_BYTES:
            break
    return bytes(head)


def _block_reader(
    stream: Readable, block_size: int, buffer: bytearray | None = None
) -> Callable[[], bytes | bytearray]:
    """Reads of up to ``block_size`` bytes (empty at the end of the object).
    A stream with ``readinto`` (files, S3 bodies, decompressors) fills one
    reused buffer: each text is then the only large allocation per block. A
    fresh ``bytes`` per read (and one more for the text) made the allocator
    return and re-map memory every block: 0.6 s of page faults per GB. The
    buffer is overwritten by the next read, so callers copy what they keep.
    (A caller that drops each text before asking for the next, as
    ``tasks.map_task`` does, keeps one text alive at a time, which the
    allocator then reuses in place.) ``buffer``: the one to fill, when the
    caller has one (at least ``block_size`` bytes)."""
    read_into = getattr(stream, "readinto", None)
    if read_into is None:
        return lambda: stream.read(block_size)
    if buffer is None or len(buffer) < block_size:
        buffer = bytearray(block_size)
    filled = buffer
    view = memoryview(filled)[:block_size]

    def read() -> bytes | bytearray:
        count = read_into(view)
        if count is None:  # a non-blocking stream with nothing yet: read the plain way
            return stream.read(block_size)
        return filled if count == len(filled) else filled[:count]

    return read


def _owned(text: bytes, pos: int, end: int) -> bytes:
    """The lines of ``text`` (at object offset ``pos``, ending with LF) that
    start before ``end``: up to the LF of the line holding byte ``end - 1``."""
    if end <= pos:
        return b""
    if pos + len(text) <= end:
        return text
    return text[: text.index(b"\n", end - pos - 1) + 1]
