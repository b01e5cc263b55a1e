"""LiquidityMath.sol: the v3-core spec cases and the uint128 bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.liquidity_math import add_delta

MAX_UINT128 = 2**128 - 1


def test_spec_values() -> None:
    assert add_delta(1, 0) == 1
    assert add_delta(1, -1) == 0
    assert add_delta(1, 1) == 2


def test_overflow_reverts_la() -> None:
    with pytest.raises(EvmRevert) as info:
        add_delta(2**128 - 15, 15)
    assert info.value.code == "LA"
    assert str(info.value) == "LA"


@pytest.mark.parametrize(("x", "y"), [(0, -1), (3, -4), (0, -(2**127))])
def test_underflow_reverts_ls(x: int, y: int) -> None:
    with pytest.raises(EvmRevert) as info:
        add_delta(x, y)
    assert info.value.code == "LS"


@given(st.integers(0, MAX_UINT128), st.integers(-(2**127), 2**127 - 1))
def test_matches_wrapping_uint128_checks(x: int, y: int) -> None:
    # the contract's form: z computed in uint128 (wrapping), then require(z < x) / (z >= x)
    if y < 0:
        z = (x - (-y)) % 2**128
        ok, code = z < x, "LS"
    else:
        z = (x + y) % 2**128
        ok, code = z >= x, "LA"
    if ok:
        assert add_delta(x, y) == z
    else:
        with pytest.raises(EvmRevert) as info:
            add_delta(x, y)
        assert info.value.code == code
