"""The bad input corpus: each kind of bad input with its expected outcome.

An outcome is either a one-line error before any work starts (``logmr: error:
Name: message`` on stderr, exit 1, no traceback), or the job SUCCEEDS with its
malformed lines counted and sampled. Every count is checked against a
reference computed here from the bytes (``data.split(b"\\n")`` arithmetic),
never against logmr itself. docs/bad-input.md is the table of this file.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import random
import re
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from aws_support import create_account
from conftest import AWS_BUCKET, REPO
from logmr import tasks
from logmr.aws.backends import aws_backends
from logmr.aws.s3 import S3InputSource
from logmr.cli import main
from logmr.cli.exits import EXIT_SUSPECT
from logmr.config import MAX_SAMPLES, SAMPLE_LINE_BYTES, Settings
from logmr.devtools.generate import generate
from logmr.errors import InputChangedError, InputNotFoundError, InvalidParameterError
from logmr.inputs.lines import MAX_LINE_BYTES, iter_range_texts
from logmr.inputs.source import InputObject, LocalInputSource
from logmr.jobs import Job, load_job
from logmr.jobs.binding import prepare
from logmr.jobs.params import UserRegex
from logmr.layout import manifest_key
from logmr.limits import MAX_MAP_TASKS
from logmr.mapreduce.side import MapSide
from logmr.plan.cutting import cut
from logmr.run import inline as runner
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask
from logmr.storage.backends import Backends

#: the topic; each test carries its tier (functional: the CLI or the tasks; unit: the regex rules)
pytestmark = pytest.mark.badinput

WORD = re.compile(rb"[a-z0-9_]+")


# -- references, computed from the bytes ---------------------------------------------
def ref_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` as the README defines them: LF-terminated, a final
    segment without LF counts when not empty, one trailing CR removed."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return [part[:-1] if part.endswith(b"\r") else part for part in parts]


def ref_words(data: bytes) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in ref_lines(data):
        counts.update(word.decode() for word in WORD.findall(line.lower()))
    return dict(counts)


def access_lines(count: int, seed: int) -> bytes:
    from io import BytesIO

    out = BytesIO()
    generate(out, fmt="apache_combined", lines=count, seed=seed)
    return out.getvalue()


def ref_status(data: bytes) -> tuple[dict[str, int], int]:
    """Status counts of an Apache combined log by hand (as tests/test_cli.py)."""
    counts: Counter[str] = Counter()
    malformed = 0
    for line in ref_lines(data):
        parts = line.split(b'"')
        fields = parts[2].split() if len(parts) >= 7 else []
        if len(parts) != 7 or len(fields) != 2 or not fields[0].isdigit():
            malformed += 1
            continue
        counts[fields[0].decode()] += 1
    return dict(counts), malformed


# -- running ------------------------------------------------------------------------
def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *argv, "--workers", "1", "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out)


def run_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``logmr run`` expecting a failure: exit 1 and exactly one line on stderr."""
    code = main(["run", *argv])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("logmr: error: "), captured.err
    assert "Traceback" not in captured.err
    return captured.err


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- empty inputs ---------------------------------------------------------------------
@pytest.mark.functional
def test_empty_file_is_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "empty.log", b"")
    err = run_error(capsys, str(path), "--job", "word_count")
    assert err.startswith("logmr: error: EmptyInputError: the inputs hold no bytes")


@pytest.mark.functional
def test_empty_folder_is_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    err = run_error(capsys, str(tmp_path / "logs"), "--job", "word_count")
    assert err.startswith("logmr: error: EmptyInputError: no files under")


@pytest.mark.functional
@mock_aws
def test_empty_s3_prefix_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    s3 = create_account()
    s3.put_object(Bucket=AWS_BUCKET, Key="incoming/other/a.log", Body=b"x\n")
    with pytest.raises(InputNotFoundError, match="no objects under"):
        S3InputSource().list_inputs([f"s3://{AWS_BUCKET}/incoming/empty/"])
    err = run_error(
        capsys,
        f"s3://{AWS_BUCKET}/incoming/empty/",
        "--job",
        "word_count",
        "--engine",
        "inline",
        "--workers",
        "1",
    )
    assert err.startswith("logmr: error: InputNotFoundError: no objects under s3://")


# -- line endings -------------------------------------------------------------------
@pytest.mark.functional
def test_only_newlines_are_empty_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = b"\n" * 1000 + b"\r\n" * 10
    path = write(tmp_path, "newlines.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--format", "apache_combined")
    # every line malformed: the job is recorded, and the exit status doubts it
    assert code == EXIT_SUSPECT and out["status"] == "SUCCEEDED"
    assert out["doubt"]["reason"] == "malformed"
    assert out["counters"]["lines"] == len(ref_lines(data)) == 1010
    assert out["counters"]["malformed"] == 1010
    assert out["results"] == {}
    code, out = run_json(capsys, str(path), "--job", "word_count")
    assert out["counters"]["lines"] == out["counters"]["records"] == 1010
    assert out["results"] == {}


@pytest.mark.functional
def test_no_final_newline_counts_the_last_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = access_lines(500, seed=1).rstrip(b"\n")
    assert not data.endswith(b"\n")
    path = write(tmp_path, "nofinal.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--chunk-size", "64KiB")
    counts, malformed = ref_status(data)
    assert code == 0 and out["counters"]["lines"] == len(ref_lines(data)) == 500
    assert out["results"] == counts and out["counters"]["malformed"] == malformed


@pytest.mark.functional
@pytest.mark.parametrize("every", [1, 3], ids=["crlf", "mixed-lf-crlf"])
def test_crlf_gives_the_lf_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, every: int
) -> None:
    lf = access_lines(800, seed=2)
    lines = lf.split(b"\n")[:-1]
    data = b"".join(line + (b"\r\n" if i % every == 0 else b"\n") for i, line in enumerate(lines))
    assert data.count(b"\r\n") == len(range(0, 800, every))
    path = write(tmp_path, "crlf.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--chunk-size", "64KiB")
    counts, malformed = ref_status(lf)
    assert code == 0 and out["format"] == "apache_combined"
    assert out["results"] == counts and out["counters"]["malformed"] == malformed
    assert out["counters"]["lines"] == 800
    code, paths = run_json(capsys, str(path), "--job", "top_paths", "--chunk-size", "64KiB")
    assert not any(key.endswith("\r") for key in paths["results"])


# -- huge lines, NUL, invalid UTF-8, binary garbage ------------------------------------
def long_line_sample(record: Any, line: bytes) -> dict[str, Any]:
    """The one malformed sample of ``record``, checked to be ``line``'s: its
    first ``SAMPLE_LINE_BYTES`` and its whole length."""
    (sample,) = record.malformed_samples
    assert sample["line"] == line[:SAMPLE_LINE_BYTES].decode("utf-8", "backslashreplace")
    assert sample["length"] == len(line)
    return dict(sample)


