"""logmr.inputs.source: listing local inputs, telling their compression by
their first bytes, opening them at an offset, and reading the planner's head
and spread sample."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from logmr.errors import (
    CorruptInputError,
    EmptyInputError,
    InputNotFoundError,
    InputUnreadableError,
    UnsupportedInputError,
)
from logmr.inputs.source import (
    DEFLATE_MAX_RATIO,
    DecompressedSize,
    InputObject,
    LocalInputSource,
    compression_of,
    decompressing,
    read_head,
    read_spread,
)
from logmr.plan.view import AssumedInputs

GB = 10**9
COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "xz": lzma.compress,
}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- listing ------------------------------------------------------------------------------------
@pytest.mark.unit
def test_a_file_is_one_input_with_its_size(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", b"one\ntwo\n")
    (found,) = LocalInputSource().list_inputs([str(log)])
    assert found == InputObject(str(log.resolve()), 8, None)


@pytest.mark.unit
def test_a_folder_is_every_file_under_it_in_order_but_hidden_ones(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for name in ["b.log", "a.log", "sub/c.log", "sub/deeper/d.log.gz", ".hidden", "sub/.swp"]:
        write(logs / name, b"x\n")
    found = LocalInputSource().list_inputs([str(logs)])
    names = [Path(obj.uri).relative_to(logs.resolve()).as_posix() for obj in found]
    assert names == ["a.log", "b.log", "sub/c.log", "sub/deeper/d.log.gz"]
    assert all(Path(obj.uri).is_absolute() for obj in found)


@pytest.mark.unit
def test_inputs_are_listed_in_the_order_given(tmp_path: Path) -> None:
    first, second = write(tmp_path / "z.log", b"z\n"), write(tmp_path / "d" / "a.log", b"a\n")
    found = LocalInputSource().list_inputs([str(first), str(second.parent)])
    assert [obj.uri for obj in found] == [str(first.resolve()), str(second.resolve())]


@pytest.mark.unit
def test_a_missing_path_or_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file or folder"):
        LocalInputSource().list_inputs([str(tmp_path / "nope.log")])
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty" / ".only-hidden", b"x")
    with pytest.raises(EmptyInputError, match="no files under"):
        LocalInputSource().list_inputs([str(tmp_path / "empty")])


# -- compression -----------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_compression_is_told_by_the_magic_bytes_not_the_name(tmp_path: Path, kind: str) -> None:
    data = b"a line\n" * 100
    packed = COMPRESS[kind](data)
    source = LocalInputSource()
    for name in ("log.bin", "log.txt", "log.gz"):  # every name, even a wrong one
        (found,) = source.list_inputs([str(write(tmp_path / kind / name, packed))])
        assert (found.compression, found.size) == (kind, len(packed))
        assert read_head(source, found, 10**6) == data


@pytest.mark.unit
@pytest.mark.parametrize("name", ["plain.log", "plain.log.gz", "plain.bz2", "plain.zst"])
def test_plain_text_is_plain_whatever_its_name(tmp_path: Path, name: str) -> None:
    (found,) = LocalInputSource().list_inputs([str(write(tmp_path / name, b"GET /\n"))])
    assert found.compression is None


@pytest.mark.unit
def test_compression_of_looks_at_the_first_bytes_only() -> None:
    assert compression_of(b"\x1f\x8b\x08\x00") == "gzip"
    assert compression_of(b"BZh9") == "bzip2"
    assert compression_of(b"\x28\xb5\x2f\xfd") == "zstd"
    assert compression_of(b"\xfd7zXZ\x00\x00") == "xz"
    assert compression_of(b"\x1f") is None  # too short to tell: plain
    assert compression_of(b"x\x1f\x8b") is None
    assert compression_of(b"") is None


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_a_truncated_compressed_stream_is_a_corrupt_input(tmp_path: Path, kind: str) -> None:
    data = b"".join(b"line %06d\n" % n for n in range(20_000))
    packed = COMPRESS[kind](data)
    path = write(tmp_path / "cut", packed[: len(packed) // 2])
    stream = decompressing(path.open("rb"), kind, str(path))
    with stream, pytest.raises(CorruptInputError, match="cannot decompress"):
        while stream.read(4096):
            pass


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_bytes_that_are_no_frame_after_a_whole_one_are_a_corrupt_input(
    tmp_path: Path, kind: str
) -> None:
    """Not a quiet stop at the first frame's end, not a library's own error type."""
    path = write(tmp_path / "tail", COMPRESS[kind](b"one line\n") + b"not compressed at all\n")
    stream = decompressing(path.open("rb"), kind, str(path))
    with stream, pytest.raises(CorruptInputError, match="cannot decompress"):
        stream.read()


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_a_whole_compressed_stream_reads_back_whole(tmp_path: Path, kind: str) -> None:
    data = b"".join(b"line %06d\n" % n for n in range(20_000))
    path = write(tmp_path / "whole", COMPRESS[kind](data) + COMPRESS[kind](b"second frame\n"))
    with decompressing(path.open("rb"), kind, str(path)) as stream:
        assert stream.read() == data + b"second frame\n"  # concatenated members too


@pytest.mark.unit
def test_xz_streams_may_be_padded_with_nuls(tmp_path: Path) -> None:
    """The xz format allows NUL padding between and after streams (xz -d reads it)."""
    packed = lzma.compress(b"one\n") + b"\x00" * 8 + lzma.compress(b"two\n") + b"\x00" * 4
    with decompressing(write(tmp_path / "p.xz", packed).open("rb"), "xz", "p.xz") as stream:
        assert stream.read() == b"one\ntwo\n"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"\x04\x22\x4d\x18\x64\x40", "an lz4 frame"),
        (b"PK\x03\x04\x14\x00", "a zip archive"),
        (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
        (b"\x1f\x9d\x90", "compress(1) data"),
        (b"LZIP\x01", "lzip data"),
        ("a log\n".encode("utf-16"), "UTF-16 text"),
        ("a log\n".encode("utf-16-be").join([b"\xfe\xff", b""]), "UTF-16 text"),
        ("a log\n".encode("utf-32"), "UTF-32 text"),
    ],
)
def test_what_logmr_does_not_read_is_refused_by_name(
    tmp_path: Path, head: bytes, named: str
) -> None:
    """Never read as text (garbage lines, single letters): refused at listing."""
    path = write(tmp_path / "input.log", head + b"\x00" * 64)
    with pytest.raises(UnsupportedInputError, match=re.escape(f"input.log is {named}")):
        LocalInputSource().list_inputs([str(path)])


# -- opening and reading --------------------------------------------------------------------------
@pytest.mark.unit
def test_open_at_starts_at_the_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", b"0123456789\n")
    with LocalInputSource().open_at(str(path), 4) as stream:
        assert stream.read() == b"456789\n"


@pytest.mark.unit
def test_open_at_of_a_vanished_input_is_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="input vanished before it was read"):
        LocalInputSource().open_at(str(tmp_path / "gone.log"), 0)


@pytest.mark.unit
def test_read_head_reads_at_most_size_bytes(tmp_path: Path) -> None:
    data = b"".join(b"line %05d\n" % n for n in range(10_000))
    source = LocalInputSource()
    (plain,) = source.list_inputs([str(write(tmp_path / "a.log", data))])
    (packed,) = source.list_inputs([str(write(tmp_path / "b.gz", gzip.compress(data)))])
    for obj in (plain, packed):
        assert read_head(source, obj, 1000) == data[:1000]
        assert read_head(source, obj, 10**7) == data  # shorter than asked: all of it


# -- the spread sample --------------------------------------------------------------------------
def _numbered(count: int, first: int = 0) -> bytes:
    return b"".join(b"line %07d of a log in time order\n" % n for n in range(first, first + count))


@pytest.mark.unit
def test_a_spread_sample_is_whole_lines_from_every_part_of_the_inputs(tmp_path: Path) -> None:
    """Two files end to end, 8 pieces of 4 KiB: the first from the head already
    read, the 7 others read where they fall, each starting at a line start."""
    files = [tmp_path / "a.log", tmp_path / "b.log"]
    files[0].write_bytes(_numbered(60_000))
    files[1].write_bytes(_numbered(40_000, first=60_000))
    source = LocalInputSource()
    objects = source.list_inputs([str(path) for path in files])
    head = files[0].read_bytes()[:100_000]
    text, reads = read_spread(source, objects, head, 32 * 1024, 8)
    assert reads == 7
    lines = text.splitlines()
    assert all(re.fullmatch(rb"line \d{7} of a log in time order", line) for line in lines)
    numbers = [int(line[5:12]) for line in lines]
    assert len(numbers) == len(set(numbers))  # no piece overlaps another
    eighths = {n * 8 // 100_000 for n in numbers}
    assert eighths == set(range(8))  # every eighth of the 100,000 lines is sampled
    assert 32 * 1024 - 16 * len(_numbered(1)) <= len(text) <= 32 * 1024


@pytest.mark.unit
def test_a_compressed_input_is_sampled_from_its_start_once(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    plain.write_bytes(_numbered(1000))
    packed.write_bytes(gzip.compress(_numbered(300_000, first=1000)))
    source = LocalInputSource()
    objects = source.list_inputs([str(plain), str(packed)])
    text, reads = read_spread(source, objects, plain.read_bytes(), 64 * 1024, 8)
    numbers = [int(line[5:12]) for line in text.splitlines()]
    assert reads == 1  # every piece past the plain file falls in the gzip: its start, once
    assert len(numbers) == len(set(numbers))
    assert 1000 in numbers  # the gzip's first line
    assert max(numbers) < 1000 + 8 * 1024 // len(_numbered(1))  # one piece of the gzip


@pytest.mark.unit
def test_assumed_objects_of_a_compressed_input_are_sampled_once(tmp_path: Path) -> None:
    """``logmr plan --assume-bytes``: the synthetic objects read as the real
    one; compressed, each would give the same start, which counts once."""
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(_numbered(50_000)))
    source = AssumedInputs(LocalInputSource(), 10 * GB, GB)
    objects = source.list_inputs([str(packed)])
    head = gzip.decompress(packed.read_bytes())[:100_000]
    text, reads = read_spread(source, objects, head, 64 * 1024, 8)
    numbers = [int(line[5:12]) for line in text.splitlines()]
    assert reads == 7
    assert numbers == list(range(len(numbers)))  # the start, once


@pytest.mark.property
@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 300), min_size=1, max_size=4),
    size=st.integers(64, 8000),
    slices=st.integers(1, 10),
)
def test_a_spread_sample_stays_in_its_bounds(
    tmp_path_factory: pytest.TempPathFactory, counts: list[int], size: int, slices: int
) -> None:
    """Whatever the files, for inputs larger than the sample (the planner reads
    a spread sample only then): whole numbered lines of the inputs, each at
    most once, within ``size`` bytes, in at most ``slices - 1`` reads."""
    assume(sum(counts) * len(_numbered(1)) > size)
    folder = tmp_path_factory.mktemp("spread")
    first = 0
    paths = []
    for i, count in enumerate(counts):
        paths.append(write(folder / f"{i}.log", _numbered(count, first)))
        first += count
    source = LocalInputSource()
    objects = source.list_inputs([str(path) for path in paths])
    start = next(obj for obj in objects if obj.size)
    head = Path(start.uri).read_bytes()[:size]
    text, reads = read_spread(source, objects, head, size, slices)
    assert len(text) <= size
    assert reads <= slices - 1
    assert text == b"" or text.endswith(b"\n")
    lines = text.splitlines()
    assert all(re.fullmatch(rb"line \d{7} of a log in time order", line) for line in lines)
    assert len(set(lines)) == len(lines)


@pytest.mark.unit
def test_a_folder_with_an_unreadable_sub_folder_is_refused_not_half_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sub-folder that cannot be listed (as ``chmod 000`` makes it for a
    user other than root; the denial is emulated here, tests run as root)."""
    import os

    write(tmp_path / "logs" / "a.log", b"x\n")
    write(tmp_path / "logs" / "locked" / "b.log", b"y\n")
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputUnreadableError, match=r"locked cannot be read \(Permission denied\)"):
        LocalInputSource().list_inputs([str(tmp_path / "logs")])


