"""Shared fixtures: no network, no real AWS, a fresh logmr home per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EVENTS = REPO / "events"
#: the bucket of the moto account the AWS tests lay out (tests/aws_support.py)
AWS_BUCKET = "my-logs-bucket"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials and a private LOGMR_HOME: nothing reaches a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LOGMR_HOME", str(tmp_path / "logmr-home"))
    for name in ("LOGMR_CHUNK_SIZE", "LOGMR_REDUCERS", "LOGMR_WORKERS"):
        monkeypatch.delenv(name, raising=False)


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or a skip saying why it is not there."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is missing: the reference data set sits beside the checkout in CI")
    return path


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_file(name + ".expected.json").read_text())
    return data


@pytest.fixture
def aws_handler_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Handlers in this process use S3 and DynamoDB (moto's)."""
    monkeypatch.setenv("LOGMR_STORAGE", "aws")
    monkeypatch.setenv("LOGMR_BUCKET", AWS_BUCKET)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from logmr.handlers import runtime

    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Handlers run in this process, on local storage (LOGMR_HOME set above)."""
    monkeypatch.setenv("LOGMR_STORAGE", "local")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    from logmr.handlers import runtime

    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's ``chunk_size`` floor (``limits.MIN_CHUNK_SIZE``, 64 KiB)
    lowered to 1 byte in this process: for a test whose subject is many map
    tasks, or line-exact splitting, over a small input, with the tasks run in
    this process (a worker process keeps the floor)."""
    from logmr import spec

    monkeypatch.setattr(spec, "MIN_CHUNK_SIZE", 1)


@pytest.fixture(
    params=[
        pytest.param("local", marks=pytest.mark.unit),
        pytest.param("moto", marks=pytest.mark.statemachine),
    ]
)
def interpreter(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A semantic test's interpreter: logmr's (a unit test), then moto's (a
    statemachine test): ``tests/interpreters.py``."""
    from interpreters import open_interpreter

    yield from open_interpreter(request.param)


#: the tiers of pyproject.toml's markers; every test carries exactly one, so that
#: ``-m unit``, ``-m functional``, ... split the suite. The other markers there
#: (reference, faults, badinput, browser) are topics, added on top of a tier.
TIERS = ("unit", "property", "functional", "statemachine", "infra", "emulated", "e2e", "load")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[pytest.CollectReport]:
    """A module (or class) whose tests do not each carry exactly one tier marker
    fails to collect, naming them: the run stops before any test, with or
    without xdist (a collection error is reported by the workers; an exception
    in ``pytest_collection_modifyitems`` would crash them), so a new untiered
    test cannot land."""
    report: pytest.CollectReport = yield
    wrong = []
    for item in report.result if report.passed else ():
        if isinstance(item, pytest.Item):
            tiers = sorted({mark.name for mark in item.iter_markers()} & set(TIERS))
            if len(tiers) != 1:
                wrong.append(f"{item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if wrong:
        report.outcome = "failed"
        report.longrepr = (
            f"{len(wrong)} test(s) need exactly one tier marker of {', '.join(TIERS)}"
            " (pytestmark = pytest.mark.<tier>, or @pytest.mark.<tier> on the test):\n  "
            + "\n  ".join(wrong)
        )
        report.result = []
    return report


def expected_by_logmr(name: str) -> dict[str, Any]:
    """``expected(name)`` with logmr's deliberate differences applied
    (``reference_access``: ``apache_combined`` takes trailing fields)."""
    from reference_access import expected_by_logmr as adjusted

    return adjusted(shared_file(name), expected(name))
