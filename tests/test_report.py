"""The HTML report: sections chosen by result shape, every log-borne string
escaped, nothing loaded from anywhere; the CLI writes it for real jobs."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from helpers import generated_logs, run_inline
from logmr.cli import main
from logmr.formats.base import Format
from logmr.jobs.report import LevelReport
from logmr.report import analyse, render
from logmr.report.script import SCRIPT
from logmr.report.svg import (
    LEVEL_COLOURS,
    STATUS_COLOURS,
    nice_ticks,
    number,
    share_colour,
    shortened,
)
from logmr.storage.base import JobRecord

HOSTILE = "<script>alert(1)</script>"
ATTRIBUTE_BREAKER = '"><img src="http://evil.example/x.png" onerror="alert(2)">'


class Page(HTMLParser):
    """The elements of a page, with their attributes and the section each is in."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], str]] = []
        self.text_by_section: dict[str, list[str]] = {}
        self.section = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "section":
            self.section = values.get("id", "")
        self.elements.append((tag, values, self.section))

    def handle_data(self, data: str) -> None:
        self.text_by_section.setdefault(self.section, []).append(data)

    def sections(self) -> list[str]:
        return [attrs["id"] for tag, attrs, _ in self.elements if tag == "section"]

    def text(self, section: str) -> str:
        return " ".join(self.text_by_section.get(section, []))

    def charts(self, section: str) -> list[dict[str, str]]:
        return [a for tag, a, s in self.elements if tag == "svg" and s == section]

    def count(self, tag: str, section: str, css_class: str) -> int:
        return sum(
            1
            for t, attrs, s in self.elements
            if t == tag and s == section and css_class in attrs.get("class", "").split()
        )


def record(job: str, **fields: Any) -> JobRecord:
    base: dict[str, Any] = {
        "job_id": f"{job}-1",
        "job": job,
        "status": "SUCCEEDED",
        "spec": {"inputs": ["/logs/access.log"], "format": "apache_combined", "params": {}},
        "counters": {"lines": 1000, "records": 990, "malformed": 10},
        "timings": {"duration_s": 1.25},
        "created_at": "2026-11-22T03:00:00.000+00:00",
    }
    base.update(fields)
    return JobRecord(**base)


def assert_only_the_report_script(text: str, page: Page) -> None:
    """The page's one script is the report's own (no other found its way in),
    and the policy allows that script alone, by its hash."""
    assert [tag for tag, _, _ in page.elements].count("script") == 1
    assert re.findall(r"<script[^>]*>(.*?)</script>", text, re.S) == [SCRIPT]
    policy = next(a["content"] for t, a, _ in page.elements if "http-equiv" in a)
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1]


def page_of(rec: JobRecord, results: dict[str, Any]) -> tuple[str, Page]:
    text = render(analyse(rec, results))
    return text, Page(text)


def windows(count: int, start_hour: int = 3) -> list[str]:
    return [f"2026-11-22T{start_hour + i // 60:02d}:{i % 60:02d}:00Z" for i in range(count)]


# -- the job shapes -------------------------------------------------------------------
def access_report_results() -> dict[str, Any]:
    results: dict[str, Any] = {"status:200": 700, "status:404": 200, "status:500": 90}
    results |= {
        "path:/": {"count": 500, "bytes": 10_000},
        "path:/api": {"count": 300, "bytes": 9_000},
        "path:/login": {"count": 190, "bytes": 1_000},
    }
    for i, iso in enumerate(windows(6)):
        results[f"window:{iso}"] = {
            "count": 150 + i,
            "errors": 40 + i,
            "bytes": 3_000,
            "p50": 10.0 + i,
            "p95": 50.0 + i,
            "p99": 90.0 + i,
            "sketch": "AQID",
        }
    results["total"] = {"count": 990, "bytes": 20_000, "errors": 290}
    return results