@pytest.mark.unit
def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "secret.log", b"x\n")
    real = Path.open

    def opened(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "secret.log":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opened)
    with pytest.raises(InputUnreadableError, match=r"secret.log cannot be read"):
        LocalInputSource().list_inputs([str(path)])


# -- the size decompressed ---------------------------------------------------------------
class CountingReads(LocalInputSource):
    """Local inputs, counting the reads ``decompressed_size`` makes."""

    def __init__(self) -> None:
        self.reads: list[tuple[int, int | None]] = []

    def open_at(self, uri: str, offset: int, length: int | None = None, version: str = "") -> Any:
        self.reads.append((offset, length))
        return super().open_at(uri, offset, length, version)


def told(path: Path) -> tuple[DecompressedSize, list[tuple[int, int | None]]]:
    source = CountingReads()
    (obj,) = source.list_inputs([str(path)])
    source.reads.clear()
    return source.decompressed_size(obj), source.reads


@pytest.mark.unit
def test_each_format_tells_its_size_decompressed_in_one_small_read(tmp_path: Path) -> None:
    """gzip's trailer, zstd's frame header and xz's index tell the size of a
    file of one member (frame, stream), from one read of a few bytes at most;
    bzip2 tells nothing."""
    data = _numbered(20_000)
    size = len(data)
    for kind, want in [
        ("gzip", DecompressedSize(size, True, "gzip trailer")),
        ("zstd", DecompressedSize(size, True, "zstd frame header")),
        ("xz", DecompressedSize(size, True, "xz index")),
        ("bzip2", DecompressedSize(None, False, "bzip2 does not tell")),
    ]:
        path = write(tmp_path / f"log.{kind}", COMPRESS[kind](data))
        found, reads = told(path)
        assert found == want, kind
        assert len(reads) <= 1 and all(
            length is not None and length <= 64 * 1024 for _, length in reads
        )
    assert told(tmp_path / "log.gzip")[1] == [(path_size(tmp_path / "log.gzip") - 4, 4)]


