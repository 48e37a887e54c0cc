"""What ``logmr run`` shows on a terminal and in a pipe (issue 17, "Tables
and progress"): each job's results by the shape its job is shown as
(``logmr.cli.tables``), the JSON unchanged, and the progress bar on stderr
with the bytes read (``logmr.cli.progress``, ``run.watch.ReadProgress``)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.filesize import decimal

from helpers import generated_logs
from logmr.cli import main
from logmr.cli.progress import Progress
from logmr.config import Settings
from logmr.jobs import job_class
from logmr.jobs.windows import LENGTH_BUCKETS, REQUEST_BUCKETS
from logmr.run.embedded import embedded_backends
from logmr.run.engine import EngineRunner
from logmr.run.inline import InlineRunner
from logmr.run.request import build_request
from logmr.run.watch import ReadProgress, task_bytes

#: what a terminal would take as a control sequence
ESCAPE = "\x1b["
#: a sketch's text, as the JSON holds it
SKETCH = re.compile(r"(kll|hll)1:")


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_logs(tmp_path_factory.mktemp("logs"), 3_000, seed=5)["access"]


class Terminal(io.StringIO):
    """A stream that says it is a terminal (rich's console then draws for one)."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], log: Path, *argv: str) -> tuple[str, dict[str, Any]]:
    """What ``logmr run`` prints in a pipe, and that job's stored results and
    summary (a sketch's estimates differ from run to run: the same job's)."""
    assert main(["run", str(log), *argv, "--engine", "inline", "--workers", "1"]) == 0
    shown = capsys.readouterr().out
    job_id = shown.split(":", 1)[0].removeprefix("job ")
    backends = embedded_backends(Settings.load())
    results = dict(backends.job_results().iter_results(job_id))
    return shown, {"results": results, "summary": backends.results.get_job(job_id).summary}


def section(text: str, title: str) -> list[list[str]]:
    """The rows (split on runs of 2+ spaces) of the plain table titled ``title``."""
    lines = text.split(f"\n{title}:\n", 1)[1].splitlines()[1:]  # past the head
    rows = []
    for line in lines:
        if not line.startswith("  ") or line.startswith("  ..."):
            break
        rows.append(re.split(r" {2,}", line.strip()))
    return rows


def numbers(cells: list[str]) -> list[int]:
    return [int(cell.replace(",", "")) for cell in cells]


# -- shapes ---------------------------------------------------------------------
@pytest.mark.unit
def test_every_builtin_job_has_a_shape_and_the_window_jobs_are_series() -> None:
    assert job_class("percentiles").shown_as == "series"
    assert job_class("distinct_count").shown_as == "series"
    assert job_class("requests_per_window").shown_as == "series"
    assert job_class("window_counts").shown_as == "series"
    assert job_class("access_report").shown_as == "report"
    assert job_class("sessions").shown_as == "sessions"
    assert job_class("status_codes").shown_as == "ranked"


@pytest.mark.functional
def test_percentiles_print_their_estimates_never_the_sketch(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    shown, out = run(capsys, access_log, "--job", "percentiles", "--param", "window=10m")
    assert SKETCH.search(json.dumps(out["results"]))  # the JSON keeps its sketches
    assert not SKETCH.search(shown)
    head = next(line for line in shown.splitlines() if line.lstrip().startswith("window"))
    assert head.split() == ["window", "count", "min", "max", "p50", "p90", "p95", "p99"]
    first = min(out["results"])
    row = next(line.split() for line in shown.splitlines() if line.strip().startswith(first))
    assert numbers(row[1:2]) == [out["results"][first]["count"]]
    assert row[4] == f"{out['results'][first]['p50']:,.0f}"  # the estimate, in full
    whole = section(shown, "whole job")
    assert whole[0][0] == "all windows"
    assert numbers(whole[0][1:2]) == [out["summary"]["overall"]["count"]]


@pytest.mark.functional
def test_distinct_count_prints_the_estimate_and_its_bounds(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    shown, out = run(capsys, access_log, "--job", "distinct_count", "--param", "window=15m")
    assert not SKETCH.search(shown)
    head = next(line for line in shown.splitlines() if line.lstrip().startswith("window"))
    assert re.split(r" {2,}", head.strip()) == [
        "window",
        "count",
        "distinct",
        "lower bound",
        "upper bound",
    ]
    for key, value in out["results"].items():
        row = next(line.split() for line in shown.splitlines() if line.strip().startswith(key))
        assert numbers(row[1:]) == [value[f] for f in ("count", "distinct", "lower", "upper")]


@pytest.mark.functional
def test_access_report_prints_its_sections_as_tables(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    shown, out = run(capsys, access_log, "--job", "access_report", "--param", "window=15m")
    summary = out["summary"]
    titles = (
        "totals",
        "status mix",
        "methods",
        "static vs dynamic",
        "top paths",
        "top clients",
        "top referers",
        "top user agents",
        "top 404 paths",
        "windows",
    )
    order = [shown.index(f"\n{title}:\n") for title in titles]
    assert order == sorted(order)
    totals = dict(section(shown, "totals"))
    assert totals["requests"] == f"{summary['requests']:,}"
    assert totals["errors (4xx, 5xx)"] == f"{summary['errors']:,}"
    mix = section(shown, "status mix")
    assert [row[0] for row in mix] == sorted(summary["status"])  # by code, not by count
    assert sum(numbers([row[1] for row in mix])) == summary["requests"]
    paths = section(shown, "top paths")
    assert [row[0] for row in paths] == [path for path, _, _ in summary["top_paths"]]
    windows = section(shown, "windows")
    assert [row[0] for row in windows] == sorted(name for name, *_ in summary["windows"])
    assert not SKETCH.search(shown) and "window:" not in shown
    # the panels: as the summary ranks them, the methods and the two kinds adding up
    for title, name in (("top clients", "top_clients"), ("top 404 paths", "top_not_found")):
        rows = section(shown, title)
        assert [row[0] for row in rows] == [key for key, _ in summary[name]][: len(rows)]
    methods = section(shown, "methods")
    assert {row[0]: numbers([row[1]])[0] for row in methods} == summary["methods"]
    kinds = {row[0]: numbers([row[1]])[0] for row in section(shown, "static vs dynamic")}
    assert kinds == {kind: summary[kind]["count"] for kind in ("static", "dynamic")}
    assert sum(kinds.values()) == summary["requests"]


@pytest.mark.functional
def test_sessions_label_their_histograms(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    shown, out = run(capsys, access_log, "--job", "sessions")
    summary = out["summary"]
    for title, name, buckets in (
        ("session length", "session_length", LENGTH_BUCKETS),
        ("requests per session", "requests_per_session", REQUEST_BUCKETS),
    ):
        rows = section(shown, title)
        assert [row[0] for row in rows] == [label for label, _ in buckets]
        assert numbers([row[1] for row in rows]) == list(summary[name].values())
    assert "[" not in shown  # no raw lists: by_length and by_requests are the histograms
    assert section(shown, "clients with the most sessions")


@pytest.mark.functional
def test_a_series_keeps_its_first_windows_in_time_order_unless_asked_to_rank(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    argv = ("--job", "requests_per_window", "--param", "window=1m", "--top", "3")
    shown, out = run(capsys, access_log, *argv)
    lines = shown.splitlines()
    head = next(line.split() for line in lines if line.lstrip().startswith("window"))
    classes = [name for name in head if name.endswith("xx")]
    assert head[:2] == ["window", "count"] and classes == sorted(classes)  # 1xx .. 5xx
    listed = [line.split()[0] for line in lines if re.match(r"  \d{4}-", line)]
    assert listed == sorted(out["results"])[:3]
    assert f"... {len(out['results']) - 3:,} more windows" in shown
    assert main(["run", str(access_log), *argv, "--sort", "value", "--engine", "inline"]) == 0
    ranked = [line.split() for line in capsys.readouterr().out.splitlines()]
    busiest = sorted(out["results"].items(), key=lambda kv: (-kv[1]["count"], kv[0]))[:3]
    assert [row[0] for row in ranked if row and re.match(r"\d{4}-", row[0])] == [
        key for key, _ in busiest
    ]


@pytest.mark.functional
def test_sort_key_gives_the_first_keys_of_a_ranked_job(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    shown, out = run(capsys, access_log, "--job", "status_codes", "--sort", "key", "--top", "3")
    listed = [line.split()[0] for line in shown.splitlines() if re.match(r"  \d{3} ", line)]
    assert listed == sorted(out["results"])[:3]
    ranked, _ = run(capsys, access_log, "--job", "status_codes", "--top", "3")
    counts = [
        numbers(line.split()[1:]) for line in ranked.splitlines() if re.match(r"  \d{3} ", line)
    ]
    assert counts == sorted(counts, reverse=True) and len(counts) == 3


@pytest.mark.functional
def test_the_json_is_todays_whatever_the_shape(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    """``--json`` carries every result as the job wrote it, sketches and all."""
    argv = ["run", str(access_log), "--job", "access_report", "--engine", "inline", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    record = embedded_backends(Settings.load()).results.get_job(out["job_id"])
    stored = dict(embedded_backends(Settings.load()).job_results().iter_results(out["job_id"]))
    assert out["results"] == stored
    assert out["summary"] == record.summary
    assert any(key.startswith("window:") and "sketch" in value for key, value in stored.items())


# -- a terminal -----------------------------------------------------------------
@pytest.mark.functional
def test_a_terminal_gets_rich_tables_with_log_text_shown_not_obeyed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Box-drawn tables on a terminal; a key from a log is text: neither rich
    markup (``[bold]``) nor a control sequence acts."""
    log = tmp_path / "odd.log"
    paths = ["/[bold]loud[/bold]", "/\x1b[2Jcleared", "/plain"]
    log.write_text(
        "".join(
            f'10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 200 5 "-" "ua"\n'
            for path in paths
        ),
        encoding="utf-8",
    )
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert (
        main(["run", str(log), "--job", "top_paths", "--engine", "inline", "--workers", "1"]) == 0
    )
    shown = terminal.getvalue()
    assert "─" in shown  # rich's table rule
    assert "/[bold]loud[/bold]" in shown  # markup shown as written
    assert "/\\x1b[2Jcleared" in shown  # the control sequence escaped
    assert "\x1b[2J" not in shown


@pytest.mark.functional
def test_without_rich_a_terminal_gets_plain_columns_and_a_line_per_phase(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, access_log: Path
) -> None:
    """rich is the ``cli`` extra: a bare install shows the same figures plainly."""
    import logmr.cli.progress
    import logmr.cli.tables

    monkeypatch.setattr(logmr.cli.tables, "has_rich", lambda: False)
    monkeypatch.setattr(logmr.cli.progress, "has_rich", lambda: False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["run", str(access_log), "--job", "status_codes", "--engine", "inline"]
    assert main([*argv, "--workers", "1", "--chunk-size", "64KiB"]) == 0
    shown = terminal.getvalue()
    size = access_log.stat().st_size
    assert f"{size / 1e6:,.1f}/{size / 1e6:,.1f} MB" in shown  # the map phase's line
    assert "─" not in shown and ESCAPE not in shown
    assert re.search(r"\n  key +value\n", shown)


@pytest.mark.functional
def test_a_pipe_gets_plain_columns(capsys: pytest.CaptureFixture[str], access_log: Path) -> None:
    shown, _ = run(capsys, access_log, "--job", "access_report")
    assert ESCAPE not in shown and "─" not in shown


# -- progress -------------------------------------------------------------------
class Recording:
    """A ``ReadProgress`` that keeps what it is shown."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int, int]] = []
        self.reads: list[tuple[int, int]] = []

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.phases.append((phase, done, total))

    def read(self, done: int, total: int) -> None:
        self.reads.append((done, total))


@pytest.mark.unit
def test_task_bytes_share_what_whole_compressed_objects_hold() -> None:
    ranged = {"task": 0, "pieces": [{"uri": "a", "start": 0, "end": 100}]}
    whole = {"task": 1, "pieces": [{"uri": "b.gz", "start": 0, "end": None}]}
    assert task_bytes([ranged, whole, {**whole, "task": 2}], 301) == [100, 101, 100]
    assert task_bytes([ranged], 100) == [100]


@pytest.mark.statemachine
@pytest.mark.usefixtures("handler_env")
@pytest.mark.parametrize("runner", ["inline", "engine-inline-map", "engine-distributed-map"])
def test_the_runners_report_every_input_byte_read(access_log: Path, runner: str) -> None:
    settings = Settings.load(workers=1)
    request = build_request(
        [str(access_log)], "status_codes", job_id=f"bytes-{runner}", chunk_size=64 * 1024
    )
    if runner == "inline":
        chosen: Any = InlineRunner(embedded_backends(settings))
    else:
        chosen = EngineRunner(settings, workers=0)
        request["map_mode"] = runner.rsplit("-", 2)[1]
    shown = Recording()
    assert isinstance(shown, ReadProgress)
    record = chosen.run(request, shown)
    size = access_log.stat().st_size
    assert record.status == "SUCCEEDED" and record.map_tasks > 3
    assert shown.reads[-1] == (size, size)
    done = [read for read, _ in shown.reads]
    assert done == sorted(done) and {total for _, total in shown.reads} == {size}
    assert ("finalize", 1, 1) in shown.phases


@pytest.mark.unit
def test_the_bar_shows_bytes_rate_and_tasks_on_a_terminal_only() -> None:
    terminal = Terminal()
    with Progress(terminal) as progress:
        progress.read(0, 4_000_000)
        progress("map", 0, 4)
        progress.read(2_000_000, 4_000_000)
        progress("map", 2, 4)
        progress.read(4_000_000, 4_000_000)
        progress("map", 4, 4)
        progress("reduce", 0, 2)
        progress("reduce", 2, 2)
    drawn = terminal.getvalue()
    assert "4.0 MB/4.0 MB" in drawn and "/s" in drawn and "4/4 tasks" in drawn
    assert "2/2 tasks" in drawn
    pipe = io.StringIO()
    with Progress(pipe) as progress:
        progress.read(1, 2)
        progress("map", 1, 2)
    assert pipe.getvalue() == ""


@pytest.mark.functional
def test_a_run_on_a_terminal_draws_its_bar_on_stderr_never_on_stdout(
    access_log: Path, tmp_path: Path
) -> None:
    """``logmr run`` with stderr on a pseudo-terminal and stdout a pipe: the
    bar (bytes read of the file's) on the terminal, plain tables in the pipe;
    with ``--json`` no bar at all."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "LOGMR_HOME": str(tmp_path)}
    size = access_log.stat().st_size
    argv = [sys.executable, "-m", "logmr.cli", "run", str(access_log), "--job", "status_codes"]
    argv += ["--chunk-size", "64KiB", "--workers", "1"]
    for extra in ([], ["--json"]):
        controller, terminal = pty.openpty()
        drawn: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(controller, drawn))
        reader.start()
        try:
            ran = subprocess.run(
                [*argv, *extra],
                check=False,
                stdout=subprocess.PIPE,
                stderr=terminal,
                env=env,
                timeout=120,
            )
        finally:
            os.close(terminal)
            reader.join(timeout=30)
            os.close(controller)
        bar = b"".join(drawn).decode()
        out = ran.stdout.decode()
        assert ran.returncode == 0, bar
        assert ESCAPE not in out and "tasks" not in out
        if extra:
            assert json.loads(out)["status"] == "SUCCEEDED"
            assert "tasks" not in bar and ESCAPE not in bar
        else:
            assert "SUCCEEDED" in out
            assert f"{decimal(size)}/{decimal(size)}" in bar
            assert "tasks" in bar and "/s" in bar


def _drain(fd: int, into: list[bytes]) -> None:
    """Read a pseudo-terminal until its other end closes."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal side is closed
            return
        if not chunk:
            return
        into.append(chunk)
