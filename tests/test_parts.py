"""logmr.storage.parts and logmr.storage.parquet: a job's part files hold every
result exactly once with its exact value, in key order, streamed a row group
at a time; the result store keeps each part's best ``TOP_KEPT``, and its top N
equals the part files' top N, locally and on S3/DynamoDB, for every built-in job."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from analytics_reference import access_report_rows, read_access, without_estimates
from aws_support import BUCKET, create_account, upload
from helpers import generated_logs
from logmr import formats, layout
from logmr.aws.backends import aws_backends
from logmr.config import Settings
from logmr.errors import CorruptPartError
from logmr.jobs import JOBS, job_class, load_job
from logmr.jobs.base import key_text, top_n
from logmr.run.embedded import embedded_backends
from logmr.run.inline import InlineRunner
from logmr.run.request import build_request
from logmr.storage import parquet, parts
from logmr.storage.backends import Backends
from logmr.storage.counting import CountingStore
from logmr.storage.folder import FolderObjectStore

#: the parameters of the jobs that need some
PARAMS: dict[str, dict[str, str]] = {
    "field_count": {"field": "client"},
    "pattern_count": {"pattern": r"(?P<key>[A-Z]+) /"},
    "query": {"query": "stats count(*), sum(bytes) by path, status"},
}
#: the jobs run over the level log; the others over the access log
LEVEL_JOBS = ("level_counts", "level_report", "error_rate")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("logs"), 4_000, seed=11)


def builtin_jobs() -> list[str]:
    job_class("word_count")  # loads the catalogue
    return sorted(JOBS)


def strict(value: Any) -> str:
    """A value's JSON with its types told apart (1 is not 1.0, True is not 1)."""
    return json.dumps(value, sort_keys=True)


# -- the format ---------------------------------------------------------------------
@pytest.mark.unit
def test_a_part_is_one_row_per_key_in_key_order_the_last_value_winning() -> None:
    data, rows = parts.part_file([("b", 1), ("a", {"count": 2}), ("b", 3), ("ü", [1.5])])
    assert rows == [("a", {"count": 2}), ("b", 3), ("ü", [1.5])]
    assert data[:4] == data[-4:] == b"PAR1"
    assert strict(parquet.decode(data)) == strict(rows)


@pytest.mark.unit
def test_a_part_reads_as_a_plain_table_a_column_per_field() -> None:
    rows = [
        ("/a", {"count": 2, "bytes": 10}),
        ("/b", {"count": 1, "bytes": 5, "p50": 1.5, "by_length": [0, 1]}),
        ("status:200", 7),
    ]
    table = pq.read_table(pa.BufferReader(parquet.encode(rows)))
    assert table.column_names == ["key", "value", "count", "bytes", "p50", "by_length"]
    types = [str(field.type) for field in table.schema]
    assert types == ["string", "int64", "int64", "int64", "double", "list<element: int64>"]
    assert table.to_pylist() == [
        {"key": "/a", "value": None, "count": 2, "bytes": 10, "p50": None, "by_length": None},
        {"key": "/b", "value": None, "count": 1, "bytes": 5, "p50": 1.5, "by_length": [0, 1]},
        {
            "key": "status:200",
            "value": 7,
            "count": None,
            "bytes": None,
            "p50": None,
            "by_length": None,
        },
    ]


@pytest.mark.unit
def test_values_no_column_type_holds_are_json_text_and_names_never_clash() -> None:
    rows = [
        ("a", {"value": 1, "key": "x", "mixed": 1, "deep": {"n": [1, "2"]}, "none": None}),
        ("b", {"mixed": 2.5, "big": 2**70}),
        ("c", "plain"),
    ]
    data = parquet.encode(rows)
    table = pq.read_table(pa.BufferReader(data))
    assert table.column_names == ["key", "value", "value_", "key_", "mixed", "deep", "none", "big"]
    assert table.column("mixed").to_pylist() == ["1", "2.5", None]  # int and float: JSON
    assert table.column("deep").to_pylist() == ['{"n":[1,"2"]}', None, None]
    assert strict(parquet.decode(data)) == strict(rows)


@pytest.mark.unit
def test_open_ended_fields_are_one_json_column() -> None:
    rows = [(f"k{i}", {f"f{j}": j for j in range(i, i + 10)}) for i in range(parquet.MAX_FIELDS)]
    data = parquet.encode(rows)
    assert pq.read_schema(pa.BufferReader(data)).names == ["key", "value"]
    assert strict(parquet.decode(data)) == strict(rows)


