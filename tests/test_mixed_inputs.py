"""Mixed inputs (issue 17): objects of several formats each read in their
own (``plan.formats``), a job one of them cannot answer refused before any
work, xz beside gzip and plain text on the local engine and in moto's S3,
what was found said (the spec, ``logmr plan``), and BSD syslog's year from
each object's modification time."""

from __future__ import annotations

import gzip
import json
import lzma
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import BUCKET, create_account
from helpers import run_inline
from logmr import cli, layout
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher
from logmr.errors import FormatMismatchError, InvalidParameterError
from logmr.formats import get_format
from logmr.formats.syslog import year_option
from logmr.handlers import runtime
from logmr.inputs.source import InputObject, LocalInputSource
from logmr.plan import formats as plan_formats
from logmr.plan import planner
from logmr.plan.cutting import count_tasks, cut
from logmr.plan.tuning import Limits
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask, Piece
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching
from test_badinput import access_lines, ref_status, run_error, write

#: an ALB line (AWS's documented example) with the status code to give it
ALB = (
    "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
    "192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 {status} 200 34 366 "
    '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z '
    '"forward" "-" "-" "10.0.0.1:80" "200" "-" "-"\n'
)


def common_lines(count: int, seed: int) -> bytes:
    """Apache common lines: combined ones without their referer and agent
    (each line of the generated log that has them)."""
    kept = []
    for line in access_lines(count, seed).splitlines():
        parts = line.split(b'"')
        if len(parts) == 7:
            kept.append(b'"'.join(parts[:3]).rstrip())
    return b"\n".join(kept) + b"\n"


def alb_lines(statuses: list[int]) -> bytes:
    return "".join(ALB.format(status=status) for status in statuses).encode()


def syslog_lines(stamps: list[str]) -> bytes:
    return "".join(
        f"{stamp} host sshd[1]: message {n}\n" for n, stamp in enumerate(stamps)
    ).encode()


def touch(path: Path, when: datetime) -> Path:
    """``path`` with its modification time set to ``when``."""
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def plan_of(paths: list[Path], job: str, **changes: Any) -> planner.Plan:
    spec = JobSpec(job_id="p", job=job, inputs=[str(path) for path in paths], **changes)
    return planner.make_plan(spec, LocalInputSource(), Limits(target="local", concurrency=2))