@pytest.mark.unit
def test_access_report_shape_has_every_section() -> None:
    results = access_report_results()
    _, page = page_of(record("access_report"), results)
    assert page.sections() == [
        "facts",
        "timeseries",
        "percentiles",
        "mix",
        "top",
        "results",
        "malformed",
    ]
    window_keys = [key for key in results if key.startswith("window:")]
    # records and errors: one point per window each
    assert page.count("circle", "timeseries", "point") == 2 * len(window_keys)
    assert page.count("circle", "percentiles", "point") == 3 * len(window_keys)
    statuses = {key[7:]: value for key, value in results.items() if key.startswith("status:")}
    assert page.count("rect", "mix", "bar") == len(statuses)
    total = sum(statuses.values())
    for code, count in statuses.items():
        assert f"{code}: {count:,} ({100 * count / total:.1f}%)" in page.text("mix")
    paths = {key[5:]: value["count"] for key, value in results.items() if key.startswith("path:")}
    assert page.count("rect", "top", "bar") == len(paths)
    bars = re.findall(r"(/\w*): ([\d,]+)", page.text("top"))
    assert [name for name, _ in bars] == sorted(paths, key=lambda p: -paths[p])
    assert "total" not in [name for name, _ in bars]


@pytest.mark.unit
def test_percentiles_job_shape() -> None:
    results: dict[str, Any] = {
        iso: {"count": 10, "min": 1, "max": 99, "p50": 5, "p90": 9, "p95": 20, "p99": 40 + i}
        for i, iso in enumerate(windows(4))
    }
    results["all"] = {"count": 40, "min": 1, "max": 99, "p50": 5, "p90": 9, "p95": 21, "p99": 44}
    _, page = page_of(record("percentiles", spec={"inputs": ["x"], "params": {}}), results)
    assert "percentiles" in page.sections()
    assert page.count("polyline", "percentiles", "series") == 3
    assert page.count("circle", "percentiles", "point") == 3 * 4
    assert "whole job" in page.text("percentiles")
    assert "44" in page.text("percentiles")


@pytest.mark.unit
def test_window_counts_shape() -> None:
    keys = windows(90)
    results = {iso: {"count": 100 + i, "errors": i % 7} for i, iso in enumerate(keys)}
    _, page = page_of(record("window_counts"), results)
    assert [c["data-chart"] for c in page.charts("timeseries")] == ["line"]
    assert page.charts("timeseries")[0]["data-points"] == str(2 * len(keys))
    assert "percentiles" not in page.sections()
    expected_errors = sum(i % 7 for i in range(len(keys)))
    assert f"{number(expected_errors)} errors" in page.text("timeseries")


@pytest.mark.unit
def test_requests_per_window_shape_has_errors_and_class_mix() -> None:
    results = {
        iso: {"count": 10 + i, "2xx": 6 + i, "3xx": 1, "4xx": 2, "5xx": 1}
        for i, iso in enumerate(windows(5))
    }
    _, page = page_of(record("requests_per_window"), results)
    assert {"timeseries", "mix"} <= set(page.sections())
    classes: Counter[str] = Counter()
    for value in results.values():
        classes.update({k: v for k, v in value.items() if k.endswith("xx")})
    total = sum(classes.values())
    for name, count in classes.items():
        assert f"{name}: {count:,} ({100 * count / total:.1f}%)" in page.text("mix")
    assert f"{sum(v['4xx'] + v['5xx'] for v in results.values())} errors" in page.text("timeseries")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("job", "results", "sections"),
    [
        ("status_codes", {"200": 50, "404": 7, "500": 3}, {"mix", "top"}),
        ("level_counts", {"INFO": 80, "WARN": 15, "ERROR": 5}, {"mix", "top"}),
        ("top_paths", {"/a": {"count": 3, "bytes": 10}, "/b": {"count": 1, "bytes": 5}}, {"top"}),
        ("word_count", {"the": 9, "a": 4, "log": 2}, {"top"}),
        ("error_rate", {"total": 100, "errors": 7}, {"top", "summary"}),
        ("bytes_total", {"bytes": 5000, "responses": 10}, {"top", "summary"}),
    ],
)
def test_sections_follow_the_result_shape(
    job: str, results: dict[str, Any], sections: set[str]
) -> None:
    summary = {"error_rate": 0.07, "basis": "status"} if job == "error_rate" else None
    if job == "bytes_total":
        summary = {"bytes": 5000, "responses": 10, "mean_bytes": 500.0}
    _, page = page_of(record(job, summary=summary), results)
    assert sections | {"facts", "results"} <= set(page.sections())
    assert "timeseries" not in page.sections()
    for key in results:
        assert key in page.text("results")


