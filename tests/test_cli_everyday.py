"""Everyday use of the command line (issue 17): an honest exit status, pipes,
standard input, patterns, files of results, and looking after past jobs."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from logmr import layout
from logmr.aws.s3 import S3InputSource
from logmr.cli import main
from logmr.cli.exits import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_OK, EXIT_SUSPECT
from logmr.cli.export import write_results
from logmr.config import WORKER_LOGS_KEPT, Settings
from logmr.devtools.generate import generate
from logmr.engine.worker import prune_logs
from logmr.errors import InputNotFoundError
from logmr.handlers import runtime
from logmr.inputs import globs
from logmr.inputs.source import LocalInputSource
from logmr.run.embedded import embedded_backends, logs_folder, objects_folder
from logmr.storage.base import JobRecord

ROOT = Path(__file__).resolve().parents[1]
#: the fast way through the CLI: the task functions in this process
INLINE = ("--engine", "inline", "--workers", "1")


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=2000, seed=3)
    return path


@pytest.fixture
def json_log(tmp_path: Path) -> Path:
    """JSON lines with neither a status nor a level."""
    path = tmp_path / "app.jsonl"
    lines = [
        json.dumps({"ts": f"2024-01-01T00:00:{i % 60:02d}Z", "msg": f"m {i}"}) for i in range(300)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "run", *argv, *INLINE, "--json")
    return code, json.loads(out)


def status_counts(path: Path) -> dict[str, int]:
    """Status counts by hand: the field after the quoted request."""
    counts: dict[str, int] = {}
    for line in path.read_bytes().splitlines():
        parts = line.split(b'"')
        fields = parts[2].split() if len(parts) == 7 else []
        if len(fields) == 2 and fields[0].isdigit():
            counts[fields[0].decode()] = counts.get(fields[0].decode(), 0) + 1
    return counts


# -- an honest exit status -----------------------------------------------------------
@pytest.mark.functional
def test_a_mostly_malformed_job_says_why_and_exits_3(
    capsys: pytest.CaptureFixture[str], json_log: Path
) -> None:
    argv = (str(json_log), "--job", "status_codes", "--format", "apache_combined")
    code, out, err = run(capsys, "run", *argv, *INLINE)
    assert code == EXIT_SUSPECT
    assert "300 of 300 lines (100.0%) are malformed for format apache_combined" in err
    assert "parse as: jsonl (try --format jsonl)" in err
    code, doc = run_json(capsys, *argv)
    assert code == EXIT_SUSPECT and doc["status"] == "SUCCEEDED"
    assert doc["doubt"]["reason"] == "malformed" and doc["doubt"]["formats"] == ["jsonl"]
    # the job stays recorded as it ran
    code, out, _ = run(capsys, "status", doc["job_id"], "--json")
    assert json.loads(out)["counters"]["malformed"] == 300


@pytest.mark.functional
def test_the_malformed_threshold_is_the_users(
    capsys: pytest.CaptureFixture[str], access_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = run_json(capsys, str(access_log), "--job", "status_codes")
    assert doc["counters"]["malformed"] > 0  # the generator writes a few bad lines
    assert code == EXIT_OK and "doubt" not in doc
    code, doc = run_json(capsys, str(access_log), "--job", "status_codes", "--max-malformed", "0")
    assert code == EXIT_SUSPECT and doc["doubt"]["figures"]["max_malformed"] == 0
    monkeypatch.setenv("LOGMR_MAX_MALFORMED", "0")
    code, doc = run_json(capsys, str(access_log), "--job", "status_codes")
    assert code == EXIT_SUSPECT
    code, doc = run_json(capsys, str(access_log), "--job", "status_codes", "--max-malformed", "1")
    assert code == EXIT_OK  # the option beats the environment


@pytest.mark.functional
@pytest.mark.parametrize(("job", "missing"), [("level_counts", "level"), ("error_rate", "status")])
def test_a_job_that_found_none_of_its_fields_exits_3(
    capsys: pytest.CaptureFixture[str], json_log: Path, job: str, missing: str
) -> None:
    code, _out, err = run(capsys, "run", str(json_log), "--job", job, *INLINE)
    assert code == EXIT_SUSPECT
    assert f"none of the 300 records has a {missing} (no_{missing}): format jsonl parsed" in err
    code, doc = run_json(capsys, str(json_log), "--job", job)
    assert code == EXIT_SUSPECT
    assert doc["doubt"]["reason"] == "missing_field"
    assert doc["doubt"]["figures"] == {"field": missing, "fields": [missing], "records": 300}


@pytest.mark.functional
def test_error_rate_without_status_or_level_is_unmeasured_not_zero(
    capsys: pytest.CaptureFixture[str], json_log: Path, access_log: Path
) -> None:
    _, doc = run_json(capsys, str(json_log), "--job", "error_rate")
    assert doc["summary"]["error_rate"] is None
    assert doc["summary"]["unmeasured"] == "cannot be measured: no record has a status"
    _, out, _ = run(capsys, "run", str(json_log), "--job", "error_rate", *INLINE)
    assert "cannot be measured" in out
    _, doc = run_json(capsys, str(access_log), "--job", "error_rate")
    assert 0 < doc["summary"]["error_rate"] < 1 and "unmeasured" not in doc["summary"]


@pytest.mark.unit
def test_a_failed_handler_publishes_a_metric_not_a_warning(
    recwarn: pytest.WarningsRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    @runtime.log_metrics
    def failing(event: Any, context: Any) -> Any:
        raise ValueError("the real error")

    @runtime.log_metrics
    def silent(event: Any, context: Any) -> Any:
        runtime.metrics.add_dimension(name="job", value="j")
        return "done"

    with pytest.raises(ValueError, match="the real error"):
        failing({}, None)
    published = json.loads(capsys.readouterr().out)
    assert [m["Name"] for m in published["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "HandlerErrors"
    ]
    assert silent({}, None) == "done"
    assert capsys.readouterr().out == ""  # nothing added: nothing published
    assert runtime.metrics.dimension_set == {}  # nor kept for the next invocation
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.functional
@pytest.mark.parametrize("argv", [["jobs"], ["run", "ACCESS", "--job", "top_paths"]])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, access_log: Path, argv: list[str]) -> None:
    """``logmr ... | head -1``: no BrokenPipeError traceback, the SIGPIPE exit code
    (the output is buffered: the pipe fails at the flush, which ``main`` does)."""
    argv = [str(access_log) if each == "ACCESS" else each for each in argv]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "logmr.cli", *argv]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader gone before the first write, as head's after its lines
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert code == EXIT_BROKEN_PIPE == 141


# -- standard input and patterns ------------------------------------------------------
@pytest.mark.functional
@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
@pytest.mark.parametrize("compress", [False, True])
def test_standard_input_is_spooled_into_the_jobs_folder(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    access_log: Path,
    name: str,
    compress: bool,
) -> None:
    data = access_log.read_bytes()
    piped = io.BytesIO(gzip.compress(data) if compress else data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(piped))
    code, doc = run_json(capsys, name, "--job", "status_codes", "--job-id", "piped")
    assert code == EXIT_OK
    assert doc["results"] == status_counts(access_log)
    spool = objects_folder(Settings.load()) / layout.stdin_key("piped")
    assert spool.read_bytes() == piped.getvalue()
    code, _, _ = run(capsys, "rm", "piped")
    assert code == EXIT_OK and not spool.exists()


@pytest.mark.functional
def test_standard_input_is_refused_where_it_cannot_be_read(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, access_log: Path
) -> None:
    code, _, err = run(capsys, "plan", "-", "--job", "status_codes")
    assert code == EXIT_ERROR and "`logmr plan` cannot read standard input" in err
    code, _, err = run(capsys, "run", "-", "/dev/stdin", "--job", "status_codes", *INLINE)
    assert code == EXIT_ERROR and "can be read once only" in err
    # a bad request, or a job id taken, is refused before standard input is read
    piped = io.BytesIO(access_log.read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(piped))
    code, _, err = run(capsys, "run", "-", "--job", "status_codes", "--format", "nope", *INLINE)
    assert code == EXIT_ERROR and "UnknownFormatError" in err and piped.tell() == 0
    run_json(capsys, str(access_log), "--job", "status_codes", "--job-id", "taken")
    code, _, err = run(capsys, "run", "-", "--job", "status_codes", "--job-id", "taken", *INLINE)
    assert code == EXIT_ERROR and "JobExistsError: job id 'taken' is taken" in err
    assert piped.tell() == 0


@pytest.mark.functional
def test_a_pattern_is_expanded_by_logmr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, access_log: Path
) -> None:
    lines = access_log.read_bytes().splitlines(keepends=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log.gz").write_bytes(gzip.compress(b"".join(lines[:700])))
    (logs / "b.log.gz").write_bytes(gzip.compress(b"".join(lines[700:])))
    (logs / "c.txt").write_bytes(b"not a log\n" * 50)
    code, doc = run_json(capsys, str(logs / "*.gz"), "--job", "status_codes")
    assert code == EXIT_OK and doc["results"] == status_counts(access_log)
    code, _, err = run(capsys, "run", str(logs / "*.xz"), "--job", "status_codes", *INLINE)
    assert code == EXIT_ERROR
    assert err.strip().endswith(f"no file matches {logs / '*.xz'}")


@pytest.mark.unit
def test_local_patterns(tmp_path: Path) -> None:
    for name in ("a.log", "b.log", "sub/c.log", "[x].log"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x\n")
    found = LocalInputSource().list_inputs([str(tmp_path / "*.log")])
    assert sorted(Path(obj.uri).name for obj in found) == ["[x].log", "a.log", "b.log"]
    everywhere = LocalInputSource().list_inputs([str(tmp_path / "**" / "*.log")])
    assert len(everywhere) == 4
    # a path that exists is itself, whatever its characters
    assert globs.local_paths(str(tmp_path / "[x].log")) == [str(tmp_path / "[x].log")]
    with pytest.raises(InputNotFoundError, match="no file matches"):
        LocalInputSource().list_inputs([str(tmp_path / "*.gz")])


@pytest.mark.unit
@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("logs/*.gz", "logs/a.gz", True),
        ("logs/*.gz", "logs/2024/a.gz", False),
        ("logs/**.gz", "logs/2024/a.gz", True),
        ("logs/a?.gz", "logs/ab.gz", True),
        ("logs/a?.gz", "logs/a/.gz", False),
        ("logs/[ab].gz", "logs/b.gz", True),
        ("logs/[!ab].gz", "logs/b.gz", False),
        ("logs/a+b(1)*", "logs/a+b(1).gz", True),
    ],
)
def test_s3_key_patterns(pattern: str, key: str, matches: bool) -> None:
    assert bool(globs.key_regex(pattern).fullmatch(key)) is matches
    assert key.startswith(globs.literal_prefix(pattern))


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="weblogs")
        yield client


@pytest.mark.functional
def test_s3_patterns_list_the_literal_prefix(s3: Any) -> None:
    for key in ("in/2024/a.gz", "in/2024/b.gz", "in/2024/c.txt", "in/2025/d.gz", "other/e.gz"):
        s3.put_object(Bucket="weblogs", Key=key, Body=b"x\n")
    source = S3InputSource(client=s3)
    found = source.list_inputs(["s3://weblogs/in/2024/*.gz"])
    assert [obj.uri for obj in found] == ["s3://weblogs/in/2024/a.gz", "s3://weblogs/in/2024/b.gz"]
    found = source.list_inputs(["s3://weblogs/in/*/*.gz"])
    assert len(found) == 3
    with pytest.raises(InputNotFoundError, match=r"^no object matches s3://weblogs/in/\*\.xz$"):
        source.list_inputs(["s3://weblogs/in/*.xz"])


@pytest.mark.functional
def test_plan_expands_an_s3_pattern(capsys: pytest.CaptureFixture[str], s3: Any) -> None:
    for key in ("in/2024/a.log", "in/2024/b.log", "in/2025/c.log"):
        s3.put_object(Bucket="weblogs", Key=key, Body=b"hello world\n" * 10)
    code, out, _ = run(
        capsys, "plan", "s3://weblogs/in/2024/*.log", "--job", "word_count", "--json"
    )
    assert code == EXIT_OK
    assert (json.loads(out)["objects"], json.loads(out)["input_bytes"]) == (2, 240)


@pytest.mark.functional
@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["--job", "status_code"], "did you mean status_codes?"),
        (["--job", "top-path"], "did you mean top_paths?"),
        (["--job", "status_codes", "--format", "apache_combind"], "did you mean apache_combined?"),
        (["--job", "status_codes", "--format", "jsnl"], "did you mean jsonl?"),
    ],
)
def test_an_unknown_name_suggests_the_nearest(
    capsys: pytest.CaptureFixture[str], access_log: Path, argv: list[str], suggestion: str
) -> None:
    code, _, err = run(capsys, "run", str(access_log), *argv, *INLINE)
    assert code == EXIT_ERROR and suggestion in err


# -- results to files ----------------------------------------------------------------------
@pytest.mark.functional
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_output_writes_every_result_by_extension(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, access_log: Path, suffix: str
) -> None:
    path = tmp_path / f"results{suffix}"
    code, doc = run_json(capsys, str(access_log), "--job", "top_paths", "--output", str(path))
    assert code == EXIT_OK
    expected = [{"key": key, **value} for key, value in sorted(doc["results"].items())]
    if suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        got = [{"key": r["key"], "count": int(r["count"]), "bytes": int(r["bytes"])} for r in rows]
    elif suffix == ".jsonl":
        got = [json.loads(line) for line in path.read_text().splitlines()]
    else:
        table = pq.read_table(path)
        assert [str(t) for t in table.schema.types] == ["string", "int64", "int64"]
        got = table.to_pylist()
    assert got == expected


@pytest.mark.unit
def test_export_columns_of_mixed_values(tmp_path: Path) -> None:
    rows = [
        ("a", {"count": 1, "p50": 2.5, "top": [["x", 1]]}),
        ("b", 7),
        ("c", {"count": 2, "key": "own", "flag": True}),
    ]
    assert write_results(tmp_path / "r.csv", iter(rows)) == 3
    assert (tmp_path / "r.csv").read_text().splitlines() == [
        "key,count,p50,top,value,value_key,flag",
        'a,1,2.5,"[[""x"", 1]]",,,',
        "b,,,,7,,",
        "c,2,,,,own,true",
    ]
    write_results(tmp_path / "r.parquet", iter(rows))
    table = pq.read_table(tmp_path / "r.parquet")
    assert dict(zip(table.schema.names, map(str, table.schema.types), strict=True)) == {
        "key": "string",
        "count": "int64",
        "p50": "double",
        "top": "string",
        "value": "int64",
        "value_key": "string",
        "flag": "bool",
    }
    assert table.column("top").to_pylist() == ['[["x", 1]]', None, None]
    assert write_results(tmp_path / "empty.parquet", iter([])) == 0
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0


@pytest.mark.functional
def test_output_of_an_unknown_type_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, access_log: Path
) -> None:
    code, _, err = run(
        capsys, "run", str(access_log), "--job", "status_codes", "-o", str(tmp_path / "r.xlsx")
    )
    assert code == EXIT_ERROR and "unknown file type '.xlsx'" in err
    code, out, _ = run(capsys, "ls", "--json")
    assert json.loads(out) == []  # nothing ran


@pytest.mark.functional
def test_results_in_the_format_asked(capsys: pytest.CaptureFixture[str], access_log: Path) -> None:
    _, doc = run_json(capsys, str(access_log), "--job", "status_codes", "--job-id", "s1")
    code, out, _ = run(capsys, "results", "s1", "--format", "csv")
    assert code == EXIT_OK
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["key", "value"]
    assert {key: int(value) for key, value in rows[1:]} == doc["results"]
    _, out, _ = run(capsys, "results", "s1", "--format", "jsonl", "--top", "2")
    best = sorted(doc["results"].items(), key=lambda kv: -kv[1])[:2]
    assert [json.loads(line) for line in out.splitlines()] == [
        {"key": key, "value": value} for key, value in best
    ]
    _, out, _ = run(capsys, "results", "s1", "--format", "json")
    assert json.loads(out)["results"] == doc["results"]


@pytest.mark.functional
def test_the_catalogues_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "jobs", "--json")
    jobs = {entry["name"]: entry for entry in json.loads(out)}
    assert {"status_codes", "top_paths", "percentiles"} <= set(jobs)
    top = {param["name"]: param for param in jobs["top_paths"]["params"]}
    assert top["top"]["default"] == "20" and not top["top"]["required"]
    _, out, _ = run(capsys, "formats", "--json")
    formats = {entry["name"]: entry for entry in json.loads(out)}
    assert "status" in formats["apache_combined"]["fields"]
    assert "nginx_combined" in formats["apache_combined"]["aliases"]


# -- past jobs ---------------------------------------------------------------------------------
@pytest.mark.functional
def test_ls_status_last_prefixes_and_rm(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    for job_id in ("codes-one", "codes-two", "paths-one"):
        job = "top_paths" if job_id.startswith("paths") else "status_codes"
        run_json(capsys, str(access_log), "--job", job, "--job-id", job_id)
    _, out, _ = run(capsys, "ls", "--json")
    assert [each["job_id"] for each in json.loads(out)] == ["paths-one", "codes-two", "codes-one"]
    _, out, _ = run(capsys, "ls", "--limit", "2")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "job", "input", "status", "records", "started", "duration"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["paths-one", "top_paths", "access.log", "SUCCEEDED"],
        ["codes-two", "status_codes", "access.log", "SUCCEEDED"],
    ]
    # a record without inputs (a request that failed early) is listed too
    stamp = "2000-01-01T00:00:00.000+00:00"  # the oldest: listed last
    record = JobRecord("bare", "status_codes", status="FAILED", created_at=stamp)
    embedded_backends(Settings.load()).results.put_job(record)
    _, out, _ = run(capsys, "ls")
    assert out.splitlines()[-1].split() == [
        "bare",
        "status_codes",
        "-",
        "FAILED",
        "-",
        "2000-01-01",
        "00:00:00",
        "-",
    ]
    run(capsys, "rm", "bare")
    _, out, _ = run(capsys, "status", "last", "--json")
    assert json.loads(out)["job_id"] == "paths-one"
    _, out, _ = run(capsys, "results", "paths", "--json")  # a unique prefix
    assert json.loads(out)["job_id"] == "paths-one"
    code, _, err = run(capsys, "status", "codes")
    assert code == EXIT_ERROR
    assert "AmbiguousJobError: 'codes' starts several job ids: codes-one, codes-two" in err
    objects = objects_folder(Settings.load())
    assert (objects / layout.job_prefix("codes-one")).is_dir()
    code, out, _ = run(capsys, "rm", "codes-o", "last")
    assert code == EXIT_OK and out.startswith("removed codes-one (")
    assert not (objects / layout.job_prefix("codes-one")).exists()
    _, out, _ = run(capsys, "ls", "--json")
    assert [each["job_id"] for each in json.loads(out)] == ["codes-two"]
    code, _, err = run(capsys, "results", "codes-one")
    assert code == EXIT_ERROR and "JobNotFoundError: no job 'codes-one'" in err


@pytest.mark.functional
def test_gc_removes_old_jobs_shuffle_objects_and_worker_logs(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    code, _doc = run_json(capsys, str(access_log), "--job", "status_codes", "--job-id", "old")
    settings = Settings.load()
    objects = objects_folder(settings)
    shuffles = list((objects / "shuffle").glob("*/old"))
    assert shuffles  # a map task's output
    logs = logs_folder(settings)
    logs.mkdir(parents=True, exist_ok=True)
    stale = logs / "worker-1.log"
    stale.write_text("old\n")
    os.utime(stale, (time.time() - 3 * 86400,) * 2)
    code, out, _ = run(capsys, "gc", "--older-than", "1d", "--dry-run")
    assert code == EXIT_OK and out == ""  # the job is new
    code, out, _ = run(capsys, "gc", "--older-than", "1d")
    assert not stale.exists()
    assert (objects / layout.job_prefix("old")).is_dir()
    time.sleep(1.1)
    code, out, _ = run(capsys, "gc", "--older-than", "1s")
    assert code == EXIT_OK and out == "removed old\n"
    assert not any(path.exists() for path in shuffles)
    assert not (objects / layout.job_prefix("old")).exists()
    _, out, _ = run(capsys, "ls", "--json")
    assert json.loads(out) == []


@pytest.mark.unit
def test_worker_logs_stay_bounded(tmp_path: Path) -> None:
    for pid in range(WORKER_LOGS_KEPT + 5):
        path = tmp_path / f"worker-{pid}.log"
        path.write_text("x\n")
        os.utime(path, (1_000_000 + pid,) * 2)
    (tmp_path / "notes.txt").write_text("not a worker log\n")
    assert prune_logs(tmp_path) == 5
    kept = sorted(int(path.stem.split("-")[1]) for path in tmp_path.glob("worker-*.log"))
    assert kept == list(range(5, WORKER_LOGS_KEPT + 5))  # the newest
    assert (tmp_path / "notes.txt").exists()
