"""BitMath.sol: the v3-core spec cases and the contract's binary search as a reference."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.bit_math import least_significant_bit, most_significant_bit

MAX_UINT256 = 2**256 - 1


def _contract_msb(x: int) -> int:
    """BitMath.mostSignificantBit as written: halve the search window eight times."""
    r = 0
    for shift in (128, 64, 32, 16, 8, 4, 2):
        if x >= 1 << shift:
            x >>= shift
            r += shift
    if x >= 0x2:
        r += 1
    return r


def _contract_lsb(x: int) -> int:
    """BitMath.leastSignificantBit as written: test the low half, else shift it away."""
    r = 255
    for shift in (128, 64, 32, 16, 8, 4, 2):
        if x & ((1 << shift) - 1) > 0:
            r -= shift
        else:
            x >>= shift
    if x & 0x1 > 0:
        r -= 1
    return r


@pytest.mark.parametrize("fn", [most_significant_bit, least_significant_bit])
def test_zero_reverts(fn: Callable[[int], int]) -> None:
    with pytest.raises(EvmRevert):
        fn(0)


def test_spec_values() -> None:
    assert most_significant_bit(1) == 0
    assert most_significant_bit(2) == 1
    assert most_significant_bit(MAX_UINT256) == 255
    assert least_significant_bit(1) == 0
    assert least_significant_bit(2) == 1
    assert least_significant_bit(MAX_UINT256) == 0


@pytest.mark.parametrize("power", range(256))
def test_powers_of_two(power: int) -> None:
    assert most_significant_bit(2**power) == power
    assert least_significant_bit(2**power) == power


@given(st.integers(1, MAX_UINT256))
def test_matches_the_contract_search(x: int) -> None:
    assert most_significant_bit(x) == _contract_msb(x)
    assert least_significant_bit(x) == _contract_lsb(x)