@pytest.mark.unit
def test_a_single_number_result_has_no_bar_chart() -> None:
    _, page = page_of(record("pattern_count"), {"only": 5})
    assert "top" not in page.sections()
    assert "only" in page.text("results")


@pytest.mark.unit
def test_a_failed_job_shows_its_error_and_no_results() -> None:
    rec = record("status_codes", status="FAILED", error="CorruptShuffleError", cause="bad crc")
    _, page = page_of(rec, {})
    assert "CorruptShuffleError: bad crc" in page.text("facts")
    assert "no results" in page.text("results")


@pytest.mark.unit
def test_facts_show_malformed_share_duration_and_cost_when_present() -> None:
    rec = record("status_codes", summary={"cost": 0.000125})
    _, page = page_of(rec, {"200": 990})
    facts = page.text("facts")
    assert f"10 of 1,000 lines ({100 * 10 / 1000:.2f}%)" in facts
    assert "1.250 s" in facts
    assert "$0.000125" in facts
    _, without = page_of(record("status_codes"), {"200": 990})
    assert "cost" not in without.text("facts")


@pytest.mark.unit
def test_facts_show_the_bill_of_a_run_priced_on_aws() -> None:
    """A local run's record holds its bill (logmr.plan.cost.bill): the facts show
    the total in dollars and the counts it comes from, not counts as dollars."""
    from logmr.plan.cost import bill

    run_bill = bill(
        map_tasks=2,
        reducers=2,
        seconds={"Plan": 0.1, "Map": 1.2, "Reduce": 0.03, "Finalize": 0.01},
        requests={"get": 16, "put": 10, "list": 0},
        result_items=530,
        record_bytes=2000,
    )
    _, page = page_of(record("access_report", bill=run_bill), {"total": {"count": 1}})
    facts = page.text("facts")
    assert f"${run_bill['usd']['total']:,.4f}" in facts
    assert "7 Lambda requests" in facts and "16 S3 GET" in facts  # 3 + M + R
    assert "$6" not in facts  # a count is not a price


# -- hostile input --------------------------------------------------------------------
@pytest.mark.unit
def test_keys_and_samples_from_logs_are_escaped() -> None:
    samples = [
        {"origin": "/logs/a.log@0", "line": HOSTILE, "length": len(HOSTILE)},
        {"origin": ATTRIBUTE_BREAKER, "line": ATTRIBUTE_BREAKER, "length": 60},
    ]
    rec = record("top_paths", malformed_samples=samples, job_id=f"job{HOSTILE}")
    results = {
        HOSTILE: {"count": 5, "bytes": 1},
        ATTRIBUTE_BREAKER: {"count": 3, "bytes": 2},
        "/fine": {"count": 1, "bytes": 0},
    }
    text, page = page_of(rec, results)
    tags = [tag for tag, _, _ in page.elements]
    assert_only_the_report_script(text, page)
    assert "img" not in tags
    assert not any(name.startswith("on") for _, attrs, _ in page.elements for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # the hostile strings are shown as text, whole
    assert HOSTILE in page.text("malformed")
    assert ATTRIBUTE_BREAKER in page.text("malformed")
    assert HOSTILE in page.text("top")
    assert HOSTILE in page.text("results")


@pytest.mark.unit
def test_hostile_window_keys_and_mix_labels_are_escaped() -> None:
    results = {f"window:{HOSTILE}": {"count": 3, "errors": 1}, f"status:{HOSTILE}": 4}
    text, page = page_of(record("access_report"), results)
    assert_only_the_report_script(text, page)


@pytest.mark.unit
def test_the_page_loads_nothing_from_anywhere() -> None:
    results = access_report_results() | {"path:http://evil.example/": {"count": 1, "bytes": 0}}
    samples = [{"origin": "x", "line": 'GET https://cdn.example/x.js "', "length": 30}]
    text, page = page_of(record("access_report", malformed_samples=samples), results)
    for _, attrs, _ in page.elements:
        for name in ("src", "href", "xlink:href", "action", "data"):
            assert "://" not in attrs.get(name, ""), (name, attrs)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)
    assert not any(tag in ("link", "iframe", "img") for tag, _, _ in page.elements)
    assert_only_the_report_script(text, page)
    policy = [a["content"] for t, a, _ in page.elements if t == "meta" and "content" in a]
    assert any("default-src 'none'" in value for value in policy)


