"""UnsafeMath.sol: divRoundingUp, including the EVM's division by zero."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from amm_math.uniswap_v3.unsafe_math import div_rounding_up


def test_values() -> None:
    assert div_rounding_up(0, 1) == 0
    assert div_rounding_up(10, 5) == 2
    assert div_rounding_up(11, 5) == 3
    assert div_rounding_up(2**256 - 1, 2) == 2**255


def test_division_by_zero_is_zero() -> None:
    # assembly div/mod by 0 yield 0: no revert
    assert div_rounding_up(12345, 0) == 0


@given(st.integers(0, 2**256 - 1), st.integers(1, 2**256 - 1))
def test_is_the_ceiling(x: int, y: int) -> None:
    assert div_rounding_up(x, y) == -(-x // y)
