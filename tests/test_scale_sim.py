"""The Distributed Map path at 10,000 map tasks, simulated. The input is one
small text file cut into 10,000 tiny chunks (below a request's 64 KiB floor:
the ``small_chunks`` fixture), so the work per task is tiny and
the run shows what grows with the task count: the manifest, the state
payloads, the S3 requests. Job data in moto's S3, results in moto's DynamoDB,
Lambda invocations dispatched to logmr's handlers in this process.

Which interpreter: moto's Step Functions runs a Distributed Map at about 25 ms
per child execution here (measured: 500 map tasks in 12.5 s), so 10,000 would
take minutes. The 10,000-task run therefore uses logmr's own interpreter
(``logmr.engine.interpreter``, the local engine's, running the same ASL file and
its Distributed Map branch with the S3 ItemReader), with every state's input,
output and task payload measured; the same checks run on moto's interpreter at
``MOTO_MAP_TASKS`` tasks, reading the payloads from moto's execution history.

Checked: the manifest (every item, covering every byte once), every state's
input and output under Step Functions' 256 KiB limit, the S3 requests (counted
by a botocore hook under every client, not by logmr): per reducer one index
read per map task and one block read per non-empty block; and the exact word
counts against plain Python.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from moto import mock_aws

from aws_support import BUCKET, create_account, upload
from logmr import layout
from logmr.config import SHUFFLE_BUCKETS, Settings
from logmr.engine import interpreter
from logmr.engine.dispatcher import Dispatcher
from logmr.handlers import runtime
from logmr.mapreduce import shuffle
from logmr.mapreduce.partition import bucket_group
from logmr.plan import cost
from logmr.plan.sample import SAMPLE_BYTES, SAMPLE_SLICES
from logmr.plan.tuning import Limits
from logmr.run import engine as local_engine
from logmr.storage.folder import FolderObjectStore
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching

pytestmark = pytest.mark.statemachine

MAP_TASKS = 10_000
MOTO_MAP_TASKS = 300
CHUNK = 40
REDUCERS = 2
#: Step Functions' limit on a state's input or output (UTF-8 bytes)
STATE_LIMIT = 256 * 1024
DATA_PREFIX = "logmr/"


def skewed_text(size: int, seed: int) -> bytes:
    """``size`` bytes of lines of words, one word far more common than the rest."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    weights = [200.0] + [1.0 / (i + 1) for i in range(299)]
    out = bytearray()
    while len(out) < size - 64:
        words = rng.choices(vocabulary, weights, k=rng.randint(1, 12))
        out += (" ".join(words) + "\n").encode()
    out += b"x" * (size - len(out) - 1) + b"\n"  # pad to exactly `size` bytes
    return bytes(out)


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every S3 call any boto3 client makes: (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "s3":
            calls.append((operation, dict(params)))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    yield calls


def _payloads(history: list[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    for event in history:
        for name, details in event.items():
            if name.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output"):
                    if isinstance(details.get(field), str):
                        yield f"{event['type']}.{field}", len(details[field].encode())


#: one GET as the store saw it: (key, "bytes=a-b" or None for a whole object)
Get = tuple[str, str | None]


def _index_range(job_id: str) -> str:
    """The Range of a reducer's index read."""
    return f"bytes=0-{shuffle.header_size(SHUFFLE_BUCKETS, job_id) - 1}"


def _check_run(job_id: str, map_tasks: int, text: bytes, gets: list[Get]) -> dict[str, Any]:
    """The manifest, the reducers' requests, the results and the bill of a finished run."""
    backends = runtime.backends()
    manifest = backends.objects.get_json(layout.manifest_key(job_id))
    items = backends.objects.get_json(layout.map_items_key(job_id))
    record = backends.results.get_job(job_id)
    results = dict(backends.job_results().iter_results(job_id))
    indexes = {
        task: shuffle.decode_index(backends.objects.get(layout.shuffle_key(job_id, task)))
        for task in range(map_tasks)
    }

    # the manifest: every item, every byte of the input in exactly one of them
    assert manifest["distributed"] is True
    assert items == manifest["map_tasks"]
    assert [item["task"] for item in items] == list(range(map_tasks))
    (pieces,) = {len(item["pieces"]) for item in items}  # one object: a range a task
    ranges = [item["pieces"][0] for item in items]
    assert pieces == 1 and ranges[0]["start"] == 0 and ranges[-1]["end"] == len(text)
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(ranges))

    # the reducers' S3 requests: an index and, for a group of buckets with
    # pairs, one read of the group's adjacent blocks per map task
    shuffle_gets = [(key, span) for key, span in gets if "/shuffle/" in "/" + key]
    index_range = _index_range(job_id)
    index_reads = [key for key, span in shuffle_gets if span == index_range]
    block_reads = [(key, span) for key, span in shuffle_gets if span != index_range]
    assert len(index_reads) == REDUCERS * map_tasks
    groups = [bucket_group(p, REDUCERS, SHUFFLE_BUCKETS) for p in range(REDUCERS)]

    def span_of(index: list[tuple[int, int, int]], group: range) -> tuple[int, int]:
        """(first offset, bytes) of a group's blocks."""
        return index[group.start][0], sum(index[b][1] for b in group)

    nonempty = Counter[int]()
    for index in indexes.values():
        nonempty.update(p for p, group in enumerate(groups) if span_of(index, group)[1])
    read = Counter[int]()
    for key, span in block_reads:
        assert span is not None  # a group is a ranged read
        task = int(key.rsplit("m-", 1)[1].split(".")[0])
        first, last = (int(n) for n in span.split("=")[1].split("-"))
        (reducer,) = [
            p
            for p, group in enumerate(groups)
            if span_of(indexes[task], group) == (first, last + 1 - first)
        ]
        read[reducer] += 1
    assert read == nonempty
    per_reducer = {partition: map_tasks + read[partition] for partition in range(REDUCERS)}
    assert all(count <= 2 * map_tasks for count in per_reducer.values())
    print(f"S3 GETs per reducer with {map_tasks:,} map tasks: {per_reducer}")
    # shuffle objects spread over the key prefixes
    prefixes = Counter(key.split("/")[1] for key in set(index_reads))
    assert len(prefixes) >= 0.6 * min(256, map_tasks)
    assert max(prefixes.values()) <= 4 * -(-map_tasks // 256)

    # exact results and a consistent bill
    assert results == {
        key.decode(): count
        for key, count in Counter(re.findall(rb"[a-z0-9_]+", text.lower())).items()
    }
    assert record.status == "SUCCEEDED"
    assert record.map_tasks == map_tasks
    assert record.bill is not None
    assert record.bill["transitions"] == 6 + map_tasks + REDUCERS
    return record.bill


def _request(job_id: str, uri: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "job": "word_count",
        "inputs": [uri],
        "reducers": REDUCERS,
        "chunk_size": CHUNK,
        "map_mode": "distributed",
    }


def test_ten_thousand_map_tasks_on_logmrs_interpreter(
    handler_env: None, small_chunks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = skewed_text(MAP_TASKS * CHUNK, seed=10)
    log = tmp_path / "words.log"
    log.write_bytes(text)
    measured: list[tuple[str, int]] = []
    check_size = interpreter._check_size

    def measuring(value: Any, where: str) -> None:
        measured.append((where, len(json.dumps(value, separators=(",", ":")).encode())))
        check_size(value, where)

    gets: list[Get] = []
    get, get_range = FolderObjectStore.get, FolderObjectStore.get_range

    def counting_get(store: FolderObjectStore, key: str) -> bytes:
        gets.append((key, None))
        return get(store, key)

    def counting_get_range(store: FolderObjectStore, key: str, start: int, end: int) -> bytes:
        gets.append((key, f"bytes={start}-{end - 1}"))
        return get_range(store, key, start, end)

    monkeypatch.setattr(interpreter, "_check_size", measuring)
    monkeypatch.setattr(FolderObjectStore, "get", counting_get)
    monkeypatch.setattr(FolderObjectStore, "get_range", counting_get_range)
    started = time.monotonic()
    execution = local_engine.run_engine(
        _request("scale-10k", str(log)),
        settings=Settings.load(workers=0),
        workers=0,
        sleep=lambda _: None,
    )
    print(f"{MAP_TASKS:,} map tasks on logmr's interpreter: {time.monotonic() - started:.1f} s")
    assert execution.status == "SUCCEEDED", execution.cause
    run_gets = list(gets)
    bill = _check_run("scale-10k", MAP_TASKS, text, run_gets)
    # the bill's GETs are the store's, plus one input read per map task and the
    # sample's reads (the input's start, and pieces spread over it when it is longer)
    manifest = runtime.backends().objects.get_json(layout.manifest_key("scale-10k"))
    sample_reads = 1 if len(text) <= SAMPLE_BYTES else SAMPLE_SLICES
    assert manifest["sample_reads"] == sample_reads
    assert bill["s3_get"] == len(run_gets) + MAP_TASKS + sample_reads, bill

    # every state's input, output and task payload, measured as the interpreter checked it
    assert len(measured) > 2 * MAP_TASKS
    largest = max(measured, key=lambda item: item[1])
    assert largest[1] < STATE_LIMIT, largest
    print(f"largest state payload: {largest}")


def test_distributed_map_on_motos_interpreter(
    aws_handler_env: None,
    small_chunks: None,
    tmp_path: Path,
    s3_calls: list[tuple[str, dict[str, Any]]],
) -> None:
    text = skewed_text(MOTO_MAP_TASKS * CHUNK, seed=11)
    log = tmp_path / "words.log"
    log.write_bytes(text)
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uri = upload(s3, log, "incoming/words.log")
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            described = machine.run(_request("scale-moto", uri), "scale-moto", timeout=600)
            assert described["status"] == "SUCCEEDED", described.get("cause")
            gets: list[Get] = [
                (params["Key"].removeprefix(DATA_PREFIX), params.get("Range"))
                for operation, params in s3_calls
                if operation == "GetObject"
            ]
            bill = _check_run("scale-moto", MOTO_MAP_TASKS, text, gets)
            # every GET of the run (before the checks' own) is in the bill
            assert bill["s3_get"] == len(gets)
            manifest = runtime.backends().objects.get_json(layout.manifest_key("scale-moto"))
        # the estimate for the same plan: the same invocations, transitions and
        # PUTs; its GETs assume every group of blocks non-empty (2 per map task and reducer)
        estimate = cost.estimate(
            cost.Shape(
                objects=1,
                input_bytes=len(text),
                map_tasks=MOTO_MAP_TASKS,
                reducers=REDUCERS,
                max_concurrency=manifest["spec"]["max_concurrency"],
                expected_keys=manifest["tuning"]["expected_keys"],
                distributed=True,
                summarised=False,  # status_codes: no summary, no part file read
            ),
            Limits(),
        ).usage
        empty_blocks = MOTO_MAP_TASKS * REDUCERS - sum(
            1
            for key, span in gets
            if "/shuffle/" in "/" + key and span != _index_range("scale-moto")
        )
        assert bill["s3_get"] == estimate.s3_get - empty_blocks
        assert bill["lambda_requests"] == estimate.lambda_requests
        assert bill["transitions"] == estimate.transitions
        assert bill["s3_list"] == estimate.s3_list
        assert bill["s3_put"] == estimate.s3_put - 1  # no malformed lines: no quarantine object

    # the execution's own states, from moto's history; the child executions (in
    # their map run, not in this history, as on AWS) get the ItemSelector's
    # {spec, task} and end with the MapTask's ResultSelector {"ok": true}
    sizes = list(_payloads(described["history"]))
    assert {"MapStateExited.output", "TaskStateExited.output"} <= {name for name, _ in sizes}
    largest = max(sizes, key=lambda item: item[1])
    assert largest[1] < STATE_LIMIT, largest