# -- the panels, levels, distinct values, units ------------------------------------------
def panel_results() -> dict[str, Any]:
    long_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 " * 3 + "END"
    results = access_report_results() | {
        "client:10.0.0.1": 600,
        "client:10.0.0.2": 300,
        "client:10.0.0.3": 90,
        "referer:-": 800,
        "referer:https://www.google.com/": 190,
        f"agent:{long_agent}": 700,
        "agent:curl/8.0": 290,
        "notfound:/wp-login.php": 150,
        "notfound:/favicon.ico": 50,
        "method:GET": 900,
        "method:POST": 90,
        "kind:static": {"count": 400, "bytes": 12_000},
        "kind:dynamic": {"count": 590, "bytes": 8_000},
    }
    return results


@pytest.mark.unit
def test_access_report_panels_each_have_a_section() -> None:
    results = panel_results()
    _, page = page_of(record("access_report"), results)
    assert page.sections() == [
        "facts",
        "timeseries",
        "percentiles",
        "mix",
        "shares",
        "top",
        "panel-client",
        "panel-referer",
        "panel-agent",
        "panel-notfound",
        "results",
        "malformed",
    ]
    for prefix in ("client", "referer", "agent", "notfound"):
        keys = {k: v for k, v in results.items() if k.startswith(f"{prefix}:")}
        assert page.count("rect", f"panel-{prefix}", "bar") == len(keys)
        assert f"{len(keys)} of {len(keys)} distinct" in page.text(f"panel-{prefix}")
    # the top keys are the paths alone, not the panels' keys
    assert page.count("rect", "top", "bar") == 3
    assert "Top 3 paths by count" in page.text("top")
    shares = page.charts("shares")
    assert [chart["data-points"] for chart in shares] == ["2", "2"]
    assert "GET: 900 (90.9%)" in page.text("shares")
    assert "static: 400 (40.4%)" in page.text("shares")
    assert "client:" not in page.text("results")


@pytest.mark.unit
def test_long_labels_are_shortened_in_the_middle_with_the_whole_text_on_hover() -> None:
    results = panel_results()
    text, _ = page_of(record("access_report"), results)
    agent = next(k for k in results if k.startswith("agent:Mozilla"))[len("agent:") :]
    shown = shortened(agent, 48)
    assert len(shown) == 48 and shown.startswith("Mozilla/5.0") and shown.endswith("END")
    assert "…" in shown
    assert f">{escape(shown)}<title>{escape(agent)}</title></text>" in text
    assert shortened("/short", 48) == "/short"
    assert shortened("/abcdefghij", 5) == "/a…ij"


@pytest.mark.unit
def test_level_report_shape_has_a_level_mix_and_top_messages_by_level() -> None:
    results: dict[str, Any] = {
        "level:INFO": {"count": 90},
        "level:WARN": {"count": 8},
        "level:ERROR": {"count": 2},
        "message:Completed request in # ms": {"count": 80, "by_level": {"INFO": 80}},
        "message:User # logged in": {"count": 10, "by_level": {"INFO": 10}},
        "message:Slow request: # ms": {"count": 8, "by_level": {"WARN": 8}},
        "message:Failed to process order #": {"count": 2, "by_level": {"ERROR": 2}},
        f"message:{HOSTILE}": {"count": 1, "by_level": {"ERROR": 1}},
    }
    text, page = page_of(record("level_report"), results)
    assert {"mix", "messages"} <= set(page.sections())
    assert "Level mix" in page.text("mix")
    legend = re.findall(r"(INFO|WARN|ERROR): (\d+)", page.text("mix"))
    # most severe first (each in the legend and in its bar's title)
    assert list(dict.fromkeys(legend)) == [("ERROR", "2"), ("WARN", "8"), ("INFO", "90")]
    rows = re.findall(
        r'<tr><td data-value="\d+"><span class="level" style="background:(#\w+)"></span>(\w+)</td>'
        r'<td class="key">(.*?)</td>',
        text,
    )
    assert [(level, message) for _, level, message in rows] == [
        ("ERROR", "Failed to process order #"),
        ("ERROR", escape(HOSTILE)),
        ("WARN", "Slow request: # ms"),
        ("INFO", "Completed request in # ms"),
        ("INFO", "User # logged in"),
    ]
    colours = {level: colour for colour, level, _ in rows}
    assert colours == {
        "ERROR": LEVEL_COLOURS["ERROR"],
        "WARN": LEVEL_COLOURS["WARN"],
        "INFO": LEVEL_COLOURS["INFO"],
    }
    assert_only_the_report_script(text, page)