def path_size(path: Path) -> int:
    return path.stat().st_size


@pytest.mark.unit
def test_what_the_formats_cannot_tell_is_unknown_or_a_lower_bound(tmp_path: Path) -> None:
    data = _numbered(20_000)
    # several gzip members: the trailer is the last member's, a lower bound
    joined = write(tmp_path / "joined.gz", gzip.compress(data) + gzip.compress(b"last\n"))
    assert told(joined)[0] == DecompressedSize(5, False, "gzip trailer: the last member's")
    # several zstd frames (pzstd): the first frame's, a lower bound
    frames = zstandard.ZstdCompressor().compress(b"first\n") + COMPRESS["zstd"](data)
    several = write(tmp_path / "frames.zst", frames)
    assert told(several)[0] == DecompressedSize(6, False, "zstd frame header: the first frame's")
    # a zstd frame written as a stream (from a pipe) has no size
    writer = zstandard.ZstdCompressor().compressobj()
    stream = write(tmp_path / "s.zst", writer.compress(data) + writer.flush())
    assert told(stream)[0] == DecompressedSize(None, False, "the zstd frame header has no size")
    # several xz streams: the last one's index, a lower bound
    two = write(tmp_path / "two.xz", lzma.compress(b"first\n") + lzma.compress(data))
    assert told(two)[0] == DecompressedSize(len(data), False, "xz index of the last stream")
    padded = write(tmp_path / "pad.xz", lzma.compress(data) + bytes(8))
    assert told(padded)[0] == DecompressedSize(len(data), True, "xz index")
    # incompressible bytes: one member, its trailer is its size
    noise = random.Random(3).randbytes(100_000)
    assert told(write(tmp_path / "noise.gz", gzip.compress(noise)))[0].exact


