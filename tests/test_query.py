"""The query job (``logmr query``, docs/queries.md): every worked query of the
docs against rows computed independently (``query_reference``), the local
engine against moto's state machine, queries equal to built-in jobs, and bad
queries refused in one line before any work."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from aws_support import BUCKET, create_account, upload
from conftest import REPO
from engine_support import request_for
from helpers import run_inline
from logmr.cli import main
from logmr.devtools.generate import generate
from logmr.engine.dispatcher import Dispatcher
from logmr.errors import InvalidParameterError, QueryError
from logmr.handlers import runtime
from logmr.jobs import load_job
from logmr.jobs.binding import prepare
from logmr.jobs.query import natural_key
from logmr.query import parse
from logmr.spec import request_to_spec
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching
from query_reference import CASES, Case, read_access, read_app

DOCS = REPO / "docs" / "queries.md"
FORMATS = {"access": "apache_combined", "app": "applog"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The docs' sample logs, shortened: ``logmr generate --seed 42`` (a
    shorter output is a prefix of a longer one)."""
    folder = tmp_path_factory.mktemp("query-logs")
    paths = {"access": folder / "access.log", "app": folder / "app.log"}
    for kind, path in paths.items():
        with path.open("wb") as out:
            generate(out, fmt=FORMATS[kind], lines=3000, seed=42)
    return paths


def records_of(logs: dict[str, Path], kind: str) -> list[dict[str, Any]]:
    return (read_access if kind == "access" else read_app)(logs[kind])


def run_query(path: Path, query: str, fmt: str, **options: Any) -> tuple[Any, list[dict[str, Any]]]:
    record, _ = run_inline(path, "query", params={"query": query}, fmt=fmt, **options)
    return record, record.summary["rows"]


# -- the worked queries ------------------------------------------------------------
@pytest.mark.functional
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_worked_query_gives_the_rows_computed_apart(logs: dict[str, Path], case: Case) -> None:
    records = records_of(logs, case.log)
    record, rows = run_query(logs[case.log], case.query, FORMATS[case.log])
    assert record.counters["records"] == len(records)  # the reference reads the same records
    want = case.expected(records)
    assert want, f"{case.name}: a worked query with no rows shows nothing"
    case.check(rows, want)


#: queries whose first filter reads the status alone: the engine leaves out the
#: records it refuses before extracting any column (``Job.scan_filter``)
STATUS_FILTERED = [
    "filter status >= 500 | stats count(*), sum(bytes) by path",
    'filter status in ["404", "500"] | stats count(*) by status, method',
    "filter status != 200 and bytes > 1000 | stats count(*), max(bytes) by status",
    "filter status = 404 | fields @timestamp, path | sort @timestamp desc | limit 5",
    "filter status < 100 | stats count(*) by path",
]


