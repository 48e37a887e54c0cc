"""The report in a real browser: Debian's headless Chromium loads the page
with no console message, the charts are in the rendered DOM with their data
points, and a screenshot is written under the test's tmp dir.

Console messages are read from Chromium's log (``--enable-logging=stderr``):
each one is a ``CONSOLE`` line. The report has no script, so any console line
(an error, a blocked script, a refused resource) fails it; a page with a
deliberate ``console.error`` and a broken script shows the check can fail."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from helpers import generated_logs, run_inline
from logmr.report import analyse, render

pytestmark = [pytest.mark.browser, pytest.mark.functional]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
#: a console message in Chromium's log: [pid:tid:date:INFO:CONSOLE(12)] "text", source: ...
CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+|\(\d+\))\]\s*(.*)")
TIMEOUT_S = 120

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test installs it: make chromium)"
)


def chromium(page: Path, *args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def console_messages(stderr: str) -> list[str]:
    return [found.group(1) for found in map(CONSOLE_LINE.search, stderr.splitlines()) if found]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A real job's report (requests per 5-minute window) and its window and bar counts."""
    folder = tmp_path_factory.mktemp("browser")
    log = generated_logs(folder, lines=3000, seed=11)["access"]
    # a module fixture runs before the per-test LOGMR_HOME: it gets its own home
    record, results = run_inline(
        log, "requests_per_window", params={"window": "5m"}, home=folder / "home"
    )
    page = folder / "report.html"
    page.write_text(render(analyse(record, results)))
    classes = {name for value in results.values() for name in value if name.endswith("xx")}
    return page, len(results), len(classes)


@needs_chromium
def test_report_renders_with_no_console_messages(
    report_page: tuple[Path, int, int], tmp_path: Path
) -> None:
    page, windows, classes = report_page
    done = chromium(page, "--dump-dom", profile=tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    dom = done.stdout
    charts = re.findall(r'<svg class="chart" data-chart="(\w+)" data-points="(\d+)"', dom)
    assert ("line", str(2 * windows)) in charts  # records and errors, one point per window
    assert ("share", str(classes)) in charts
    assert len(re.findall(r'<circle class="point"', dom)) == 2 * windows
    assert len(re.findall(r'<polyline class="series"', dom)) == 2


@needs_chromium
def test_console_errors_and_broken_scripts_are_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>broken</p>"
        '<script>console.error("deliberate failure")</script>'
        "<script>notAFunction()</script></body></html>"
    )
    messages = console_messages(chromium(broken, "--dump-dom", profile=tmp_path / "p1").stderr)
    assert any("deliberate failure" in message for message in messages)
    assert any("notAFunction is not defined" in message for message in messages)


@needs_chromium
def test_a_script_smuggled_into_the_report_is_blocked_and_reported(
    report_page: tuple[Path, int, int], tmp_path: Path
) -> None:
    page, _, _ = report_page
    smuggled = tmp_path / "smuggled.html"
    smuggled.write_text(
        page.read_text().replace("</body>", "<script>console.error('ran')</script></body>")
    )
    messages = console_messages(chromium(smuggled, "--dump-dom", profile=tmp_path / "p").stderr)
    assert messages
    assert not any(message.strip('"') == "ran" for message in messages)
    assert any("Content Security Policy" in message for message in messages)


@needs_chromium
def test_screenshot(report_page: tuple[Path, int, int], tmp_path: Path) -> None:
    page, _, _ = report_page
    shot = tmp_path / "report.png"
    done = chromium(
        page, f"--screenshot={shot}", "--window-size=1000,1400", profile=tmp_path / "profile"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert png_size(shot) == (1000, 1400)
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank image
