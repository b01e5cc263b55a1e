"""FullMath.sol: the v3-core spec cases, and a step-by-step EVM port of mulDiv as a reference."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.full_math import mul_div, mul_div_rounding_up

Q128 = 2**128
MAX_UINT256 = 2**256 - 1
M = 2**256

MulDiv = Callable[[int, int, int], int]


def _evm_mul_div(a: int, b: int, denominator: int) -> int | None:
    """FullMath.mulDiv with every opcode mod 2**256, as compiled; None where it reverts."""
    mm = (a * b) % MAX_UINT256  # mulmod(a, b, not(0))
    prod0 = (a * b) % M
    prod1 = (mm - prod0 - (1 if mm < prod0 else 0)) % M
    if prod1 == 0:
        if denominator == 0:
            return None
        return prod0 // denominator
    if denominator <= prod1:
        return None
    remainder = (a * b) % denominator
    prod1 = (prod1 - (1 if remainder > prod0 else 0)) % M
    prod0 = (prod0 - remainder) % M
    twos = (-denominator % M) & denominator
    denominator //= twos
    prod0 //= twos
    twos = ((M - twos) % M // twos + 1) % M
    prod0 |= (prod1 * twos) % M
    inv = ((3 * denominator) % M) ^ 2
    for _ in range(6):
        inv = (inv * (2 - denominator * inv)) % M
    return (prod0 * inv) % M


def _evm_mul_div_rounding_up(a: int, b: int, denominator: int) -> int | None:
    result = _evm_mul_div(a, b, denominator)
    if result is None:
        return None
    if (a * b) % denominator > 0:
        if result >= MAX_UINT256:
            return None
        result += 1
    return result


@pytest.mark.parametrize("fn", [mul_div, mul_div_rounding_up])
@pytest.mark.parametrize(
    ("a", "b", "denominator"),
    [
        (Q128, 5, 0),  # denominator is 0
        (Q128, Q128, 0),  # denominator is 0 and the numerator overflows
        (Q128, Q128, 1),  # the output overflows uint256
        (MAX_UINT256, MAX_UINT256, MAX_UINT256 - 1),  # overflow with all max inputs
    ],
)
def test_reverts(fn: MulDiv, a: int, b: int, denominator: int) -> None:
    with pytest.raises(EvmRevert) as info:
        fn(a, b, denominator)
    assert info.value.code == ""


def test_mul_div_spec() -> None:
    assert mul_div(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    # accurate without phantom overflow
    assert mul_div(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3
    # accurate with phantom overflow
    assert mul_div(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    # accurate with phantom overflow and a repeating decimal
    assert mul_div(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3


def test_mul_div_rounding_up_spec() -> None:
    assert mul_div_rounding_up(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div_rounding_up(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3 + 1
    assert mul_div_rounding_up(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div_rounding_up(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3 + 1


@pytest.mark.parametrize(
    ("a", "b", "denominator"),
    [
        (535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2),
        (
            115792089237316195423570985008687907853269984659341747863450311749907997002549,
            115792089237316195423570985008687907853269984659341747863450311749907997002550,
            115792089237316195423570985008687907853269984653042931687443039491902864365164,
        ),
    ],
)
def test_mul_div_rounding_up_reverts_when_rounding_overflows(
    a: int, b: int, denominator: int
) -> None:
    assert mul_div(a, b, denominator) == MAX_UINT256
    with pytest.raises(EvmRevert):
        mul_div_rounding_up(a, b, denominator)


uint256s = st.one_of(
    st.integers(0, MAX_UINT256),
    st.integers(0, 2**128),
    st.integers(MAX_UINT256 - 2**64, MAX_UINT256),
)


def _outcome(fn: MulDiv, a: int, b: int, denominator: int) -> int | None:
    try:
        return fn(a, b, denominator)
    except EvmRevert:
        return None


@given(uint256s, uint256s, uint256s)
def test_matches_the_evm_algorithm(a: int, b: int, denominator: int) -> None:
    assert _outcome(mul_div, a, b, denominator) == _evm_mul_div(a, b, denominator)
    assert _outcome(mul_div_rounding_up, a, b, denominator) == _evm_mul_div_rounding_up(
        a, b, denominator
    )


@given(uint256s, uint256s, st.integers(1, MAX_UINT256))
def test_rounding_up_is_floor_plus_remainder(a: int, b: int, denominator: int) -> None:
    floor = _outcome(mul_div, a, b, denominator)
    ceil = _outcome(mul_div_rounding_up, a, b, denominator)
    if floor is not None and ceil is not None:
        assert ceil - floor == (1 if (a * b) % denominator else 0)