@pytest.mark.functional
@pytest.mark.parametrize("query", STATUS_FILTERED)
def test_a_status_filter_applied_before_the_columns_changes_no_answer(
    logs: dict[str, Path], query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows and counters (lines, records, malformed and the samples) are
    the same whether the records the status filter refuses are left out of
    the text first or dropped from the extracted columns."""
    from logmr.jobs.query import Query

    fmt = FORMATS["access"]
    record, rows = run_query(logs["access"], query, fmt, chunk_size=64 * 1024)
    assert prepare_scan(query, fmt) is not None  # the shortcut is taken
    monkeypatch.setattr(Query, "scan_filter", lambda self: None)
    plain, plain_rows = run_query(logs["access"], query, fmt, chunk_size=64 * 1024)
    assert rows == plain_rows
    assert record.counters == plain.counters
    assert record.counters["malformed"] > 0
    assert record.malformed_samples == plain.malformed_samples


def prepare_scan(query: str, fmt: str) -> Any:
    job, _ = prepare(request_to_spec({"query": query, "inputs": ["x"], "format": fmt}))
    return job.scan_filter()


@pytest.mark.unit
def test_the_docs_hold_exactly_the_worked_queries() -> None:
    written = re.findall(r"```logsinsights\n(.*?)\n```", DOCS.read_text(), re.DOTALL)
    assert sorted(" ".join(q.split()) for q in written) == sorted(
        " ".join(case.query.split()) for case in CASES
    )
    assert len(CASES) >= 15


# -- local engine and moto -----------------------------------------------------------
#: columns whose values come from randomized sketches (KLL compaction is seeded
#: from the clock): equal between two runs only within the sketch's error
SKETCHED = re.compile(r"^pct\(|^count_distinct\(|^clients$")


def _exact(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if not SKETCHED.search(k)} for row in rows]


@pytest.mark.statemachine
def test_the_worked_queries_give_the_same_rows_on_the_local_engine_and_on_moto(
    aws_handler_env: None, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from logmr.config import Settings
    from logmr.run.engine import EngineRunner

    requests = {
        case.name: {
            **request_for(logs[case.log], "query", f"q{number}"),
            "params": {"query": case.query},
            "format": FORMATS[case.log],
            "reducers": 2,
            "chunk_size": 80_000,
        }
        for number, case in enumerate(CASES)
    }
    remote: dict[str, list[dict[str, Any]]] = {}
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uris = {
            kind: upload(s3, path, f"incoming/{kind}/{path.name}") for kind, path in logs.items()
        }
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            for case in CASES:
                request = {**requests[case.name], "inputs": [uris[case.log]]}
                described = machine.run(request, request["job_id"])
                assert described["status"] == "SUCCEEDED", described.get("cause")
                summary = runtime.backends().results.get_job(request["job_id"]).summary
                remote[case.name] = summary["rows"]
    monkeypatch.setenv("LOGMR_STORAGE", "local")
    runtime.reset()
    for case in CASES:
        record = EngineRunner(Settings.load(workers=0)).run(requests[case.name])
        assert record.status == "SUCCEEDED", record.cause
        local = record.summary["rows"]
        assert _exact(local) == _exact(remote[case.name]), case.name
        assert [list(row) for row in local] == [list(row) for row in remote[case.name]]


# -- queries equal to built-in jobs ----------------------------------------------------
LINE = st.builds(
    lambda ip, path, status, size: (
        f'{ip} - - [01/Dec/2020:10:00:00 +0000] "GET {path} HTTP/1.1" {status} {size} "-" "ua"'
    ),
    st.sampled_from(["10.0.0.1", "10.0.0.2", "::1"]),
    st.sampled_from(["/", "/a", "/a?x=1", "/ü", "/b%20c"]),
    st.sampled_from(["200", "301", "404", "500"]),
    st.one_of(st.just("-"), st.integers(0, 10**6).map(str)),
)
LOG = st.lists(st.one_of(LINE, LINE, st.just("garbage")), min_size=1, max_size=50)
#: (query, built-in job, the built-in's results as rows of the query)
EQUIVALENT = [
    (
        "stats count(*) by status",
        "status_codes",
        lambda results: {key: {"status": key, "count(*)": value} for key, value in results.items()},
    ),
    (
        "stats count(*), sum(bytes) by path",
        "top_paths",
        lambda results: {
            key: {"path": key, "count(*)": value["count"], "sum(bytes)": value["bytes"]}
            for key, value in results.items()
        },
    ),
    (
        "stats count(*) as requests, sum(bytes) as bytes by path | sort requests desc",
        "top_paths",
        lambda results: {
            key: {"path": key, "requests": value["count"], "bytes": value["bytes"]}
            for key, value in results.items()
        },
    ),
    (
        "filter ispresent(status) | stats count(*) by client",
        "field_count",
        lambda results: {key: {"client": key, "count(*)": value} for key, value in results.items()},
    ),
]


@pytest.mark.property
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=LOG,
    which=st.integers(0, len(EQUIVALENT) - 1),
    chunk=st.integers(1, 600),
    reducers=st.integers(1, 4),
    salted=st.booleans(),
)
def test_a_query_equal_to_a_built_in_job_gives_its_results_whatever_the_split(
    tmp_path_factory: pytest.TempPathFactory,
    small_chunks: None,
    lines: list[str],
    which: int,
    chunk: int,
    reducers: int,
    salted: bool,
) -> None:
    """Whatever the split, the reducers, and keys salted over every reducer
    (their values combined, then reduced by Finalize)."""
    path = tmp_path_factory.mktemp("equal") / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    query, job, as_rows = EQUIVALENT[which]
    params = {"field": "client"} if job == "field_count" else {}
    _, builtin = run_inline(path, job, params=params, fmt="apache_combined", reducers=3)
    _, results = run_inline(
        path,
        "query",
        params={"query": query},
        fmt="apache_combined",
        reducers=reducers,
        chunk_size=chunk,
        salted_keys=["200", "404", "/", "/a", "10.0.0.1"] if salted else None,
    )
    assert results == as_rows(builtin)


FILTERS = st.sampled_from(
    [
        "",
        "filter status >= 400 | ",
        'filter path like "/a" | ',
        'filter bytes > 1000 and method = "GET" | ',
        "filter status in [200, 404] or bytes < 10 | ",
        'parse @message "GET * HTTP" as target | filter ispresent(target) | ',
    ]
)
#: aggregates whose values do not depend on how the input was split (a KLL
#: sketch of at most 200 values keeps them all: ``pct`` is exact here)
AGGREGATES = st.lists(
    st.sampled_from(
        [
            "count(*)",
            "count(path)",
            "sum(bytes)",
            "min(bytes)",
            "max(bytes)",
            "avg(bytes)",
            "pct(bytes, 50)",
            "earliest(path)",
            "latest(status)",
        ]
    ),
    min_size=1,
    max_size=4,
    unique=True,
)
GROUPS = st.sampled_from(["", " by status", " by path", " by status, client", " by bin(1h)"])
#: tails that make a listing of the records instead of stats
LISTINGS = st.sampled_from(
    [
        "fields client, status, bytes | sort bytes desc | limit 7",
        "fields path, @timestamp | sort path | dedup path",
        "limit 5",
    ]
)


@pytest.mark.property
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=LOG,
    where=FILTERS,
    aggregates=AGGREGATES,
    by=GROUPS,
    listing=st.one_of(st.none(), LISTINGS),
    chunk=st.integers(1, 600),
    reducers=st.integers(1, 4),
)
def test_a_random_query_gives_the_same_rows_whatever_the_split(
    tmp_path_factory: pytest.TempPathFactory,
    small_chunks: None,
    lines: list[str],
    where: str,
    aggregates: list[str],
    by: str,
    listing: str | None,
    chunk: int,
    reducers: int,
) -> None:
    path = tmp_path_factory.mktemp("split") / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    query = where + (listing or "stats " + ", ".join(aggregates) + by)
    whole, _ = run_query(path, query, "apache_combined", reducers=1)
    split, _ = run_query(path, query, "apache_combined", reducers=reducers, chunk_size=chunk)
    assert split.summary == whole.summary
    assert split.counters == whole.counters


# -- how rows are shown and sorted ------------------------------------------------------
@pytest.mark.functional
def test_query_json_prints_one_object_with_rows_in_the_query_order(
    logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    query = "stats count(*) as n by status | sort n desc | limit 3"
    code = main(
        ["query", str(logs["access"]), query, "--json", "--engine", "inline", "--workers", "1"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) == {"job_id", "status", "counters", "rows"}
    counts = [row["n"] for row in out["rows"]]
    assert counts == sorted(counts, reverse=True) and len(counts) == 3
    assert all(isinstance(row["status"], str) and isinstance(row["n"], int) for row in out["rows"])


@pytest.mark.functional
def test_query_table_names_the_columns(
    logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["query", str(logs["app"]), "stats count(*) by level", "--format", "applog",
         "--engine", "inline", "--workers", "1"]
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[1].split() == ["level", "count(*)"]
    assert {line.split()[0] for line in lines[2:]} >= {"INFO", "ERROR"}


@pytest.mark.unit
def test_natural_sort_follows_logs_insights() -> None:
    """The order the Logs Insights sort documentation gives as its example."""
    given_order = ["!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj",
                   "a12345hfh", "0"]  # fmt: skip
    shuffled = random.Random(16).sample(given_order, len(given_order))
    assert shuffled != given_order
    assert sorted(shuffled, key=natural_key) == given_order


# -- bad queries ---------------------------------------------------------------------------
BAD = [
    ("stats count(*) by", "1:18: unexpected the end of the query; expected"),
    ("filter status >", "1:16: unexpected the end of the query; expected"),
    ("stats count(*) by status | sort count desc | limit", "1:51: unexpected the end"),
    ("stats count(*)\n| limit x", "2:9: unexpected 'x'; expected a whole number"),
    ("foo bar", "1:1: unknown command 'foo'"),
    ("stats count(*) | pattern @message", "1:18: command 'pattern' is not supported"),
    ("filter a ==== 3 | stats count(*)", "1:12: unexpected '=='"),
    ("stats count(*) by bin(1mo)", "1:23: duration '1mo' is not supported"),
    ('parse @message "* *" as a | stats count(*)', "1:16: the pattern has 2 '*' but 1 names"),
    ("filter path like /a(?=b)/ | stats count(*)", "1:18: lookarounds are not supported"),
    ("filter path =~ /(a/ | stats count(*)", "1:16: invalid regular expression"),
    ("stats frobnicate(bytes)", "1:7: stats takes aggregate functions"),
    ("filter frob(path) | stats count(*)", "1:8: unknown function 'frob'"),
    ("filter count(*) > 1 | stats count(*)", "1:8: count() is an aggregate function"),
    ("stats pct(bytes) by path", "1:7: pct() takes a field and a percentile"),
    ("stats count(*) by path | sort bytes", "1:31: no stats column 'bytes'"),
    ("sort path | stats count(*)", "1:1: sort before stats is not supported"),
    ("stats count(*) | stats sum(bytes)", "1:18: stats after stats is not supported"),
    ('stats count(*) | parse @message "*" as a', "1:18: parse after stats is not supported"),
    ("", "the query is empty"),
]


@pytest.mark.unit
@pytest.mark.parametrize(("query", "message"), BAD, ids=[query or "empty" for query, _ in BAD])
def test_a_bad_query_is_one_line_naming_the_place(query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        load_job("query", {"query": query})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, InvalidParameterError)  # Retry/Catch and the CLI handle it


@pytest.mark.unit
def test_an_unknown_field_is_refused_once_the_format_is_known() -> None:
    spec = request_to_spec(
        {"query": "filter stauts >= 500 | stats count(*)", "inputs": ["x"], "format": "combined"},
        default_job_id="q",
    )
    with pytest.raises(QueryError, match=r"^1:8: unknown field 'stauts' \(format apache_combined"):
        prepare(spec)


@pytest.mark.functional
def test_a_bad_query_fails_before_any_work(
    logs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    query = "stats count(*) by stauts"
    code = main(["query", str(logs["access"]), query, "--format", "combined", "--engine",
                 "inline", "--workers", "1", "--home", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        "logmr: error: QueryError: 1:19: unknown field 'stauts' (format apache_combined has:"
        " @timestamp, bytes, client, epoch, local_time, method, path, referer, status,"
        " user_agent)"
    ]


@pytest.mark.unit
def test_a_request_with_a_query_runs_the_query_job() -> None:
    spec = request_to_spec({"query": "stats count(*)", "inputs": ["s3://b/k"]}, "e-1")
    assert (spec.job, spec.params) == ("query", {"query": "stats count(*)"})
    with pytest.raises(InvalidParameterError, match="both 'query' and 'job'"):
        request_to_spec({"query": "stats count(*)", "job": "status_codes", "inputs": ["x"]})


@pytest.mark.unit
def test_columns_are_named_as_logs_insights_names_them() -> None:
    query = parse("stats count(*), pct(bytes, 95), avg(bytes) as mean by bin(5m), status")
    stats = query.commands[0]
    assert [item.name for item in (*stats.groups, *stats.aggregates)] == [  # type: ignore[attr-defined]
        "bin(5m)", "status", "count(*)", "pct(bytes, 95)", "mean"
    ]  # fmt: skip
