from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.mapreduce.partition import partition_of


@pytest.mark.unit
@pytest.mark.parametrize(
    ("key", "murmur3_x86_32"),
    [
        # Published MurmurHash3 x86_32 vectors, seed 0 (SMHasher / mmh3 docs):
        ("", 0),
        ("foo", 4138058784),  # mmh3.hash("foo") == -156908512 signed
        ("Hello, world!", 0xC0363E43),
        ("The quick brown fox jumps over the lazy dog", 0x2E4FF723),
    ],
)
def test_known_vectors(key: str, murmur3_x86_32: int) -> None:
    for reducers in (1, 2, 7, 1000, 2**32):
        assert partition_of(key, reducers) == murmur3_x86_32 % reducers


@pytest.mark.property
@given(key=st.text(), reducers=st.integers(1, 10_000))
def test_partition_in_range_and_stable(key: str, reducers: int) -> None:
    first = partition_of(key, reducers)
    assert 0 <= first < reducers
    assert partition_of(key, reducers) == first