@pytest.mark.unit
def test_a_file_that_is_not_a_part_is_a_named_error() -> None:
    with pytest.raises(CorruptPartError, match="not a Parquet part file"):
        parquet.decode(b"not parquet at all", "x.parquet")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"key": ["a"]}), sink)  # Parquet, but not logmr's
    with pytest.raises(CorruptPartError, match="without logmr's column map"):
        parquet.decode(sink.getvalue().to_pybytes(), "y.parquet")


#: JSON values as reducers give them: text keys in objects, no NaN (it equals nothing)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
#: objects alike in their fields, as a job's values are: a few field names, typed per field
FIELD_NAMES = st.sampled_from(["count", "bytes", "p50", "value", "key", "", "by_length", "ü"])
OBJECTS = st.dictionaries(
    FIELD_NAMES,
    st.one_of(
        st.integers(0, 10**12),
        st.floats(allow_nan=False),
        st.lists(st.integers(0, 9), max_size=3),
        st.lists(st.floats(allow_nan=False), max_size=3),
        JSON_VALUES,
    ),
    max_size=6,
)


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(st.tuples(st.text(), st.one_of(JSON_VALUES, OBJECTS, OBJECTS)), max_size=30),
    rows_per_group=st.integers(1, 8),
)
def test_a_part_gives_back_exactly_the_values_written(
    pairs: list[tuple[str, Any]], rows_per_group: int
) -> None:
    data, rows = parts.part_file(pairs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parquet, "ROW_GROUP_BYTES", rows_per_group)  # tiny groups: many of them
        patch.setattr(parquet, "BATCH_ROWS", 3)
        again = parquet.encode(rows)
        assert strict(parquet.decode(again)) == strict(rows)
    got = parquet.decode(data)
    assert [key for key, _ in got] == sorted(dict(pairs))
    assert strict(got) == strict(rows)  # ints stay ints, floats floats, absent fields absent
    for (_, want), (_, value) in zip(rows, got, strict=True):
        for a, b in zip(_floats(want), _floats(value), strict=True):
            assert math.copysign(1, a) == math.copysign(1, b)  # -0.0 stays -0.0


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for _, item in sorted(value.items()) for f in _floats(item)]
    if isinstance(value, list | tuple):
        return [f for item in value for f in _floats(item)]
    return []


@pytest.mark.unit
def test_part_files_stream_merged_in_key_order_a_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 1000)  # many small row groups
    objects = FolderObjectStore(tmp_path)
    everything = {f"k{i:04d}": {"count": i, "text": "x\ny"} for i in range(3000)}
    for partition in range(3):  # k0000 is salted: in Finalize's part alone
        mine = [(k, v) for k, v in everything.items() if int(k[1:]) % 3 == partition and int(k[1:])]
        objects.put(layout.part_key("j", partition), parts.part_file(mine)[0])
    objects.put(layout.salted_part_key("j"), parts.part_file([("k0000", everything["k0000"])])[0])
    groups = sum(
        pq.ParquetFile(tmp_path / key).num_row_groups for key in parts.part_keys(objects, "j")
    )
    assert groups > 30
    counting = CountingStore(objects)
    stream = parts.iter_part_results(counting, "j")
    first = [next(stream) for _ in range(5)]
    # four files opened (a size and a footer each) and each one's first row group: no more
    assert counting.gets <= 4 * 3
    got = first + list(stream)
    assert [key for key, _ in got] == sorted(everything)  # once each, in key order
    assert got == list(everything.items())
    assert counting.gets <= 4 * 2 + groups  # the footers, then each row group once
    assert list(parts.iter_part_results(objects, "other-job")) == []


@pytest.mark.unit
def test_duckdb_reads_a_part_file_as_it_is(tmp_path: Path) -> None:
    import duckdb  # a dev dependency: the query engine users read part files with

    rows = [(f"/p{i}", {"count": i, "bytes": 10 * i, "p50": i / 2}) for i in range(50)]
    path = tmp_path / "part-00000.parquet"
    path.write_bytes(parts.part_file(rows)[0])
    got = duckdb.sql(
        f"SELECT key, count, bytes, p50 FROM '{path}' ORDER BY count DESC LIMIT 3"
    ).fetchall()
    assert got == [("/p49", 49, 490, 24.5), ("/p48", 48, 480, 24.0), ("/p47", 47, 470, 23.5)]