@pytest.mark.unit
def test_a_gzip_that_may_pass_4_gib_is_a_lower_bound(tmp_path: Path) -> None:
    """ISIZE is the size mod 2**32: a member large enough to hold 4 GiB
    (``DEFLATE_MAX_RATIO``) tells a lower bound."""
    small = gzip.compress(bytes(10_000_000), 9)
    assert len(small) * DEFLATE_MAX_RATIO < 2**32
    assert told(write(tmp_path / "small.gz", small))[0] == DecompressedSize(
        10_000_000, True, "gzip trailer"
    )
    # a member of zeros with a trailer of 2**32 - 1: past the bound, it might wrap
    fake = b"\x1f\x8b" + bytes(2**32 // DEFLATE_MAX_RATIO) + (2**32 - 1).to_bytes(4, "little")
    big = write(tmp_path / "big.gz", fake)
    assert told(big)[0] == DecompressedSize(2**32 - 1, False, "gzip trailer, mod 2**32")


@pytest.mark.unit
@pytest.mark.skipif(shutil.which("xz") is None, reason="no xz tool to write blocks with")
def test_an_xz_of_many_blocks_tells_its_size_from_its_index(tmp_path: Path) -> None:
    """``xz -T2`` writes a block per MiB here: the index sums them."""
    data = _numbered(200_000)
    plain = write(tmp_path / "many.log", data)
    subprocess.run(["xz", "-T2", "--block-size=1MiB", "-k", str(plain)], check=True)
    assert told(tmp_path / "many.log.xz")[0] == DecompressedSize(len(data), True, "xz index")


@pytest.mark.unit
def test_assumed_inputs_scale_the_first_objects_size(tmp_path: Path) -> None:
    """A synthetic object of ``--assume-size`` decompresses as the real one
    it reads as: its ratio, a lower bound no more."""
    packed = write(tmp_path / "a.log.gz", gzip.compress(_numbered(50_000)))
    source = AssumedInputs(LocalInputSource(), 10 * GB, GB)
    objects = source.list_inputs([str(packed)])
    want = len(_numbered(50_000)) * GB // packed.stat().st_size
    assert [source.decompressed_size(obj).size for obj in objects] == [want] * 10
    assert not any(source.decompressed_size(obj).exact for obj in objects)
