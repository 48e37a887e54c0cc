"""The command line, end to end on one machine."""

from __future__ import annotations

import bz2
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from logmr.cli import main, output
from logmr.devtools.generate import generate

pytestmark = pytest.mark.functional


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=3000, seed=7)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def reference_status(path: Path) -> tuple[dict[str, int], int]:
    """Status counts by hand: the 9th space-separated field after the quoted request."""
    counts: dict[str, int] = {}
    malformed = 0
    for line in path.read_bytes().split(b"\n")[:-1]:
        parts = line.split(b'"')
        fields = parts[2].split() if len(parts) >= 7 else []
        if len(parts) != 7 or len(fields) != 2 or not fields[0].isdigit():
            malformed += 1
            continue
        counts[fields[0].decode()] = counts.get(fields[0].decode(), 0) + 1
    return counts, malformed


def test_run_json_shape_and_counts(capsys: pytest.CaptureFixture[str], access_log: Path) -> None:
    code, out = run_json(capsys, str(access_log), "--job", "status_codes", "--chunk-size", "64KiB")
    counts, malformed = reference_status(access_log)
    assert code == 0
    assert set(out) >= {"job_id", "status", "counters", "results"}
    assert out["status"] == "SUCCEEDED"
    assert out["format"] == "apache_combined"
    assert out["results"] == counts
    assert out["counters"]["malformed"] == malformed
    assert out["counters"]["records"] + malformed == out["counters"]["lines"] == 3000


@pytest.mark.parametrize("count", [0, 1, 7, 9])
@pytest.mark.parametrize("tail", [{}, {"summary": {"top": [["ü", 1]]}, "error": None}])
def test_streamed_json_is_the_object_json_dumps_gives(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    tail: dict[str, Any],
) -> None:
    monkeypatch.setattr(output, "JSON_CHUNK", 3)  # results over several chunks
    head = {"job_id": "j", "counters": {"records": 2}}
    rows = [(f'k"{i}ü', {"count": i, "p50": i / 3}) for i in range(count)]
    output.print_json_results(head, iter(rows), tail)
    whole = {**head, "results": dict(rows), **tail}
    assert capsys.readouterr().out == json.dumps(whole, ensure_ascii=False) + "\n"


