"""logmr.units: sizes as people write them (``20MB``, ``1.5GiB``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.errors import InvalidParameterError
from logmr.units import parse_size

#: each unit's bytes, written out from its definition (SI powers of 10, IEC powers of 2)
UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000 * 1000,
    "GB": 1000 * 1000 * 1000,
    "TB": 1000 * 1000 * 1000 * 1000,
    "KiB": 1024,
    "MiB": 1024 * 1024,
    "GiB": 1024 * 1024 * 1024,
    "TiB": 1024 * 1024 * 1024 * 1024,
}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", 100),
        ("0", 0),
        ("20MB", 20_000_000),
        ("1GB", 1_000_000_000),
        ("512KiB", 512 * 1024),
        ("2MiB", 2 * 1024 * 1024),
        ("1GiB", 1024**3),
        ("1TB", 10**12),
        ("10B", 10),
        ("10b", 10),
        ("20mb", 20_000_000),
        ("1.5GB", 1_500_000_000),
        ("0.5KiB", 512),
        (" 3 KB ", 3000),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    ["", "   ", "MB", "abc", "-5MB", "-1", "10XB", "1e6", "1.5B", "0.3KB1", "1,000", "5 M B"],
)
def test_parse_size_rejects_bad_input(text: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        parse_size(text)
    assert "\n" not in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.unit
def test_parse_size_rejects_a_non_string() -> None:
    with pytest.raises(InvalidParameterError):
        parse_size(100)  # type: ignore[arg-type]


@pytest.mark.property
@given(
    count=st.integers(min_value=0, max_value=10**6),
    unit=st.sampled_from(sorted(UNITS)),
    case=st.sampled_from([str, str.lower, str.upper]),
    space=st.sampled_from(["", " "]),
)
def test_a_whole_count_of_any_unit_in_any_case_is_count_times_the_unit(
    count: int, unit: str, case: Callable[[str], str], space: str
) -> None:
    assert parse_size(f"{count}{space}{case(unit)}") == count * UNITS[unit]


@pytest.mark.property
@given(tenths=st.integers(min_value=0, max_value=10**5), unit=st.sampled_from(["KB", "MB", "GB"]))
def test_a_decimal_fraction_of_an_si_unit_is_exact(tenths: int, unit: str) -> None:
    """Decimal arithmetic, no float rounding: 0.1 MB is 100,000 bytes exactly."""
    text = f"{tenths // 10}.{tenths % 10}{unit}"
    assert parse_size(text) == tenths * UNITS[unit] // 10
