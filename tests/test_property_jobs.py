"""Combining and splitting never change an answer: for random logs, every
job gives the same results whatever the chunk size, the number of reducers,
how often the map side combines and whether its busiest keys are salted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_inline
from logmr.mapreduce import side as mapreduce

pytestmark = pytest.mark.property

IPS = st.sampled_from(["10.0.0.1", "10.0.0.2", "192.168.1.7", "::1"])
PATHS = st.sampled_from(["/", "/a", "/a?x=1", "/ü", "/b c", '/x\\"y'])
STATUS = st.sampled_from(["200", "301", "404", "500", "503"])
SIZES = st.one_of(st.just("-"), st.integers(0, 10**6).map(str))
GOOD = st.builds(
    lambda ip, day, hour, path, status, size: (
        f"{ip} - - [{day:02d}/Dec/2020:{hour:02d}:00:00 +0000] "
        f'"GET {path} HTTP/1.1" {status} {size} "-" "ua"'
    ),
    IPS,
    st.integers(1, 28),
    st.integers(0, 23),
    PATHS,
    STATUS,
    SIZES,
)
BAD = st.sampled_from(["", "garbage", '1.2.3.4 - - [bad] "GET / HTTP/1.1" 200 1 "-" "-"'])
LOGS = st.lists(st.one_of(GOOD, GOOD, GOOD, BAD), min_size=1, max_size=60)
ENDINGS = st.sampled_from(["\n", "\r\n"])

JOBS = [
    ("status_codes", {}),
    ("top_paths", {"top": "3"}),
    ("bytes_total", {}),
    ("error_rate", {}),
    ("requests_per_window", {"window": "5h"}),
    ("word_count", {}),
    ("pattern_count", {"pattern": r"(?P<key>\d{3}) "}),
    ("field_count", {"field": "client"}),
    ("window_counts", {"window": "2h", "slide": "30m"}),
    ("sessions", {"gap": "1h"}),
    ("access_report", {"window": "1h", "top": "2", "percentiles": "false"}),
]
#: keys the split run spreads over every reducer when the example salts (the
#: map side's keys: before the reducer renames them); absent keys are no matter
SALTED: dict[str, list[str]] = {
    "status_codes": ["200", "404"],
    "top_paths": ["/", "/a"],
    "bytes_total": ["bytes", "responses"],
    "error_rate": ["total", "errors"],
    "word_count": ["get", "http"],
    "field_count": ["10.0.0.1"],
    "sessions": ["10.0.0.1", "::1"],
    "access_report": ["total", "status:200", "path:/"],
}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=LOGS,
    ending=ENDINGS,
    final_newline=st.booleans(),
    chunk=st.integers(1, 400),
    reducers=st.integers(1, 5),
    combine_every=st.integers(1, 50),
    salted=st.booleans(),
)
def test_splitting_and_combining_do_not_change_answers(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    small_chunks: None,  # ranges of 1-400 bytes: the request's 64 KiB floor lowered
    lines: list[str],
    ending: str,
    final_newline: bool,
    chunk: int,
    reducers: int,
    combine_every: int,
    salted: bool,
) -> None:
    folder = tmp_path_factory.mktemp("logs")
    path = Path(folder) / "access.log"
    text = ending.join(lines) + (ending if final_newline else "")
    if not text:
        return
    path.write_bytes(text.encode())
    for job, params in JOBS:
        whole_record, whole = run_inline(
            path,
            job,
            params=params,
            fmt="apache_combined",
            reducers=1,
            chunk_size=10**9,
            home=folder / "a",
        )
        with monkeypatch.context() as patch:
            patch.setattr(mapreduce, "COMBINE_EVERY", combine_every)
            split_record, split = run_inline(
                path,
                job,
                params=params,
                fmt="apache_combined",
                reducers=reducers,
                chunk_size=chunk,
                home=folder / "b",
                salted_keys=SALTED.get(job, []) if salted else [],
            )
        assert split == whole, job
        assert split_record.counters == whole_record.counters, job
        assert split_record.summary == whole_record.summary, job