@pytest.mark.functional
@pytest.mark.parametrize("final_lf", [True, False], ids=["then-lines", "last-without-lf"])
def test_a_10mb_line_is_one_malformed_long_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, final_lf: bool
) -> None:
    """A line over MAX_LINE_BYTES (8 MiB) is never held whole: it counts as one
    line, malformed (``long_lines`` says why) in every kind of job, read by
    the one 1 MB range it starts in (it crosses ten), and sampled from its
    first bytes with its length. The other lines are counted as before."""
    head = access_lines(3, seed=3)
    huge = b"GET /" + b"ab " * (10 * 1024 * 1024 // 3)
    assert len(huge) > MAX_LINE_BYTES
    tail = access_lines(4, seed=13) if final_lf else b""
    data = head + huge + (b"\n" + tail if final_lf else b"")
    short = head + tail  # the log without its long line: the answers' reference
    lines = len(ref_lines(data))
    assert lines == len(ref_lines(short)) + 1 == (8 if final_lf else 4)
    path = write(tmp_path, "huge.log", data)
    code, out = run_json(capsys, str(path), "--job", "word_count", "--chunk-size", "1MB")
    assert code == 0 and out["status"] == "SUCCEEDED"
    counters = out["counters"]
    assert (counters["lines"], counters["records"]) == (lines, lines - 1)
    assert (counters["malformed"], counters["long_lines"]) == (1, 1)
    assert out["results"] == ref_words(short) and "ab" not in out["results"]
    long_line_sample(tasks_record(out["job_id"]), huge)
    code, out = run_json(
        capsys, str(path), "--job", "pattern_count", "--param", "pattern=GET /[a-z]+",
        "--chunk-size", "1MB",
    )  # fmt: skip
    assert out["counters"]["lines"] == lines and out["counters"]["long_lines"] == 1
    assert out["results"] == dict(
        Counter(m.decode() for line in ref_lines(short) for m in re.findall(rb"GET /[a-z]+", line))
    )
    code, out = run_json(
        capsys, str(path), "--job", "status_codes", "--format", "apache_combined", "--chunk-size",
        "1MB",
    )  # fmt: skip
    counts, malformed = ref_status(short)
    assert code == 0 and out["results"] == counts
    assert out["counters"]["lines"] == lines
    assert (out["counters"]["malformed"], out["counters"]["long_lines"]) == (malformed + 1, 1)
    long_line_sample(tasks_record(out["job_id"]), huge)


@pytest.mark.functional
def test_a_line_of_max_line_bytes_is_read_one_more_is_long(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The bound is exact: a line of MAX_LINE_BYTES (its CR not counted) is a
    line and its words count; one byte more and it is long."""
    at_bound = b"first" + b" " * (MAX_LINE_BYTES - 10) + b"last"
    over = b"over" + b" " * (MAX_LINE_BYTES - 3)
    assert (len(at_bound), len(over)) == (MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 1)
    data = b"one\n" + at_bound + b"x\r\n" + over + b"\ntwo\n"
    path = write(tmp_path, "bound.log", data)
    code, out = run_json(capsys, str(path), "--job", "word_count", "--chunk-size", "3MB")
    assert code == 0 and out["results"] == {"one": 1, "first": 1, "lastx": 1, "two": 1}
    assert out["counters"]["lines"] == 4 and out["counters"]["long_lines"] == 1
    assert long_line_sample(tasks_record(out["job_id"]), over)["length"] == MAX_LINE_BYTES + 1


@pytest.mark.functional
def test_a_long_line_in_an_app_log_is_long_not_a_continuation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A continuation format (applog) counts a long line as every job does:
    one malformed line, ``long_lines``, never asked whether it continues a
    record (the stack trace lines around it are continuation lines)."""
    records = [b"2024-01-02 03:04:05 INFO started", b"2024-01-02 03:04:06 ERROR failed"]
    trace = [b"java.lang.IllegalStateException: x", b"\tat com.example.A.b(A.java:1)"]
    huge = b"\tat com.example." + b"C" * (MAX_LINE_BYTES + 100) + b"(C.java:1)"
    data = b"\n".join([*records, *trace, huge, b"2024-01-02 03:04:07 INFO done"]) + b"\n"
    path = write(tmp_path, "app.log", data)
    code, out = run_json(
        capsys, str(path), "--job", "level_counts", "--format", "applog", "--chunk-size", "2MB"
    )
    assert code == 0 and out["results"] == {"INFO": 2, "ERROR": 1}
    assert out["counters"]["lines"] == 6 and out["counters"]["records"] == 3
    assert out["counters"]["malformed"] == 3 and out["counters"]["long_lines"] == 1
    assert out["counters"]["continuation_lines"] == 2
    samples = tasks_record(out["job_id"]).malformed_samples
    assert [sample["length"] for sample in samples] == [*map(len, trace), len(huge)]


@pytest.mark.functional
def test_lines_of_1mb_are_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Lines far longer than a log's but under the bound are read and counted
    as any (20 of 1 MB in 3 MB ranges, each crossing a range)."""
    data = b"".join(b"w%d " % n + b" " * (1_000_000 - 12) + b"end%d\n" % (n % 3) for n in range(20))
    path = write(tmp_path, "wide.log", data)
    code, out = run_json(capsys, str(path), "--job", "word_count", "--chunk-size", "3MB")
    assert code == 0 and out["results"] == ref_words(data)
    assert out["counters"]["lines"] == out["counters"]["records"] == 20
    assert out["counters"]["malformed"] == 0 and "long_lines" not in out["counters"]


#: lines to build logs of: access lines (about 200 bytes), a line no format
#: parses, an empty line, and lines of 100 and 700 bytes of words
PROPERTY_LINES = [
    *ref_lines(access_lines(6, seed=15)),
    b"not an access line",
    b"",
    b"ab " * 33 + b"c",
    b"GET /" + b"xy " * 233,
]


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(PROPERTY_LINES) - 1), st.sampled_from([b"\n", b"\r\n"])),
        max_size=25,
    ),
    last_lf=st.booleans(),
    chunk=st.integers(1, 2000),
    block=st.integers(1, 600),
    max_line=st.integers(0, 800),
)
def test_ranges_anywhere_count_every_line_once_long_lines_as_malformed(
    picks: list[tuple[int, bytes]], last_lf: bool, chunk: int, block: int, max_line: int
) -> None:
    """A log cut into ranges anywhere (inside a long line too), read in blocks
    of any size with any longest line, mapped by a raw-line job and a parsed
    one: every line counted once; each line over the bound once, as
    malformed and long, sampled with its length; the answer that of the
    other lines."""
    data = b"".join(PROPERTY_LINES[index] + end for index, end in picks)
    if not last_lf:
        data = data.removesuffix(b"\n")
    lines = ref_lines(data)
    short = [line for line in lines if len(line) <= max_line]
    long = sorted(len(line) for line in lines if len(line) > max_line)
    short_log = b"".join(line + b"\n" for line in short)
    for job_name, fmt in (("word_count", "plain"), ("status_codes", "apache_combined")):
        spec = JobSpec.from_dict({"job_id": "p", "job": job_name, "inputs": ["m"], "format": fmt})
        counters: Counter[str] = Counter()
        results: Counter[str] = Counter()
        lengths = []
        for (piece,) in (task.pieces for task in cut([InputObject("m", len(data))], chunk)):
            job, bound = prepare(spec)
            side = MapSide(job, bound, sample_limit=len(lines) + 1)
            stream = io.BytesIO(data)
            stream.seek(max(piece.start - 1, 0))
            texts = iter_range_texts(
                stream,
                piece.start,
                piece.end,
                on_long_line=side.long_line,
                block_size=block,
                max_line=max_line,
            )
            for text in texts:
                side.feed_text(text)
            counters.update(side.counters())
            results.update(dict(side.combined()))
            lengths += [sample["length"] for sample in side.samples]
        assert counters["lines"] == len(lines)
        assert counters["long_lines"] == len(long)
        if job_name == "word_count":
            assert counters["records"] == len(short) and counters["malformed"] == len(long)
            assert dict(results) == ref_words(short_log)
            assert sorted(lengths) == long
        else:
            counts, malformed = ref_status(short_log)
            assert counters["malformed"] == malformed + len(long)
            assert counters["records"] == len(short) - malformed
            assert dict(results) == counts
            assert set(long) <= set(lengths) and len(lengths) == malformed + len(long)


# -- decompression bombs --------------------------------------------------------------
@pytest.mark.functional
def test_a_gzip_bomb_is_one_long_line_and_plan_says_what_it_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """64 MiB of zeros in 64 KB of gzip: decompressed in blocks, one line with
    no LF and over the bound: counted, malformed and long, sampled from its
    first bytes, never held. ``logmr plan`` tells the size decompressed from
    the gzip trailer."""
    zeros = bytes(64 * 1024 * 1024)
    packed = gzip.compress(zeros, 9)
    assert len(packed) < 100_000
    path = write(tmp_path, "bomb.log.gz", packed)
    code, out = run_json(capsys, str(path), "--job", "word_count")
    # recorded SUCCEEDED, and doubted: its one line is malformed
    assert code == EXIT_SUSPECT and out["status"] == "SUCCEEDED" and out["results"] == {}
    assert out["counters"] == {"lines": 1, "records": 0, "malformed": 1, "long_lines": 1}
    assert long_line_sample(tasks_record(out["job_id"]), zeros)["line"] == "\x00" * 1024
    assert main(["plan", str(path), "--job", "word_count", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["input_bytes"], report["mapped_bytes"]) == (len(packed), len(zeros))
    assert report["decompressed"]["largest"] == {
        "uri": str(path.resolve()),
        "compressed_bytes": len(packed),
        "bytes": len(zeros),
        "exact": True,
        "how": "gzip trailer",
    }
    assert report["warnings"] == []  # 67 MB: a second of a map task on Lambda


def tasks_record(job_id: str) -> Any:
    return embedded_backends(Settings.load()).results.get_job(job_id)


@pytest.mark.functional
def test_nul_bytes_are_malformed_not_fatal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = access_lines(300, seed=4)
    lines = good.split(b"\n")[:-1]
    lines[10] = b"\x00" * 50
    lines[20] = lines[20][:5] + b"\x00" + lines[20][5:]  # inside the client field
    data = b"\n".join(lines) + b"\n\x00\x00\n"
    path = write(tmp_path, "nul.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes")
    counts, malformed = ref_status(data)
    assert code == 0 and out["format"] == "apache_combined"
    assert out["counters"]["lines"] == 301
    assert out["results"] == counts and out["counters"]["malformed"] == malformed
    assert malformed >= 2  # the all-NUL lines at least
    code, words = run_json(capsys, str(path), "--job", "word_count")
    assert words["results"] == ref_words(data)


@pytest.mark.functional
def test_invalid_utf8_is_kept_as_escapes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = access_lines(200, seed=5).split(b"\n")[:-1]
    good[0] = good[0].replace(b"GET /", b"GET /caf\xe9\xff", 1)  # a path of bad UTF-8
    good[1] = b"\xc3\x28 not a log line \xa0\xa1"
    data = b"\n".join(good) + b"\n"
    path = write(tmp_path, "latin1.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--format", "apache_combined")
    counts, malformed = ref_status(data)
    assert code == 0 and out["results"] == counts and out["counters"]["malformed"] == malformed
    record = tasks_record(out["job_id"])
    assert record.malformed_samples[0]["line"] == "\\xc3( not a log line \\xa0\\xa1"
    code, paths = run_json(capsys, str(path), "--job", "top_paths", "--format", "apache_combined")
    assert any(key.startswith("/caf\\xe9\\xff") for key in paths["results"])


@pytest.mark.functional
def test_a_lone_surrogate_in_json_is_kept_as_its_escape(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One JSON line whose level is a lone surrogate (valid JSON, not text any
    encoder writes) is a record whose value is shown as its escape, as
    invalid UTF-8 is shown as \\xNN; a surrogate pair is one character."""
    lines = [
        b'{"level": "info", "message": "ok"}',
        b'{"level": "\\ud800", "message": "lone \\uDC00"}',
        b'{"level": "\\ud83d\\ude00", "message": "a pair"}',
        b'{"level": "warn", "message": "x"}',
    ]
    path = write(tmp_path, "surrogate.jsonl", b"\n".join(lines) + b"\n")
    code, out = run_json(capsys, str(path), "--job", "level_counts", "--format", "jsonl")
    assert code == 0, out
    assert out["results"] == {"info": 1, "\\ud800": 1, "\U0001f600": 1, "warn": 1}
    assert out["counters"]["malformed"] == 0
    code, words = run_json(capsys, str(path), "--job", "word_count", "--format", "jsonl")
    assert code == 0 and words["counters"]["records"] == len(lines)


@pytest.mark.functional
@pytest.mark.parametrize("job", ["bytes_total", "percentiles", "access_report", "top_paths"])
def test_a_size_of_400_digits_is_no_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, job: str
) -> None:
    """A response size past 2**63-1 is no size a server sent: the record
    counts, its size as ``no_bytes`` (as ``-`` would not), never an
    OverflowError; 2**63-1 itself is a size."""
    line = '10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET /{} HTTP/1.1" 200 {} "-" "ua"\n'
    sizes = ["9" * 400, str(2**63), str(2**63 - 1), "5"]
    data = "".join(line.format(n, size) for n, size in enumerate(sizes)).encode()
    path = write(tmp_path, "huge.log", data)
    code, out = run_json(capsys, str(path), "--job", job, "--format", "apache_combined")
    assert code == 0, out
    assert out["counters"]["records"] == 4 and out["counters"]["malformed"] == 0
    assert out["counters"]["no_bytes"] == 2
    if job == "bytes_total":
        assert out["summary"]["bytes"] == 2**63 - 1 + 5
    if job == "top_paths":
        assert out["results"]["/2"] == {"count": 1, "bytes": 2**63 - 1}


@pytest.mark.functional
def test_binary_garbage_is_counted_as_malformed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = random.Random(1234).randbytes(2 * 1024 * 1024)
    path = write(tmp_path, "garbage.bin", data)
    code, out = run_json(
        capsys, str(path), "--job", "status_codes", "--format", "apache_combined",
        "--chunk-size", "256KB",
    )  # fmt: skip
    lines = len(ref_lines(data))
    assert code == EXIT_SUSPECT and out["status"] == "SUCCEEDED"
    assert out["counters"]["lines"] == out["counters"]["malformed"] == lines
    assert out["results"] == {}
    record = tasks_record(out["job_id"])
    assert 0 < len(record.malformed_samples) <= MAX_SAMPLES
    code, words = run_json(capsys, str(path), "--job", "word_count", "--chunk-size", "256KB")
    assert words["counters"]["lines"] == lines and words["results"] == ref_words(data)


# -- compression ----------------------------------------------------------------------
@pytest.mark.functional
def test_truncated_gzip_is_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    packed = gzip.compress(access_lines(2000, seed=6))
    path = write(tmp_path, "cut.log.gz", packed[: len(packed) // 2])
    err = run_error(capsys, str(path), "--job", "status_codes", "--workers", "1")
    assert err.startswith("logmr: error: CorruptInputError: ")
    assert "cannot decompress" in err


@pytest.mark.functional
def test_gzip_member_then_garbage_is_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # counting the member and dropping the tail would be a silently wrong count
    packed = gzip.compress(access_lines(500, seed=7)) + b"this is not gzip\n" * 10
    path = write(tmp_path, "tail.log.gz", packed)
    err = run_error(
        capsys, str(path), "--job", "status_codes", "--format", "apache_combined", "--workers", "1"
    )
    assert err.startswith("logmr: error: CorruptInputError: ")


@pytest.mark.functional
def test_gz_name_on_plain_text_is_read_as_plain(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = access_lines(400, seed=8)
    path = write(tmp_path, "plain.log.gz", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--chunk-size", "64KiB")
    counts, malformed = ref_status(data)
    assert code == 0 and out["results"] == counts and out["counters"]["malformed"] == malformed


# -- formats --------------------------------------------------------------------------
def syslog_lines(count: int) -> list[bytes]:
    return [
        b"Nov 21 10:%02d:%02d web%d sshd[%d]: Accepted publickey for user%d"
        % (i // 60 % 60, i % 60, i % 3, 1000 + i, i)
        for i in range(count)
    ]


@pytest.mark.functional
@pytest.mark.parametrize(("n_access", "n_syslog"), [(700, 300), (300, 700)])
def test_mixed_formats_count_the_others_as_malformed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, n_access: int, n_syslog: int
) -> None:
    access = access_lines(n_access, seed=9).split(b"\n")[:-1]
    syslog = syslog_lines(n_syslog)
    mixed = access + syslog
    random.Random(n_access).shuffle(mixed)  # auto reads the first 500 lines: a fair sample
    data = b"\n".join(mixed) + b"\n"
    path = write(tmp_path, "mixed.log", data)
    code, out = run_json(capsys, str(path), "--job", "status_codes", "--format", "apache_combined")
    counts, malformed = ref_status(data)
    # mostly malformed (past --max-malformed's 0.5): recorded, and the exit status doubts it
    mostly = EXIT_SUSPECT if malformed > len(mixed) / 2 else 0
    assert code == mostly and out["counters"]["malformed"] == malformed >= n_syslog
    assert out["results"] == counts
    code, out = run_json(
        capsys, str(path), "--job", "field_count", "--param", "field=program", "--format",
        "syslog_rfc3164",
    )  # fmt: skip
    assert code == (EXIT_SUSPECT if n_access > len(mixed) / 2 else 0)
    assert out["results"] == {"sshd": n_syslog}
    assert out["counters"]["malformed"] == n_access
    # auto picks the majority
    code, out = run_json(capsys, str(path), "--job", "error_rate")
    assert out["format"] == ("apache_combined" if n_access > n_syslog else "syslog_rfc3164")
    assert out["counters"]["malformed"] == (malformed if n_access > n_syslog else n_access)


@pytest.mark.functional
def test_wrong_format_succeeds_with_every_line_malformed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # decision: a format that fits no line is not an error (a log may hold only
    # junk today); the job SUCCEEDS with malformed == lines and samples kept,
    # and the CLI's exit status (3) says its results are not to be trusted
    data = access_lines(1500, seed=10)  # 6 map tasks of 64 KiB: 20 samples each, 100 kept
    path = write(tmp_path, "access.log", data)
    code, out = run_json(
        capsys, str(path), "--job", "field_count", "--param", "field=program", "--format",
        "syslog_rfc3164", "--chunk-size", "64KiB",
    )  # fmt: skip
    assert code == EXIT_SUSPECT and out["status"] == "SUCCEEDED"
    assert out["doubt"]["formats"][0] == "apache_combined"  # from the samples kept
    assert out["counters"]["lines"] == out["counters"]["malformed"] == 1500
    assert out["counters"]["records"] == 0 and out["results"] == {}
    record = tasks_record(out["job_id"])
    assert len(record.malformed_samples) == MAX_SAMPLES
    assert {s["line"] for s in record.malformed_samples} <= {
        line.decode() for line in ref_lines(data)
    }


@pytest.mark.functional
def test_format_without_the_jobs_field_is_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "access.log", access_lines(10, seed=11))
    err = run_error(capsys, str(path), "--job", "status_codes", "--format", "syslog_rfc3164")
    assert err.startswith("logmr: error: FormatMismatchError: ")


@pytest.mark.functional
def test_unknown_format_is_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "access.log", access_lines(10, seed=11))
    err = run_error(capsys, str(path), "--job", "status_codes", "--format", "nginx_json_v9")
    assert err.startswith("logmr: error: UnknownFormatError: ")


# -- jobs and parameters --------------------------------------------------------------
@pytest.mark.functional
@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--job", "no_such_job"], "InvalidJobError"),
        (["--job", "no_such_module:Job"], "InvalidJobError"),
        (["--job", "top_paths", "--param", "topp=5"], "InvalidParameterError"),
        (["--job", "top_paths", "--param", "top=five"], "InvalidParameterError"),
        (["--job", "top_paths", "--param", "top=-1"], "InvalidParameterError"),
        (["--job", "top_paths", "--param", "strip_query=maybe"], "InvalidParameterError"),
        (["--job", "requests_per_window", "--param", "window=5x"], "InvalidParameterError"),
        (["--job", "requests_per_window", "--param", "tz=mars"], "InvalidParameterError"),
        (["--job", "pattern_count"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=("], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=a[b"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=x*"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=" + "a" * 1001], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", r"pattern=(a)\1"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=(?<=a)b"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=a(?!b)"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=a++"], "InvalidParameterError"),
        (["--job", "pattern_count", "--param", "pattern=(\n"], "InvalidParameterError"),
    ],
)
def test_bad_job_or_parameter_is_one_line_error_before_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], error: str
) -> None:
    path = write(tmp_path, "access.log", access_lines(10, seed=12))
    err = run_error(capsys, str(path), *argv)
    assert err.startswith(f"logmr: error: {error}: ")
    home = tmp_path / "logmr-home"
    assert not any(home.rglob("*.json")), "no job data before the check"