@pytest.mark.unit
def test_level_colours_are_fixed_and_warn_is_not_green() -> None:
    for label in ("WARN", "warn", "WARNING"):
        assert share_colour(label, 2) == LEVEL_COLOURS["WARN"]
    assert share_colour("ERROR", 0) == share_colour("error", 5) == LEVEL_COLOURS["ERROR"]
    greens = {"#009e73", STATUS_COLOURS["2"]}
    assert not greens & {share_colour(level, i) for i, level in enumerate(LEVEL_COLOURS)}
    assert share_colour("DEBUG", 0) != share_colour("INFO", 0)
    _, page = page_of(record("level_counts"), {"DEBUG": 5, "INFO": 80, "WARN": 15, "ERROR": 5})
    bars = [
        a for t, a, s in page.elements if t == "rect" and s == "mix" and a.get("class") == "bar"
    ]
    assert [bar["fill"] for bar in bars] == [
        LEVEL_COLOURS[level] for level in ("ERROR", "WARN", "INFO", "DEBUG")
    ]


@pytest.mark.unit
def test_distinct_count_charts_distinct_values_not_records() -> None:
    keys = windows(4)
    results = {
        iso: {"count": 1000 + i, "distinct": 10 + i, "lower": 9, "upper": 12, "sketch": "x"}
        for i, iso in enumerate(keys)
    }
    spec = {"inputs": ["x"], "params": {"field": "client", "window": "1m"}}
    text, page = page_of(record("distinct_count", spec=spec), results)
    titles = re.findall(r"<title>(\S+) distinct client values: (\d+)", text)
    assert [int(value) for _, value in titles] == [10, 11, 12, 13]
    assert "Distinct client values per window" in page.text("timeseries")
    assert "records" not in page.text("timeseries")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("job", "params", "unit"),
    [
        ("access_report", {}, "bytes"),
        ("percentiles", {}, "bytes"),  # the job's default field
        ("percentiles", {"field": "latency"}, "seconds"),
    ],
)
def test_percentile_charts_name_their_unit(job: str, params: dict[str, str], unit: str) -> None:
    results = {iso: {"count": 5, "p50": 1, "p95": 2, "p99": 3} for iso in windows(3)}
    spec = {"inputs": ["x"], "params": params}
    _, page = page_of(record(job, spec=spec), results)
    assert f"Percentiles over time ({unit})" in page.text("percentiles")
    labels = [a for t, a, s in page.elements if s == "percentiles" and t == "text"]
    assert labels  # the axis label is the unit
    assert re.search(rf"axis-label[^>]*>[^<]*{unit}", page_of(record(job, spec=spec), results)[0])


@pytest.mark.unit
def test_the_last_window_is_marked_partial() -> None:
    keys = windows(5)
    results = {iso: {"count": 100, "errors": 1} for iso in keys}
    text, page = page_of(record("window_counts"), results)
    partial = re.findall(r'<circle class="point partial"[^>]*><title>([^<]*)</title>', text)
    assert partial == [
        f"{keys[-1]} records: 100 (partial window: the log ends inside it)",
        f"{keys[-1]} errors: 1 (partial window: the log ends inside it)",
    ]
    assert "last window partial" in page.text("timeseries")
    assert f"the last window ({keys[-1]}) is partial" in page.text("timeseries")