def test_results_all_streams_every_result(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    _, run = run_json(capsys, str(access_log), "--job", "top_paths", "--job-id", "all-1")
    assert main(["results", "all-1", "--all"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [key for key, _ in lines] == sorted(run["results"])  # key order, each once
    assert dict(lines) == run["results"]
    assert main(["results", "all-1", "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == run["results"]
    assert main(["results", "all-1", "--json"]) == 0  # the top 20 by default
    assert len(json.loads(capsys.readouterr().out)["results"]) == 20 < len(run["results"])


def test_process_pool_gives_the_same_answer(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    _, serial = run_json(
        capsys, str(access_log), "--job", "top_paths", "--workers", "1", "--chunk-size", "64KiB"
    )
    _, pooled = run_json(
        capsys, str(access_log), "--job", "top_paths", "--workers", "2", "--chunk-size", "64KiB"
    )
    assert pooled["results"] == serial["results"]
    assert pooled["summary"] == serial["summary"]


def test_top_limits_results(capsys: pytest.CaptureFixture[str], access_log: Path) -> None:
    _, full = run_json(capsys, str(access_log), "--job", "status_codes")
    _, top = run_json(capsys, str(access_log), "--job", "status_codes", "--top", "2")
    best = sorted(full["results"].items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert top["results"] == dict(best)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, zstandard.compress])
def test_compressed_inputs(
    capsys: pytest.CaptureFixture[str], access_log: Path, compress: Any
) -> None:
    packed = access_log.with_suffix(".packed")
    packed.write_bytes(compress(access_log.read_bytes()))
    _, plain = run_json(capsys, str(access_log), "--job", "status_codes")
    _, out = run_json(capsys, str(packed), "--job", "status_codes", "--chunk-size", "64KiB")
    assert out["results"] == plain["results"]
    assert out["counters"] == plain["counters"]


def test_table_output(capsys: pytest.CaptureFixture[str], access_log: Path) -> None:
    assert main(["run", str(access_log), "--job", "status_codes"]) == 0
    captured = capsys.readouterr()
    assert "SUCCEEDED" in captured.out
    assert "format auto-detected: apache_combined" in captured.err
    counts, _ = reference_status(access_log)
    top_status, top_count = max(counts.items(), key=lambda kv: kv[1])
    assert any(line.split() == [top_status, f"{top_count:,}"] for line in captured.out.splitlines())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--job", "nope"], "InvalidJobError: unknown job 'nope'"),
        (
            ["--job", "top_paths", "--param", "top=x"],
            "InvalidParameterError: job top_paths: parameter top='x'",
        ),
        (["--job", "status_codes", "--format", "klingon"], "UnknownFormatError:"),
        (["--job", "level_counts", "--format", "apache_combined"], "FormatMismatchError:"),
    ],
)
def test_failures_are_one_line(
    capsys: pytest.CaptureFixture[str], access_log: Path, argv: list[str], message: str
) -> None:
    assert main(["run", str(access_log), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("logmr: error: " + message)
    assert err.count("\n") == 1


def test_missing_and_empty_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", str(tmp_path / "absent.log"), "--job", "status_codes"]) == 1
    assert "InputNotFoundError: no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert main(["run", str(empty), "--job", "status_codes"]) == 1
    assert "EmptyInputError: the inputs hold no bytes" in capsys.readouterr().err


def test_status_and_results_of_a_finished_job(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    _, out = run_json(capsys, str(access_log), "--job", "status_codes", "--job-id", "mine-1")
    assert out["job_id"] == "mine-1"
    assert main(["results", "mine-1", "--top", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["results"] == dict(
        sorted(out["results"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    )
    assert main(["status", "mine-1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "SUCCEEDED"
    assert record["counters"] == out["counters"]
    assert main(["status", "nobody"]) == 1
    assert "JobNotFoundError: no job 'nobody'" in capsys.readouterr().err


def test_failed_job_is_recorded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gz = tmp_path / "broken.log.gz"
    gz.write_bytes(gzip.compress(b"line\n" * 1000)[:-20])  # truncated gzip
    assert main(["run", str(gz), "--job", "word_count", "--job-id", "broken-1"]) == 1
    assert "CorruptInputError" in capsys.readouterr().err
    assert main(["status", "broken-1", "--json"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "FAILED"
    assert record["error"] == "CorruptInputError"


def test_jobs_and_formats_listings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs"]) == 0
    listing = capsys.readouterr().out
    for name in (
        "word_count",
        "pattern_count",
        "status_codes",
        "top_paths",
        "bytes_total",
        "error_rate",
        "level_counts",
        "requests_per_window",
    ):
        assert f"{name}:" in listing
    assert "--param window:" in listing
    assert main(["formats"]) == 0
    listing = capsys.readouterr().out
    for name in (
        "apache_common",
        "apache_combined",
        "vhost_combined",
        "syslog_rfc3164",
        "syslog_rfc5424",
        "jsonl",
        "applog",
        "plain",
        "alb",
        "cloudfront",
        "s3_access",
        "auto",
    ):
        assert f"{name}" in listing
    assert "nginx_combined" in listing


def test_generate_command(tmp_path: Path) -> None:
    out = tmp_path / "gen.log"
    assert main(["generate", "--lines", "100", "--seed", "3", "-o", str(out)]) == 0
    assert out.read_bytes().count(b"\n") == 100


def test_generate_command_realistic_shape(tmp_path: Path) -> None:
    out = tmp_path / "gen.log"
    args = ["generate", "--lines", "100", "--seed", "3", "--shape", "realistic", "-o", str(out)]
    assert main(args) == 0
    buf = io.BytesIO()
    generate(buf, lines=100, seed=3, shape="realistic")
    assert out.read_bytes() == buf.getvalue()
    simple = tmp_path / "simple.log"
    assert main(["generate", "--lines", "100", "--seed", "3", "-o", str(simple)]) == 0
    assert simple.read_bytes() != out.read_bytes()


def test_generate_command_refuses_an_unknown_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen.log"
    assert main(["generate", "--lines", "10", "--shape", "wide", "-o", str(out)]) != 0
    assert "unknown generator shape 'wide'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("engine", ["statemachine", "inline"])
def test_a_finished_job_id_is_refused_and_its_results_kept(
    capsys: pytest.CaptureFixture[str], access_log: Path, engine: str
) -> None:
    first = ["run", str(access_log), "--job", "status_codes", "--job-id", f"again-{engine}"]
    code, out = run_json(capsys, *first[1:], "--engine", engine, "--workers", "1")
    assert (code, out["status"]) == (0, "SUCCEEDED")
    assert main([*first, "--engine", engine, "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"logmr: error: JobExistsError: job id 'again-{engine}' is SUCCEEDED")
    assert err.count("\n") == 1
    code, refused = run_json(capsys, *first[1:], "--engine", engine, "--workers", "1")
    assert (code, refused["status"], refused["error"], refused["results"]) == (
        1,
        "FAILED",
        "JobExistsError",
        {},
    )
    assert main(["results", f"again-{engine}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == out["results"]


@pytest.mark.parametrize("engine", ["statemachine", "inline"])
def test_the_same_job_id_on_other_inputs_is_refused_not_mixed(
    capsys: pytest.CaptureFixture[str], access_log: Path, tmp_path: Path, engine: str
) -> None:
    """Two runs under one --job-id: the second (other inputs) is refused and
    the first job's record and results stay as they were."""
    other = tmp_path / "other.log"
    other.write_bytes(access_log.read_bytes()[: len(access_log.read_bytes()) // 3])
    job_id = f"shared-{engine}"
    options = ["--job", "status_codes", "--job-id", job_id, "--engine", engine, "--workers", "1"]
    code, first = run_json(capsys, str(access_log), *options)
    assert (code, first["status"]) == (0, "SUCCEEDED")
    code, second = run_json(capsys, str(other), *options)
    assert (code, second["status"], second["error"]) == (1, "FAILED", "JobExistsError")
    assert main(["status", job_id, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["status"], record["spec"]["inputs"]) == ("SUCCEEDED", [str(access_log)])
    assert main(["results", job_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == first["results"]


@pytest.mark.parametrize("name", [":X", ".X", "..x:Y"])
def test_a_malformed_job_name_is_one_line(
    capsys: pytest.CaptureFixture[str], access_log: Path, name: str
) -> None:
    assert main(["run", str(access_log), "--job", name, "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("logmr: error: InvalidJobError: unknown job") and err.count("\n") == 1


def test_keys_with_terminal_controls_are_shown_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A path in a log that clears the screen, sets the window title or flips
    the text's direction is shown as escapes in the table, never acted on."""
    log = tmp_path / "hostile.log"
    paths = ["/\x1b[2Jcleared", "/\x1b]0;owned\x07title", "/\u202eflipped", "/\x9bcsi"]
    log.write_text(
        "".join(
            f'10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 200 5 "-" "ua"\n'
            for path in paths
        ),
        encoding="utf-8",
    )
    assert main(["run", str(log), "--job", "top_paths", "--workers", "1"]) == 0
    shown = capsys.readouterr().out
    assert not any(char in shown for char in "\x1b\x07\u202e\x9b")
    for escaped in ("/\\x1b[2Jcleared", "/\\x1b]0;owned\\x07title", "/\\u202eflipped", "/\\x9bcsi"):
        assert escaped in shown