@pytest.mark.unit
def test_regex_refusals_name_the_construct() -> None:
    def message(pattern: str) -> str:
        with pytest.raises(InvalidParameterError) as caught:
            load_job("pattern_count", {"pattern": pattern})
        text = str(caught.value)
        assert "\n" not in text
        return text

    assert "backreferences are not supported" in message(r"(a)\1")
    assert "backreferences are not supported" in message(r"(?P<key>a)(?P=key)")
    assert "lookarounds are not supported" in message(r"foo(?=bar)")
    assert "lookarounds are not supported" in message(r"(?<!x)y")
    assert "possessive" in message(r"a*+b")
    assert "RE2 spells the end of text \\z" in message(r"abc\Z")
    assert "invalid regular expression" in message("(")
    assert "matches the empty string" in message(r"(?:x|y)?")
    # a pattern that matches zero bytes only in context counts nothing there
    job = load_job("pattern_count", {"pattern": r"=(?P<key>\w*)"})
    assert list(job.mapper(b"a=b c=")) == [(b"b", 1), (b"", 1)]  # an empty group is a key
    assert list(load_job("pattern_count", {"pattern": r"\b"}).map_keys([b"a b"]) or ["x"]) == []


@pytest.mark.functional
def test_catastrophic_backtracking_pattern_finishes(tmp_path: Path) -> None:
    """``(a+)+$`` over ``"a" * 40 + "!"`` takes Python's re about 2**40 steps;
    RE2 is linear. Run in a subprocess: the timeout is the guard against a
    hang, not a timed assertion."""
    evil = b"a" * 40 + b"!"
    lines = [evil] * 2000 + [b"a" * 100_000 + b"!", b"a" * 30, b"aaa"] + [b"a" * 500_000]
    data = b"\n".join(lines) + b"\n"
    path = write(tmp_path, "evil.log", data)
    script = textwrap.dedent(
        f"""
        import json, sys
        from logmr.cli import main
        sys.exit(main(["run", {str(path)!r}, "--job", "pattern_count", "--param",
                       "pattern=(a+)+$", "--json", "--workers", "1", "--chunk-size", "64KiB",
                       "--home", {str(tmp_path / "home")!r}]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    out = json.loads(done.stdout)
    expected = Counter(line.decode() for line in lines if line and set(line) == {ord("a")})
    assert out["results"] == dict(expected)
    assert out["counters"]["lines"] == len(lines)


@pytest.mark.unit
@pytest.mark.parametrize(
    "pattern",
    [
        r"GET|POST",  # no groups: the map_keys fast path
        r'"(?P<key>[A-Z]+) ',
        r"HTTP/(1\.[01])",  # a group, no key: the whole match
        r"(?P<key>\d{3}) (\d+|-)",
        r"(?P<key>x)|(?:[a-z]+\.html)",  # key group absent from some matches
        r"caf\xe9|\xff+",  # bytes, not code points
        r"\bbot\b",
    ],
)
def test_re2_keeps_python_bytes_semantics(pattern: str) -> None:
    data = access_lines(2000, seed=13) + b"caf\xe9 \xff\xff x.html\n"
    lines = ref_lines(data)
    python = re.compile(pattern.encode())
    group: int | str = "key" if "key" in python.groupindex else 0
    want: Counter[bytes] = Counter()
    missing = 0
    for line in lines:
        for match in python.finditer(line):
            key = match.group(group)
            if key is None:
                missing += 1
            else:
                want[key] += 1
    job = load_job("pattern_count", {"pattern": pattern})
    keys = job.map_keys(lines)
    got = (
        Counter(keys)
        if keys is not None
        else Counter(k for line in lines for k, _ in job.mapper(line))
    )
    assert (keys is not None) == (python.groups == 0)
    assert got == want and job.counters.get("no_key_group", 0) == missing


@pytest.mark.unit
def test_ignore_case_folds_ascii_only() -> None:
    job = load_job("pattern_count", {"pattern": "curl|\\xe9", "ignore_case": "true"})
    keys = job.map_keys([b"CURL curl Curl \xe9 \xc9"])
    assert keys is not None and Counter(keys) == {b"CURL": 1, b"curl": 1, b"Curl": 1, b"\xe9": 1}


@pytest.mark.unit
def test_user_regex_pickles() -> None:
    import pickle

    pattern = pickle.loads(pickle.dumps(UserRegex("(?P<key>a+)", True)))
    assert pattern.keys(b"xAaX", 1) == [b"Aa"] and pattern.groupindex == {"key": 1}


# -- keys through shuffle, SQLite and DynamoDB ----------------------------------------
ODD_KEYS = [
    "café",
    "日本語",
    "emoji 🎉",
    "a|b",
    "tab\there",
    "comma,separated",
    'double"quote',
    "single'quote",
    "back\\slash",
    "semi:colon=eq",
    " leading and trailing ",
    "\u200bzero width",
    "combining e\u0301",
]


def odd_key_log() -> tuple[bytes, dict[str, int]]:
    want = {key: 1 + i for i, key in enumerate(ODD_KEYS)}
    lines = [f"k={{{key}}} noise".encode() for key, n in want.items() for _ in range(n)]
    random.Random(14).shuffle(lines)
    return b"\n".join(lines) + b"\n", want


ODD_PATTERN = r"k=\{(?P<key>[^}]+)\}"


@pytest.mark.functional
def test_odd_keys_survive_shuffle_and_sqlite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_chunks: None
) -> None:
    data, want = odd_key_log()
    path = write(tmp_path, "keys.log", data)
    # ranges of 100 bytes over a small log (in this process: below the request's floor)
    code, out = run_json(
        capsys, str(path), "--job", "pattern_count", "--param", f"pattern={ODD_PATTERN}",
        "--reducers", "4", "--chunk-size", "100B", "--engine", "inline",
    )  # fmt: skip
    assert code == 0 and out["results"] == want


def aws_spec(job: str, inputs: list[str], params: dict[str, Any], reducers: int = 3) -> JobSpec:
    return JobSpec.from_dict(
        {
            "job_id": f"bad-{job.replace(':', '-').replace('_', '-').lower()}",
            "job": job,
            "inputs": inputs,
            "params": params,
            "format": "auto",
            "reducers": reducers,
            "chunk_size": 64 * 1024,
        }
    )


@pytest.mark.functional
@mock_aws
def test_odd_keys_survive_dynamodb() -> None:
    s3 = create_account()
    data, want = odd_key_log()
    s3.put_object(Bucket=AWS_BUCKET, Key="incoming/keys.log", Body=data)
    backends = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec(
        "pattern_count", [f"s3://{AWS_BUCKET}/incoming/keys.log"], {"pattern": ODD_PATTERN}
    )
    runner.run(spec, backends)
    assert dict(backends.job_results().iter_results(spec.job_id)) == want
    assert backends.results.top(spec.job_id, 3) == [(key, want[key]) for key in ODD_KEYS[::-1][:3]]


@pytest.mark.functional
@mock_aws
def test_empty_and_long_keys_are_stored_on_dynamodb_as_locally(tmp_path: Path) -> None:
    """An empty key and one of 3,000 bytes (over DynamoDB's sort key limit)
    succeed on S3 and DynamoDB with the results the local store gives, in the
    part files and in the table's top N."""
    want = {"": 3, "p" * 3000: 2, "short": 1}
    lines = [f"k={{{key}}} noise".encode() for key, n in want.items() for _ in range(n)]
    data = b"\n".join(lines) + b"\n"
    s3 = create_account()
    s3.put_object(Bucket=AWS_BUCKET, Key="incoming/edge.log", Body=data)
    pattern = {"pattern": r"k=\{(?P<key>[^}]*)\}"}
    on_aws = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec("pattern_count", [f"s3://{AWS_BUCKET}/incoming/edge.log"], pattern)
    runner.run(spec, on_aws)
    local = embedded_backends(Settings.load(home=tmp_path / "home"))
    local_spec = aws_spec("pattern_count", [str(write(tmp_path, "edge.log", data))], pattern)
    runner.run(local_spec, local)
    for backends in (on_aws, local):
        assert dict(backends.job_results().iter_results(spec.job_id)) == want
        assert backends.results.top(spec.job_id, 3) == sorted(want.items(), key=lambda kv: -kv[1])


class BigList(Job):
    """A job whose one key's reduced value is a list too big for a DynamoDB item."""

    name = "big_list"
    description = "every line under one key"
    raw_lines = True

    def mapper(self, record: bytes) -> Iterator[tuple[Any, Any]]:
        key = "all-lines" if record.startswith(b"big") else record.decode()[:20]
        yield key, [record.decode()]

    def combiner(self, key: Any, values: list[Any]) -> Iterator[tuple[Any, Any]]:
        yield key, [item for value in values for item in value]

    def reducer(self, key: Any, values: list[Any]) -> Iterator[tuple[Any, Any]]:
        yield key, len(values) if key != "all-lines" else [i for v in values for i in v]


@pytest.mark.functional
@mock_aws
@pytest.mark.parametrize("reducers", [1, 4])
def test_value_over_dynamodb_item_limit_fails_the_job_naming_the_key(reducers: int) -> None:
    s3 = create_account()
    big = [f"big {i} " + "x" * 1000 for i in range(500)]  # ~500 KB under one key
    small = [f"small{i}" for i in range(200)]
    data = ("\n".join(big + small) + "\n").encode()
    s3.put_object(Bucket=AWS_BUCKET, Key="incoming/big.log", Body=data)
    backends = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec("test_badinput:BigList", [f"s3://{AWS_BUCKET}/incoming/big.log"], {}, reducers)
    with pytest.raises(InvalidParameterError, match=r"the result for 'all-lines' is \d+ bytes"):
        runner.run(spec, backends)
    record = backends.results.get_job(spec.job_id)
    assert record.status == "FAILED" and record.error == "InvalidParameterError"
    assert "'all-lines'" in record.cause and "\n" not in record.cause
    stored = dict(backends.results.iter_results(spec.job_id))  # the table's rows
    assert "all-lines" not in stored
    if reducers == 1:
        assert stored == {}  # the store checks every row before the first write


def _failed_big_value_job() -> tuple[Any, Any]:
    """A job over 8 reducers whose one huge value fails the DynamoDB write."""
    s3 = create_account()
    big = [f"big {i} " + "x" * 1000 for i in range(500)]
    small = [f"small{i}" for i in range(200)]
    s3.put_object(
        Bucket=AWS_BUCKET, Key="incoming/big.log", Body=("\n".join(big + small) + "\n").encode()
    )
    backends = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec("test_badinput:BigList", [f"s3://{AWS_BUCKET}/incoming/big.log"], {}, 8)
    with pytest.raises(InvalidParameterError):
        runner.run(spec, backends)
    return backends, spec


@pytest.mark.functional
@mock_aws
def test_a_failed_jobs_partial_results_are_never_served(capsys: pytest.CaptureFixture[str]) -> None:
    """Rows the reducers wrote before the failure stay in the table (a reducer
    still running when the Map state fails may write after any clean-up:
    Step Functions does not stop a running Lambda invocation, so deleting
    could not promise an empty table; docs/reliability.md) but are never
    shown: results are served only for a SUCCEEDED job (the CLI here; the
    HTTP API does the same, tests/test_api_handler.py)."""
    from logmr.cli.output import show as _show

    backends, spec = _failed_big_value_job()
    assert dict(backends.job_results().iter_results(spec.job_id))  # some partitions were written
    assert _show(backends.results, spec.job_id, None, as_json=True) == 1
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["results"]) == ("FAILED", {})


# -- S3 keys with odd characters ---------------------------------------------------------
ODD_S3_KEYS = [
    "incoming/odd/with space.log",
    "incoming/odd/plus+sign.log",
    "incoming/odd/percent%20not-a-space.log",
    "incoming/odd/ünïcödé-日志.log",
    "incoming/odd/k=v&x=y.log",
    "incoming/odd/tilde~hash#semi;.log",
]


@pytest.mark.functional
@mock_aws
def test_s3_keys_with_odd_characters(capsys: pytest.CaptureFixture[str]) -> None:
    s3 = create_account()
    data = access_lines(300, seed=15)
    for key in ODD_S3_KEYS:
        s3.put_object(Bucket=AWS_BUCKET, Key=key, Body=data)
    source = S3InputSource()
    listed = source.list_inputs([f"s3://{AWS_BUCKET}/incoming/odd/"])
    assert sorted(obj.uri for obj in listed) == sorted(
        f"s3://{AWS_BUCKET}/{k}" for k in ODD_S3_KEYS
    )
    for key in ODD_S3_KEYS:
        (one,) = source.list_inputs([f"s3://{AWS_BUCKET}/{key}"])
        assert one.size == len(data)
        with source.open_at(one.uri, 100) as stream:
            assert stream.read() == data[100:]
    code, out = run_json(
        capsys, f"s3://{AWS_BUCKET}/incoming/odd/", "--job", "status_codes", "--engine", "inline",
        "--chunk-size", "64KiB",
    )  # fmt: skip
    counts, malformed = ref_status(data)
    assert code == 0 and out["counters"]["malformed"] == malformed * len(ODD_S3_KEYS)
    assert out["results"] == {k: v * len(ODD_S3_KEYS) for k, v in counts.items()}
    assert out["counters"]["lines"] == 300 * len(ODD_S3_KEYS)


# -- an input that vanishes between plan and map -----------------------------------------
@pytest.mark.functional
def test_input_deleted_after_plan_is_input_not_found(tmp_path: Path) -> None:
    path = write(tmp_path, "gone.log", access_lines(100, seed=16))
    backends = embedded_backends(Settings.load())
    spec = JobSpec.from_dict(
        {"job_id": "gone", "job": "status_codes", "inputs": [str(path)], "format": "auto"}
    )
    planned = tasks.plan(spec, backends)
    path.unlink()
    task = MapTask.from_dict(planned["map_tasks"][0])
    with pytest.raises(InputNotFoundError, match="input vanished before it was read"):
        tasks.map_task(JobSpec.from_dict(planned["spec"]), task, backends)


@pytest.mark.functional
@mock_aws
def test_s3_object_deleted_after_plan_is_input_not_found() -> None:
    s3 = create_account()
    s3.put_object(Bucket=AWS_BUCKET, Key="incoming/gone.log", Body=access_lines(100, seed=17))
    backends = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec("status_codes", [f"s3://{AWS_BUCKET}/incoming/gone.log"], {})
    planned = tasks.plan(spec, backends)
    s3.delete_object(Bucket=AWS_BUCKET, Key="incoming/gone.log")
    task = MapTask.from_dict(backends.objects.get_json(manifest_key(spec.job_id))["map_tasks"][0])
    with pytest.raises(InputNotFoundError, match="input vanished before it was read"):
        tasks.map_task(JobSpec.from_dict(planned["spec"]), task, backends)


def _planned_local(
    tmp_path: Path, name: str, data: bytes
) -> tuple[Path, Backends, JobSpec, list[MapTask]]:
    """A word_count job planned over one local file in 64 KiB ranges."""
    path = write(tmp_path, name, data)
    backends = embedded_backends(Settings.load(home=tmp_path / "home"))
    request = {"job_id": name.replace(".", "-"), "job": "word_count", "inputs": [str(path)]}
    planned = tasks.plan(JobSpec.from_dict({**request, "chunk_size": 64 * 1024}), backends)
    items = backends.objects.get_json(manifest_key(planned["job_id"]))["map_tasks"]
    return path, backends, JobSpec.from_dict(planned["spec"]), [MapTask.from_dict(t) for t in items]


@pytest.mark.functional
@pytest.mark.parametrize("when", ["before", "during"])
def test_a_log_truncated_after_plan_is_input_changed(tmp_path: Path, when: str) -> None:
    """logrotate's copytruncate between Plan and Map, or while a map task
    reads: InputChangedError naming it, never a count of what was left."""
    data = access_lines(300, seed=21)
    path, backends, spec, map_tasks = _planned_local(tmp_path, "rotated.log", data)
    if when == "before":
        path.write_bytes(data[:1000])
        opened = backends.inputs
    else:

        class TruncatedWhileRead:
            """The inputs, the file truncated as soon as a task has opened it."""

            def open_at(self, uri: str, offset: int, *rest: Any, **named: Any) -> Any:
                stream = backends.inputs.open_at(uri, offset, *rest, **named)
                path.write_bytes(data[:1000])
                return stream

            def verify(self, uri: str, version: str) -> None:
                backends.inputs.verify(uri, version)

        opened = TruncatedWhileRead()  # type: ignore[assignment]
    task = map_tasks[-1]
    with pytest.raises(InputChangedError, match=r"rotated\.log shrank from [\d,]+ to 1,000 bytes"):
        tasks.map_task(spec, task, dataclasses.replace(backends, inputs=opened))


@pytest.mark.functional
def test_a_log_replaced_after_plan_is_input_changed_one_appended_to_is_read_as_planned(
    tmp_path: Path,
) -> None:
    data = access_lines(300, seed=22)
    path, backends, spec, map_tasks = _planned_local(tmp_path, "live.log", data)
    with path.open("ab") as log:  # a live log, written on: the planned bytes are read
        log.write(b"appended after plan\n" * 50)
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    reduced = JobSpec.from_dict(tasks.plan_reduce(spec, len(map_tasks), backends)["spec"])
    for partition in range(reduced.reducers):
        tasks.reduce_task(reduced, partition, len(map_tasks), backends)
    tasks.finalize(reduced, len(map_tasks), backends)
    assert dict(backends.job_results().iter_results(spec.job_id)) == ref_words(data)
    path.rename(path.with_name("live.log.1"))  # rotated: another file under the name
    path.write_bytes(data)
    with pytest.raises(
        InputChangedError, match=r"live\.log was replaced since the job was planned"
    ):
        tasks.map_task(spec, map_tasks[0], backends)


@pytest.mark.functional
@mock_aws
def test_an_s3_object_overwritten_after_plan_is_input_changed() -> None:
    """The map task's GET carries If-Match with the ETag Plan listed."""
    s3 = create_account()
    key = "incoming/over.log"
    s3.put_object(Bucket=AWS_BUCKET, Key=key, Body=access_lines(100, seed=23))
    backends = aws_backends(Settings(bucket=AWS_BUCKET))
    spec = aws_spec("status_codes", [f"s3://{AWS_BUCKET}/{key}"], {})
    planned = tasks.plan(spec, backends)
    s3.put_object(Bucket=AWS_BUCKET, Key=key, Body=access_lines(100, seed=24))
    task = MapTask.from_dict(backends.objects.get_json(manifest_key(spec.job_id))["map_tasks"][0])
    assert task.pieces[0].version.startswith('"')  # the ETag
    with pytest.raises(InputChangedError, match=r"over\.log was overwritten since the job was"):
        tasks.map_task(JobSpec.from_dict(planned["spec"]), task, backends)


@pytest.mark.functional
def test_input_deleted_after_plan_through_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the inline engine: the state machine engine runs Plan where a patch cannot reach
    path = write(tmp_path, "gone.log", access_lines(100, seed=18))
    plan = tasks.plan

    def plan_then_delete(
        spec: JobSpec, backends: Backends, *limits: Any, **named: Any
    ) -> dict[str, Any]:
        planned = plan(spec, backends, *limits, **named)
        path.unlink()
        return planned

    monkeypatch.setattr(tasks, "plan", plan_then_delete)
    err = run_error(
        capsys, str(path), "--job", "status_codes", "--engine", "inline", "--workers", "1"
    )
    assert err.startswith("logmr: error: InputNotFoundError: input vanished before it was read")


@pytest.mark.functional
def test_local_listing_of_a_missing_path_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(InputNotFoundError):
        LocalInputSource().list_inputs([str(tmp_path / "nope.log")])
    err = run_error(capsys, str(tmp_path / "nope.log"), "--job", "word_count")
    assert err.startswith("logmr: error: InputNotFoundError: no such file or folder")


@pytest.mark.functional
def test_a_chunk_size_that_cuts_too_many_tasks_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_chunks: None
) -> None:
    """``chunk_size`` 1 over 50 KB would be 50,000 map tasks: refused before
    any is cut, naming the bound and a chunk size that fits, within 1/64 of
    the smallest. (A request's floor, 64 KiB, refuses a chunk size of 1 first:
    lowered here, in this process, to reach the bound on the task count.)"""
    data = access_lines(200, seed=3)
    path = write(tmp_path, "small.log", data)
    argv = ["--job", "status_codes", "--chunk-size", "1", "--engine", "inline", "--workers", "1"]
    err = run_error(capsys, str(path), *argv)
    smallest = -(-len(data) // MAX_MAP_TASKS)  # one object: ceil(size / chunk) tasks
    prefix = (
        f"logmr: error: InvalidParameterError: chunk_size 1 cuts the inputs into {len(data):,}"
        f" map tasks, over the {MAX_MAP_TASKS:,} a job may have: a chunk_size of "
    )
    assert err.startswith(prefix)
    named, _, rest = err.removeprefix(prefix).partition(" bytes cuts them into ")
    fitting = int(named.replace(",", ""))
    assert smallest <= fitting and fitting * 63 <= smallest * 64
    assert rest.rstrip() == f"{-(-len(data) // fitting):,}"
    # the chunk size it names fits: the plan has at most the bound's tasks
    assert (
        main(["plan", str(path), "--job", "status_codes", "--chunk-size", str(fitting), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["map_tasks"] <= MAX_MAP_TASKS


@pytest.mark.unit
def test_more_compressed_objects_of_unknown_size_than_map_tasks_are_refused() -> None:
    """A compressed object whose size decompressed its bytes do not tell
    exactly is a map task of its own: past the bound, no chunk size helps,
    and the error says what does. Told exactly, the same objects are grouped."""
    from logmr.inputs.source import DecompressedSize, InputObject
    from logmr.plan.planner import _check_task_count

    many = [InputObject(f"s3://b/alb/{n}.bz2", 900, "bzip2") for n in range(MAX_MAP_TASKS + 1)]
    unknown = {obj.uri: DecompressedSize(None, False, "bzip2 does not tell") for obj in many}
    with pytest.raises(
        InvalidParameterError, match=r"^10,001 compressed objects whose bytes do not tell"
    ):
        _check_task_count(many, 64 << 20, unknown)
    _check_task_count(many[:MAX_MAP_TASKS], 64 << 20, unknown)  # at the bound: allowed
    gzipped = [InputObject(f"s3://b/alb/{n}.gz", 900, "gzip") for n in range(MAX_MAP_TASKS + 1)]
    told = {obj.uri: DecompressedSize(9000, True, "gzip trailer") for obj in gzipped}
    _check_task_count(gzipped, 64 << 20, told)  # grouped: a few dozen tasks


@pytest.mark.functional
@pytest.mark.parametrize("engine", ["statemachine", "inline"])
def test_an_input_named_several_times_is_read_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, engine: str
) -> None:
    """The same file twice, its folder, and a symlink to it: one file's lines,
    counted once; the counters say how many names were repeats."""
    data = access_lines(300, seed=9)
    path = write(tmp_path, "logs/access.log", data)
    other = write(tmp_path, "logs/sub/other.log", access_lines(100, seed=10))
    (tmp_path / "link.log").symlink_to(path)
    names = [str(path), str(path), str(tmp_path / "logs"), str(tmp_path / "link.log")]
    code, out = run_json(capsys, *names, "--job", "status_codes", "--engine", engine)
    counts, malformed = ref_status(data + other.read_bytes())
    assert out["counters"]["malformed"] == malformed
    assert code == 0 and out["results"] == counts
    assert out["counters"]["lines"] == len(ref_lines(data)) + 100
    assert out["counters"]["repeated_inputs"] == 3  # path again, in its folder, its link


@pytest.mark.unit
def test_fifty_copies_of_one_uri_are_one_object() -> None:
    from logmr.inputs.source import InputObject
    from logmr.plan.planner import distinct_objects

    one = InputObject("s3://b/k.log", 10)
    two = InputObject("s3://b/j.log", 20)
    assert distinct_objects([one] * 50 + [two, one]) == ([one, two], 50)


@pytest.mark.functional
def test_a_home_that_is_a_file_or_a_damaged_database_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "a.log", access_lines(50, seed=4))
    home_file = write(tmp_path, "home-file", b"")
    err = run_error(capsys, str(path), "--job", "status_codes", "--home", str(home_file))
    assert err.startswith(f"logmr: error: LocalStoreError: {home_file} (LOGMR_HOME) is a file")
    damaged = tmp_path / "damaged"
    write(damaged, "logmr.sqlite", b"not a database, whatever it was" * 100)
    for argv in (["run", str(path), "--job", "status_codes"], ["status", "some-job"]):
        assert main([*argv, "--home", str(damaged)]) == 1
        captured = capsys.readouterr()
        assert captured.err.startswith(
            f"logmr: error: LocalStoreError: {damaged / 'logmr.sqlite'}: file is not a database"
        )
        assert captured.err.count("\n") == 1


@pytest.mark.functional
def test_zero_workers_is_refused_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "a.log", access_lines(50, seed=4))
    with pytest.raises(SystemExit) as usage:
        main(["run", str(path), "--job", "status_codes", "--workers", "0"])
    assert usage.value.code == 2
    assert "argument --workers: must be at least 1, got 0" in capsys.readouterr().err
    monkeypatch.setenv("LOGMR_WORKERS", "0")
    err = run_error(capsys, str(path), "--job", "status_codes")
    assert "LOGMR_WORKERS=0: a run needs at least 1 worker process" in err


@pytest.mark.functional
def test_xz_is_read_and_what_logmr_cannot_read_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An .xz log gives the plain log's answer; a UTF-16 log and an lz4 frame
    are one-line errors naming what they are, not lines of garbage."""
    import lzma

    data = access_lines(2000, seed=12)
    plain = write(tmp_path, "plain.log", data)
    packed = write(tmp_path, "packed.log.xz", lzma.compress(data))
    code, out = run_json(capsys, str(packed), "--job", "word_count")
    assert code == 0 and out["results"] == ref_words(data)
    code, same = run_json(capsys, str(plain), "--job", "status_codes")
    code, from_xz = run_json(capsys, str(packed), "--job", "status_codes")
    assert from_xz["results"] == same["results"] and from_xz["format"] == "apache_combined"
    wide = write(tmp_path, "wide.log", data.decode().encode("utf-16"))
    err = run_error(capsys, str(wide), "--job", "word_count")
    assert err.startswith(f"logmr: error: UnsupportedInputError: {wide} is UTF-16 text")
    lz4 = write(tmp_path, "a.log.lz4", b"\x04\x22\x4d\x18" + bytes(100))
    assert "is an lz4 frame" in run_error(capsys, str(lz4), "--job", "word_count")


@pytest.mark.functional
def test_a_cut_task_summary_is_corrupt_job_data_naming_it(tmp_path: Path) -> None:
    """A map summary cut short after Map: the next task that reads it fails
    with CorruptJobDataError naming the object, not a bare JSONDecodeError."""
    from logmr import layout
    from logmr.errors import CorruptJobDataError

    _, backends, spec, map_tasks = _planned_local(tmp_path, "cut.log", access_lines(200, seed=25))
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    key = layout.map_summary_key(spec.job_id, 0)
    backends.objects.put(key, backends.objects.get(key)[:-7])
    cut = re.escape(key) + r": not a summary a task wrote \(no digest at its end: cut short"
    with pytest.raises(CorruptJobDataError, match=cut):
        tasks.plan_reduce(spec, len(map_tasks), backends)