@pytest.mark.unit
def test_pyarrow_loads_only_where_a_part_file_is_written_or_read() -> None:
    """The handlers (map, reduce, the HTTP API) import without pyarrow: a map
    task never pays for it; writing a part file loads it."""
    script = (
        "import sys\n"
        "import logmr.handlers.map, logmr.handlers.reduce, logmr.handlers.api\n"
        "before = 'pyarrow' in sys.modules\n"
        "from logmr.storage.parts import part_file\n"
        "part_file([('a', 1)])\n"
        "print(before, 'pyarrow' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == "False True"


# -- every built-in job ---------------------------------------------------------------
def run_job(backends: Backends, job: str, log: Path | str, job_id: str) -> Any:
    request = build_request([str(log)], job, job_id=job_id, params=PARAMS.get(job), reducers=3)
    return InlineRunner(backends, raise_errors=True).run({**request, "chunk_size": 64 * 1024})


def direct_results(job_name: str, log: Path) -> dict[str, Any]:
    """The job's results computed in one pass in this process: every line
    parsed, mapped, grouped, combined and reduced, with no map tasks,
    shuffle, partitions, part files or stores."""
    fmt_name = "applog" if job_name in LEVEL_JOBS else "apache_combined"
    job = load_job(job_name, PARAMS.get(job_name, {}))
    fmt = formats.get_format(fmt_name)
    job.bind(fmt)
    groups: defaultdict[str, list[Any]] = defaultdict(list)
    for raw in log.read_bytes().split(b"\n"):
        line = raw.removesuffix(b"\r")
        record = line if job.raw_lines else fmt.parse(line)
        if not line or record is None:
            continue
        for key, value in job.mapper(record):
            groups[key_text(key)].append(value)
    results = {}
    for key, values in sorted(groups.items()):
        combined = [value for _, value in job.combiner(key, values)]
        for out_key, value in job.reducer(key, combined):
            results[key_text(out_key)] = value
    return results


def check_parts(backends: Backends, job_id: str, want: dict[str, Any]) -> None:
    """Every key once with its value, the record counts them, the table's top
    is the parts' top."""
    record = backends.results.get_job(job_id)
    rows = [
        pair
        for key in parts.part_keys(backends.objects, job_id)
        for pair in parquet.decode(backends.objects.get(key))
    ]
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)) == record.result_keys == len(want)
    everything = dict(backends.job_results().iter_results(job_id))
    assert strict(everything) == strict(dict(rows))
    assert strict(without_estimates(everything)) == strict(without_estimates(want))
    for n in (1, parts.TOP_KEPT):  # from the table
        assert backends.results.top(job_id, n) == top_n(everything.items(), n)
    for n in (1, parts.TOP_KEPT, parts.TOP_KEPT + 1, 50):  # from the table or the part files
        assert backends.job_results().top(job_id, n) == top_n(everything.items(), n)
    stored = list(backends.results.iter_results(job_id))
    assert len(stored) <= 4 * parts.TOP_KEPT  # 3 reducers and the salted part at most


@pytest.mark.functional
def test_the_direct_reference_agrees_with_the_analytics_reference(
    logs: dict[str, Path],
) -> None:
    """The one-pass reference against a reading of the log with no logmr code."""
    rows = read_access(logs["access"])
    report = without_estimates(direct_results("access_report", logs["access"]))
    assert report == access_report_rows(rows, window=3600)
    statuses = direct_results("status_codes", logs["access"])
    assert statuses == {
        key.removeprefix("status:"): value for key, value in report.items() if "status:" in key
    }


@pytest.mark.functional
@pytest.mark.parametrize("job", builtin_jobs())
def test_every_job_s_part_files_hold_every_key_once_locally(
    job: str, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "TOP_KEPT", 4)  # the table keeps few: the top must still agree
    backends = embedded_backends(Settings.load())
    log = logs["app"] if job in LEVEL_JOBS else logs["access"]
    record = run_job(backends, job, log, f"parts-{job}")
    assert record.status == "SUCCEEDED"
    check_parts(backends, record.job_id, direct_results(job, log))


@pytest.mark.functional
@pytest.mark.parametrize("job", builtin_jobs())
@mock_aws
def test_every_job_s_part_files_on_s3_and_the_top_in_dynamodb(
    job: str, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "TOP_KEPT", 4)
    s3 = create_account()
    log = logs["app"] if job in LEVEL_JOBS else logs["access"]
    uri = upload(s3, log, f"incoming/{log.name}")
    backends = aws_backends(Settings(bucket=BUCKET))
    record = run_job(backends, job, uri, f"s3-{job}")
    assert record.status == "SUCCEEDED"
    assert all(key.endswith(".parquet") for key in parts.part_keys(backends.objects, f"s3-{job}"))
    check_parts(backends, record.job_id, direct_results(job, log))
