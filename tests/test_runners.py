"""The three runners share one interface (``logmr.run.runner.Runner``):
``run(request, progress) -> JobRecord``. The inline runner and the local
engine give the same record and results for the same request, fail a job the
same way (a FAILED record with the error name and cause), and refuse a
request that cannot be a job before any work. (The remote runner is driven
through ``logmr submit`` on moto in test_remote.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import generated_logs
from logmr.config import Settings
from logmr.errors import InvalidJobError, JobExistsError
from logmr.run.embedded import embedded_backends
from logmr.run.engine import EngineRunner
from logmr.run.inline import InlineRunner
from logmr.run.request import build_request
from logmr.run.runner import Runner

pytestmark = [pytest.mark.statemachine, pytest.mark.usefixtures("handler_env")]


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_logs(tmp_path_factory.mktemp("logs"), 3_000, seed=5)["access"]


def runners() -> dict[str, Runner]:
    """Both local runners on this test's home; the engine runs the handlers
    in this process (``handler_env``: local storage there too)."""
    settings = Settings.load(workers=1)
    return {
        "inline": InlineRunner(embedded_backends(settings)),
        "engine": EngineRunner(settings, workers=0),
    }


def shown_by(shown: list[tuple[str, int, int]]) -> Any:
    """A progress that keeps what it is shown."""
    return lambda *step: shown.append(step)


def test_both_local_runners_give_the_same_record_and_results(
    tmp_path: Path, access_log: Path
) -> None:
    seen: dict[str, Any] = {}
    for name, runner in runners().items():
        shown: list[tuple[str, int, int]] = []
        request = build_request([str(access_log)], "status_codes", job_id=f"same-{name}")
        record = runner.run(request, shown_by(shown))
        results = dict(embedded_backends(Settings.load()).job_results().iter_results(record.job_id))
        assert record.status == "SUCCEEDED"
        assert shown[-1] == ("finalize", 1, 1)  # progress reached the end
        seen[name] = (record.counters, record.spec["format"], results)
    assert seen["inline"] == seen["engine"]
    counters = seen["inline"][0]
    assert counters["records"] + counters["malformed"] == 3_000  # every generated line


def test_a_failed_job_is_a_failed_record_on_both(tmp_path: Path, access_log: Path) -> None:
    for name, runner in runners().items():
        request = build_request(
            [str(access_log)], "level_counts", job_id=f"bad-{name}", fmt="apache_combined"
        )
        with pytest.raises(Exception) as refused:  # the format has no level: refused up front
            runner.run(request)
        assert type(refused.value).__name__ == "FormatMismatchError"
        missing = build_request([str(tmp_path / "absent.log")], "status_codes", job_id=f"m-{name}")
        record = runner.run(missing)
        assert (record.status, record.error) == ("FAILED", "InputNotFoundError"), name
        assert "absent.log" in str(record.cause)


def test_a_refused_job_id_leaves_the_other_jobs_record(tmp_path: Path, access_log: Path) -> None:
    for name, runner in runners().items():
        request = build_request([str(access_log)], "status_codes", job_id=f"taken-{name}")
        first = runner.run(request)
        again = runner.run(build_request([str(access_log)], "word_count", job_id=first.job_id))
        assert (again.status, again.error) == ("FAILED", JobExistsError.__name__)
        assert again.job == "word_count"  # the refused run's own record, not the stored one
        stored = embedded_backends(Settings.load()).results.get_job(first.job_id)
        assert (stored.status, stored.job) == ("SUCCEEDED", "status_codes")


def test_a_request_that_cannot_be_a_job_raises_before_any_work(tmp_path: Path) -> None:
    for runner in runners().values():
        with pytest.raises(InvalidJobError):
            runner.run(build_request(["/nowhere"], "no_such_job", job_id="x-1"))
    assert not (tmp_path / "logmr.sqlite").exists() or not embedded_backends(
        Settings.load(home=tmp_path)
    ).results.load_job("x-1")