@pytest.mark.functional
def test_level_report_job_against_an_independent_reading(tmp_path: Path) -> None:
    log = generated_logs(tmp_path, lines=3000, seed=21)["app"]
    pattern = re.compile(r"^\S+ \S+ ([A-Z]+) +\[[^\]]*\] \S+ - (.*)$")
    levels: Counter[str] = Counter()
    messages: dict[str, Counter[str]] = {}
    for line in log.read_text().splitlines():
        found = pattern.match(line)
        if found:
            level, message = found.groups()
            levels[level] += 1
            masked = re.sub(r"\d+", "#", message)
            messages.setdefault(level, Counter())[masked] += 1
    rec, results = run_inline(log, "level_report", params={"top": "3"})
    level_rows = {k[6:]: v for k, v in results.items() if k.startswith("level:")}
    assert level_rows == {level: {"count": count} for level, count in levels.items()}
    by_message: dict[str, dict[str, int]] = {}
    for level, counted in messages.items():
        for message, count in counted.items():
            by_message.setdefault(f"message:{message}", {})[level] = count
    want = {k: {"count": sum(v.values()), "by_level": v} for k, v in by_message.items()}
    assert {k: v for k, v in results.items() if k.startswith("message:")} == want
    assert rec.summary["levels"] == dict(sorted(levels.items(), key=lambda kv: (-kv[1], kv[0])))
    assert rec.summary["top_messages"] == {
        level: [[m, n] for m, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        for level, counted in sorted(messages.items())
    }
    _, unmasked = run_inline(log, "level_report", params={"mask": "false"})
    assert len(unmasked) > len(results)  # digits kept: more distinct messages
    in_levels = sum(v["count"] for k, v in unmasked.items() if k.startswith("level:"))
    assert in_levels == sum(levels.values())


# -- drawing helpers ------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("high", [0.0, 0.4, 7.0, 99.0, 1234.0, 10_000.0, 3.3e6])
def test_ticks_start_at_zero_and_cover_the_peak(high: float) -> None:
    ticks = nice_ticks(high)
    assert ticks[0] == 0.0
    assert ticks[-1] >= high
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1


# -- the CLI ---------------------------------------------------------------------------
@pytest.mark.functional
def test_cli_report_and_run_html_for_real_jobs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = generated_logs(tmp_path, lines=1500, seed=5)["access"]
    via_run = tmp_path / "run.html"
    code = main(
        [
            "run",
            str(log),
            "--job",
            "requests_per_window",
            "--param",
            "window=5m",
            "--job-id",
            "rpw-report",
            "--engine",
            "inline",
            "--workers",
            "1",
            "--json",
            "--html",
            str(via_run),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    page = Page(via_run.read_text())
    assert {"facts", "timeseries", "mix", "results"} <= set(page.sections())
    assert page.count("circle", "timeseries", "point") == 2 * len(out["results"])
    assert f"{out['counters']['malformed']:,} of {out['counters']['lines']:,}" in page.text("facts")
    again = tmp_path / "out" / "report.html"
    assert main(["report", "rpw-report", "--html", str(again)]) == 0
    assert "report written to" in capsys.readouterr().err
    assert again.read_text() == via_run.read_text()


@pytest.mark.functional
def test_cli_report_remote_reads_dynamodb_and_the_part_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    from aws_support import BUCKET, create_account
    from logmr import layout
    from logmr.aws.dynamodb import DynamoResultStore
    from logmr.aws.s3 import S3ObjectStore
    from logmr.config import DEFAULT_DATA_PREFIX, DEFAULT_JOBS_TABLE, DEFAULT_RESULTS_TABLE
    from logmr.storage.parts import part_file

    results = {"200": 40, "404": 9, HOSTILE: 1}
    monkeypatch.setenv("LOGMR_BUCKET", BUCKET)
    with mock_aws():
        create_account()
        store = DynamoResultStore(DEFAULT_RESULTS_TABLE, DEFAULT_JOBS_TABLE)
        store.put_job(record("status_codes", job_id="remote-1"))  # the record: DynamoDB
        objects = S3ObjectStore(BUCKET, DEFAULT_DATA_PREFIX)  # every result: the part files
        objects.put(layout.part_key("remote-1", 0), part_file(results.items())[0])
        target = tmp_path / "remote.html"
        argv = ["report", "remote-1", "--region", "us-east-1", "--html", str(target)]
        tables = ["--results-table", DEFAULT_RESULTS_TABLE, "--jobs-table", DEFAULT_JOBS_TABLE]
        assert main([*argv, *tables]) == 0
    text = target.read_text()
    page = Page(text)
    assert page.count("rect", "top", "bar") == len(results)
    assert HOSTILE in page.text("results")
    assert_only_the_report_script(text, page)


@pytest.mark.functional
def test_cli_report_of_an_unknown_job_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["report", "no-such-job", "--html", str(tmp_path / "x.html")]) == 1
    err = capsys.readouterr().err
    want = "logmr: error: JobNotFoundError: no job 'no-such-job' (logmr ls lists them)"
    assert err.strip() == want
    assert not (tmp_path / "x.html").exists()


# -- many keys: one pass, bounded memory ----------------------------------------------------------
@pytest.mark.unit
def test_the_report_reads_many_results_once_and_keeps_what_it_shows() -> None:
    """A stream of 100,000 results (as the part files give them, in key
    order): one pass, and the memory of the page's rows, not of the results;
    the top keys and the first rows are what the whole dict would give."""
    import tracemalloc

    count = 100_000

    def results() -> Iterator[tuple[str, Any]]:
        for i in range(count):
            yield f"word{i:06d}", {"count": (i * 7919) % 1000, "bytes": i}

    tracemalloc.start()
    try:
        everything = dict(results())
        _, whole_peak = tracemalloc.get_traced_memory()
        del everything
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        data = analyse(record("top_paths"), results())
        _, stream_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream_peak - base < whole_peak / 20
    assert data.result_count == count
    best = sorted(results(), key=lambda kv: (-kv[1]["count"], kv[0]))[:20]
    assert [(key, count) for key, count, _ in data.top] == [(k, v["count"]) for k, v in best]
    assert [key for key, _ in data.first] == [f"word{i:06d}" for i in range(20)]
    _, page = page_of_data(data)
    assert f"and {count - 20:,} more keys" in page.text("results")


def page_of_data(data: Any) -> tuple[str, Page]:
    text = render(data)
    return text, Page(text)


@pytest.mark.unit
def test_windows_past_the_limit_merge_into_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past twice MAX_WINDOW_POINTS windows, adjacent ones merge: counts and
    errors add up, percentiles come from their merged sketches, and the note
    says how many windows there are."""
    from logmr.jobs.sketches import merge_quantiles, quantiles_of, quantiles_text
    from logmr.report import data as report_data

    monkeypatch.setattr(report_data, "MAX_WINDOW_POINTS", 25)
    sizes = {iso: [float(i % 97), float(i % 13) * 10] for i, iso in enumerate(windows(600))}
    results = {
        f"window:{iso}": {
            "count": 10 + i % 5,
            "errors": i % 3,
            "bytes": 1,
            "p50": 0.0,
            "p95": 0.0,
            "p99": 0.0,
            "sketch": quantiles_text(quantiles_of(sizes[iso])),
        }
        for i, iso in enumerate(windows(600))
    }
    data = analyse(record("access_report"), results)
    assert 25 <= len(data.windows) < 50 and data.window_count == 600
    assert sum(point.count for point in data.windows) == sum(v["count"] for v in results.values())
    assert sum(point.errors or 0 for point in data.windows) == sum(
        v["errors"] for v in results.values()
    )
    assert [point.start for point in data.windows] == sorted(p.start for p in data.windows)
    first = data.windows[0]
    merged = merge_quantiles(
        results[f"window:{iso}"]["sketch"] for iso in windows(600)[: first.windows]
    )
    assert first.percentiles["p50"] == merged.get_quantile(0.5, True)
    _, page = page_of_data(data)
    assert f"600 windows from {windows(1)[0]}" in page.text("timeseries")
    assert f"shown as {len(data.windows)} points" in page.text("timeseries")


class PerRecordLevelReport(LevelReport):
    """level_report through its per-record ``mapper`` (no columns)."""

    name = "level_report_per_record"

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.columns = ()


@pytest.mark.functional
def test_level_report_mapper_equals_its_columns(tmp_path: Path) -> None:
    log = generated_logs(tmp_path, lines=1500, seed=4)["app"]
    record, batched = run_inline(log, "level_report")
    again, per_record = run_inline(log, "test_report:PerRecordLevelReport")
    assert per_record == batched
    assert again.summary == record.summary
