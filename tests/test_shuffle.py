from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.errors import CorruptShuffleError
from logmr.mapreduce import shuffle


def sample() -> bytes:
    return shuffle.encode([[("a", 1), ("b", [2, 3])], [], [("ü|\t,", {"count": 4})]])


@pytest.mark.unit
def test_round_trip_every_partition() -> None:
    data = sample()
    assert shuffle.read_partition(data, 0) == [("a", 1), ("b", [2, 3])]
    assert shuffle.read_partition(data, 1) == []
    assert shuffle.read_partition(data, 2) == [("ü|\t,", {"count": 4})]


@pytest.mark.unit
def test_encoding_is_deterministic() -> None:
    assert sample() == sample()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: b"XXXX" + d[4:], "not a shuffle object"),
        (lambda d: d[:4] + b"\x09" + d[5:], "shuffle version 9"),
        (lambda d: d[:6], "truncated"),
        (lambda d: d[:20], "truncated index"),
        (lambda d: d[:12] + bytes([d[12] ^ 1]) + d[13:], "index checksum"),
        (lambda d: d[:-1], "truncated block"),
        (lambda d: d[:-2] + bytes([d[-2] ^ 0x55]) + d[-1:], "block checksum"),
    ],
)
def test_corruption_is_a_named_error(mangle: object, message: str) -> None:
    data = mangle(sample())  # type: ignore[operator]
    with pytest.raises(CorruptShuffleError, match=message):
        for partition in range(3):
            shuffle.read_partition(data, partition)


pairs = st.lists(
    st.tuples(st.text(), st.integers() | st.floats(allow_nan=False) | st.lists(st.integers()))
)


@pytest.mark.property
@given(parts=st.lists(pairs, min_size=1, max_size=8))
def test_round_trip_property(parts: list[list[tuple[str, object]]]) -> None:
    data = shuffle.encode(parts)
    for index, expected in enumerate(parts):
        assert shuffle.read_partition(data, index) == [
            (k, v if not isinstance(v, tuple) else list(v)) for k, v in expected
        ]
