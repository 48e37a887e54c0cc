"""logmr.config: one Settings, read from the environment once; an explicit
argument beats the environment, which beats the default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logmr import config
from logmr.config import Settings
from logmr.errors import InvalidParameterError

pytestmark = pytest.mark.unit

#: every variable Settings reads, with a value and the field it must land in
ENVIRONMENT = {
    config.ENV_HOME: ("/data/logmr", "home", Path("/data/logmr")),
    config.ENV_CHUNK_SIZE: ("1048576", "chunk_size", 1_048_576),
    config.ENV_REDUCERS: ("7", "reducers", 7),
    config.ENV_WORKERS: ("3", "workers", 3),
    config.ENV_STORAGE: ("local", "storage", "local"),
    config.ENV_BUCKET: ("job-data", "bucket", "job-data"),
    config.ENV_DATA_PREFIX: ("data/", "data_prefix", "data/"),
    config.ENV_RESULTS_TABLE: ("r", "results_table", "r"),
    config.ENV_JOBS_TABLE: ("j", "jobs_table", "j"),
    config.ENV_ENDPOINT_URL: ("http://127.0.0.1:4566", "endpoint_url", "http://127.0.0.1:4566"),
    config.ENV_STATE_MACHINE: ("Other", "state_machine", "Other"),
    config.ENV_INPUT_BUCKETS: ("a, b,,", "input_buckets", ("a", "b")),
    config.ENV_INPUT_PREFIXES: ("in/,archive/", "input_prefixes", ("in/", "archive/")),
    config.ENV_INPUT_LOCATIONS: (
        "s3://alb-logs/AWSLogs/1/, s3://cf",
        "input_locations",
        ("s3://alb-logs/AWSLogs/1/", "s3://cf"),
    ),
    config.ENV_JOB_MODULES: ("team_jobs, ops.jobs", "job_modules", ("team_jobs", "ops.jobs")),
    config.ENV_MAP_MEMORY_MB: ("3008", "map_memory_mb", 3008),
    config.ENV_REDUCE_MEMORY_MB: ("512", "reduce_memory_mb", 512),
    config.ENV_MAP_TIMEOUT_S: ("120", "map_timeout_s", 120),
    config.ENV_MAP_CONCURRENCY: ("50", "map_concurrency", 50),
    config.ENV_RETENTION_DAYS: ("30", "retention_days", 30),
    config.ENV_MAX_MALFORMED: ("0.25", "max_malformed", 0.25),
    config.ENV_LAMBDA_FUNCTION: ("logmr-Map", "lambda_function", "logmr-Map"),
    config.ENV_TRACE_DISABLED: ("TRUE", "trace_disabled", True),
}


def test_every_variable_lands_in_its_field() -> None:
    settings = Settings.load({name: text for name, (text, _, _) in ENVIRONMENT.items()})
    assert {field: getattr(settings, field) for _, field, _ in ENVIRONMENT.values()} == {
        field: value for _, field, value in ENVIRONMENT.values()
    }


def test_every_settings_field_is_read_from_some_variable_or_said_otherwise() -> None:
    """A field no variable sets is one only an explicit argument sets (region: the CLI's)."""
    read = {field for _, field, _ in ENVIRONMENT.values()}
    assert set(Settings.__dataclass_fields__) - read == {"region"}


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = Settings.load({})
    assert settings.storage == "aws"
    assert (settings.chunk_size, settings.reducers) == (0, 0)  # left to the planner
    assert settings.workers == (os.cpu_count() or 1)
    assert settings.home == Path.home() / ".local" / "share" / "logmr"
    assert (settings.results_table, settings.jobs_table) == (None, None)
    assert (settings.results_table_name, settings.jobs_table_name) == (
        config.DEFAULT_RESULTS_TABLE,
        config.DEFAULT_JOBS_TABLE,
    )
    assert settings.input_prefixes == (config.DEFAULT_INPUT_PREFIXES,)
    assert settings.state_machine == config.DEFAULT_STATE_MACHINE
    assert not settings.trace_disabled and settings.lambda_function is None


def test_explicit_beats_environment_beats_default() -> None:
    env = {config.ENV_REDUCERS: "7", config.ENV_WORKERS: "3", config.ENV_HOME: "/env/home"}
    settings = Settings.load(env, reducers=2, home="/explicit", workers=None)
    assert settings.reducers == 2  # explicit
    assert settings.workers == 3  # None is unset: the environment's
    assert settings.home == Path("/explicit")  # a path, whatever it was given as
    assert Settings.load(env).home == Path("/env/home")


def test_xdg_data_home_places_the_default_home() -> None:
    assert Settings.load({"XDG_DATA_HOME": "/xdg"}).home == Path("/xdg/logmr")


def test_the_allowed_buckets_default_to_the_data_bucket() -> None:
    assert Settings.load({config.ENV_BUCKET: "job-data"}).allowed_buckets == ("job-data",)
    both = {config.ENV_BUCKET: "job-data", config.ENV_INPUT_BUCKETS: "logs"}
    assert Settings.load(both).allowed_buckets == ("logs",)
    assert Settings.load({}).allowed_buckets == ()


@pytest.mark.parametrize(
    ("text", "on"), [("1", True), ("yes", True), ("false", False), ("0", False)]
)
def test_a_switch_reads_as_powertools_reads_it(text: str, on: bool) -> None:
    assert Settings.load({config.ENV_TRACE_DISABLED: text}).trace_disabled is on


def test_a_bad_number_is_an_error_naming_the_variable() -> None:
    with pytest.raises(InvalidParameterError, match="LOGMR_WORKERS='many' is not a valid workers"):
        Settings.load({config.ENV_WORKERS: "many"})
