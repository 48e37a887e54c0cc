"""bench/hostile.py, the closing table of issue 18: its case list covers every
item of the issue, and a fast case runs and reports its exit code and message."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The items of issue 18 ("Hostile input and faults the suites missed"), in its
#: order: one per attack it names that one machine, or a test on moto, can run.
ISSUE_18 = (
    # job identity
    "foreign-id", "foreign-id-aws", "same-id-race", "same-id-dynamodb", "job-module-import",
    "malformed-job-name", "terminal-controls",
    # inputs that change, repeat or cannot be read
    "copytruncate", "s3-overwritten", "same-object-twice", "fifty-copies",
    "unreadable-subfolder", "xz", "lz4", "zip", "utf16", "utf32",
    # one bad line
    "lone-surrogate", "size-400-digits", "dynamodb-keys",
    # memory and requests bounded
    "line-200MB", "gzip-bomb", "tokens-50MB", "tokens-100MB", "tokens-200MB",
    "tokens-200MB-one-task", "report-3M-keys",
    "map-task-lambda", "finalize-lambda", "chunk-size-1", "reducers-beyond",
    # dying processes and broken state
    "kill-9-worker", "sigterm-cli", "disk-full", "corrupt-database", "home-is-file",
    "workers-abc", "workers-0", "shuffle-swapped", "summary-edited", "summary-truncated",
)  # fmt: skip


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import hostile as module

    return module


@pytest.mark.unit
def test_every_item_of_the_issue_is_a_case_run_or_a_test_named(hostile: ModuleType) -> None:
    items = [case.item for case in hostile.CASES]
    assert sorted(items) == sorted(ISSUE_18), "an item of issue 18 has no case, or one is new"
    assert len(set(items)) == len(items)
    assert set(hostile.ISSUE_ITEMS) == set(ISSUE_18)
    for case in hostile.CASES:
        assert (case.run is None) != (not case.tests), f"{case.item}: a run or tests, one of them"
        if case.tests:
            assert case.issue_before, f"{case.item}: what the issue reported before"
        for test in case.tests:  # a cited test that was renamed or deleted would cite nothing
            path, name = test.split("::")
            source = (ROOT / path).read_text()
            assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{test} does not exist"


@pytest.mark.functional
def test_a_fast_case_reports_exit_code_message_and_peak(
    hostile: ModuleType, tmp_path: Path
) -> None:
    """``LOGMR_WORKERS=abc`` through the real CLI: the row says exit 1, the
    one-line message naming the variable, and a peak; the .md holds the row."""
    output = tmp_path / "hostile.json"
    hostile.main(["--cases", "workers-abc,home-is-file", "--no-tests", "--output", str(output)])
    report = json.loads(output.read_text())
    rows = {row["item"]: row["after"] for row in report["rows"]}
    assert rows["workers-abc"]["exit"] == "1"
    assert rows["workers-abc"]["message"].startswith(
        "logmr: error: InvalidParameterError: LOGMR_WORKERS='abc'"
    )
    assert rows["home-is-file"]["message"].startswith("logmr: error: LocalStoreError: ")
    assert all(row["meets"] and not row["traceback"] for row in rows.values())
    assert all(row["peak_mib"] > 0 for row in rows.values())
    table = output.with_suffix(".md").read_text()
    assert "| workers-abc: LOGMR_WORKERS=abc | not run | exit 1; logmr: error:" in table
    assert "cannot express" not in table