def added(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return total


# -- the year of BSD syslog lines --------------------------------------------------------
@pytest.mark.unit
def test_the_year_option_is_a_year_or_the_month_a_log_ends_in() -> None:
    assert year_option("2020") == (2020, 12)
    assert year_option(" 2026-03 ") == (2026, 3)
    for bad in ("2026-13", "2026-00", "26-1x", "", "0", "year"):
        with pytest.raises(InvalidParameterError, match="option 'year' must be a year"):
            year_option(bad)
    fmt = get_format("syslog_rfc3164", {"year": "2026-03"})
    epoch = fmt.getter("epoch")

    def year(line: bytes) -> int:
        return datetime.fromtimestamp(epoch(fmt.parse(line)), UTC).year

    # January to March in 2026, April to December in the year before
    assert year(b"Mar 31 23:59:59 host cron: a") == 2026
    assert year(b"Jan  1 00:00:00 host cron: a") == 2026
    assert year(b"Apr  1 00:00:00 host cron: a") == 2025
    assert year(b"Dec 31 23:59:59 host cron: a") == 2025


@pytest.mark.functional
def test_syslog_windows_take_the_year_of_the_files_modification_time(tmp_path: Path) -> None:
    """A log that crosses New Year, modified in January 2026: its December
    lines are 2025's, its January lines 2026's, not 1970's; the spec says
    where the year came from. The format option still wins."""
    log = write(tmp_path, "syslog", syslog_lines(["Dec 31 23:10:00", "Jan  1 00:20:00"] * 3))
    touch(log, datetime(2026, 1, 15, 12, tzinfo=UTC))
    params = {"window": "1h"}
    record, windows = run_inline(log, "requests_per_window", params=params)
    assert sorted(windows) == ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"]
    assert {key: value["count"] for key, value in windows.items()} == dict.fromkeys(windows, 3)
    assert record.spec["years"] == {"2026-01 (modification time)": 1}
    assert record.spec["format_options"] == {"year": "2026-01"}
    given = {"year": "2020"}
    record, windows = run_inline(log, "requests_per_window", params=params, format_options=given)
    assert sorted(windows) == ["2020-01-01T00:00:00Z", "2020-12-31T23:00:00Z"]
    assert record.spec["years"] == {"2020 (format option)": 1}


@pytest.mark.functional
def test_param_year_on_the_command_line_is_the_syslog_year(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--param year=2020`` (issue 17) for a job without a year parameter of
    its own: the format option ``year``, said on stderr and in the spec."""
    log = write(tmp_path, "syslog", syslog_lines(["Dec 31 23:10:00", "Jan  1 00:20:00"]))
    touch(log, datetime(2026, 1, 15, 12, tzinfo=UTC))
    argv = ["run", str(log), "--job", "requests_per_window", "--param", "window=1h"]
    argv += ["--param", "year=2020", "--engine", "inline", "--workers", "1"]
    assert cli.main([*argv, "--home", str(tmp_path / "home"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["results"]) == ["2020-01-01T00:00:00Z", "2020-12-31T23:00:00Z"]
    assert cli.main(["status", "last", "--home", str(tmp_path / "home"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["years"] == {"2020 (format option)": 1}
    assert cli.main([*argv, "--home", str(tmp_path / "home")]) == 0
    assert "logmr: syslog year: 2020 (format option) for 1 object" in capsys.readouterr().err


@pytest.mark.functional
def test_syslog_objects_modified_in_different_months_are_read_each_with_its_year(
    tmp_path: Path,
) -> None:
    """Two syslog files of one name pattern, modified a year apart: each map
    task reads its own file with the year its mtime gives."""
    old = touch(
        write(tmp_path, "syslog.2", syslog_lines(["Nov  3 10:00:00"])),
        datetime(2024, 11, 30, tzinfo=UTC),
    )
    new = touch(
        write(tmp_path, "syslog.1", syslog_lines(["Nov  3 10:00:00"])),
        datetime(2025, 11, 30, tzinfo=UTC),
    )
    record, windows = run_inline([old, new], "requests_per_window", params={"window": "1h"})
    assert sorted(windows) == ["2024-11-03T10:00:00Z", "2025-11-03T10:00:00Z"]
    assert record.spec["years"] == {
        "2024-11 (modification time)": 1,
        "2025-11 (modification time)": 1,
    }
    assert record.spec["formats"] == {"syslog_rfc3164": 2}


# -- objects of several formats ----------------------------------------------------------
@pytest.mark.functional
def test_two_access_formats_are_each_read_in_their_own(tmp_path: Path) -> None:
    """A combined log and a common log: each parsed in its format, so the
    status codes are those of the two counted apart, and the spec says which
    formats were found (the first file's format used to read both: every
    common line malformed)."""
    combined = write(tmp_path, "access.log.1", access_lines(600, seed=31))
    common = write(tmp_path, "access_log", common_lines(400, seed=32))
    record, mixed = run_inline([combined, common], "status_codes")
    one, alone = run_inline(combined, "status_codes")
    other, apart = run_inline(common, "status_codes", fmt="apache_common")
    assert mixed == added(alone, apart)
    assert record.counters["malformed"] == one.counters["malformed"] + other.counters["malformed"]
    assert record.spec["formats"] == {"apache_combined": 1, "apache_common": 1}
    assert record.spec["format"] == "apache_combined"  # the first of the most common
    assert record.spec["compression"] == {"none": 2}


@pytest.mark.functional
def test_a_job_each_format_can_answer_runs_on_an_access_log_and_an_alb_log(
    tmp_path: Path,
) -> None:
    statuses = [200, 200, 404, 503, 200]
    access = access_lines(300, seed=33)
    paths = [write(tmp_path, "web.log", access), write(tmp_path, "alb.log", alb_lines(statuses))]
    planned = plan_of(paths, "status_codes")
    by_format = {task.format or planned.spec.format: task for task in planned.map_tasks}
    assert sorted(by_format) == ["alb", "apache_combined"]  # a task's pieces in one format
    _, results = run_inline(paths, "status_codes")
    counts, _ = ref_status(access)
    assert results == added(counts, {"200": 3, "404": 1, "503": 1})


@pytest.mark.functional
def test_a_job_one_format_cannot_answer_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status_codes over an access log and a syslog: refused in one line that
    names the formats found and the objects of the one lacking the field."""
    access = write(tmp_path, "access.log", access_lines(100, seed=34))
    syslog = write(tmp_path, "syslog", syslog_lines(["Nov  3 10:00:00"] * 5))
    with pytest.raises(FormatMismatchError) as refused:
        plan_of([access, syslog], "status_codes")
    message = str(refused.value)
    assert "format syslog_rfc3164 has no field 'status'" in message
    assert f"2 formats: apache_combined (1), syslog_rfc3164 ({syslog})" in message
    argv = [str(access), str(syslog), "--job", "status_codes", "--job-id", "refused"]
    assert run_error(capsys, *argv).startswith("logmr: error: FormatMismatchError: ")
    record = embedded_backends(Settings.load()).results.get_job("refused")
    assert record is not None and record.status == "FAILED" and not record.map_tasks
    # a job both can answer (every line a record) runs
    assert plan_of([access, syslog], "word_count").spec.formats == {"plain": 2}


@pytest.mark.functional
def test_a_few_malformed_lines_make_no_format_of_their_own(tmp_path: Path) -> None:
    """A small object whose lines no format parses is read in the format
    found that parses most (its lines malformed there), and an object of
    blank lines in the most common one: neither is ``plain``."""
    access = write(tmp_path, "a.log", access_lines(200, seed=35))
    junk = write(tmp_path, "b.log", b"not a log line\n\x00\x01 nor this\n")
    blank = write(tmp_path, "c.log", b"\n\n\n")
    planned = plan_of([access, junk, blank], "status_codes")
    assert planned.spec.formats == {"apache_combined": 3}
    assert all(not task.format for task in planned.map_tasks)


@pytest.mark.unit
def test_objects_past_the_detection_bound_take_their_name_patterns_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert plan_formats.name_pattern("s3://b/logs/access.log.17.gz") == "access.log.#"
    assert plan_formats.name_pattern("/var/log/syslog-20261205.xz") == "syslog-#"
    monkeypatch.setattr(plan_formats, "MAX_DETECTED_OBJECTS", 2)
    lines = syslog_lines(["Nov  3 10:00:00"])
    paths = [
        write(tmp_path, "1/access.log.1", access_lines(50, seed=36)),
        write(tmp_path, "1/syslog.1", lines),
        write(tmp_path, "2/access.log.2", access_lines(50, seed=37)),
        write(tmp_path, "2/syslog.2", lines),
    ]
    planned = plan_of(paths, "word_count", params={}, format="auto")
    assert planned.spec.formats == {"plain": 4}  # a raw-lines job reads every line
    planned = plan_of(paths, "requests_per_window")
    assert planned.formats is not None and planned.formats.by_name == 2
    assert planned.spec.formats == {"apache_combined": 2, "syslog_rfc3164": 2}
    assert any("not detected from their own lines" in warning for warning in planned.warnings)


@pytest.mark.unit
def test_a_tasks_format_travels_in_its_dict() -> None:
    piece = Piece("s3://b/syslog.1", 0, 100)
    task = MapTask(3, (piece,), "syslog_rfc3164", (("year", "2026-01"),))
    data = json.loads(json.dumps(task.to_dict()))
    assert data["format"] == "syslog_rfc3164" and data["format_options"] == {"year": "2026-01"}
    assert MapTask.from_dict(data) == task
    spec = JobSpec(job_id="j", job="level_counts", inputs=["x"], format="applog")
    assert (task.read_as(spec).format, task.read_as(spec).format_options) == (
        "syslog_rfc3164",
        {"year": "2026-01"},
    )
    plain = MapTask(4, (piece,))
    assert "format" not in plain.to_dict() and plain.read_as(spec) is spec


@pytest.mark.unit
def test_cutting_keeps_a_tasks_pieces_in_one_format() -> None:
    """Each format's small objects are grouped apart, also when the listing
    takes them in turn (``host1/access.log``, ``host1/syslog``, ...): two
    groups, not a task each."""
    objects = [InputObject(f"/logs/{name}", 1000) for name in "abcdefgh"]
    syslog = ("syslog_rfc3164", (("year", "2026-01"),))
    read_as = {f"/logs/{name}": syslog for name in "cdfh"}
    tasks = cut(objects, 1 << 20, None, read_as)
    assert [[piece.uri[-1] for piece in task.pieces] for task in tasks] == [
        ["a", "b", "e", "g"],
        ["c", "d", "f", "h"],
    ]
    assert [task.format for task in tasks] == ["", "syslog_rfc3164"]
    assert tasks[1].format_options == syslog[1]
    assert count_tasks(objects, 1 << 20, None, read_as) == len(tasks)
    # a whole chunk of a format is a task of its own after that format's group
    big = [*objects[:3], InputObject("/logs/big", 3 << 20), objects[3]]
    tasks = cut(big, 1 << 20, None, {**read_as, "/logs/big": syslog})
    assert [[piece.uri.rsplit("/", 1)[-1] for piece in task.pieces] for task in tasks] == [
        ["c"],
        ["big"],
        ["big"],
        ["big"],
        ["a", "b"],
        ["d"],
    ]
    assert [task.task for task in tasks] == list(range(6))


# -- what was found, said ----------------------------------------------------------------
@pytest.mark.functional
def test_logmr_plan_and_run_say_the_formats_and_compressions_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "logs"
    write(folder, "a.log", access_lines(300, seed=38))
    write(folder, "b.log.gz", gzip.compress(common_lines(200, seed=39)))
    write(folder, "c.log.xz", lzma.compress(access_lines(200, seed=40)))
    write(folder, "d.log.xz", lzma.compress(alb_lines([200, 404])))
    assert cli.main(["plan", str(folder), "--job", "status_codes"]) == 0
    printed = capsys.readouterr().out
    assert (
        "formats       2 apache_combined, 1 alb, 1 apache_common (4 objects, each read in its own)"
    ) in printed
    assert "compression   2 xz, 1 gzip, 1 uncompressed (4 objects)" in printed
    assert cli.main(["plan", str(folder), "--job", "status_codes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compression"] == {"xz": 2, "gzip": 1, "none": 1}
    assert report["formats"] == {"apache_combined": 2, "alb": 1, "apache_common": 1}
    # logmr run says it on stderr
    argv = ["run", str(folder), "--job", "status_codes", "--engine", "inline", "--workers", "1"]
    assert cli.main(argv) == 0
    said = capsys.readouterr().err.splitlines()
    assert said[-2:] == [
        "logmr: formats: 2 apache_combined, 1 alb, 1 apache_common"
        " (4 objects, each read in its own)",
        "logmr: compression: 2 xz, 1 gzip, 1 uncompressed (4 objects)",
    ]


# -- through the local engine and moto's S3 ----------------------------------------------
@pytest.mark.statemachine
def test_a_folder_of_mixed_logs_on_the_local_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """xz, gzip and plain objects of three formats through the state machine
    on the local engine: the status codes of each counted apart, added."""
    folder = tmp_path / "mixed"
    combined, common = access_lines(500, seed=41), common_lines(300, seed=42)
    write(folder, "web-1.log.xz", lzma.compress(combined))
    write(folder, "web-2.log.gz", gzip.compress(common))
    write(folder, "alb.log", alb_lines([200, 500, 500]))
    argv = ["run", str(folder), "--job", "status_codes", "--engine", "statemachine"]
    assert cli.main([*argv, "--workers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    _, alone = run_inline(write(tmp_path, "combined.log", combined), "status_codes")
    _, apart = run_inline(write(tmp_path, "common.log", common), "status_codes")
    assert out["status"] == "SUCCEEDED"
    assert out["results"] == added(alone, apart, {"200": 1, "500": 2})
    record = embedded_backends(Settings.load()).results.get_job(out["job_id"])
    assert record is not None
    assert record.spec["formats"] == {"alb": 1, "apache_combined": 1, "apache_common": 1}
    assert record.spec["compression"] == {"gzip": 1, "none": 1, "xz": 1}


@pytest.mark.statemachine
def test_xz_gzip_and_syslog_objects_in_s3_on_moto(aws_handler_env: None) -> None:
    """Objects in moto's S3: an xz and a gzip access log of two formats and
    a BSD syslog, run by moto's Step Functions: the xz read (its size from
    its index), each object in its format, the syslog's year that of its
    LastModified."""
    combined, common = access_lines(400, seed=43), common_lines(300, seed=44)
    syslog = syslog_lines(["Jan  2 03:04:05"] * 4)
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        bodies = {
            "incoming/mixed/web.log.xz": lzma.compress(combined),
            "incoming/mixed/old.log.gz": gzip.compress(common, mtime=0),
            "incoming/mixed/syslog": syslog,
        }
        for key, body in bodies.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        modified = s3.head_object(Bucket=BUCKET, Key="incoming/mixed/syslog")["LastModified"]
        request = {
            "job_id": "mixed-s3",
            "job": "requests_per_window",
            "inputs": [f"s3://{BUCKET}/incoming/mixed/"],
            "params": {"window": "1d"},
            "reducers": 2,
        }
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            record, results = machine.run_job(request)
        manifest = runtime.backends().objects.get_json(layout.manifest_key(request["job_id"]))
    assert record is not None
    spec = record.spec
    assert spec["formats"] == {"apache_combined": 1, "apache_common": 1, "syslog_rfc3164": 1}
    assert spec["compression"] == {"gzip": 1, "none": 1, "xz": 1}
    month = modified.astimezone(UTC).strftime("%Y-%m")
    assert spec["years"] == {f"{month} (modification time)": 1}
    assert manifest["mapped_bytes"] == len(combined) + len(common) + len(syslog)
    year = modified.astimezone(UTC).year
    assert results[f"{year}-01-02T00:00:00Z"]["count"] == 4
    assert sum(value["count"] for value in results.values()) == record.counters["records"]
    # the generated log's deliberately malformed lines (common_lines keeps well-formed ones)
    assert record.counters["malformed"] == ref_status(combined)[1] > 0


@pytest.mark.functional
def test_the_plans_sample_reads_each_object_in_its_format(tmp_path: Path) -> None:
    """The sample spread over a combined and a common log maps each piece in
    its object's format: (nearly) every sampled line is a record, where the
    first object's format would have found none in the common log's pieces."""
    combined = write(tmp_path, "a.log", access_lines(2500, seed=45))
    common = write(tmp_path, "b.log", common_lines(2500, seed=46))
    sample = plan_of([combined, common], "status_codes").sample
    assert sample.reads > 2 and sample.lines > 1000
    # the generated log's few malformed lines are the only lines without a pair
    assert sample.pairs >= 0.95 * sample.lines
    assert sample.pairs == sum(sample.weights.values())


@pytest.mark.functional
def test_the_starts_read_for_the_formats_are_counted_in_the_plans_reads(tmp_path: Path) -> None:
    """Each object beside the first is read once at its start for its format:
    a GET each on S3, counted with the sample's in the estimate and the bill."""
    paths = [write(tmp_path, f"{n}.log", access_lines(20, seed=47 + n)) for n in range(5)]
    planned = plan_of(paths, "status_codes")
    assert planned.formats is not None and planned.formats.reads == 4
    assert planned.sample_reads == planned.sample.reads + 4
    given = plan_of(paths, "status_codes", format="apache_combined")
    assert given.formats is not None and given.formats.reads == 0  # a given format reads nothing


class NoTimes(LocalInputSource):
    """Local files whose modification time is not known (as a source that
    does not tell it)."""

    def list_inputs(self, uris: Any, listing: Any = None) -> list[InputObject]:
        return [replace(obj, modified=None) for obj in super().list_inputs(uris, listing)]


@pytest.mark.functional
def test_without_a_modification_time_the_syslog_year_is_1970_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path, "syslog", syslog_lines(["Nov  3 10:00:00"]))
    spec = JobSpec(job_id="p", job="requests_per_window", inputs=[str(log)])
    planned = planner.make_plan(spec, NoTimes(), Limits())
    assert planned.spec.years == {"1970 (default: no modification time)": 1}
    assert planned.spec.format_options == {}
    # logmr plan of a size assumed reads the synthetic objects with the real one's time
    touch(log, datetime(2025, 6, 1, tzinfo=UTC))
    argv = ["plan", str(log), "--job", "requests_per_window", "--assume-size", "10GB", "--json"]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["years"] == {"2025-06 (modification time)": 10}
