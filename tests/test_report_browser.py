"""The report in a real browser: Debian's headless Chromium loads the page
with no console message, the charts are in the rendered DOM with their data
points, its tables sort on a click and filter as one types, its policy
refuses any script but its own, and screenshots are written under the test's
tmp dir.

Console messages are read from Chromium's log (``--enable-logging=stderr``):
each one is a ``CONSOLE`` line. The report's own script logs nothing, so any
console line (an error, a blocked script, a refused resource) fails it; a
page with a deliberate ``console.error`` and a broken script shows the check
can fail.

Clicks and typing: ``--dump-dom`` prints the page once it has loaded, with
no way in between to click. So a harness page (written by the test, with a
script of its own and no policy) holds the report in an iframe and, once it
has loaded, clicks the report's headers (``element.click()``: a real click
event to the report's listeners), types in its filter box (an ``input``
event), and writes each resulting row order into its own DOM, which
``--dump-dom`` prints. Chromium needs ``--allow-file-access-from-files`` for
the harness to read a ``file://`` iframe, and ``--virtual-time-budget`` to
wait for the iframe's load. The URL fragment the report reads at load
(``#sort=...&filter=...``) is checked on the page itself."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import generated_logs, run_inline
from logmr.report import analyse, render
from logmr.report.script import SCRIPT

pytestmark = [pytest.mark.browser, pytest.mark.functional]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
#: a console message in Chromium's log: [pid:tid:date:INFO:CONSOLE(12)] "text", source: ...
CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+|\(\d+\))\]\s*(.*)")
TIMEOUT_S = 120

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test installs it: make chromium)"
)


def chromium(
    page: Path, *args: str, profile: Path, fragment: str = ""
) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri() + fragment,
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
    assert len(re.findall(r'<circle class="point[ "]', dom)) == 2 * windows
    # the last window of each series is marked partial (the log ends inside it)
    assert len(re.findall(r'<circle class="point partial"', dom)) == 2
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


# -- the interactive tables ---------------------------------------------------------
HARNESS = """<!DOCTYPE html><html><body><pre id="out">not run</pre>
<iframe id="report" src="REPORT" width="1000" height="800"></iframe>
<script>
document.getElementById("report").addEventListener("load", function () {
  var doc = this.contentDocument, out = {};
  var table = doc.getElementById("results-table");
  var head = table.tHead.rows[0].cells;
  var keys = function () {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
      return !row.hidden;
    }).map(function (row) { return row.cells[0].textContent; });
  };
  out.loaded = keys();
  head[0].click(); out.key_once = keys(); out.key_sort = head[0].getAttribute("aria-sort");
  head[0].click(); out.key_twice = keys(); out.key_sort_twice = head[0].getAttribute("aria-sort");
  head[1].click(); out.count_once = keys();
  var input = doc.querySelector('input.filter[data-table="results-table"]');
  input.value = "STATIC"; input.dispatchEvent(new Event("input"));
  out.filtered = keys();
  out.said = doc.getElementById("results-table-shown").textContent;
  document.getElementById("out").textContent = JSON.stringify(out);
});
</script></body></html>
"""


@pytest.fixture(scope="module")
def access_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A real access_report's page, and the counts of the paths its results table shows."""
    folder = tmp_path_factory.mktemp("access")
    log = generated_logs(folder, lines=4000, seed=5)["access"]
    record, results = run_inline(log, "access_report", home=folder / "home")
    page = folder / "access.html"
    data = analyse(record, results)
    page.write_text(render(data))
    return page, {key: int(count) for key, count, _ in data.top}


def harness_output(page: Path, tmp_path: Path) -> dict[str, Any]:
    harness = page.parent / f"harness-{tmp_path.name}.html"
    harness.write_text(HARNESS.replace("REPORT", page.name))
    done = chromium(
        harness,
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--dump-dom",
        profile=tmp_path / "profile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    found = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert found is not None, done.stdout[-2000:]
    return dict(json.loads(html.unescape(found.group(1))))


@needs_chromium
def test_clicking_a_header_sorts_and_the_filter_box_filters(
    access_page: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    page, counts = access_page
    out = harness_output(page, tmp_path)
    by_count = sorted(counts, key=lambda key: (-counts[key], key))
    assert out["loaded"] == by_count  # as written: count descending
    assert out["key_once"] == sorted(counts)  # text: ascending first
    assert out["key_sort"] == "ascending"
    assert out["key_twice"] == sorted(counts, reverse=True)  # a second click reverses
    assert out["key_sort_twice"] == "descending"
    # numbers: descending first, by value (not by the text "1,234"); ties keep the order
    assert [counts[key] for key in out["count_once"]] == sorted(counts.values(), reverse=True)
    static = [key for key in out["count_once"] if "static" in key.lower()]
    assert static and len(static) < len(counts)
    assert out["filtered"] == static
    assert out["said"] == f"{len(static)} of {len(counts)} rows"


def dumped_rows(dom: str) -> list[tuple[str, bool]]:
    """The results table's rows in the dumped DOM: (key, hidden)."""
    table = re.search(r'<table class="sortable" id="results-table".*?</table>', dom, re.S)
    assert table is not None
    return [
        (html.unescape(key), "hidden" in attrs)
        for attrs, key in re.findall(r'<tr([^>]*)><td class="key">(.*?)</td>', table.group(0), re.S)
    ]


@needs_chromium
def test_a_url_fragment_sorts_and_filters_at_load(
    access_page: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    page, counts = access_page
    done = chromium(
        page,
        "--dump-dom",
        profile=tmp_path / "profile",
        fragment="#sort=results-table:1:asc&filter=results-table:.png",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    rows = dumped_rows(done.stdout)
    assert [counts[key] for key, _ in rows] == sorted(counts.values())
    assert [key for key, hidden in rows if not hidden] == [
        key for key, _ in rows if ".png" in key.lower()
    ]
    assert 'data-sorted="1:asc"' in done.stdout


@needs_chromium
def test_a_tampered_script_is_refused_by_the_policy(
    access_page: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    """The page's script changed by one statement no longer has the hash the
    policy allows: Chromium refuses it (a console line says so) and the
    fragment's sort is not applied."""
    page, _ = access_page
    tampered = tmp_path / "tampered.html"
    text = page.read_text()
    assert text.count(SCRIPT) == 1
    tampered.write_text(text.replace(SCRIPT, SCRIPT + "console.error('tampered ran');\n"))
    done = chromium(
        tampered, "--dump-dom", profile=tmp_path / "profile", fragment="#sort=results-table:0:asc"
    )
    messages = console_messages(done.stderr)
    assert any("inline script violates" in message for message in messages), messages
    assert any("Content Security Policy" in message for message in messages)
    assert not any("tampered ran" in message for message in messages)
    assert "data-sorted=" not in done.stdout
    # the same fragment on the untouched page does sort
    untouched = chromium(
        page, "--dump-dom", profile=tmp_path / "profile2", fragment="#sort=results-table:0:asc"
    )
    assert 'data-sorted="0:asc"' in untouched.stdout


@needs_chromium
def test_access_report_screenshot(access_page: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    page, _ = access_page
    shot = tmp_path / "access.png"
    done = chromium(
        page, f"--screenshot={shot}", "--window-size=1000,3000", profile=tmp_path / "profile"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    assert png_size(shot) == (1000, 3000)
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank image
